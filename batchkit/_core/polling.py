"""Waiting for a job: a growing, capped, jittered poll schedule and an overall deadline."""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterator

import attrs

from batchkit.errors import WaitTimeoutError
from batchkit.models import BatchJob

from .steps import Operation, Sleep


@attrs.frozen
class PollSchedule:
    """Intervals between status checks: ``initial``, growing by ``factor`` up to ``maximum``, ±``jitter``."""

    initial: float = attrs.field(default=1.0, validator=attrs.validators.gt(0))
    factor: float = attrs.field(default=1.5, validator=attrs.validators.ge(1))
    maximum: float = attrs.field(default=30.0, validator=attrs.validators.gt(0))
    jitter: float = attrs.field(default=0.1, validator=[attrs.validators.ge(0), attrs.validators.lt(1)])

    def intervals(self) -> Iterator[float]:
        interval = self.initial
        while True:
            yield min(interval, self.maximum) * random.uniform(1 - self.jitter, 1 + self.jitter)
            interval *= self.factor


def wait(
    get: Callable[[str], Operation[BatchJob]],
    job: BatchJob | str,
    schedule: PollSchedule,
    timeout: float | None,
) -> Operation[BatchJob]:
    """Poll until the job is terminal; raise :class:`WaitTimeoutError` with its last state after ``timeout``."""
    deadline = None if timeout is None else time.monotonic() + timeout
    current = yield from get(job if isinstance(job, str) else job.id)
    for interval in schedule.intervals():
        if current.status.is_terminal:
            return current
        if deadline is not None:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise WaitTimeoutError([current], timeout or 0.0)
            interval = min(interval, remaining)
        yield Sleep(interval)
        current = yield from get(current.id)
    raise AssertionError("unreachable")  # pragma: no cover
