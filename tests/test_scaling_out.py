"""Acceptance of many workers on one journal, as users run them: ``batchkit enqueue``, several
``batchkit worker`` processes against the emulator, some killed (SIGKILL) or paused (SIGSTOP) mid-way,
then ``batchkit results``. Never a create twice, every file's result exactly once."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from batchkit.emulator import EMULATOR_KEY, FaultKind
from tests.patience import exited, wait_until
from tests.test_submit_many import many

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="signals")
CREATE = "POST /api/v2/detect/batch"


@contextlib.contextmanager
def default_sigint() -> Iterator[None]:
    """SIGINT handled as Python does by default while the block runs (a child started in it inherits
    SIGINT not ignored)."""
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


PROVIDER = "resemble"


class Workers:
    """``batchkit`` commands in subprocesses, configured for the emulator by the environment."""

    def __init__(self, emu: Any, journal: str, logs: Path) -> None:
        self.emu, self.journal, self.logs = emu, journal, logs
        self.env = {**os.environ, "BATCHKIT_BASE_URL": emu.base_url, "RESEMBLE_API_KEY": EMULATOR_KEY,
                    "PYTHONFAULTHANDLER": "1"}  # a stuck worker sent SIGABRT prints every thread's stack
        for name in ("BATCHKIT_PROVIDER", "HUME_API_KEY", "BATCHKIT_JOURNAL"):
            self.env.pop(name, None)
        self.started: list[subprocess.Popen[str]] = []

    def command(self, *args: str) -> subprocess.CompletedProcess[str]:
        done = subprocess.run([sys.executable, "-m", "batchkit.cli", *args], env=self.env, capture_output=True,
                              text=True, timeout=120)  # fmt: skip
        assert done.returncode == 0, done.stderr
        return done

    def enqueue(self, files: list[Path], *options: str) -> str:
        out = self.command("-p", "resemble", "enqueue", *map(str, files), "--journal", self.journal, *options).stdout
        return out.strip().splitlines()[-1]

    def start(self, *options: str, until_done: bool = True) -> subprocess.Popen[str]:
        """A worker whose output goes to files (a pipe nobody reads while waiting could fill up)."""
        args = ["worker", "--journal", self.journal, *(["--until-done", "--concurrency", "1"] if until_done else []),
                *options]  # fmt: skip
        log = self.logs / f"worker-{len(self.started)}"
        # A suite run as a shell's background job ignores SIGINT, and a child inherits that: the workers
        # start with Python's own Ctrl-C handling, which the Ctrl-C test relies on.
        with open(f"{log}.out", "w") as out, open(f"{log}.err", "w") as err, default_sigint():
            proc = subprocess.Popen([sys.executable, "-m", "batchkit.cli", *args], env=self.env, text=True,
                                    stdout=out, stderr=err)  # fmt: skip
        self.started.append(proc)
        return proc

    def stderr(self, proc: subprocess.Popen[str]) -> str:
        return (self.logs / f"worker-{self.started.index(proc)}.err").read_text()

    def said(self) -> str:
        """What every worker said but its progress lines, as evidence when a run ends wrong."""
        lines = [f"worker {n}: {line}" for n, proc in enumerate(self.started) for line in self.stderr(proc).splitlines()
                 if not line.startswith(f"{PROVIDER}: ")]  # fmt: skip
        return "\n".join(lines[-60:])

    def progress(self) -> tuple[int, int]:
        """What changes while workers make progress: requests served, and workers that have ended (not
        what they print: a progress line every few seconds, or "journal is locked, waiting", is no progress)."""
        return len(self.emu.requests), sum(proc.poll() is not None for proc in self.started)

    def finish(self, procs: list[subprocess.Popen[str]], code: int = 0) -> list[str]:
        """Each worker's stderr once it has exited by itself (with ``code``), waiting while they make progress."""
        errors = []
        for proc in procs:
            try:
                returned = exited(proc, self.progress)
            except pytest.fail.Exception:
                proc.send_signal(signal.SIGABRT)
                proc.wait()
                pytest.fail(f"a worker is stuck; its output and threads:\n{self.stderr(proc)}")
            assert returned == code, self.stderr(proc)
            errors.append(self.stderr(proc))
        return errors

    def kill(self, proc: subprocess.Popen[str]) -> None:
        proc.send_signal(signal.SIGCONT)
        proc.kill()
        proc.wait()

    def stop_all(self) -> None:
        for proc in self.started:
            if proc.poll() is None:
                self.kill(proc)

    def results(self, run: str) -> list[dict[str, Any]]:
        out = self.command("results", "--journal", self.journal, "--run", run, "--format", "jsonl").stdout
        return [json.loads(line) for line in out.splitlines()]


@pytest.fixture
def workers_of(emu: Any, tmp_path: Path) -> Iterator[Any]:
    made: list[Workers] = []

    def make(journal: str) -> Workers:
        logs = tmp_path / f"logs-{len(made)}"
        logs.mkdir()
        made.append(Workers(emu, journal, logs))
        return made[-1]

    yield make
    for workers in made:
        workers.stop_all()


HELD = 600.0
"""A ``slow_reply`` delay that outlasts any wait: replies are held until the test releases them."""


def held_replies(emu: Any) -> int:
    """Requests the emulator is holding back (``slow_reply``) right now: faults injected whose requests
    have not been answered yet (an answered request is recorded with its fault)."""
    return emu.faults.injected - sum(1 for r in emu.requests if r.fault)


def _seeds() -> list[int]:
    """One seed in the suite; ``BATCHKIT_CHAOS_SEEDS=N`` runs N (1 to N), ``BATCHKIT_CHAOS_SEED=S`` one chosen."""
    if os.environ.get("BATCHKIT_CHAOS_SEED"):
        return [int(os.environ["BATCHKIT_CHAOS_SEED"])]
    return list(range(1, int(os.environ.get("BATCHKIT_CHAOS_SEEDS", "1")) + 1))


SETTLE = "4"
"""The workers' settle window: above twice the emulator's idle timeout (``IDLE_TIMEOUT``), and short."""
IDLE_TIMEOUT = 0.5


def _sending_pids(journal: str) -> list[int]:
    """The processes of the workers holding a chunk that is being sent (from the workers' registry)."""
    from batchkit._kernel.journal import Journal

    book = Journal(journal)
    try:
        with book._store.transaction(write=False) as tx:
            rows = tx.execute("SELECT DISTINCT w.pid FROM chunks c JOIN workers w ON w.id = c.owner"
                              " WHERE c.state = 'sending'").fetchall()  # fmt: skip
        return [int(pid) for (pid,) in rows]
    finally:
        book.close()


def _heartbeat_expired(journal: str, pid: int) -> bool:
    from batchkit._kernel.journal import Journal

    book = Journal(journal)
    try:
        return not any(w.alive for w in book.workers() if w.pid == pid)
    finally:
        book.close()


def chaos(emu: Any, workers: Workers, tmp_path: Path, seed: int, restart: Any = None) -> None:
    """2,000 Resemble files in 40 chunks, 4 workers. At seeded moments: one create is held before its body
    is read (its worker is killed mid-upload: nothing is created), another after it is made (its worker is
    killed before the reply: its job is found); one worker is SIGSTOPped past its lease and SIGCONTed; the
    database is restarted once (``restart``). Then exactly 40 creates and 2,000 results, each once, and
    nothing left ambiguous: the interrupted upload is sent again after the settle window, by itself.

    Slow by nature (tens of seconds): four real worker processes, 40 jobs, a lease and a settle window
    that must run out; it replaces the suite's earlier killed-workers test."""
    import random

    chance = random.Random(seed)
    print(f"chaos seed {seed}")
    emu.config.idle_timeout = IDLE_TIMEOUT
    files = many(tmp_path, 2000)
    started = time.monotonic()
    run = workers.enqueue(files)
    upload, reply = chance.sample(range(2, 10), 2)  # which creates are held, mid-upload and after the create
    emu.faults.add(CREATE, FaultKind.SLOW, delay=HELD, after=upload, times=1)
    emu.faults.add(CREATE, FaultKind.SLOW_REPLY, delay=HELD, after=reply, times=1)
    options = ("--lease", "2", "--settle", SETTLE)
    first = [workers.start(*options) for _ in range(4)]
    wait_until(lambda: emu.faults.injected == 2 and len(_sending_pids(workers.journal)) >= 2,
               "the two held creates never came", workers.progress)  # fmt: skip
    held = set(_sending_pids(workers.journal))
    victims = [p for p in first if p.pid in held][:2]
    for victim in victims:  # one mid-upload (its body never read), one between the create and its reply
        workers.kill(victim)
    emu.faults.release()
    alive = [p for p in first if p not in victims]
    late = [workers.start(*options) for _ in range(2)]
    paused = chance.choice(alive)
    restart_at = chance.randint(15, 30)
    stop_at = chance.randint(12, 28)
    print(f"held creates {upload + 1} (mid-upload) and {reply + 1} (reply); killed {[v.pid for v in victims]};"
          f" SIGSTOP {paused.pid} at {stop_at} creates; restart at {restart_at} creates")
    wait_until(lambda: emu.created("resemble") >= stop_at, "the run stalled before the pause", workers.progress)
    paused.send_signal(signal.SIGSTOP)
    wait_until(lambda: _heartbeat_expired(workers.journal, paused.pid), "the paused worker's heartbeat never expired")
    paused.send_signal(signal.SIGCONT)  # past its lease: what it held is another's by now, or soon
    if restart is not None:
        wait_until(lambda: emu.created("resemble") >= restart_at, "the run stalled before the restart",
                   workers.progress)  # fmt: skip
        restart()
    workers.finish(alive + late)
    elapsed = time.monotonic() - started
    chunks = json.loads(workers.command("--json", "runs", "--journal", workers.journal, "--run", run).stdout)
    unsettled = [c for c in chunks if c["state"] != "done" or c["error"]]
    assert (emu.created("resemble"), unsettled) == (40, []), f"seed {seed}; the workers said:\n{workers.said()}"
    rows = workers.results(run)
    assert [row["source"] for row in rows] == [str(p.resolve()) for p in files]
    unsucceeded = [row for row in rows if row["status"] != "SUCCEEDED"]
    assert not unsucceeded, (f"seed {seed}: {len(unsucceeded)} not SUCCEEDED, the first {unsucceeded[:2]};"
                             f" the workers said:\n{workers.said()}")  # fmt: skip
    shown = json.loads(workers.command("--json", "runs", "--journal", workers.journal).stdout)
    assert [(r["ambiguous"], r["failed"], r["files_done"]) for r in shown] == [(0, 0, 2000)], f"seed {seed}"
    print(f"seed {seed}: 2000 files, 40 chunks, 4 workers (2 killed, 1 paused, 2 started"
          f"{', the database restarted' if restart else ''}): {emu.created('resemble')} creates, {len(rows)}"
          f" SUCCEEDED, 0 ambiguous, in {elapsed:.1f}s")


@pytest.mark.long
@pytest.mark.parametrize("seed", _seeds())
def test_postgres_chaos_exactly_40_creates(emu, workers_of, postgres_url: str, tmp_path: Path, seed: int) -> None:
    from tests import postgres

    chaos(emu, workers_of(postgres_url), tmp_path, seed, lambda: postgres.restart(postgres_url))


@pytest.mark.long
@pytest.mark.parametrize("seed", _seeds())
def test_sqlite_chaos_exactly_40_creates(emu, workers_of, tmp_path: Path, seed: int) -> None:
    chaos(emu, workers_of(str(tmp_path / "journal.db")), tmp_path, seed)


@pytest.mark.long
def test_a_paused_worker_cannot_write_over_the_chunk_another_took(emu, workers_of, journal_url: str,
                                                                  tmp_path: Path) -> None:  # fmt: skip
    workers = workers_of(journal_url)
    files = many(tmp_path, 10)
    run = workers.enqueue(files)
    emu.faults.add(CREATE, FaultKind.SLOW_REPLY, delay=HELD)
    paused = workers.start("--lease", "1")
    made = lambda: emu.created("resemble") == 1 and held_replies(emu) == 1  # noqa: E731
    wait_until(made, "the first worker's create was never made", workers.progress)
    paused.send_signal(signal.SIGSTOP)
    other = workers.start("--lease", "1")
    [said] = workers.finish([other])  # it takes the chunk over, finds the job, collects the results
    assert "1 adopted" in said
    emu.faults.release()
    paused.send_signal(signal.SIGCONT)
    [complaint] = workers.finish([paused])
    assert "taken over by another worker" in complaint
    assert "1 lost" in complaint
    assert emu.created("resemble") == 1
    rows = workers.results(run)
    assert len(rows) == 10
    assert {row["status"] for row in rows} == {"SUCCEEDED"}


@pytest.mark.long
def test_a_shared_rate_holds_across_four_workers(emu, workers_of, journal_url: str, tmp_path: Path) -> None:
    workers = workers_of(journal_url)
    run = workers.enqueue(many(tmp_path, 240), "--chunk", "10")
    rate, before = 8, time.monotonic()  # the emulator stamps arrivals with time.monotonic() too
    workers.finish([workers.start("--rate", str(rate)) for _ in range(4)])
    creates = sorted(r.at for r in emu.requests if r.method == "POST")
    assert len(creates) == 24
    # The bucket (one token in hand, refilled at `rate`) is made after `before`, so by any moment t at
    # most 1 + (t - before) * rate tokens have been granted, and each create arrives after its token:
    # the k-th arrival (from 0) is no earlier than before + k / rate. Scheduling delays only make
    # arrivals later, so no load can break this. What can: the bucket counts whole milliseconds of each
    # worker's wall clock (at most 1 ms lost per grant), and wall and monotonic clocks drift apart by
    # parts per million. Hence the tolerance of 1 ms a create plus 10 ms.
    early = [(k, round(at - before, 3)) for k, at in enumerate(creates) if at < before + k / rate - 0.001 * k - 0.01]
    assert early == [], f"creates ahead of the shared rate (index, seconds): {early}"
    assert len(workers.results(run)) == 240


@pytest.mark.long
def test_ctrl_c_stops_a_worker_and_frees_its_chunks(emu, workers_of, tmp_path: Path) -> None:
    journal = str(tmp_path / "journal.db")
    workers = workers_of(journal)
    run = workers.enqueue(many(tmp_path, 30), "--chunk", "10")
    emu.faults.add(CREATE, FaultKind.SLOW_REPLY, delay=HELD, times=3)
    proc = workers.start("--concurrency", "1", until_done=False)  # one lane: one create in flight
    sent = lambda: (emu.created("resemble") == 1 and held_replies(emu) == 1) or proc.poll() is not None  # noqa: E731
    wait_until(sent, "the worker never sent", workers.progress)
    assert proc.poll() is None, workers.stderr(proc)
    proc.send_signal(signal.SIGINT)
    [err] = workers.finish([proc], code=130)
    assert "free for other workers" in err
    import sqlite3

    with contextlib.closing(sqlite3.connect(journal)) as db:
        assert db.execute("SELECT COUNT(*) FROM chunks WHERE owner IS NOT NULL").fetchone() == (0,)
    emu.faults.clear()
    workers.finish([workers.start()])
    assert emu.created("resemble") == 3  # the interrupted send was found, not repeated
    assert len(workers.results(run)) == 30
