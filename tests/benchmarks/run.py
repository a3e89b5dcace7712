"""batchkit benchmarks: each case measures batchkit and a baseline in the same run and prints the ratio.

    python tests/benchmarks/run.py [--runs 5] [--only upload,overhead,parsing,many,import]

Figures are medians over ``--runs`` runs. Nothing here is asserted; the targets are printed beside them.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx

import batchkit
from batchkit.providers.hume import to_file_result

HERE = Path(__file__).parent
ROWS: list[tuple[str, str, str, str, str]] = []


def row(case: str, batchkit_figure: str, baseline: str, ratio: str, target: str) -> None:
    ROWS.append((case, batchkit_figure, baseline, ratio, target))
    print(f"  {case}: batchkit {batchkit_figure} | baseline {baseline} | ratio {ratio} | target {target}", flush=True)


def median(samples: list[float]) -> float:
    return statistics.median(samples)


def measure(command: list[str]) -> tuple[float, float]:
    """Wall seconds and peak RSS (MB) of a child process."""
    started = time.perf_counter()
    proc = subprocess.Popen(command, stdout=subprocess.DEVNULL)
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise RuntimeError(f"{command[:3]} exited {proc.returncode}")
    return time.perf_counter() - started, usage.ru_maxrss / 1024


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
            for provider, part, header in (
                ("resemble", "files[]", "Authorization: Bearer bench"),
                ("hume", "file", "X-Hume-Api-Key: bench"),
            ):
                path = "/api/v2/detect/batch" if provider == "resemble" else "/v0/batch/jobs"
                ours = [
                    measure([sys.executable, str(HERE / "upload_child.py"), provider, url, *map(str, files)])
                    for _ in range(runs)
                ]
                wall, rss = median([w for w, _ in ours]), median([r for _, r in ours])
                if curl is None:
                    row(
                        f"upload {provider} {total_mb} MB",
                        f"{wall:.2f}s, {rss:.0f} MB RSS",
                        "curl missing",
                        "-",
                        "RSS <= 64 MB",
                    )
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
                cwall, crss = median([w for w, _ in theirs]), median([r for _, r in theirs])
                row(f"upload {provider} {total_mb} MB", f"{wall:.2f}s, {rss:.0f} MB RSS", f"curl {cwall:.2f}s, {crss:.0f} MB RSS",
                    f"{wall / cwall:.2f}x wall", "RSS <= 64 MB, wall <= 1.3x curl")  # fmt: skip


def bench_overhead(runs: int, calls: int = 5000) -> None:
    print(f"overhead: {calls} job-status calls on one connection pool", flush=True)
    with drain_server() as url, httpx.Client() as http:
        settings = batchkit.config.resolve("resemble", api_key="bench", base_url=url)
        client = batchkit.Client(settings, http_client=http)
        target = f"{url}/api/v2/detect/batch/bench-batch"
        headers = {"Authorization": "Bearer bench"}
        ours, raw, parsed = [], [], []
        for _ in range(runs):
            started = time.perf_counter()
            for _ in range(calls):
                http.get(target, headers=headers)
            raw.append(time.perf_counter() - started)
            started = time.perf_counter()
            for _ in range(calls):
                http.get(target, headers=headers).json()
            parsed.append(time.perf_counter() - started)
            started = time.perf_counter()
            for _ in range(calls):
                client.get("bench-batch")
            ours.append(time.perf_counter() - started)
        per_call = lambda total: f"{median(total) / calls * 1e6:.0f} us/call"  # noqa: E731
        row(
            "status calls vs raw httpx GET",
            per_call(ours),
            per_call(raw),
            f"{median(ours) / median(raw):.2f}x",
            "<= 1.2x",
        )
        row(
            "status calls vs httpx GET + .json()",
            per_call(ours),
            per_call(parsed),
            f"{median(ours) / median(parsed):.2f}x",
            "-",
        )


def hume_payload(frames: int) -> bytes:
    from batchkit.emulator.fakes import EMOTIONS

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
    ours_fn = lambda: [to_file_result(item) for item in json.loads(body)]  # noqa: E731
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
    settings = batchkit.config.resolve("hume", api_key="bench", base_url=url)
    async with batchkit.AsyncClient(settings) as client:
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
                settings = batchkit.config.resolve("hume", api_key="bench", base_url=url)
                if kind == "async":
                    done = asyncio.run(wait_async(settings, jobs, schedule))
                else:
                    with batchkit.Client(settings, poll=schedule) as client:
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
    settings: Any, jobs: list[batchkit.BatchJob], schedule: batchkit.PollSchedule
) -> list[batchkit.BatchJob]:
    async with batchkit.AsyncClient(settings, poll=schedule) as client:
        return await client.wait_all(jobs)


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def bench_import(runs: int) -> None:
    print("import time", flush=True)
    probe = "import sys, time; t = time.perf_counter(); import {m}; print(time.perf_counter() - t, sorted(set(sys.modules) & {{'starlette', 'uvicorn', 'click', 'rich', 'multipart'}}))"

    def once(module: str) -> tuple[float, str]:
        out = subprocess.run(
            [sys.executable, "-c", probe.format(m=module)], capture_output=True, text=True, check=True
        ).stdout
        seconds, extras = out.split(" ", 1)
        return float(seconds), extras.strip()

    ours = [once("batchkit") for _ in range(runs)]
    theirs = median([once("httpx")[0] for _ in range(runs)])
    ms = median([s for s, _ in ours]) * 1000
    row("import batchkit", f"{ms:.0f} ms (extras loaded: {ours[0][1]})", f"import httpx {theirs * 1000:.0f} ms",
        f"{ms / (theirs * 1000):.2f}x", "< 150 ms, no extras")  # fmt: skip


CASES = {
    "upload": bench_upload,
    "overhead": bench_overhead,
    "parsing": bench_parsing,
    "many": bench_many,
    "import": bench_import,
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--only", default=",".join(CASES))
    args = parser.parse_args()
    print(f"{platform.node()} | {platform.machine()} | {os.cpu_count()} cores | Python {platform.python_version()} | "
          f"{time.strftime('%Y-%m-%d')} | medians of {args.runs} runs", flush=True)  # fmt: skip
    for name in args.only.split(","):
        CASES[name](args.runs)
    print("\n| case | batchkit | baseline (same run) | ratio | target |\n|---|---|---|---|---|")
    for case in ROWS:
        print("| " + " | ".join(case) + " |")


if __name__ == "__main__":
    main()
