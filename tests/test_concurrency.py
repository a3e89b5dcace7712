"""One concurrency budget per client: requests in flight never exceed ``PollSchedule.concurrency``,
however the work nests; the sync client's threads stay bounded; a failed sibling cancels the rest."""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path

import httpx
import pytest

import batchkit
from batchkit._kernel.steps import Operation, Parallel, Sleep
from batchkit.emulator import EMULATOR_KEY, FaultKind


class InFlight:
    """httpx event hooks counting requests between sending and their reply's headers."""

    def __init__(self) -> None:
        self.now = self.peak = self.requests = 0
        self.peak_threads = 0
        self._before = {t.ident for t in threading.enumerate()}  # another test's pool may still be ending
        """The most threads sending requests at once (the sync client's request pool; its disk work
        has a pool of its own, which grows with the machine's load)."""
        self._lock = threading.Lock()

    def sent(self, request: httpx.Request) -> None:
        with self._lock:
            self.now += 1
            self.requests += 1
            self.peak = max(self.peak, self.now)
            senders = sum(t.name.startswith("batchkit-requests") and t.ident not in self._before
                          for t in threading.enumerate())  # fmt: skip
            self.peak_threads = max(self.peak_threads, senders)

    def answered(self, response: httpx.Response) -> None:
        with self._lock:
            self.now -= 1

    async def async_sent(self, request: httpx.Request) -> None:
        self.sent(request)

    async def async_answered(self, response: httpx.Response) -> None:
        self.answered(response)


@pytest.mark.parametrize("kind", ["sync", "async"])
def test_results_of_a_group_wait_all_and_submit_many_share_one_budget(emu, media, tmp_path: Path, kind: str) -> None:
    emu.faults.add("GET *", FaultKind.SLOW, delay=0.02, times=10_000)
    poll = batchkit.PollSchedule(initial=0.01, factor=1.0, maximum=0.01, max_rate=1000, concurrency=3)
    files = [media(f"f{i}.wav") for i in range(30)]
    counter = InFlight()
    settings = {"api_key": EMULATOR_KEY, "base_url": emu.base_url, "poll": poll}

    async def run_async() -> batchkit.JobGroup:
        hooks = {"request": [counter.async_sent], "response": [counter.async_answered]}
        async with (
            httpx.AsyncClient(event_hooks=hooks) as http,
            batchkit.connect_async("resemble", http_client=http, **settings) as client,
        ):
            group = await client.submit_many(files, journal=tmp_path / "j.sqlite", chunk=10)
            group = group.refreshed(await client.wait_all(group))
            results = await client.results(group)
            assert len(results) == 30
            return group

    if kind == "async":
        group = asyncio.run(run_async())
    else:
        hooks = {"request": [counter.sent], "response": [counter.answered]}
        with httpx.Client(event_hooks=hooks) as http, batchkit.connect("resemble", http_client=http, **settings) as c:
            group = c.submit_many(files, journal=tmp_path / "j.sqlite", chunk=10)
            group = group.refreshed(c.wait_all(group))
            assert len(c.results(group)) == 30
    assert group.status is batchkit.JobStatus.SUCCEEDED
    assert counter.requests >= 36  # 3 creates, 3 polls at least, 30 detects
    assert counter.peak == 3, "the budget is used and never exceeded"
    if kind == "sync":
        assert 1 <= counter.peak_threads <= 3  # the pool's threads: the budget


def slow(seconds: float, closed: list[str], name: str) -> Operation[str]:
    try:
        yield Sleep(seconds)
        closed.append(f"{name} ran to its end")
        return name
    finally:
        closed.append(name)


def failing() -> Operation[str]:
    yield Sleep(0.01)
    raise batchkit.InputError("one sibling failed")


def siblings(closed: list[str]) -> Operation[list[str]]:
    result: list[str] = yield Parallel([slow(30, closed, "slow"), failing(), slow(30, closed, "slower")])
    return result


@pytest.mark.parametrize("kind", ["sync", "async"])
def test_a_failed_sibling_cancels_the_others(kind: str) -> None:
    closed: list[str] = []
    if kind == "sync":
        with batchkit.connect("hume", api_key="k") as client, pytest.raises(batchkit.InputError):
            client._run(client._ops, siblings(closed))
    else:

        async def go() -> None:
            async with batchkit.connect_async("hume", api_key="k") as client:
                await client._run(client._ops, siblings(closed))

        with pytest.raises(batchkit.InputError):
            asyncio.run(go())
    assert sorted(closed) == ["slow", "slower"]  # cancelled, not run to their end


def test_no_request_lands_after_a_call_has_raised(emulated, emu) -> None:
    """A call that fails lets its requests in flight end first: none reaches the server afterwards."""
    client = emulated("hume")
    emu.config.run_seconds = 60
    failing, slow = client.submit(text=["a"]), client.submit(text=["b"])
    emu.faults.add(f"GET /v0/batch/jobs/{failing.id}", FaultKind.STATUS, status=401)
    emu.faults.add(f"GET /v0/batch/jobs/{slow.id}", FaultKind.SLOW, delay=1.0)
    with pytest.raises(batchkit.AuthenticationError):
        client.wait_all([failing, slow])
    seen = len(emu.requests)
    client.close()  # waits for the client's threads: a request still in flight would be recorded now
    assert len(emu.requests) == seen
