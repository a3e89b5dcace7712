"""Waiting: polls until terminal, bounded by a timeout that carries the last known job."""

from __future__ import annotations

import pytest
from pytest_httpx import HTTPXMock

import batchkit
from batchkit import JobStatus, PollSchedule
from batchkit.testing import FakeClock


def state(status: str, **extra: int) -> dict:
    return {"job_id": "j", "state": {"status": status, **extra}}


def test_wait_polls_until_terminal(make_client, httpx_mock: HTTPXMock) -> None:
    for reply in (state("QUEUED"), state("IN_PROGRESS"), state("COMPLETED", num_predictions=2, num_errors=0)):
        httpx_mock.add_response(url="https://api.hume.ai/v0/batch/jobs/j", json=reply)
    job = make_client("hume").wait("j")
    assert job.status is JobStatus.SUCCEEDED
    assert len(httpx_mock.get_requests()) == 3


def test_wait_timeout_carries_last_job(make_client, httpx_mock: HTTPXMock) -> None:
    httpx_mock.add_response(json=state("IN_PROGRESS"), is_reusable=True)
    clock = FakeClock()
    with pytest.raises(batchkit.WaitTimeoutError) as info:
        make_client("hume", clock=clock, poll=PollSchedule(jitter=0)).wait("j", timeout=3600)
    assert info.value.job.status is JobStatus.RUNNING
    assert info.value.job.id == "j"
    # the default schedule on a clock that only sleeps moves: 1, 1.5, 2.25 ... then every 30 s, an hour in all
    assert clock.slept[:4] == [1.0, 1.5, 2.25, 3.375]
    assert sum(clock.slept) == pytest.approx(3600)
    assert 120 < len(httpx_mock.get_requests()) < 130


def test_poll_schedule_grows_and_caps() -> None:
    schedule = PollSchedule(initial=1, factor=2, maximum=8, jitter=0.1)
    it = schedule.intervals()
    got = [next(it) for _ in range(8)]
    for value, nominal in zip(got, [1, 2, 4, 8, 8, 8, 8, 8], strict=True):
        assert nominal * 0.9 <= value <= nominal * 1.1


def test_wait_on_terminal_job_sends_one_request(make_client, httpx_mock: HTTPXMock) -> None:
    httpx_mock.add_response(json=state("FAILED", num_errors=1))
    assert make_client("hume").wait("j").status is JobStatus.FAILED
    assert len(httpx_mock.get_requests()) == 1
