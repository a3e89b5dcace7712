"""Following jobs until they finish: per-job growing intervals, a global request-rate bound,
and an overall deadline. One job or a thousand, the same operation."""

from __future__ import annotations

import heapq
import math
import random
from collections.abc import Callable, Iterable, Iterator

import attrs

from batchkit._kernel.clock import Clock
from batchkit._kernel.steps import Emit, Operation, Parallel, Sleep, emitted_to
from batchkit.errors import RateLimitedError, ResponseFormatError, ServerError, TransportError, WaitTimeoutError
from batchkit.models import BatchJob, JobStatus

Getter = Callable[[str], Operation[BatchJob]]
OnUpdate = Callable[[BatchJob], None]
_TRANSIENT = (TransportError, ServerError, RateLimitedError, ResponseFormatError)


def _finite(_: object, attribute: attrs.Attribute[float], value: float) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ValueError(f"{attribute.name} must be a finite number, got {value!r}")


@attrs.frozen
class PollSchedule:
    """When to check jobs again.

    Each job waits ``initial`` seconds, then ``factor`` times longer each time up to ``maximum``
    (±``jitter``). Across all jobs, at most ``max_rate`` status requests a second are sent, with
    at most ``concurrency`` in flight.
    """

    initial: float = attrs.field(default=1.0, validator=[_finite, attrs.validators.gt(0)])
    factor: float = attrs.field(default=1.5, validator=[_finite, attrs.validators.ge(1)])
    maximum: float = attrs.field(default=30.0, validator=[_finite, attrs.validators.gt(0)])
    jitter: float = attrs.field(default=0.1, validator=[_finite, attrs.validators.ge(0), attrs.validators.lt(1)])
    max_rate: float = attrs.field(default=20.0, validator=[_finite, attrs.validators.gt(0)])
    concurrency: int = attrs.field(default=8, validator=[attrs.validators.instance_of(int), attrs.validators.ge(1)])
    """The most requests in flight at once for the client (status checks, results, uploads)."""

    def intervals(self) -> Iterator[float]:
        """The waits between one job's checks, growing by ``factor`` up to ``maximum``, each jittered."""
        interval = self.initial
        while True:
            yield min(interval, self.maximum) * random.uniform(1 - self.jitter, 1 + self.jitter)
            interval *= self.factor


class _Bucket:
    """A token bucket: ``rate`` tokens a second, holding at most one second's worth."""

    def __init__(self, rate: float, clock: Clock) -> None:
        self.rate = rate
        self.clock = clock
        self.tokens = max(1.0, rate)
        self.stamp = clock.monotonic()

    def available(self) -> int:
        """The whole tokens in hand now (taken with :meth:`spend`)."""
        now = self.clock.monotonic()
        self.tokens = min(max(1.0, self.rate), self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now
        return int(self.tokens)

    def spend(self, count: int) -> None:
        self.tokens -= count

    def wait_for_one(self) -> float:
        return max(0.0, (1 - self.tokens) / self.rate)


def _poll_once(get: Getter, job_id: str) -> Operation[BatchJob | None]:
    """The job's state, or None when this poll failed in a way worth trying again later."""
    try:
        return (yield from get(job_id))
    except _TRANSIENT:
        return None


def watch(
    provider: str,
    get: Getter,
    jobs: Iterable[BatchJob | str],
    schedule: PollSchedule,
    timeout: float | None,
    on_update: OnUpdate | None,
    clock: Clock,
) -> Operation[list[BatchJob]]:
    """Poll every job until all are terminal, emitting each as it finishes; return them in order.

    Jobs given as ids are fetched first. After ``timeout`` seconds, :class:`WaitTimeoutError`
    carries the last known state of every job.
    """
    deadline = None if timeout is None else clock.monotonic() + timeout
    given = list(jobs)
    latest: dict[str, BatchJob | None] = {}
    for item in given:
        if isinstance(item, str):
            latest[item] = None
        else:
            latest[item.id] = item
    ids = list(latest)
    clocks = {i: schedule.intervals() for i in ids}
    start = clock.monotonic()
    pending: list[tuple[float, int, str]] = []  # a heap of (when due, order given, id): a pass costs its batch
    for n, i in enumerate(ids):
        known = latest[i]
        if known is not None and known.status.is_terminal:
            yield Emit(known)
        else:
            pending.append((0.0 if known is None else start + next(clocks[i]), n, i))
    heapq.heapify(pending)
    bucket = _Bucket(schedule.max_rate, clock)
    while pending:
        now = clock.monotonic()
        if deadline is not None and now >= deadline:
            raise WaitTimeoutError(_known(provider, latest, ids), timeout or 0.0)
        if pending[0][0] > now or not (tokens := bucket.available()):
            wake = pending[0][0] - now if pending[0][0] > now else bucket.wait_for_one()
            if deadline is not None:
                wake = min(wake, deadline - now)
            yield Sleep(max(wake, 0.001))
            continue
        batch: list[tuple[float, int, str]] = []
        while pending and pending[0][0] <= now and len(batch) < tokens:
            batch.append(heapq.heappop(pending))
        bucket.spend(len(batch))
        fetched: list[BatchJob | None] = yield Parallel([_poll_once(get, i) for _, _, i in batch])
        now = clock.monotonic()
        for (_, n, i), fresh in zip(batch, fetched, strict=True):
            previous = latest[i]
            if fresh is not None:
                latest[i] = fresh
                if on_update is not None and (previous is None or previous.status is not fresh.status):
                    on_update(fresh)
                if fresh.status.is_terminal:
                    yield Emit(fresh)
                    continue
            heapq.heappush(pending, (now + next(clocks[i]), n, i))
    return _known(provider, latest, ids)


def _known(provider: str, latest: dict[str, BatchJob | None], ids: list[str]) -> list[BatchJob]:
    """Every job's last known state; one never fetched is ``UNKNOWN``."""
    return [latest[i] or BatchJob(provider, i, JobStatus.UNKNOWN, "") for i in ids]


def ignoring_emits(operation: Operation[list[BatchJob]]) -> Operation[list[BatchJob]]:
    """``operation`` with its :class:`Emit` steps answered here, for callers that want only the end."""
    return emitted_to(operation, lambda _: None)
