"""Fleet benchmarks (``python tests/benchmarks/run.py --only polls,export,enqueue,throughput``): each
prints batchkit's figure beside a baseline measured in the same run.

- polls: ``wait_all``'s CPU per status request with 1,000, 10,000 and 100,000 jobs pending (the
  operation driven inline on a fake clock, every job running); the baseline is the figure at 1,000.
- enqueue / export: ``batchkit enqueue --files-from`` and ``batchkit results --run … -o out.csv`` of
  ``--files`` files (default 100,000) on sqlite and PostgreSQL, time and peak memory of the process,
  beside a raw ``executemany`` insert of the same rows and a raw streamed ``SELECT`` to CSV.
- runs-cli: ``batchkit runs`` in a fresh process, on an empty journal and on one of 100,000 chunks (a
  third done), on both stores, beside a fresh process that reads the runs table raw (sqlite3, psycopg).
- throughput: 200 Resemble chunks against the emulator, each create held 1 s, for 1, 2, 4, 8 worker
  processes and ``--concurrency`` 1, 4, 8: chunks a second, the speed-up over 1 worker x 1 lane, the
  workers' CPU per chunk, and what bounds it.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import batchkit
from batchkit._kernel.clock import FakeClock
from batchkit._kernel.steps import Done, Emit, Parallel, Sleep, advance
from batchkit._orchestration.waiting import watch

Row = Callable[[str, str, str, str, str], None]
Measure = Callable[[list[str]], tuple[float, float, str]]


def bench_polls(row: Row, runs: int, passes: int = 400) -> None:
    print(f"polls: wait_all's CPU per status request, {passes} passes of up to 200 requests", flush=True)
    figures = {}
    for count in (1_000, 10_000, 100_000):
        samples = []
        for _ in range(max(1, runs // 2)):
            clock = FakeClock()
            jobs = [batchkit.BatchJob("hume", f"job-{n}", batchkit.JobStatus.RUNNING, "") for n in range(count)]

            def get(ident: str, job: batchkit.BatchJob = jobs[0]) -> Any:
                return job
                yield  # a generator that answers at once

            schedule = batchkit.PollSchedule(initial=0.5, factor=1.0, maximum=0.5, max_rate=200, concurrency=200)
            operation = watch("hume", get, jobs, schedule, None, None, clock)
            step, polled, done = advance(operation, None), 0, 0
            started = time.process_time()
            while done < passes:
                outcome: Any = None
                if isinstance(step, Sleep):
                    clock.advance(step.seconds)
                elif isinstance(step, Parallel):
                    outcome = [_inline(op) for op in step.operations]
                    polled, done = polled + len(outcome), done + 1
                elif not isinstance(step, Emit):
                    raise RuntimeError(f"unexpected step {step!r}")
                step = advance(operation, outcome)
            samples.append((time.process_time() - started) / polled * 1000)
            operation.close()
        figures[count] = sorted(samples)[len(samples) // 2]
    for count, ms in figures.items():
        row(f"wait_all CPU per status request, {count:,} jobs", f"{ms * 1000:.1f} us",
            f"1,000 jobs {figures[1_000] * 1000:.1f} us", f"{ms / figures[1_000]:.2f}x", "flat: <= 2x from 1k to 100k")  # fmt: skip


def _inline(operation: Any) -> Any:
    step = advance(operation, None)
    if not isinstance(step, Done):
        raise RuntimeError("the getter does not answer at once")
    return step.value


@contextlib.contextmanager
def journals(tmp: Path) -> Iterator[list[tuple[str, Callable[[str], str]]]]:
    """Each store: its name, and a function giving a fresh journal of that store by name."""
    stores: list[tuple[str, Callable[[str], str]]] = [("sqlite", lambda name: str(tmp / f"{name}.db"))]
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
    from tests import postgres

    if postgres.binaries() is None:
        print("  (no PostgreSQL binaries: sqlite only)", flush=True)
        yield stores
        return
    with postgres.server() as url:
        yield [*stores, ("postgresql", lambda name: postgres.new_database(url))]


RAW_INSERT = """
import sys, time
journal, listing = sys.argv[1], sys.argv[2]
rows = ((n, line.rstrip("\\n")) for n, line in enumerate(open(listing)))
if journal.startswith("postgresql"):
    import psycopg
    db = psycopg.connect(journal)
    db.execute("CREATE TABLE raw (idx BIGINT PRIMARY KEY, path TEXT, size BIGINT)")
    with db.cursor() as cur:
        cur.executemany("INSERT INTO raw VALUES (%s, %s, 10)", rows)
    db.commit()
else:
    import sqlite3
    db = sqlite3.connect(journal)
    db.execute("CREATE TABLE raw (idx INTEGER PRIMARY KEY, path TEXT, size INTEGER)")
    db.executemany("INSERT INTO raw VALUES (?, ?, 10)", rows)
    db.commit()
"""

RAW_EXPORT = """
import csv, sys
journal, out = sys.argv[1], sys.argv[2]
query = "SELECT path, status, error FROM files ORDER BY run_id, idx"
with open(out, "w", newline="") as fh:
    writer = csv.writer(fh)
    if journal.startswith("postgresql"):
        import psycopg
        with psycopg.connect(journal) as db, db.cursor(name="rows") as cur:
            cur.itersize = 2000
            cur.execute(query)
            writer.writerows(cur)
    else:
        import sqlite3
        writer.writerows(sqlite3.connect(journal).execute(query))
"""


def bench_enqueue_export(row: Row, measure: Measure, count: int) -> None:
    print(f"enqueue and export: {count:,} files, batchkit's command beside raw SQL, each in its own process",
          flush=True)  # fmt: skip
    from batchkit.emulator import serve

    with tempfile.TemporaryDirectory() as folder, serve() as emu, journals(Path(folder)) as stores:
        tmp = Path(folder)
        listing = tmp / "files.txt"
        media = tmp / "media"
        media.mkdir()
        with open(listing, "w") as out:
            for n in range(count):
                path = media / f"f{n:07d}.wav"
                path.write_bytes(b"x" * 10)
                out.write(f"{path}\n")
        os.environ.update(BATCHKIT_BASE_URL=str(emu.base_url), RESEMBLE_API_KEY="bench")  # measure()'s children
        batchkit_cli = [sys.executable, "-m", "batchkit.cli"]
        for store, fresh in stores:
            journal = fresh("enqueue")
            command = [*batchkit_cli, "-p", "resemble", "enqueue", "--files-from", str(listing), "--journal", journal]
            wall, peak, out = measure(command)
            raw_wall, raw_peak, _ = measure([sys.executable, "-c", RAW_INSERT, fresh("raw"), str(listing)])
            row(f"enqueue {count:,} files ({store})", f"{wall:.1f} s, {peak:.0f} MB peak",
                f"raw executemany {raw_wall:.1f} s, {raw_peak:.0f} MB", f"{wall / raw_wall:.2f}x time",
                "1M in < 2 min on PostgreSQL, <= 200 MB")  # fmt: skip
            again, again_peak, _ = measure(command)  # what a resume does: the same files, the same run
            row(f"enqueue the same {count:,} files again ({store})", f"{again:.1f} s, {again_peak:.0f} MB peak",
                f"the first enqueue {wall:.1f} s", f"{again / wall:.2f}x time", "<= 1.2x")  # fmt: skip
            run = out.strip().splitlines()[-1]
            csv_out = tmp / f"{store}.csv"
            wall, peak, _ = measure([*batchkit_cli, "results", "--journal", journal, "--run", run, "-o", str(csv_out)])
            raw_wall, raw_peak, _ = measure([sys.executable, "-c", RAW_EXPORT, journal, str(tmp / "raw.csv")])
            row(f"results --run -o out.csv, {count:,} files ({store})", f"{wall:.1f} s, {peak:.0f} MB peak",
                f"raw streamed SELECT {raw_wall:.1f} s, {raw_peak:.0f} MB", f"{peak / raw_peak:.2f}x memory",
                "streamed: 1M rows in <= 100 MB")  # fmt: skip


RAW_RUNS = """
import sys
journal = sys.argv[1]
if journal.startswith("postgresql"):
    import psycopg as db
else:
    import sqlite3 as db
print(db.connect(journal).execute("SELECT * FROM runs").fetchall())
"""


def bench_runs_cli(row: Row, runs: int, chunks: int = 100_000) -> None:
    print(f"batchkit runs: a fresh process, on an empty journal and on one of {chunks:,} chunks", flush=True)
    from batchkit._kernel.journal import ChunkState, Journal

    def timed(command: list[str]) -> float:
        spent = []
        for _ in range(max(runs, 5)):
            start = time.perf_counter()
            subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
            spent.append((time.perf_counter() - start) * 1000)
        return sorted(spent)[len(spent) // 2]

    with tempfile.TemporaryDirectory() as folder, journals(Path(folder)) as stores:
        for store, fresh in stores:
            empty, full = fresh("empty"), fresh("full")
            Journal(empty).close()
            with Journal(full) as book:
                book.record_run("resemble", "big", {}, [(f"/data/f{i:07d}.wav", 10, None) for i in range(chunks)],
                                [[i] for i in range(chunks)], 1_000)  # fmt: skip
                with book._store.transaction() as tx:
                    tx.execute("UPDATE chunks SET state = ?, job_id = 'j' WHERE idx < ?", (ChunkState.DONE, chunks // 3))
            for label, journal, target in (("empty journal", empty, "<= 150 ms"),
                                           (f"{chunks:,} chunks", full, "<= 100 ms")):  # fmt: skip
                ms = timed([sys.executable, "-m", "batchkit.cli", "runs", "--journal", journal])
                raw = timed([sys.executable, "-c", RAW_RUNS, journal])
                row(f"batchkit runs, {label} ({store})", f"{ms:.0f} ms", f"a raw SELECT of the runs {raw:.0f} ms",
                    f"{ms / raw:.1f}x", target)  # fmt: skip


def run_fleet(url: str, journal: str, workers: int, lanes: int) -> float:
    """``workers`` ``batchkit worker --until-done`` processes of ``lanes`` lanes; their CPU seconds."""
    env = {**os.environ, "BATCHKIT_BASE_URL": url, "RESEMBLE_API_KEY": "bench"}
    command = [sys.executable, "-m", "batchkit.cli", "worker", "--journal", journal, "--until-done",
               "--concurrency", str(lanes), "--progress-every", "0"]  # fmt: skip
    procs = [subprocess.Popen(command, env=env, stderr=subprocess.DEVNULL) for _ in range(workers)]
    cpu = 0.0
    for proc in procs:
        _, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
        if proc.returncode:
            raise RuntimeError(f"a worker exited {proc.returncode}")
        cpu += usage.ru_utime + usage.ru_stime
    return cpu


RAW_CHUNKS = """
import asyncio, os, sys, time
import httpx
url, chunks, lanes = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
files = [(f"f{i}.wav", os.urandom(100), "audio/wav") for i in range(10)]
auth = {"Authorization": "Bearer bench"}

async def lane(client, count):
    for _ in range(count):
        made = await client.post("/api/v2/detect/batch", files=[("files[]", f) for f in files], headers=auth)
        batch = made.json()["item"]
        while batch["status"] not in ("completed", "failed"):
            await asyncio.sleep(0.06)
            batch = (await client.get(f"/api/v2/detect/batch/{batch['uuid']}", headers=auth)).json()["item"]
        for child in batch["detect_uuids"]:
            (await client.get(f"/api/v2/detect/{child}", headers=auth)).json()

async def main():
    async with httpx.AsyncClient(base_url=url) as client:
        await asyncio.gather(*(lane(client, chunks // lanes) for _ in range(lanes)))

start = time.process_time()
asyncio.run(main())
print(time.process_time() - start)
"""


def bench_worker_cpu(row: Row, runs: int, chunks: int = 200, lanes: int = 4) -> None:
    """A worker's CPU a chunk at steady state (its CPU on ``chunks`` chunks less its CPU on none: imports and
    set-up), beside a raw ``httpx.AsyncClient`` sending each chunk's requests (a create, its polls, a GET
    of each of its 10 files) in ``lanes`` tasks."""
    print(f"worker CPU a chunk: 1 worker x {lanes} lanes, {chunks} Resemble chunks of 10 files, fast creates",
          flush=True)  # fmt: skip
    from batchkit.emulator import EmulatorConfig, serve

    with (serve(config=EmulatorConfig(queue_seconds=0.01, run_seconds=0.05)) as emu,
          tempfile.TemporaryDirectory() as tmp):  # fmt: skip
        url = str(emu.base_url)
        files = [Path(tmp) / f"f{i:05d}.wav" for i in range(chunks * 10)]
        for path in files:
            path.write_bytes(os.urandom(100))
        ours, raws, requests = [], [], 0
        for n in range(max(1, runs)):
            empty, full = str(Path(tmp) / f"empty{n}.db"), str(Path(tmp) / f"full{n}.db")
            with batchkit.connect("resemble", api_key="bench", base_url=url) as client:
                client.enqueue(files[:10], journal=empty, chunk=10)
                client.enqueue(files, journal=full, chunk=10)
            set_up = run_fleet(url, empty, 1, lanes)  # one chunk: imports, set-up, and one chunk's work
            before = len(emu.requests)
            ours.append((run_fleet(url, full, 1, lanes) - set_up) / (chunks - 1))
            requests = len(emu.requests) - before
            out = subprocess.run([sys.executable, "-c", RAW_CHUNKS, url, str(chunks), str(lanes)], check=True,
                                 capture_output=True, text=True).stdout  # fmt: skip
            raws.append(float(out) / chunks)
        mine, raw = sorted(ours)[len(ours) // 2] * 1000, sorted(raws)[len(raws) // 2] * 1000
        row(f"worker CPU a chunk, 1 x {lanes} lanes ({requests / chunks:.0f} requests a chunk)", f"{mine:.1f} ms",
            f"raw httpx.AsyncClient, the same requests {raw:.1f} ms", f"{mine / raw:.2f}x", "<= 10 ms")  # fmt: skip


FLEETS = [(workers, lanes) for lanes in (1, 4, 8) for workers in (1, 2, 4, 8)]
"""Every (worker processes, lanes) measured, 1 x 1 (the baseline) first."""


def bench_throughput(row: Row, runs: int, chunks: int = 200, store: str = "sqlite",
                     fleets: list[tuple[int, int]] = FLEETS) -> None:  # fmt: skip
    print(f"throughput: {chunks} Resemble chunks of 10 files, each create held 1 s, worker processes x lanes,"
          f" a {store} journal", flush=True)  # fmt: skip
    from batchkit.emulator import EmulatorConfig, FaultKind, serve

    cores = os.cpu_count() or 1
    with (serve(config=EmulatorConfig(queue_seconds=0.01, run_seconds=0.05)) as emu,
          tempfile.TemporaryDirectory() as tmp, journals(Path(tmp)) as stores):  # fmt: skip
        fresh = dict(stores)[store]
        url = str(emu.base_url)
        files = [Path(tmp) / f"f{i:05d}.wav" for i in range(chunks * 10)]
        for path in files:
            path.write_bytes(os.urandom(100))
        speeds: dict[tuple[int, int], float] = {}
        for workers, lanes in fleets:
            journal = fresh(f"w{workers}x{lanes}")
            with batchkit.connect("resemble", api_key="bench", base_url=url) as client:
                client.enqueue(files, journal=journal, chunk=10)
            emu.reset(EmulatorConfig(queue_seconds=0.01, run_seconds=0.05))
            emu.faults.add("POST /api/v2/detect/batch", FaultKind.SLOW, delay=1.0, times=chunks)
            started = time.monotonic()
            cpu = run_fleet(url, journal, workers, lanes)
            wall = time.monotonic() - started
            arrivals = sorted(r.at for r in emu.requests if r.method == "POST")
            speed = speeds[workers, lanes] = chunks / (arrivals[-1] + 1.0 - arrivals[0])
            ideal = workers * lanes
            busy = cpu / wall
            bound = (f"CPU ({busy:.1f} of {cores} cores busy)" if busy > 0.8 * cores
                     else "the 1 s create" if speed >= 0.8 * ideal
                     else f"the waits between creates (claims, journal writes, {store}, other load)")  # fmt: skip
            base = speeds[1, 1]
            target = {(8, 1): ">= 7x", (1, 4): ">= 3.5x"}.get((workers, lanes), f"ideal {ideal}x")
            row(f"{workers} worker(s) x {lanes} lane(s), {store}", f"{speed:.2f} chunks/s, {cpu / chunks * 1000:.0f} ms CPU/chunk",
                f"1 x 1 {base:.2f} chunks/s", f"{speed / base:.2f}x; bound by {bound}", target)  # fmt: skip


def bench_idle_load(row: Row, runs: int, workers: int = 20, seconds: float = 10.0) -> None:
    """The statements a second that ``workers`` idle ``batchkit worker`` processes send PostgreSQL (counted
    in the server's log, ``log_statement = all``), polling each second (``--idle 1``, as before wake-ups)
    beside resting with ``LISTEN``/``NOTIFY``."""
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
    from tests import postgres

    if postgres.binaries() is None:
        print("  (no PostgreSQL binaries: idle load not measured)", flush=True)
        return
    import psycopg

    from batchkit._kernel.journal import Journal

    print(f"idle load: {workers} idle workers on PostgreSQL, statements a second over {seconds:.0f} s", flush=True)
    with postgres.server() as url, psycopg.connect(f"{url}/postgres", autocommit=True) as admin:
        log = Path(str(admin.execute("SHOW data_directory").fetchone()[0])).parent / "log"  # type: ignore[index]
        admin.execute("ALTER SYSTEM SET log_statement = 'all'")
        admin.execute("SELECT pg_reload_conf()")
        rates: dict[str, float] = {}
        for label, extra in (("polling each second (--idle 1)", ["--idle", "1"]), ("wake-ups (default)", [])):
            journal = postgres.new_database(url)
            Journal(journal).close()  # its tables, before the workers race to make them
            env = {**os.environ, "RESEMBLE_API_KEY": "bench", "BATCHKIT_BASE_URL": "http://127.0.0.1:9"}
            procs = [subprocess.Popen([sys.executable, "-m", "batchkit", "-p", "resemble", "worker", "--journal",
                                       journal, "--progress-every", "0", *extra], env=env,
                                      stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL) for _ in range(workers)]  # fmt: skip
            try:
                with psycopg.connect(journal, autocommit=True) as db:
                    while db.execute("SELECT COUNT(*) FROM workers").fetchone()[0] < workers:  # type: ignore[index]
                        time.sleep(0.2)
                time.sleep(2.0)  # past their first looks
                before = log.read_text(errors="replace").count("LOG:  statement:")
                time.sleep(seconds)
                rates[label] = (log.read_text(errors="replace").count("LOG:  statement:") - before) / seconds
            finally:
                for proc in procs:
                    proc.terminate()
                for proc in procs:
                    proc.wait()
        polled, woken = rates.values()
        row(f"{workers} idle workers, statements/s", f"{woken:.1f} with wake-ups", f"{polled:.1f} polling each second",
            f"{woken / polled:.2f}x", "far fewer")  # fmt: skip


def bench_explain(row: Row, runs: int, chunks: int = 100_000) -> None:
    """The plans PostgreSQL chooses for a worker's frequent statements (claim, renew, release, next due)
    with ``chunks`` one-file chunks in the journal, and each call's median time over 21 calls, beside a
    raw ``FOR UPDATE SKIP LOCKED`` claim of one row."""
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
    from tests import postgres

    if postgres.binaries() is None:
        print("  (no PostgreSQL binaries: plans not shown)", flush=True)
        return
    import psycopg

    from batchkit._kernel.journal import Journal, Scope, stores

    print(f"plans: a worker's statements with {chunks:,} chunks in a PostgreSQL journal", flush=True)
    with postgres.server() as url:
        journal = postgres.new_database(url)
        book = Journal(journal)
        now = int(time.time() * 1000)
        book.record_run("resemble", "explain", {}, [(f"/data/f{i:07d}.wav", 10, None) for i in range(chunks)],
                        [[i] for i in range(chunks)], now)  # fmt: skip
        seen: list[tuple[str, tuple[Any, ...]]] = []
        execute, statement = stores._PostgresTx.execute, stores.PostgresStore.statement

        def recorded(self: Any, sql: str, params: Any = ()) -> Any:
            seen.append((sql, tuple(params)))
            return execute(self, sql, params)

        def recorded_alone(self: Any, sql: str, params: Any = ()) -> Any:  # a statement committed on its own
            seen.append((sql, tuple(params)))
            return statement(self, sql, params)

        stores._PostgresTx.execute = recorded  # type: ignore[method-assign]
        stores.PostgresStore.statement = recorded_alone  # type: ignore[method-assign]
        calls = {"claim": lambda: book.claim("w", Scope("resemble"), now, 30_000),
                 "renew": lambda: book.renew("w", now, 30_000),
                 "next due": lambda: book.next_due(Scope("resemble"), now),
                 "release": lambda: book.release("w")}  # fmt: skip
        try:
            book.register("w", ["resemble"], "bench", now, 30_000)
            with psycopg.connect(journal, autocommit=True) as db:
                db.execute("ANALYZE")
                for name, call in calls.items():
                    times = []
                    for _ in range(21):  # the median of 21 calls (the first also plans and reads the clock)
                        seen.clear()
                        started = time.perf_counter()
                        call()
                        times.append((time.perf_counter() - started) * 1000)
                    spent = sorted(times)[len(times) // 2]
                    plans = []
                    for sql, params in seen:
                        if "clock_timestamp" in sql or "pg_notify" in sql:
                            continue
                        lines = [str(r[0]) for r in db.execute(f"EXPLAIN {sql.replace('?', '%s')}", params)]
                        plans.append(" / ".join(line.strip() for line in lines[:3]))
                        print(f"  {name}: {sql[:100]}\n    {chr(10).join('    ' + ln for ln in lines)}", flush=True)
                    row(f"{name} at {chunks:,} chunks", f"{spent:.1f} ms, {len(plans)} statements", "-", "-",
                        "<= 5 ms" if name == "claim" else "an index")  # fmt: skip
                started = time.perf_counter()
                with db.transaction():
                    db.execute("SELECT run_id, idx FROM chunks WHERE state = 'planned' LIMIT 1 FOR UPDATE SKIP LOCKED")
                raw = (time.perf_counter() - started) * 1000
                row("raw SKIP LOCKED claim of one row", f"{raw:.1f} ms", "-", "-", "baseline")
        finally:
            stores._PostgresTx.execute = execute  # type: ignore[method-assign]
            stores.PostgresStore.statement = statement  # type: ignore[method-assign]
            book.close()


def bench_claims(row: Row, runs: int, sizes: tuple[int, ...] = (2_000, 20_000, 100_000), claims: int = 600) -> None:
    """Claims a second at each size (one-file chunks, the first half done, as in a run under way): a
    worker's claim, then its chunk's end (one fenced write), from 1 and 4 connections, beside a raw
    ``FOR UPDATE SKIP LOCKED`` claim-and-end loop on the same table; the chunks taken are planned again
    (and the table vacuumed) before each measurement."""
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
    from tests import postgres

    if postgres.binaries() is None:
        print("  (no PostgreSQL binaries: claims not measured)", flush=True)
        return
    import threading

    import psycopg

    from batchkit._kernel.journal import Journal, Scope

    def rate(journal: str, size: int, steps: list[Callable[[], None]]) -> float:
        with psycopg.connect(journal, autocommit=True) as db:
            db.execute("UPDATE chunks SET state = 'planned', owner = NULL, lease_until_ms = NULL"
                       " WHERE idx >= %s AND state <> 'planned'", (size // 2,))  # fmt: skip
            db.execute("VACUUM ANALYZE chunks")
        each = claims // len(steps)
        threads = [threading.Thread(target=lambda s=s: [s() for _ in range(each)]) for s in steps]
        started = time.perf_counter()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        return each * len(steps) / (time.perf_counter() - started)

    def ours(book: Journal, owner: str) -> Callable[[], None]:
        def step() -> None:
            claim = book.claim(owner, Scope("resemble"), int(time.time() * 1000), 30_000)
            assert claim is not None
            book.failed(claim, "measured")

        return step

    def raw(db: Any) -> Callable[[], None]:
        def step() -> None:
            with db.transaction():
                found = db.execute("SELECT run_id, idx FROM chunks WHERE state = 'planned' ORDER BY run_id, idx"
                                   " LIMIT 1 FOR UPDATE SKIP LOCKED").fetchone()  # fmt: skip
                db.execute("UPDATE chunks SET state = 'failed' WHERE run_id = %s AND idx = %s", found)

        return step

    print(f"claims: {claims} claims of PostgreSQL chunks a second, half of the chunks done", flush=True)
    with postgres.server() as url:
        for size in sizes:
            journal = postgres.new_database(url)
            books = [Journal(journal) for _ in range(4)]
            books[0].record_run("resemble", f"claims-{size}", {}, [(f"/data/f{i:07d}.wav", 10, None)
                                for i in range(size)], [[i] for i in range(size)], int(time.time() * 1000))  # fmt: skip
            connections = [psycopg.connect(journal, autocommit=True) for _ in range(4)]
            try:
                for width in (1, 4):
                    mine = sorted(rate(journal, size, [ours(b, f"w{n}") for n, b in enumerate(books[:width])])
                                  for _ in range(max(1, runs)))  # fmt: skip
                    theirs = sorted(rate(journal, size, [raw(db) for db in connections[:width]])
                                    for _ in range(max(1, runs)))  # fmt: skip
                    ours_, raw_ = mine[len(mine) // 2], theirs[len(theirs) // 2]
                    row(f"claims/s at {size:,} chunks, {width} connection{'s' * (width > 1)}", f"{ours_:.0f}",
                        f"{raw_:.0f} raw SKIP LOCKED", f"{ours_ / raw_:.2f}x", ">= 0.5x")  # fmt: skip
            finally:
                for db in connections:
                    db.close()
                for book in books:
                    book.close()


def bench_statements(row: Row, runs: int, chunks: int = 20) -> None:
    """PostgreSQL statements (and transactions) per 10-file Resemble chunk from claim to done, counted in
    the worker's process over a whole run against the emulator, beside a raw ``SKIP LOCKED`` claim loop
    (one claim and one end per row: 2 statements in 1 transaction); the statements a chunk costs most
    are printed."""
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
    from tests import postgres

    if postgres.binaries() is None:
        print("  (no PostgreSQL binaries: statements not counted)", flush=True)
        return
    import collections

    from batchkit._kernel.journal import stores
    from batchkit.emulator import EmulatorConfig, serve

    print(f"statements: a worker's PostgreSQL statements per chunk over {chunks} chunks of 10 files", flush=True)
    seen: collections.Counter[str] = collections.Counter()
    transactions = [0]
    execute, statement, transaction = stores._PostgresTx.execute, stores.PostgresStore.statement, stores.PostgresStore.transaction
    executemany = stores._PostgresTx.executemany

    def counted_many(self: Any, sql: str, rows: Any) -> None:
        seen[" ".join(sql.split()[:4])] += len(rows)  # each row is one statement sent (pipelined)
        executemany(self, sql, rows)

    def counted(real: Any) -> Any:
        def call(self: Any, sql: str, params: Any = ()) -> Any:
            seen[" ".join(sql.split()[:4])] += 1
            return real(self, sql, params)

        return call

    @contextlib.contextmanager
    def counted_transaction(self: Any, write: bool = True) -> Iterator[Any]:
        transactions[0] += 1
        with transaction(self, write) as tx:
            yield tx

    with (postgres.server() as server, serve(config=EmulatorConfig(queue_seconds=0.01, run_seconds=0.05)) as emu,
          tempfile.TemporaryDirectory() as tmp):  # fmt: skip
        journal = postgres.new_database(server)
        files = [Path(tmp) / f"f{i:05d}.wav" for i in range(chunks * 10)]
        for path in files:
            path.write_bytes(os.urandom(100))
        with batchkit.connect("resemble", api_key="bench", base_url=str(emu.base_url)) as client:
            client.enqueue(files, journal=journal, chunk=10)
            stores._PostgresTx.execute = counted(execute)  # type: ignore[method-assign]
            stores.PostgresStore.statement = counted(statement)  # type: ignore[method-assign]
            stores.PostgresStore.transaction = counted_transaction  # type: ignore[method-assign]
            stores._PostgresTx.executemany = counted_many  # type: ignore[method-assign]
            try:
                summary = client.work(journal, until_done=True, concurrency=1)
            finally:
                stores._PostgresTx.execute = execute  # type: ignore[method-assign]
                stores.PostgresStore.statement = statement  # type: ignore[method-assign]
                stores.PostgresStore.transaction = transaction  # type: ignore[method-assign]
                stores._PostgresTx.executemany = executemany  # type: ignore[method-assign]
        assert summary.finished == chunks, summary
    total = sum(seen.values())
    for sql, count in seen.most_common():
        print(f"  {count / chunks:5.1f} a chunk: {sql}", flush=True)
    row("PostgreSQL statements per 10-file chunk, claim to done", f"{total / chunks:.1f} in "
        f"{transactions[0] / chunks:.1f} transactions", "2 in 1 (raw SKIP LOCKED claim and end)",
        f"{total / chunks / 2:.1f}x", "<= 15")  # fmt: skip
