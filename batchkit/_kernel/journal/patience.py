"""Waiting out a journal out of reach (a database restarting, or not yet up when a worker starts)."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any, TypeVar

from batchkit._kernel.steps import Blocking, Done, Failed, Operation, Sleep, advance

from .stores import Unavailable

T = TypeVar("T")
log = logging.getLogger("batchkit")

PATIENCE = 300.0
"""How long a worker waits for a journal out of reach before it gives up."""


def patiently(step: Callable[[], T], patience: float | None = None) -> Operation[T]:
    """``step()`` on the journal, made again while the database is out of reach, waiting longer each time
    up to 30 s, for as long as ``patience`` (default :data:`PATIENCE`): safe, as every journal transaction
    made twice is the same as once (fenced writes set values; claims take a new token; opening reads)."""
    patience = PATIENCE if patience is None else patience
    wait, waited = 0.5, 0.0
    while True:
        try:
            return (yield Blocking(step))  # type: ignore[no-any-return]
        except Unavailable as exc:
            if waited >= patience:
                raise
            log.warning("%s; trying again in %.1f s", exc, wait)
        yield Sleep(wait)
        waited += wait
        wait = min(wait * 2, 30.0)


def here(operation: Operation[T]) -> T:
    """Carry out an operation of journal steps (:class:`Blocking`, :class:`Sleep`) in this thread, now."""
    outcome: Any = None
    while not isinstance(step := advance(operation, outcome), Done):
        if isinstance(step, Sleep):
            time.sleep(step.seconds)
            outcome = None
        elif isinstance(step, Blocking):
            try:
                outcome = step.fn()
            except Exception as exc:
                outcome = Failed(exc)
        else:
            raise TypeError(f"not a journal step: {step!r}")
    return step.value
