"""Retry rules: reads are retried, a job-creating POST is never sent twice once it may have arrived."""

from __future__ import annotations

import httpx
import pytest
from pytest_httpx import HTTPXMock

import batchkit
from batchkit import RetryPolicy
from batchkit._kernel.clock import FakeClock
from batchkit._kernel.retry import retry_after_seconds
from batchkit._kernel.steps import Call, Sleep
from batchkit._orchestration.sending import Sender
from batchkit.providers.hume import HumeProvider

JOB = {"job_id": "j", "state": {"status": "QUEUED"}}
JOBS = "https://api.hume.ai/v0/batch/jobs"


@pytest.mark.parametrize(
    "failure",
    [
        {"status_code": 500},
        {"status_code": 502},
        {"status_code": 503},
        {"status_code": 504},
        {"status_code": 429, "headers": {"Retry-After": "0"}},
        httpx.ConnectError("refused"),
        httpx.ReadTimeout("slow"),
        httpx.RemoteProtocolError("dropped"),
    ],
)
def test_reads_are_retried_then_succeed(make_client, httpx_mock: HTTPXMock, failure) -> None:
    for _ in range(2):
        if isinstance(failure, Exception):
            httpx_mock.add_exception(failure)
        else:
            httpx_mock.add_response(**failure)
    httpx_mock.add_response(json=JOB)
    assert make_client("hume").get("j").id == "j"
    assert len(httpx_mock.get_requests()) == 3


def test_reads_give_up_after_max_retries(make_client, httpx_mock: HTTPXMock) -> None:
    httpx_mock.add_response(status_code=503, json={"message": "down"}, is_reusable=True)
    client = make_client("hume", retry=RetryPolicy(max_retries=2, backoff_base=0))
    with pytest.raises(batchkit.ServerError) as info:
        client.get("j")
    assert info.value.status_code == 503
    assert info.value.message == "down"
    assert len(httpx_mock.get_requests()) == 3


def test_transport_failure_after_retries_is_typed(make_client, httpx_mock: HTTPXMock) -> None:
    httpx_mock.add_exception(httpx.ReadError("reset"), is_reusable=True)
    with pytest.raises(batchkit.TransportError, match="ReadError"):
        make_client("hume").get("j")
    assert len(httpx_mock.get_requests()) == 4


@pytest.mark.parametrize("status", [400, 401, 402, 403, 404, 422])
def test_client_errors_are_not_retried(make_client, httpx_mock: HTTPXMock, status: int) -> None:
    httpx_mock.add_response(status_code=status, json={"message": "no"})
    with pytest.raises(batchkit.ProviderError):
        make_client("hume").get("j")
    assert len(httpx_mock.get_requests()) == 1


@pytest.mark.parametrize(
    "failure",
    [
        {"status_code": 500},
        {"status_code": 503},
        httpx.ReadTimeout("slow"),
        httpx.RemoteProtocolError("dropped"),
        httpx.WriteError("pipe"),
    ],
)
def test_create_is_never_sent_twice_once_it_may_have_arrived(make_client, httpx_mock: HTTPXMock, failure) -> None:
    if isinstance(failure, Exception):
        httpx_mock.add_exception(failure)
    else:
        httpx_mock.add_response(**failure)
    with pytest.raises(batchkit.AmbiguousSubmissionError, match="not re-sent"):
        make_client("hume").submit(urls=["https://e.x/a.mp4"])
    assert len(httpx_mock.get_requests()) == 1


def test_create_is_retried_when_the_connection_failed_before_sending(make_client, httpx_mock: HTTPXMock, media) -> None:
    httpx_mock.add_exception(httpx.ConnectError("refused"))
    httpx_mock.add_exception(httpx.ConnectTimeout("no route"))
    httpx_mock.add_response(json={"job_id": "j-9"})
    job = make_client("hume").submit([media("a.wav", 5000)])
    assert job.id == "j-9"
    requests = httpx_mock.get_requests()
    assert len(requests) == 3
    assert requests[-1].read().count(bytes(range(256))) == 5000 // 256


def test_create_429_raises_rate_limited_without_resending(make_client, httpx_mock: HTTPXMock) -> None:
    httpx_mock.add_response(status_code=429, headers={"Retry-After": "7"}, json={"message": "slow down"})
    with pytest.raises(batchkit.RateLimitedError) as info:
        make_client("hume").submit(text=["hi"])
    assert info.value.retry_after == 7
    assert len(httpx_mock.get_requests()) == 1


def test_backoff_is_full_jitter_and_capped() -> None:
    policy = RetryPolicy(backoff_base=1.0, backoff_max=5.0)
    delays = [policy.delay(attempt) for attempt in range(10) for _ in range(50)]
    assert all(0 <= d <= 5.0 for d in delays)
    assert max(delays) > 2.5
    assert policy.delay(3, retry_after=2.0) == 2.0
    assert RetryPolicy(retry_after_max=10).delay(0, retry_after=1e6) == 10


def test_retry_after_reads_seconds_and_dates() -> None:
    assert retry_after_seconds(httpx.Response(429, headers={"Retry-After": "3"})) == 3
    assert retry_after_seconds(httpx.Response(429, headers={"Retry-After": "Wed, 21 Oct 2015 07:28:00 GMT"})) == 0
    assert retry_after_seconds(httpx.Response(429, headers={"Retry-After": "soon"})) is None
    assert retry_after_seconds(httpx.Response(429)) is None


def sender(policy: RetryPolicy | None = None, clock: FakeClock | None = None) -> Sender:
    return Sender(HumeProvider("https://x.test"), policy or RetryPolicy(), httpx.Timeout(1), clock or FakeClock())


@pytest.mark.parametrize("status", [429, 503])
def test_retry_after_is_honoured_as_the_sleep(status: int) -> None:
    call = Call("GET", "https://x.test", "/a")
    op = sender().send(call)
    assert next(op).timeout == httpx.Timeout(1)
    assert op.send(httpx.Response(status, headers={"Retry-After": "4"})) == Sleep(4.0)
    assert next(op).path == "/a"
    with pytest.raises(StopIteration) as done:
        op.send(httpx.Response(200))
    assert done.value.value.status_code == 200


def test_total_time_bound_stops_retrying_and_the_error_counts_attempts() -> None:
    clock = FakeClock()
    op = sender(RetryPolicy(max_retries=10, total=10.0), clock).send(Call("GET", "https://x.test", "/a"))
    next(op)
    for _ in range(2):
        step = op.send(httpx.Response(503, headers={"Retry-After": "4"}))
        assert step == Sleep(4.0)
        clock.advance(step.seconds)
        next(op)
    with pytest.raises(batchkit.ServerError, match=r"after 3 attempts") as info:
        op.send(httpx.Response(503, headers={"Retry-After": "4"}))  # 8 s spent + 4 s more > the 10 s bound
    assert info.value.attempts == 3


def test_bad_policy_numbers_are_refused() -> None:
    for bad in ({"max_retries": 5000}, {"backoff_max": float("nan")}, {"total": -1}, {"max_retries": 1.5}):
        with pytest.raises((ValueError, TypeError)):
            RetryPolicy(**bad)
    assert 0 <= RetryPolicy(max_retries=100, backoff_max=0).delay(99) == 0
