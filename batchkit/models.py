"""The provider-agnostic models: :class:`JobStatus`, :class:`BatchJob`, :class:`FileResult`."""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any, Generic, TypeVar

import attrs

P = TypeVar("P")


class JobStatus(enum.Enum):
    """One status vocabulary for every provider."""

    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    PARTIALLY_FAILED = "partially_failed"
    FAILED = "failed"
    UNKNOWN = "unknown"
    """A provider status this version does not know; never terminal."""

    @property
    def is_terminal(self) -> bool:
        return self in _TERMINAL

    @classmethod
    def combine(cls, statuses: Iterable[JobStatus]) -> JobStatus:
        """One status for many jobs: running until all end, then succeeded, failed or partially failed."""
        seen = set(statuses)
        if not seen or JobStatus.UNKNOWN in seen:
            return cls.UNKNOWN
        if seen <= {cls.QUEUED}:
            return cls.QUEUED
        if not seen <= _TERMINAL:
            return cls.RUNNING
        return seen.pop() if len(seen) == 1 else cls.PARTIALLY_FAILED


_TERMINAL = frozenset({JobStatus.SUCCEEDED, JobStatus.PARTIALLY_FAILED, JobStatus.FAILED})


@attrs.frozen
class BatchJob:
    """A provider's batch job, normalised; ``raw`` keeps the provider's reply."""

    provider: str
    id: str
    status: JobStatus
    provider_status: str
    created_at: datetime | None = None
    started_at: datetime | None = None
    ended_at: datetime | None = None
    total_count: int | None = None
    succeeded_count: int | None = None
    failed_count: int | None = None
    message: str | None = None
    children: tuple[str, ...] = ()
    """Ids of per-file sub-jobs, where the provider has them (Resemble detects)."""
    raw: Mapping[str, Any] = attrs.field(factory=dict, repr=False, eq=False)


@attrs.frozen
class FileResult(Generic[P]):
    """The outcome for one input of a job; ``prediction`` is the provider's typed model (``P``), None
    where the input failed. ``batchkit.typed(results, Model)`` narrows a list to one provider's model."""

    source: str
    status: JobStatus
    error: str | None = None
    prediction: P | None = None
    raw: Mapping[str, Any] = attrs.field(factory=dict, repr=False, eq=False)
    provider: str = ""
    """Whose result it is (how :func:`batchkit.rows` finds the provider's columns)."""


JobRef = BatchJob | str
"""A job, or its id."""


@attrs.frozen
class Callback:
    """A parsed callback: the job, and its results when the payload carries them."""

    job: BatchJob
    results: tuple[FileResult[Any], ...] | None = None
