"""The time an operation sees: injected, so waiting can be tested without sleeping."""

from __future__ import annotations

import time
from typing import Protocol


class Clock(Protocol):
    """What operations and executors ask of time."""

    def monotonic(self) -> float:
        """Seconds on a clock that never goes back (deadlines, intervals)."""

    def time(self) -> float:
        """Seconds since the epoch (recorded moments, ``Retry-After`` dates)."""

    def sleep(self, seconds: float) -> None:
        """Block for ``seconds`` (the sync client)."""

    async def asleep(self, seconds: float) -> None:
        """Wait ``seconds`` without blocking the event loop (the async client)."""


class SystemClock:
    """The real clock."""

    def monotonic(self) -> float:
        return time.monotonic()

    def time(self) -> float:
        return time.time()

    def sleep(self, seconds: float) -> None:
        time.sleep(seconds)

    async def asleep(self, seconds: float) -> None:
        import asyncio

        await asyncio.sleep(seconds)


class FakeClock:
    """A clock that moves only when slept on (or :meth:`advance` d): waiting tests take no real time."""

    def __init__(self, start: float = 1_000_000.0) -> None:
        self.now = start
        self.slept: list[float] = []

    def monotonic(self) -> float:
        """The clock's seconds now (the same as :meth:`time`)."""
        return self.now

    def time(self) -> float:
        """The clock's seconds now, read as seconds since the epoch."""
        return self.now

    def advance(self, seconds: float) -> None:
        """Move the clock on by ``seconds`` without recording a sleep."""
        self.now += seconds

    def sleep(self, seconds: float) -> None:
        """Record the sleep in ``slept`` and move the clock on, at once."""
        self.slept.append(seconds)
        self.advance(seconds)

    async def asleep(self, seconds: float) -> None:
        """:meth:`sleep`, then let the event loop run the other tasks once."""
        import asyncio

        self.sleep(seconds)
        await asyncio.sleep(0)


SYSTEM_CLOCK = SystemClock()
