"""Faults the emulator injects, per endpoint, a given number of times."""

from __future__ import annotations

import asyncio
import enum
import fnmatch
import threading
import time

import attrs


class FaultKind(enum.Enum):
    """What an injected fault does to a request."""

    STATUS = "status"
    """Answer with ``status`` (a 5xx burst, say) and a JSON error body."""
    RATE_LIMIT = "rate_limit"
    """Answer 429 with ``Retry-After: retry_after``."""
    DROP_BEFORE_BODY = "drop_before_body"
    """Close the connection before reading the request body (nothing is created)."""
    DROP_AFTER_BODY = "drop_after_body"
    """Handle the request (a create does create), then close the connection with no reply."""
    SLOW = "slow"
    """Wait ``delay`` seconds (or until :meth:`FaultPlan.release`), then answer normally."""
    SLOW_REPLY = "slow_reply"
    """Handle the request at once (a create creates), then wait ``delay`` seconds (or until
    :meth:`FaultPlan.release`) before answering."""
    MALFORMED = "malformed"
    """Handle the request (a create creates), then answer 200 with truncated JSON."""
    NOT_JSON = "not_json"
    """Answer ``status`` with an HTML page."""


@attrs.frozen
class Fault:
    """Inject ``kind`` on requests matching ``endpoint`` (``"METHOD /path/glob"``), ``times`` times,
    after letting the first ``after`` matching requests through."""

    endpoint: str
    kind: FaultKind
    times: int = 1
    status: int = 503
    retry_after: float = 0.0
    delay: float = 1.0
    after: int = 0

    def matches(self, method: str, path: str) -> bool:
        """Whether this fault is for ``method`` and ``path`` (``endpoint`` is ``"METHOD /glob"``, ``*`` any)."""
        want_method, _, want_path = self.endpoint.partition(" ")
        return want_method in ("*", method) and fnmatch.fnmatchcase(path, want_path or "*")


@attrs.define
class _Pending:
    fault: Fault
    left: int
    skip: int


class FaultPlan:
    """The faults still to inject; each matching request uses one up. Thread-safe."""

    def __init__(self) -> None:
        self._pending: list[_Pending] = []
        self._lock = threading.Lock()
        self.injected = 0
        self.releases = 0
        """How many times :meth:`release` has run: a request held since before the n-th goes on at it."""

    def add(
        self,
        endpoint: str,
        kind: FaultKind | str,
        *,
        times: int = 1,
        status: int = 503,
        retry_after: float = 0.0,
        delay: float = 1.0,
        after: int = 0,
    ) -> Fault:
        """Inject ``kind`` on ``times`` requests to ``endpoint`` (e.g. ``"POST /v0/batch/jobs"``) after ``after``."""
        fault = Fault(endpoint, FaultKind(kind), times, status, retry_after, delay, after)
        with self._lock:
            self._pending.append(_Pending(fault, times, after))
        return fault

    def clear(self) -> None:
        """Forget every fault not yet injected; requests held by ``slow`` faults go on at once."""
        with self._lock:
            self._pending.clear()
            self.injected = 0
            self.release()

    def release(self) -> None:
        """Let every request held by a ``slow`` or ``slow_reply`` fault go on now (a test holds replies
        with a long ``delay`` until it has seen what it waits for, whatever the machine's load)."""
        self.releases += 1

    async def hold(self, seconds: float, since: int) -> None:
        """Sleep ``seconds``, or until :meth:`release` or :meth:`clear` runs after the fault was taken
        (``since``: :attr:`releases` then; a release between taking and holding still lets it go)."""
        end = time.monotonic() + seconds
        while self.releases == since and (left := end - time.monotonic()) > 0:
            await asyncio.sleep(min(left, 0.01))

    def take(self, method: str, path: str) -> Fault | None:
        """The next fault for this request, if any."""
        with self._lock:
            for pending in self._pending:
                if pending.left > 0 and pending.fault.matches(method, path):
                    if pending.skip > 0:
                        pending.skip -= 1
                        continue
                    pending.left -= 1
                    self.injected += 1
                    return pending.fault
        return None
