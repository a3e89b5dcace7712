"""Retry rules: reads are retried, a job-creating POST is never sent twice once it may have arrived."""

from __future__ import annotations

import httpx
import pytest
from pytest_httpx import HTTPXMock

import batchkit
from batchkit._core.retry import RetryPolicy, retry_after_seconds
from batchkit._core.steps import Call, Sleep

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


def test_retry_after_is_honoured_as_the_sleep() -> None:
    from batchkit._core.retry import send

    call = Call("GET", "https://x.test", "/a", httpx.Timeout(1))
    op = send(call, RetryPolicy(), "hume", lambda r: ("", {}))
    assert next(op) is call
    assert op.send(httpx.Response(429, headers={"Retry-After": "4"})) == Sleep(4.0)
    assert op.send(None) is call
    with pytest.raises(StopIteration) as done:
        op.send(httpx.Response(200))
    assert done.value.value.status_code == 200
