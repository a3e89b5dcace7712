"""batchkit benchmarks: each case measures batchkit and a baseline in the same run and prints the ratio.

    python tests/benchmarks/run.py [--runs 5] [--files 100000] [--only emulator,report,hume-expression,workers,stall,streaming,upload,overhead,parsing,many,import,polls,enqueue,runs-cli,worker-cpu,throughput,throughput-pg]

Figures are medians over ``--runs`` runs. Nothing here is asserted; the targets are printed beside them.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import functools
import json
import os
import platform
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import fleet  # beside this file (the script's folder is first on sys.path)
import httpx

import batchkit
from batchkit._kernel.steps import advance
from batchkit.providers.hume import HumeProvider

HERE = Path(__file__).parent
ROWS: list[tuple[str, str, str, str, str]] = []


def row(case: str, batchkit_figure: str, baseline: str, ratio: str, target: str) -> None:
    ROWS.append((case, batchkit_figure, baseline, ratio, target))
    print(f"  {case}: batchkit {batchkit_figure} | baseline {baseline} | ratio {ratio} | target {target}", flush=True)


def median(samples: list[float]) -> float:
    return statistics.median(samples)


def measure(command: list[str]) -> tuple[float, float, str]:
    """Wall seconds, peak RSS (MB) and stdout of a child process.

    The peak is the child's own VmHWM, polled from /proc: unlike ``ru_maxrss`` it is not inflated by
    the parent's memory, which a forked child counts until it execs.
    """
    started = time.perf_counter()
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    status_file, peak_kb = Path(f"/proc/{proc.pid}/status"), 0
    while proc.poll() is None:
        with contextlib.suppress(OSError, ValueError, IndexError, StopIteration):
            line = next(ln for ln in status_file.read_text().splitlines() if ln.startswith("VmHWM:"))
            peak_kb = max(peak_kb, int(line.split()[1]))
        time.sleep(0.002)
    wall = time.perf_counter() - started
    out = proc.stdout.read() if proc.stdout else ""
    if proc.returncode != 0:
        raise RuntimeError(f"{command[:3]} exited {proc.returncode}")
    return wall, peak_kb / 1024, out


@contextlib.contextmanager
def drain_server() -> Iterator[str]:
    with tempfile.TemporaryDirectory() as tmp:
        port_file = Path(tmp) / "port"
        proc = subprocess.Popen([sys.executable, str(HERE / "drain_server.py"), str(port_file)])
        try:
            while not port_file.exists() or not port_file.read_text():
                time.sleep(0.02)
            yield f"http://127.0.0.1:{port_file.read_text()}"
        finally:
            proc.kill()
            proc.wait()


def media_files(folder: Path, count: int, size: int) -> list[Path]:
    block = os.urandom(1 << 20)
    paths = []
    for i in range(count):
        path = folder / f"clip{i:02d}.mp4"
        with open(path, "wb") as fh:
            for start in range(0, size, len(block)):
                fh.write(block[: min(len(block), size - start)])
        paths.append(path)
    return paths


def bench_upload(runs: int) -> None:
    print("upload: 50 files to a loopback server that drains the body", flush=True)
    curl = shutil.which("curl")
    with drain_server() as url, tempfile.TemporaryDirectory() as tmp:
        for total_mb in (50, 500):
            folder = Path(tmp) / str(total_mb)
            folder.mkdir()
            files = media_files(folder, 50, total_mb * 10**6 // 50)
            for provider, part, header, path in (
                ("resemble", "files[]", "Authorization: Bearer bench", "/api/v2/detect/batch"),
                ("hume", "file", "X-Hume-Api-Key: bench", "/v0/batch/jobs"),
            ):
                child = [sys.executable, str(HERE / "upload_child.py"), provider, url, *map(str, files)]
                ours = [measure(child) for _ in range(runs)]
                wall, rss = median([w for w, _, _ in ours]), median([r for _, r, _ in ours])
                sending = median([float(out) for _, _, out in ours])
                case, figure = (
                    f"upload {provider} {total_mb} MB",
                    f"{wall:.2f}s ({sending:.2f}s sending), {rss:.0f} MB peak RSS",
                )
                if curl is None:
                    row(case, figure, "curl missing", "-", "RSS <= 64 MB")
                    continue
                command = [
                    curl,
                    "-sS",
                    "-o",
                    "/dev/null",
                    "-H",
                    header,
                    *[a for f in files for a in ("-F", f"{part}=@{f}")],
                    url + path,
                ]
                theirs = [measure(command) for _ in range(runs)]
                cwall, crss = median([w for w, _, _ in theirs]), median([r for _, r, _ in theirs])
                ratio = f"{wall / cwall:.2f}x wall, {sending / cwall:.2f}x sending"
                row(
                    case, figure, f"curl {cwall:.2f}s, {crss:.0f} MB peak RSS", ratio, "RSS <= 64 MB, wall <= 1.3x curl"
                )


def paired(pairs: list[tuple[float, float]], calls: int) -> tuple[float, float, float]:
    """Median seconds per call of ours and theirs, and the median ratio, from ``(ours, theirs)`` block
    timings taken alternately: a busy machine slows both sides of each pair alike."""
    return (median([o for o, _ in pairs]) / calls, median([t for _, t in pairs]) / calls,
            median([o / t for o, t in pairs]))  # fmt: skip


def bench_overhead(runs: int, calls: int = 5000) -> None:
    blocks = max(runs * 10, 20)
    per_block = max(calls // blocks, 50)
    print(f"overhead: job-status calls on one connection pool, {blocks} alternating blocks of {per_block}", flush=True)
    us = lambda seconds: f"{seconds * 1e6:.0f} us/call"  # noqa: E731

    def block(fn: Callable[[], Any]) -> float:
        started = time.perf_counter()
        for _ in range(per_block):
            fn()
        return time.perf_counter() - started

    with drain_server() as url, httpx.Client() as http:
        target = f"{url}/api/v2/detect/batch/bench-batch"
        headers = {"Authorization": "Bearer bench"}
        own = batchkit.connect("resemble", api_key="bench", base_url=url)  # its own httpx client: sent in place
        given = batchkit.connect("resemble", api_key="bench", base_url=url, http_client=http)  # on a pool thread
        for label, client, theirs in (
            ("raw httpx GET", own, lambda: http.get(target, headers=headers)),
            ("httpx GET + .json()", own, lambda: http.get(target, headers=headers).json()),
            ("raw httpx GET, batchkit given that httpx client", given, lambda: http.get(target, headers=headers)),
        ):  # fmt: skip
            status = functools.partial(client.get, "bench-batch")
            pairs = [(block(status), block(theirs)) for _ in range(blocks)]
            ours, base, ratio = paired(pairs, per_block)
            row(f"status calls vs {label}", us(ours), us(base), f"{ratio:.2f}x", "<= 1.2x" if label == "raw httpx GET" else "-")
        own.close()

        async def async_pairs() -> list[tuple[float, float]]:
            async with httpx.AsyncClient() as ahttp:
                aclient = batchkit.connect_async("resemble", api_key="bench", base_url=url, http_client=ahttp)

                async def ablock(fn: Callable[[], Any]) -> float:
                    started = time.perf_counter()
                    for _ in range(per_block):
                        await fn()
                    return time.perf_counter() - started

                return [(await ablock(lambda: aclient.get("bench-batch")),
                         await ablock(lambda: ahttp.get(target, headers=headers))) for _ in range(blocks)]  # fmt: skip

        ours, base, ratio = paired(asyncio.run(async_pairs()), per_block)
        row("status calls vs raw httpx GET (AsyncClient)", us(ours), us(base), f"{ratio:.2f}x", "<= 1.2x")


def hume_payload(frames: int) -> bytes:
    from batchkit.providers.hume.fake_predictions import EMOTIONS

    emotions = [{"name": n, "score": 0.123456} for n in EMOTIONS]
    predictions = [{"frame": i, "time": i / 3, "prob": 0.99, "box": {"x": 1.0, "y": 2.0, "w": 3.0, "h": 4.0},
                    "emotions": emotions, "facs": None, "descriptions": None} for i in range(frames)]  # fmt: skip
    source = {"source": {"type": "file", "filename": "long.mp4"},
              "results": {"predictions": [{"file": "long.mp4", "models": {"face": {"metadata": None,
                          "grouped_predictions": [{"id": "unknown", "predictions": predictions}]}}}], "errors": []}}  # fmt: skip
    return json.dumps([source]).encode()


def timed(fn: Callable[[], Any]) -> float:
    started = time.perf_counter()
    fn()
    return time.perf_counter() - started


def peak_mb(fn: Callable[[], Any]) -> float:
    tracemalloc.start()
    fn()
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return peak / 1e6


def bench_parsing(runs: int) -> None:
    body = hume_payload(frames=22_000)
    print(f"parsing: a Hume predictions payload of {len(body) / 1e6:.0f} MB", flush=True)
    provider = HumeProvider("https://h.test")
    job = batchkit.BatchJob("hume", "job", batchkit.JobStatus.SUCCEEDED, "COMPLETED")
    reply = httpx.Response(200, content=body)

    def ours_fn() -> Any:  # the client's own path: read_json, then the typed models
        operation = provider.results(job)
        next(operation)
        return advance(operation, reply)

    theirs_fn = lambda: json.loads(body)  # noqa: E731
    ours = median([timed(ours_fn) for _ in range(runs)])
    theirs = median([timed(theirs_fn) for _ in range(runs)])
    row("parse predictions (time)", f"{ours:.2f}s", f"json.loads {theirs:.2f}s", f"{ours / theirs:.2f}x", "<= 2x")
    row(
        "parse predictions (peak memory)",
        f"{peak_mb(ours_fn):.0f} MB",
        f"json.loads {peak_mb(theirs_fn):.0f} MB",
        "-",
        "-",
    )


async def submit_hume_jobs(url: str, count: int) -> list[batchkit.BatchJob]:
    async with batchkit.connect_async("hume", api_key="bench", base_url=url) as client:
        gate = asyncio.Semaphore(32)

        async def one(i: int) -> batchkit.BatchJob:
            async with gate:
                return await client.submit(text=[f"job {i}"])

        return list(await asyncio.gather(*(one(i) for i in range(count))))


def bench_many(runs: int, count: int = 1000) -> None:
    print(f"many jobs: {count} Hume jobs finishing in 1-3 s on the emulator (its own process)", flush=True)
    schedule = batchkit.PollSchedule(initial=0.25, factor=1.3, maximum=1.0, max_rate=2000, concurrency=32)
    port = free_port()
    emulator = [
        sys.executable,
        "-m",
        "batchkit.cli",
        "emulator",
        "--port",
        str(port),
        "--run-seconds",
        "1",
        "--run-seconds-max",
        "3",
    ]
    proc = subprocess.Popen(emulator, stdout=subprocess.PIPE, text=True)
    url = f"http://127.0.0.1:{port}"
    try:
        assert proc.stdout is not None
        proc.stdout.readline()
        for kind in ("async", "sync"):
            ratios, requests = [], []
            for _ in range(max(1, runs // 2)):
                before = httpx.get(f"{url}/_emulator").json()["requests"]
                started = time.time()
                jobs = asyncio.run(submit_hume_jobs(url, count))
                if kind == "async":
                    done = asyncio.run(wait_async(url, jobs, schedule))
                else:
                    with batchkit.connect("hume", api_key="bench", base_url=url, poll=schedule) as client:
                        done = client.wait_all(jobs)
                finished = time.time()
                ideal = max(j.ended_at.timestamp() for j in done if j.ended_at) - started
                ratios.append((finished - started) / ideal)
                requests.append(httpx.get(f"{url}/_emulator").json()["requests"] - before - count)
            row(f"wait_all {count} jobs ({kind})", f"{median(ratios):.2f}x the slowest job", "slowest job's end", f"{median(ratios):.2f}x",
                f"<= 1.2x; {median(requests):.0f} status requests")  # fmt: skip
    finally:
        proc.terminate()
        proc.wait()


async def wait_async(
    url: str, jobs: list[batchkit.BatchJob], schedule: batchkit.PollSchedule
) -> list[batchkit.BatchJob]:
    async with batchkit.connect_async("hume", api_key="bench", base_url=url, poll=schedule) as client:
        return await client.wait_all(jobs)


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


IMPORT_PROBE = """
import sys, time
for name in {blocked!r}:
    sys.modules[name] = None  # as if not installed
t = time.perf_counter()
import {module}
print(time.perf_counter() - t, sorted(n for n in ("starlette", "uvicorn", "click", "rich", "multipart") if sys.modules.get(n)))
"""


def bench_import(runs: int) -> None:
    print("import time (a fresh interpreter each run)", flush=True)

    def once(module: str, blocked: tuple[str, ...]) -> tuple[float, str]:
        code = IMPORT_PROBE.format(module=module, blocked=blocked)
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
        seconds, extras = out.split(" ", 1)
        return float(seconds) * 1000, extras.strip()

    # httpx itself imports click and rich (for its own CLI) when they are installed: the [cli] extra
    for label, blocked in (("core install", ("click", "rich", "pygments")), ("with the cli extra installed", ())):
        ours = [once("batchkit", blocked) for _ in range(runs)]
        theirs = median([once("httpx", blocked)[0] for _ in range(runs)])
        ms = median([m for m, _ in ours])
        row(f"import batchkit ({label})", f"{ms:.0f} ms, extras loaded: {ours[0][1]}", f"import httpx {theirs:.0f} ms",
            f"{ms / theirs:.2f}x", "< 150 ms, no extras")  # fmt: skip


def bench_streaming(runs: int) -> None:
    print("streaming: a Hume predictions reply of about 500 MB (100 sources), each way in its own process", flush=True)
    with drain_server() as url:
        figures = {}
        for mode in ("iter_results", "json.loads", "results"):
            child = [sys.executable, str(HERE / "stream_child.py"), mode, url]
            measured = [measure(child) for _ in range(runs)]
            seconds = median([float(out.split()[0]) for _, _, out in measured])
            figures[mode] = (seconds, median([rss for _, rss, _ in measured]))
    (ours, ours_rss), (loads, loads_rss), (whole, whole_rss) = (
        figures["iter_results"],
        figures["json.loads"],
        figures["results"],
    )
    row("iter_results, Hume 500 MB reply", f"{ours:.1f}s, {ours_rss:.0f} MB peak RSS",
        f"json.loads {loads:.1f}s, {loads_rss:.0f} MB; results() {whole:.1f}s, {whole_rss:.0f} MB",
        f"{ours / loads:.2f}x json.loads", "RSS <= 150 MB, time <= 1.5x")  # fmt: skip


class InlineDiskClient(batchkit.AsyncClient):
    """The async client as it was before disk work became a step of its own: on the event loop."""

    async def _do(self, ops: Any, step: Any) -> Any:
        from batchkit._kernel.steps import Blocking, Failed

        if isinstance(step, Blocking):
            try:
                return step.fn()
            except Exception as exc:
                return Failed(exc)
        return await super()._do(ops, step)


async def longest_stall(client: batchkit.AsyncClient, files: list[Path], journal: Path) -> float:
    """The longest delay (ms) of a task that ticks every 10 ms while ``submit_many`` runs: a first run
    (plan, checks, journal, uploads), then a resume that reconciles an interrupted chunk (md5 of 1 GB)."""
    worst, done = 0.0, asyncio.Event()

    async def tick() -> None:
        nonlocal worst
        while not done.is_set():
            before = time.perf_counter()
            await asyncio.sleep(0.01)
            worst = max(worst, time.perf_counter() - before - 0.01)

    ticker = asyncio.create_task(tick())
    try:
        await client.submit_many(files, journal=journal)
        with contextlib.closing(sqlite3.connect(journal)) as db, db:
            db.execute("UPDATE chunks SET state = 'sending' WHERE idx = 0")
        with contextlib.suppress(batchkit.AmbiguousSubmissionError):
            await client.submit_many(files, journal=journal)
    finally:
        done.set()
        await ticker
    return worst * 1000


def bench_loop_stall(runs: int, count: int = 100, size: int = 20 * 10**6) -> None:
    print(f"event loop: AsyncClient.submit_many of {count} Hume files of {size // 10**6} MB with a journal", flush=True)
    with drain_server() as url, tempfile.TemporaryDirectory() as tmp:
        files = media_files(Path(tmp), count, size)

        async def measure_with(cls: type[batchkit.AsyncClient], run: int) -> float:
            async with cls("hume", api_key="bench", base_url=url) as client:
                return await longest_stall(client, files, Path(tmp) / f"{cls.__name__}-{run}.sqlite")

        ours = median([asyncio.run(measure_with(batchkit.AsyncClient, i)) for i in range(runs)])
        before = median([asyncio.run(measure_with(InlineDiskClient, i)) for i in range(runs)])
        row("event-loop stall, submit_many 100 x 20 MB (async)", f"{ours:.1f} ms longest",
            f"disk work on the loop {before:.1f} ms", f"{ours / before:.2f}x", "<= 20 ms")  # fmt: skip


def run_workers(url: str, journal: str, count: int, *options: str) -> list[float]:
    """Start ``count`` ``batchkit worker --until-done`` processes; each one's peak RSS (MB) once all exited."""
    env = {**os.environ, "BATCHKIT_BASE_URL": url, "RESEMBLE_API_KEY": "bench"}
    command = [sys.executable, "-m", "batchkit.cli", "worker", "--journal", journal, "--until-done", *options]
    procs = [subprocess.Popen(command, env=env, stderr=subprocess.DEVNULL) for _ in range(count)]
    peaks = [0.0] * count
    while any(p.poll() is None for p in procs):
        for i, proc in enumerate(procs):
            with contextlib.suppress(OSError, ValueError, IndexError, StopIteration):
                status = Path(f"/proc/{proc.pid}/status").read_text().splitlines()
                peaks[i] = max(peaks[i], int(next(ln for ln in status if ln.startswith("VmHWM:")).split()[1]) / 1024)
        time.sleep(0.01)
    if any(p.returncode for p in procs):
        raise RuntimeError("a worker failed")
    return peaks


def bench_workers(runs: int, chunks: int = 16) -> None:
    print(f"workers: {chunks} Resemble chunks of 10 files, each create held 1 s (slow), 1/2/4 worker processes",
          flush=True)  # fmt: skip
    from batchkit.emulator import EmulatorConfig, FaultKind, serve

    with (
        serve(config=EmulatorConfig(queue_seconds=0.01, run_seconds=0.05)) as emu,
        tempfile.TemporaryDirectory() as tmp,
    ):
        url = emu.base_url
        assert url is not None
        files = [Path(tmp) / f"f{i:04d}.wav" for i in range(chunks * 10)]
        for path in files:
            path.write_bytes(os.urandom(1000))
        speeds: dict[int, float] = {}
        for count in (1, 2, 4):
            samples = []
            for run in range(max(1, runs // 2)):
                journal = str(Path(tmp) / f"w{count}-{run}.db")
                with batchkit.connect("resemble", api_key="bench", base_url=url) as client:
                    client.enqueue(files, journal=journal, chunk=10)
                emu.reset()
                emu.faults.add("POST /api/v2/detect/batch", FaultKind.SLOW, delay=1.0, times=chunks)
                run_workers(url, journal, count, "--concurrency", "1")
                arrivals = sorted(r.at for r in emu.requests if r.method == "POST")
                samples.append(chunks / (arrivals[-1] + 1.0 - arrivals[0]))
            speeds[count] = median(samples)
        for count in (2, 4):
            row(f"chunks/s with {count} workers (1 s creates)", f"{speeds[count]:.2f} chunks/s",
                f"1 worker {speeds[1]:.2f} chunks/s", f"{speeds[count] / speeds[1]:.2f}x speed-up",
                ">= 3.5x at 4 workers" if count == 4 else "~2x")  # fmt: skip
        big = [Path(tmp) / f"big{i:03d}.wav" for i in range(200)]
        block = os.urandom(2 * 10**6)
        for path in big:
            path.write_bytes(block)
        peaks = {}
        for name, chosen in (("2 MB files", big), ("1 kB files", files[:200])):
            journal = str(Path(tmp) / f"memory-{name[0]}.db")
            with batchkit.connect("resemble", api_key="bench", base_url=url) as client:
                client.enqueue(chosen, journal=journal)
            emu.reset()
            emu.faults.add("POST /api/v2/detect/batch", FaultKind.SLOW, delay=1.0, times=4)
            [peaks[name]] = run_workers(url, journal, 1, "--concurrency", "4")
        row("one worker, 4 uploads of 100 MB in flight", f"{peaks['2 MB files']:.0f} MB peak RSS",
            f"the same with 1 kB files {peaks['1 kB files']:.0f} MB", f"{peaks['2 MB files'] / peaks['1 kB files']:.2f}x",
            "flat: memory does not grow with upload size")  # fmt: skip


def bench_hume_expression(runs: int, count: int = 200) -> None:
    print(f"hume-expression: {count} WAV files of 5 s through the emulator (its own process), 8 uploads in flight",
          flush=True)  # fmt: skip
    sys.path.insert(0, str(HERE.parent.parent))
    from concurrent.futures import ThreadPoolExecutor

    from tests import media_files

    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "batchkit.cli", "emulator", "--port", str(port)],
                            stdout=subprocess.PIPE, text=True)  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        assert proc.stdout is not None
        proc.stdout.readline()
        with tempfile.TemporaryDirectory() as tmp:
            files = [media_files.wav(Path(tmp) / f"call{i:03d}.wav", 5) for i in range(count)]
            ours, raw = [], []
            for run in range(runs):
                started = time.perf_counter()
                with batchkit.connect("hume-expression", api_key="bench", base_url=url,
                                      journal=str(Path(tmp) / f"j{run}.db")) as client:  # fmt: skip
                    client.submit(files)
                ours.append(count / (time.perf_counter() - started))

                def post(path: Path, http: httpx.Client) -> None:
                    with open(path, "rb") as fh:
                        reply = http.post(f"{url}/v1/expression/audio/file", headers={"X-Hume-Api-Key": "bench"},
                                          files={"file": (path.name, fh, "audio/wav")})  # fmt: skip
                    reply.raise_for_status()

                started = time.perf_counter()
                with httpx.Client(limits=httpx.Limits(max_connections=8)) as http, ThreadPoolExecutor(8) as pool:
                    list(pool.map(lambda p: post(p, http), files))
                raw.append(count / (time.perf_counter() - started))
            row(f"hume-expression, {count} files, 8 in flight", f"{median(ours):.0f} files/s",
                f"raw httpx, 8 threads {median(raw):.0f} files/s", f"{median(ours) / median(raw):.2f}x",
                "journaled, each reply kept first")  # fmt: skip
            hour, minute = Path(tmp) / "hour.mp3", Path(tmp) / "minute.mp3"
            media_files.audio(hour, 3600)
            media_files.audio(minute, 60)
            child = [sys.executable, str(HERE / "convert_child.py")]
            wall, peak, out = measure([*child, str(hour), str(Path(tmp) / "h")])
            _, small, _ = measure([*child, str(minute), str(Path(tmp) / "m")])
            row("convert a 1-hour MP3 to 16 kHz WAV segments (PyAV)", f"{peak:.0f} MB peak RSS, {wall:.1f} s, "
                f"{out.split()[1]} requests", f"a 1-minute MP3: {small:.0f} MB", f"{peak / small:.2f}x", "flat")  # fmt: skip
    finally:
        proc.terminate()
        proc.wait()


EMULATOR_PROCESS = """
import socket, sys
from batchkit.emulator import serve, server
if sys.argv[1] == "protocol-0":  # the listening socket as it was made before: no TCP_NODELAY on accepted sockets
    def plain(host, port):
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        return sock
    server.listening_socket = plain
with serve() as emu:
    print(emu.base_url, flush=True)
    sys.stdin.read()
"""


@contextlib.contextmanager
def emulator_process(variant: str) -> Iterator[str]:
    """The emulator in a process of its own (as ``batchkit emulator`` runs); its base URL."""
    proc = subprocess.Popen([sys.executable, "-c", EMULATOR_PROCESS, variant], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, text=True)  # fmt: skip
    try:
        assert proc.stdout is not None
        yield proc.stdout.readline().strip()
    finally:
        proc.kill()
        proc.wait()


def bench_emulator(runs: int, calls: int = 300) -> None:
    print(f"emulator: {calls} GETs of a job's status, one connection, raw httpx", flush=True)
    from batchkit.emulator import EMULATOR_KEY

    def round_trip(url: str, path: str, headers: dict[str, str]) -> float:
        with httpx.Client(base_url=url, headers=headers) as http:
            http.get(path)  # the connection is open before timing
            started = time.perf_counter()
            for _ in range(calls):
                http.get(path)
            return (time.perf_counter() - started) / calls * 1000

    def on_emulator(variant: str) -> float:
        with emulator_process(variant) as url:
            headers = {"X-Hume-Api-Key": EMULATOR_KEY}
            job = httpx.post(f"{url}/v0/batch/jobs", json={"text": ["hi"]}, headers=headers).json()["job_id"]
            return median([round_trip(url, f"/v0/batch/jobs/{job}", headers) for _ in range(runs)])

    with drain_server() as url:
        raw = median([round_trip(url, "/api/v2/detect/batch/bench-batch", {}) for _ in range(runs)])
    ours, before = on_emulator("nodelay"), on_emulator("protocol-0")
    row("emulator round trip vs a raw loopback server", f"{ours:.2f} ms", f"{raw:.2f} ms", f"{ours / raw:.2f}x", "-")
    row("emulator round trip without TCP_NODELAY (as before)", f"{before:.2f} ms", f"{raw:.2f} ms",
        f"{before / raw:.2f}x", "-")  # fmt: skip


def bench_report(runs: int, count: int = 10_000) -> None:
    """``batchkit.report.write`` of a run of ``count`` files (three providers), against writing the same
    results' summary rows as CSV."""
    import csv

    sys.path.insert(0, str(HERE.parent.parent))
    from batchkit import report
    from tests.report_inputs import mixed

    results = mixed(count)
    print(f"report: {count} results of three providers", flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        page = Path(tmp) / "report.html"

        def summary_csv() -> None:
            with open(Path(tmp) / "summary.csv", "w", newline="") as fh:
                rows = list(batchkit.results.summary(results))
                writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
                writer.writeheader()
                writer.writerows(rows)

        written = median([timed(lambda: report.write(results, page)) for _ in range(runs)])
        baseline = median([timed(summary_csv) for _ in range(runs)])
        size = page.stat().st_size / 1e6
    row(f"`batchkit.report.write` of {count:,} files", f"{written:.2f} s, {size:.2f} MB",
        f"their summary CSV {baseline:.2f} s", f"{written / baseline:.1f}x", "≤ 10 s, ≤ 5 MB")  # fmt: skip


CASES = {
    "emulator": bench_emulator,
    "report": bench_report,
    "hume-expression": bench_hume_expression,
    "workers": bench_workers,
    "stall": bench_loop_stall,
    "streaming": bench_streaming,
    "upload": bench_upload,
    "overhead": bench_overhead,
    "parsing": bench_parsing,
    "many": bench_many,
    "import": bench_import,
    "polls": lambda runs: fleet.bench_polls(row, runs),
    "enqueue": lambda runs: fleet.bench_enqueue_export(row, measure, FILES[0]),
    "runs-cli": lambda runs: fleet.bench_runs_cli(row, runs),
    "worker-cpu": lambda runs: fleet.bench_worker_cpu(row, runs),
    "throughput": lambda runs: fleet.bench_throughput(row, runs),
    "throughput-pg": lambda runs: fleet.bench_throughput(row, runs, store="postgresql",
                                                         fleets=[(1, 1), (8, 1), (1, 4), (8, 4)]),
    "idle-pg": lambda runs: fleet.bench_idle_load(row, runs),
    "explain-pg": lambda runs: fleet.bench_explain(row, runs),
    "claims-pg": lambda runs: fleet.bench_claims(row, runs),
    "statements-pg": lambda runs: fleet.bench_statements(row, runs),
}
FILES = [100_000]
"""The files of the enqueue and export cases (``--files``)."""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--only", default=",".join(CASES))
    parser.add_argument("--files", type=int, default=FILES[0], help="files of the enqueue and export cases")
    args = parser.parse_args()
    FILES[0] = args.files
    print(f"{platform.node()} | {platform.machine()} | {os.cpu_count()} cores | Python {platform.python_version()} | "
          f"{time.strftime('%Y-%m-%d')} | medians of {args.runs} runs", flush=True)  # fmt: skip
    for name in args.only.split(","):
        CASES[name](args.runs)
    print("\n| case | batchkit | baseline (same run) | ratio | target |\n|---|---|---|---|---|")
    for case in ROWS:
        print("| " + " | ".join(case) + " |")


if __name__ == "__main__":
    main()
