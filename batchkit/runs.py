"""Runs in a journal, read without calling a provider: how far each has come, and each input file's
result (``batchkit runs`` and ``batchkit results --journal … --run …``)."""

from __future__ import annotations

import os
from typing import Any

import attrs

from batchkit._kernel.journal import ChunkState, Journal, RowError, RunProgress, redacted
from batchkit._orchestration import synchronous
from batchkit.models import FileResult, JobStatus
from batchkit.providers import get_provider
from batchkit.providers.base import Provider, SynchronousProvider


def progress(journal: str | os.PathLike[str]) -> list[RunProgress]:
    """Every run in ``journal`` (a sqlite file or a ``postgresql://`` URL), oldest first."""
    book = Journal(journal)
    try:
        return book.runs()
    finally:
        book.close()


def results(journal: str | os.PathLike[str], run: str) -> list[FileResult[Any]]:
    """One result per input file of ``run``, in the order given, ``source`` being the file's path.

    A file whose job has not ended has no prediction, and the status of its chunk's job (``QUEUED``
    before it is sent; ``FAILED`` with the refusal, ``UNKNOWN`` with the reason when its send is
    ambiguous)."""
    book = Journal(journal)
    try:
        found = book.run(run)
        entries = book.files(run)
        chunks = {chunk.index: chunk for chunk in book.chunks(run)}
    finally:
        book.close()
    provider: type[Provider[Any, Any]] | None = get_provider(found.provider) if found.provider else None
    name = found.provider or ""
    if provider is not None and issubclass(provider, SynchronousProvider):  # kept as its requests' replies
        assembled = synchronous.results(provider, found, list(chunks.values()))
        return [attrs.evolve(result, source=entry.path) for entry, result in zip(entries, assembled, strict=True)]
    collected = []
    for entry in entries:
        if entry.status is not None:
            known = provider is not None and entry.result is not None  # None: the job's results could not be had
            result = provider.result_from(entry.result) if known and provider else FileResult("", JobStatus.UNKNOWN)
            collected.append(attrs.evolve(result, source=entry.path, status=JobStatus(entry.status),
                                          error=entry.error, provider=name))  # fmt: skip
            continue
        chunk = chunks.get(entry.chunk)
        if chunk is None:
            raise RowError(f"{redacted(os.fspath(journal))}: {RowError.what} (file {entry.path} names chunk"
                           f" {entry.chunk}, which run {run} has not)")  # fmt: skip
        if chunk.state == ChunkState.FAILED:
            status, error = JobStatus.FAILED, chunk.error
        elif chunk.state == ChunkState.AMBIGUOUS:
            status, error = JobStatus.UNKNOWN, f"ambiguous send: {chunk.error}"
        else:
            status, error = JobStatus(chunk.job_status or JobStatus.QUEUED.value), None
        collected.append(FileResult(entry.path, status, error, provider=name))
    return collected


__all__ = ["RunProgress", "progress", "redacted", "results"]
