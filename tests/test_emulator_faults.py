"""Injected faults over real sockets: what is retried, what is ambiguous, and what the emulator counts."""

from __future__ import annotations

import threading

import httpx
import pytest

import batchkit
from batchkit import JobStatus
from batchkit.emulator import FaultKind
from tests.patience import wait_until

HUME_JOBS = "/v0/batch/jobs"
RESEMBLE_BATCH = "/api/v2/detect/batch"


@pytest.mark.parametrize(
    ("kind", "settings"),
    [
        (FaultKind.STATUS, {"status": 503, "times": 3}),
        (FaultKind.STATUS, {"status": 500, "times": 1}),
        (FaultKind.RATE_LIMIT, {"retry_after": 0.01, "times": 2}),
        (FaultKind.NOT_JSON, {"status": 502, "times": 2}),
        (FaultKind.DROP_BEFORE_BODY, {"times": 2}),
        (FaultKind.DROP_AFTER_BODY, {"times": 2}),
    ],
)
def test_status_reads_survive_faults(emulated, emu, kind, settings) -> None:
    client = emulated("hume")
    job = client.submit(text=["x"])
    emu.faults.add(f"GET {HUME_JOBS}/*", kind, **settings)
    assert client.wait(job).status is JobStatus.SUCCEEDED
    faulted = [r for r in emu.requests if r.fault]
    assert len(faulted) == settings["times"]
    assert emu.created("hume") == 1


def test_slow_reply_past_read_timeout_is_retried(emulated, emu) -> None:
    client = emulated("resemble", timeout=1.0)
    emu.faults.add(f"GET {RESEMBLE_BATCH}/*", FaultKind.SLOW, delay=2.0)
    with pytest.raises(batchkit.NotFoundError):
        client.get("missing")
    assert emu.faults.injected == 1
    assert [r.fault for r in emu.requests][-1] is None


def test_too_many_faults_end_in_a_typed_error(emulated, emu) -> None:
    emu.faults.add("GET /api/v2/detect/batch/*", FaultKind.STATUS, status=503, times=10)
    with pytest.raises(batchkit.ServerError) as info:
        emulated("resemble").get("x")
    assert info.value.status_code == 503
    assert len(emu.requests) == 4


def test_malformed_reply_is_response_format_error(emulated, emu) -> None:
    emu.faults.add(f"GET {HUME_JOBS}/*", FaultKind.MALFORMED)
    with pytest.raises(batchkit.ResponseFormatError):
        emulated("hume").get("x")


@pytest.mark.parametrize("provider", ["hume", "resemble"])
def test_create_dropped_after_the_body_was_read_is_ambiguous_and_was_created_once(
    emulated, emu, media, provider
) -> None:
    path = HUME_JOBS if provider == "hume" else RESEMBLE_BATCH
    emu.faults.add(f"POST {path}", FaultKind.DROP_AFTER_BODY)
    with pytest.raises(batchkit.AmbiguousSubmissionError):
        emulated(provider).submit([media("a.wav", 200_000)])
    assert emu.created(provider) == 1
    assert len(emu.requests) == 1


@pytest.mark.parametrize("provider", ["hume", "resemble"])
@pytest.mark.parametrize(("kind", "status"), [(FaultKind.STATUS, 503), (FaultKind.DROP_BEFORE_BODY, 0)])
def test_create_is_sent_once_and_reported_ambiguous(emulated, emu, media, provider, kind, status) -> None:
    path = HUME_JOBS if provider == "hume" else RESEMBLE_BATCH
    emu.faults.add(f"POST {path}", kind, status=status or 503)
    with pytest.raises(batchkit.AmbiguousSubmissionError):
        emulated(provider).submit([media("a.wav", 200_000)])
    assert emu.created(provider) == 0
    assert [r.method for r in emu.requests] == ["POST"]


def test_create_429_is_not_resent(emulated, emu, media) -> None:
    emu.faults.add(f"POST {RESEMBLE_BATCH}", FaultKind.RATE_LIMIT, retry_after=3)
    with pytest.raises(batchkit.RateLimitedError) as info:
        emulated("resemble").submit([media("a.wav")])
    assert info.value.retry_after == 3
    assert len(emu.requests) == 1


def test_request_log_has_parts_and_sizes_but_no_key(emulated, emu, media) -> None:
    client = emulated("resemble")
    client.submit([media("a.wav", 1234), media("b.jpg", 10)], options={"intelligence": True})
    [create] = emu.requests
    assert (create.method, create.path, create.status) == ("POST", RESEMBLE_BATCH, 202)
    assert create.parts == (
        ("intelligence", None, 4),
        ("visualize", None, 4),
        ("files[]", "a.wav", 1234),
        ("files[]", "b.jpg", 10),
    )
    assert "emulator-key" not in repr(emu.requests)
    assert emu.faults.injected == 0



def get_in_background(emu, path: str) -> tuple[threading.Thread, list[int]]:
    """A GET of ``path`` on a thread of its own; the statuses it got (none until it has its reply)."""
    statuses: list[int] = []
    url = f"{emu.base_url}{path}"
    getting = threading.Thread(
        target=lambda: statuses.append(httpx.get(url, headers={"X-Hume-Api-Key": "k"}, timeout=None).status_code)
    )
    getting.start()
    return getting, statuses


def test_a_held_reply_goes_out_when_released(emu) -> None:
    """``slow_reply`` with a long delay holds a reply until the test has seen what it waits for."""
    emu.faults.add("GET /v0/batch/jobs/*", FaultKind.SLOW_REPLY, delay=600)
    getting, statuses = get_in_background(emu, "/v0/batch/jobs/x")
    wait_until(lambda: emu.faults.injected == 1, "the request never arrived")
    assert statuses == []
    emu.faults.release()
    getting.join()
    assert len(statuses) == 1


def test_handling_counts_requests_the_server_has_not_finished(emu) -> None:
    assert emu.handling == 0
    emu.faults.add("GET /v0/batch/jobs/*", FaultKind.SLOW, delay=600)
    getting, _ = get_in_background(emu, "/v0/batch/jobs/x")
    wait_until(lambda: emu.handling == 1, "the request never arrived")
    emu.faults.release()
    getting.join()
    wait_until(lambda: emu.handling == 0, "the request was never finished")


def test_a_request_still_handled_at_a_reset_is_not_counted_in_the_next_test(emu) -> None:
    """What one test left running (a killed worker's upload the server still reads) is not the next one's."""
    emu.faults.add("GET /v0/batch/jobs/*", FaultKind.SLOW, delay=600)
    getting, _ = get_in_background(emu, "/v0/batch/jobs/x")
    wait_until(lambda: emu.handling == 1, "the request never arrived")
    emu.reset()  # the next test begins while the request is still handled (the reset lets it go)
    assert emu.handling == 0
    getting.join()
    assert emu.handling == 0  # its end is not taken off the next test's count either


def test_a_release_between_taking_a_fault_and_holding_its_request_lets_it_go() -> None:
    """A test that saw the fault injected may release before the request reaches its hold (a reply is
    held only once it is ready): the hold must not wait for a later release."""
    import asyncio

    from batchkit.emulator.faults import FaultPlan

    plan = FaultPlan()
    plan.add("POST /x", FaultKind.SLOW_REPLY, delay=600)
    since = plan.releases
    assert plan.take("POST", "/x") is not None
    plan.release()
    asyncio.run(asyncio.wait_for(plan.hold(600, since), 60))  # at once; before the fix it held for 600 s
    assert plan.releases == since + 1
