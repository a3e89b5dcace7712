"""Following many jobs: concurrent, rate-bounded, robust to faults, with progress and timeouts."""

from __future__ import annotations

import asyncio
import time

import pytest

import batchkit
from batchkit import JobStatus
from batchkit.emulator import EMULATOR_KEY, EmulatorConfig, FaultKind
from batchkit.testing import FakeClock


def submit_many_jobs(client, count: int) -> list[batchkit.BatchJob]:
    return [client.submit(text=[f"t{i}"] + (["fail"] if i % 5 == 0 else [])) for i in range(count)]


def test_wait_all_with_faults_and_progress(emulated, emu) -> None:
    client = emulated("hume")
    jobs = submit_many_jobs(client, 30)
    emu.faults.add("GET /v0/batch/jobs/*", FaultKind.RATE_LIMIT, retry_after=0.01, times=5)
    emu.faults.add("GET /v0/batch/jobs/*", FaultKind.STATUS, status=502, times=5)
    emu.faults.add("GET /v0/batch/jobs/*", FaultKind.DROP_AFTER_BODY, times=3)
    updates: list[tuple[str, JobStatus]] = []
    done = client.wait_all(jobs, on_update=lambda job: updates.append((job.id, job.status)))
    assert [j.id for j in done] == [j.id for j in jobs]
    assert all(j.status.is_terminal for j in done)
    assert sum(j.status is JobStatus.PARTIALLY_FAILED for j in done) == 6
    assert {job_id for job_id, status in updates if status.is_terminal} == {j.id for j in jobs}
    assert emu.faults.injected == 13
    assert emu.created("hume") == 30


def test_as_completed_yields_in_finishing_order(emulated, emu, media) -> None:
    clock = FakeClock()  # the client's and the emulator's: the slow job is slow whatever the machine's load
    emu.reset(EmulatorConfig(queue_seconds=0.0, run_seconds=60.0), clock=clock)
    client = emulated("resemble", clock=clock, poll=batchkit.PollSchedule(initial=5, factor=2, maximum=30, jitter=0))
    first = client.submit([media("slow.wav")])
    emu.config.run_seconds = 0.0
    second = client.submit([media("fast.wav")])
    finished = list(client.as_completed([first, second]))
    assert [job.id for job in finished] == [second.id, first.id]
    assert all(job.status is JobStatus.SUCCEEDED for job in finished)


def test_wait_all_timeout_carries_every_job(emulated, emu) -> None:
    client = emulated("hume", clock=FakeClock())  # the timeout is on this clock: no poll can be too late
    emu.config.run_seconds = 0
    done = client.submit(text=["quick"])
    emu.config.run_seconds = 60
    stuck = client.submit(text=["stuck"])
    with pytest.raises(batchkit.WaitTimeoutError) as info:
        client.wait_all([done, stuck.id], timeout=0.3)
    by_id = {j.id: j.status for j in info.value.jobs}
    assert by_id == {done.id: JobStatus.SUCCEEDED, stuck.id: JobStatus.RUNNING}


def test_the_schedule_bounds_the_request_rate(emu) -> None:
    emu.config.run_seconds = 1.0
    schedule = batchkit.PollSchedule(initial=0.01, factor=1.0, maximum=0.01, max_rate=100, concurrency=8)
    with batchkit.connect("hume", api_key=EMULATOR_KEY, base_url=emu.base_url, poll=schedule) as client:
        jobs = [client.submit(text=[str(i)]) for i in range(50)]
        before = len(emu.requests)
        started = time.monotonic()
        client.wait_all(jobs)
        elapsed = time.monotonic() - started
    polls = len(emu.requests) - before
    assert polls <= 100 * elapsed + 100 + 8, (polls, elapsed)
    assert polls >= 50


def test_async_wait_all_keeps_a_bounded_number_in_flight(emu, media) -> None:
    wav = media("a.wav")
    emu.config.run_seconds = 0.2
    schedule = batchkit.PollSchedule(initial=0.01, factor=1.5, maximum=0.1, max_rate=1000, concurrency=4)
    in_flight = peak = 0

    async def main() -> list[batchkit.BatchJob]:
        nonlocal in_flight, peak
        import httpx

        async def count_up(request: httpx.Request) -> None:
            nonlocal in_flight, peak
            in_flight += 1
            peak = max(peak, in_flight)

        async def count_down(response: httpx.Response) -> None:
            nonlocal in_flight
            in_flight -= 1

        http = httpx.AsyncClient(event_hooks={"request": [count_up], "response": [count_down]})
        async with batchkit.connect_async(
            "resemble", api_key=EMULATOR_KEY, base_url=emu.base_url, poll=schedule, http_client=http
        ) as client:
            jobs = [await client.submit([wav]) for _ in range(40)]
            result = await client.wait_all(jobs)
        await http.aclose()
        return result

    done = asyncio.run(main())
    assert all(j.status is JobStatus.SUCCEEDED for j in done)
    assert 1 < peak <= 4
