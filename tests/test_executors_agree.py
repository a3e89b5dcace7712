"""The two executors mean the same: every scenario here runs on the sync and the async client.

Disk work never holds up lease renewal; after a failure nothing the operation started is still in
flight when the error is raised; a closed client raises a typed error and makes no thread again.
Waits are bounded by lack of progress, and time is an injected clock.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

import batchkit
from batchkit._kernel.clock import FakeClock
from batchkit._kernel.inputs import LocalFile
from batchkit._kernel.journal import Journal, Scope
from batchkit._kernel.steps import Blocking, Operation, Parallel, Sleep
from batchkit.emulator import EMULATOR_KEY
from batchkit.providers.resemble import Prepared

PATIENCE = 30.0
"""Seconds without the awaited progress before a wait gives up (only a broken executor waits this long)."""


def progressed(condition: Callable[[], bool]) -> bool:
    """Whether ``condition`` comes true before :data:`PATIENCE` seconds pass without it."""
    give_up = time.monotonic() + PATIENCE
    while not condition():
        if time.monotonic() > give_up:
            return False
        time.sleep(0.005)
    return True


class HeldClock(FakeClock):
    """While ``held``, time moves only when the test moves it (a sleep returns at once, moving nothing);
    afterwards it moves by every sleep, as a :class:`FakeClock`."""

    held = True

    def sleep(self, seconds: float) -> None:
        if self.held:
            time.sleep(0.005)
        else:
            super().sleep(seconds)

    async def asleep(self, seconds: float) -> None:
        if self.held:
            await asyncio.sleep(0.005)
        else:
            await super().asleep(seconds)


def held_for_3s(clock: HeldClock, journal: str, run: str) -> Any:
    """Move ``clock`` 3 s in steps of 0.25 s, each once the chunk's lease covers the next (while it is
    renewed); then another worker tries to take the chunk (its claim, or None), and time moves freely."""
    import sqlite3

    def lease_until() -> int:
        with contextlib.closing(sqlite3.connect(journal)) as db:
            return int(db.execute("SELECT MAX(lease_until_ms) FROM chunks").fetchone()[0] or 0)

    renewing = True
    for _ in range(12):
        clock.advance(0.25)
        next_ms = int(clock.now * 1000) + 250
        renewing = renewing and progressed(lambda: lease_until() > next_ms)  # noqa: B023 - used at once
    thief = Journal(journal)
    try:
        return thief.claim("thief", Scope(thief.run(run).provider or "", run), int(clock.now * 1000), 1000)
    finally:
        thief.close()
        clock.held = False


def worked_with_a_3s_prepare(make_client: Any, emu: Any, media: Any, tmp_path: Path) -> tuple[Any, list[Any]]:
    """A worker (lease 1 s) whose first prepare takes 3 s of the client's clock: its summary, and what
    another worker could take of the chunk meanwhile (``[None]``: nothing)."""
    clock = HeldClock()
    journal = str(tmp_path / "j.sqlite")
    client = make_client("resemble", api_key=EMULATOR_KEY, base_url=emu.base_url, clock=clock)
    run = client.enqueue([media("a.wav")], journal=journal)
    provider = client._client._ops.provider
    original, stolen = provider.prepare, []

    def slow_prepare(submission: Any) -> Prepared:
        if not stolen:  # the first prepare only
            stolen.append(held_for_3s(clock, journal, run))
        return original(submission)

    provider.prepare = slow_prepare
    return client.work(journal, until_done=True, lease=1, concurrency=1), stolen


def test_a_slow_prepare_loses_no_lease(make_client, emu, media, tmp_path: Path) -> None:
    """A prepare that takes 3 s (of the client's clock) under a 1 s lease: the heartbeat renews the
    lease meanwhile, so another worker cannot take the chunk over and it is created once."""
    summary, stolen = worked_with_a_3s_prepare(make_client, emu, media, tmp_path)
    assert stolen == [None], "the chunk's lease had run out during the prepare"
    assert (summary.sent, summary.lost, summary.finished) == (1, 0, 1)
    assert emu.created("resemble") == 1


class Gated(httpx.BaseTransport, httpx.AsyncBaseTransport):
    """A transport in front of the emulator: an upload starts only once a refusal has come back, and
    every request is counted while it is in flight."""

    def __init__(self, kind: str) -> None:
        self.in_flight = 0
        self.refused = threading.Event()
        self._lock = threading.Lock()
        self._inner: Any = httpx.AsyncHTTPTransport() if kind == "async" else httpx.HTTPTransport()

    def close(self) -> None:
        self._inner.close()

    async def aclose(self) -> None:
        await self._inner.aclose()

    def _count(self, step: int) -> None:
        with self._lock:
            self.in_flight += step

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        self._count(1)
        try:
            if request.method == "POST":
                assert progressed(self.refused.is_set)
            response = self._inner.handle_request(request)
            body = response.read()
            if request.method == "GET":
                self.refused.set()
            return httpx.Response(response.status_code, headers=response.headers, content=body)
        finally:
            self._count(-1)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self._count(1)
        try:
            if request.method == "POST":
                give_up = time.monotonic() + PATIENCE
                while not self.refused.is_set() and time.monotonic() < give_up:
                    await asyncio.sleep(0.005)
            response = await self._inner.handle_async_request(request)
            body = await response.aread()
            if request.method == "GET":
                self.refused.set()
            return httpx.Response(response.status_code, headers=response.headers, content=body)
        finally:
            self._count(-1)


def test_nothing_is_in_flight_once_a_failure_is_raised(make_client, emu, media) -> None:
    """An upload and a lookup at once; the lookup is refused while the upload is still on its way.
    When the error is raised, the upload has ended (sync: awaited) or was cancelled (async): nothing
    the operation started can reach the server afterwards."""
    gate = Gated(make_client.kind)
    http = httpx.AsyncClient(transport=gate) if make_client.kind == "async" else httpx.Client(transport=gate)
    client = make_client("resemble", api_key=EMULATOR_KEY, base_url=emu.base_url, http_client=http)
    ops = client._client._ops
    path = media("a.wav")
    prepared = Prepared({}, "files[]", [LocalFile(path, path.stat().st_size)])

    def both() -> Operation[Any]:
        found: Any = yield Parallel([ops.create(prepared), ops.get("no-such-batch")])
        return found

    try:
        with pytest.raises(batchkit.NotFoundError):
            client._run(ops, both())
        in_flight = gate.in_flight
    finally:
        if isinstance(http, httpx.AsyncClient):
            client._loop.run_until_complete(http.aclose())
        else:
            http.close()
    assert gate.refused.is_set()
    assert in_flight == 0, "a request was still in flight when the failure was raised"
    assert [r.method for r in emu.requests].count("POST") == emu.created("resemble")


def test_a_failure_waits_for_a_siblings_disk_work(make_client) -> None:
    """A sibling in the middle of disk work when another fails: its work ends, then its cleanup runs,
    then the failure is raised."""
    client = make_client("resemble", api_key="k")
    events: list[str] = []
    failing = threading.Event()

    def disk_work() -> None:
        assert progressed(failing.is_set)
        time.sleep(0.05)  # still at work when the failure arrives
        events.append("disk work ended")

    def busy() -> Operation[None]:
        try:
            yield Blocking(disk_work)
        finally:
            events.append("sibling closed")

    def fails() -> Operation[None]:
        yield Sleep(0)
        failing.set()
        raise batchkit.InputError("refused")

    def both() -> Operation[Any]:
        found: Any = yield Parallel([busy(), fails()])
        return found

    with pytest.raises(batchkit.InputError):
        client._run(client._client._ops, both())
    events.append("raised")
    assert events == ["disk work ended", "sibling closed", "raised"]


class Crash(BaseException):
    """What a dying process lets out of a step (not an Exception: nothing catches it as a failure)."""


def test_a_step_that_lets_out_a_base_exception_leaves_no_sibling_waited_for_forever(make_client) -> None:
    """Two disk steps end together and the first lets a BaseException out: it is raised once the
    other's end is seen (the sync scheduler had taken both ends at once and lost the second)."""
    client = make_client("resemble", api_key="k")
    crashed, both_ended = threading.Event(), threading.Event()

    def crashes() -> None:
        crashed.set()
        raise Crash

    def ends_after() -> None:
        assert progressed(crashed.is_set)
        time.sleep(0.05)  # ends just after the crash, before the scheduler looks
        both_ended.set()

    def looks_late() -> Operation[None]:  # runs on the scheduler's thread, holding it until both ended
        assert progressed(both_ended.is_set)
        time.sleep(0.1)
        yield Sleep(0)

    def on_disk(fn: Callable[[], None]) -> Operation[None]:
        yield Blocking(fn)

    def all_three() -> Operation[Any]:
        found: Any = yield Parallel([on_disk(crashes), on_disk(ends_after), looks_late()])
        return found

    raised: list[BaseException] = []

    def run() -> None:
        try:
            client._run(client._client._ops, all_three())
        except BaseException as exc:
            raised.append(exc)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    assert progressed(lambda: not thread.is_alive()), "the run waited forever for a step that had ended"
    assert [type(e) for e in raised] == [Crash]


def test_a_closed_client_raises_a_typed_error_and_makes_no_threads(make_client, emu, media) -> None:
    client = make_client("resemble", api_key=EMULATOR_KEY, base_url=emu.base_url)
    copy = client._client.with_options(timeout=5)
    job = client.submit([media("a.wav")])
    inner = client._client
    client.aclose() if make_client.kind == "async" else inner.close()
    for call in (lambda: client.get(job.id), lambda: client.submit([media("b.wav")]),
                 lambda: client.results(job)):  # fmt: skip
        with pytest.raises(batchkit.ClientClosedError):
            call()
    wrapped_copy = type(client)(copy, client._loop)
    with pytest.raises(batchkit.ClientClosedError):
        wrapped_copy.get(job.id)
    assert inner._threads._pools == {}, "a closed client made threads again"
    assert emu.created("resemble") == 1


def test_a_failed_renewal_does_not_end_the_heartbeat(make_client, emu, media, tmp_path: Path, monkeypatch) -> None:
    """The journal refuses one renewal (a dropped connection, a lock): the heartbeat asks again, so a
    3 s prepare under a 1 s lease still keeps its chunk (it used to end the heartbeat for good)."""
    from batchkit.errors import JournalError

    failures: list[str] = []
    renew = Journal.renew

    def once_refused(self: Journal, owner: str, now_ms: int, lease_ms: int) -> int:
        if not failures:
            failures.append(owner)
            raise JournalError("the journal is briefly unreachable")
        return renew(self, owner, now_ms, lease_ms)

    monkeypatch.setattr(Journal, "renew", once_refused)
    summary, stolen = worked_with_a_3s_prepare(make_client, emu, media, tmp_path)
    assert failures, "no renewal was refused"
    assert stolen == [None], "the heartbeat stopped after one refused renewal"
    assert (summary.sent, summary.lost, summary.finished) == (1, 0, 1)


def test_requests_cancelled_before_they_started_are_forgotten(make_client, emu, media) -> None:
    """Three lookups at once with room for one: the first is refused, so the two still queued are
    cancelled; the operation handles the refusal and goes on, and its next request is answered."""
    client = make_client("resemble", api_key=EMULATOR_KEY, base_url=emu.base_url,
                         poll=batchkit.PollSchedule(concurrency=1))  # fmt: skip
    job = client.submit([media("a.wav")])
    ops = client._client._ops

    def goes_on() -> Operation[Any]:
        with contextlib.suppress(batchkit.NotFoundError):
            yield Parallel([ops.get("no-such-batch"), ops.get(job.id), ops.get(job.id)])
        found: Any = yield from ops.get(job.id)
        return found

    assert client._run(ops, goes_on()).id == job.id
