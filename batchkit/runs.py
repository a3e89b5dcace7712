"""Runs in a journal, read without calling a provider: how far each has come, and each input file's
result (``batchkit runs`` and ``batchkit results --journal … --run …``)."""

from __future__ import annotations

import contextlib
import os
import time
from collections import deque
from collections.abc import Generator, Iterator, Mapping
from typing import Any

import attrs

from batchkit._kernel.journal import Chunk, ChunkState, FileEntry, Journal, RowError, Run, RunProgress, redacted
from batchkit._orchestration import chain_runs, synchronous
from batchkit._orchestration.chain_runs import follow_up, sibling
from batchkit.errors import InputError
from batchkit.models import FileResult, JobStatus
from batchkit.providers import get_provider
from batchkit.providers.base import Provider, SynchronousProvider


def progress(journal: str | os.PathLike[str], run: str | None = None) -> list[RunProgress]:
    """Every run in ``journal`` (a sqlite file or a ``postgresql://`` URL), oldest first; or ``run`` alone
    (its rows only are read: a cheap look to repeat while waiting)."""
    with Journal(journal) as book:
        return book.runs(run)


def resolved(journal: str | os.PathLike[str], run: str) -> str:
    """The id of the run that ``run`` names: its id, or the beginning of it (with or without ``run-``)."""
    with Journal(journal) as book:
        return book.run(run).id


def prune(journal: str | os.PathLike[str], older_than: float, *, dry_run: bool = False) -> list[str]:
    """Delete from ``journal`` the runs created more than ``older_than`` seconds ago that are over: every
    chunk done, failed or cancelled (a run with work left, or an ambiguous chunk, is kept); their ids,
    oldest first. ``dry_run``: only say which."""
    if isinstance(older_than, bool) or not isinstance(older_than, (int, float)) or not older_than >= 0:
        raise InputError(f"older_than must be seconds, 0 or more, got {older_than!r}")
    with Journal(journal) as book:
        return book.prune(int((time.time() - older_than) * 1000), dry_run)


def results(journal: str | os.PathLike[str], run: str) -> list[FileResult[Any]]:
    """One result per input file of ``run`` (its id, or the beginning of it), in the order given,
    ``source`` being the file's path; read in one snapshot of the journal.

    A file whose job has not ended has no prediction, and the status of its chunk's job (``QUEUED``
    before it is sent; ``FAILED`` with the refusal, ``UNKNOWN`` with the reason when its send is
    ambiguous). A run a provider chain enqueued (``ChainClient.enqueue``) gives the chain's answers:
    each file's last (a fallback), or every provider's, file by file (an ensemble)."""
    return list(streamed(journal, run))


def streamed(journal: str | os.PathLike[str], run: str, page: int = 1000) -> Generator[FileResult[Any], None, None]:
    """:func:`results`, read ``page`` files at a time as they are consumed, in one snapshot of the journal:
    a run of millions of files in constant memory (``batchkit results --run … -o out.csv``). The run is
    looked up at once (a run that is not there raises here); the journal stays open until the iterator
    is exhausted or closed."""
    book = Journal(journal)
    reading = contextlib.ExitStack()
    reading.callback(book.close)
    try:
        found, chunks, pages = reading.enter_context(book.reading(run, page))
    except BaseException:
        reading.close()
        raise
    plain = _streamed(reading, found, {chunk.index: chunk for chunk in chunks}, pages, journal)
    chain = chain_runs.of(found)
    return plain if chain is None else _chained(plain, found, chain, journal, page)


def _chained(plain: Iterator[FileResult[Any]], found: Run, chain: Mapping[str, Any], journal: str | os.PathLike[str],
             page: int) -> Generator[FileResult[Any], None, None]:  # fmt: skip
    """A chain's results from its first run's: in a fallback chain each file's last answer (that of the
    run it was handed on to, and on); in an ensemble every provider's, file by file."""
    providers = [str(p) for p in chain.get("providers", [])]
    if chain.get("mode") == "ensemble":
        others = [sibling(found.id, p) for p in providers[1:]] if providers[:1] == [found.provider] else []
        with contextlib.ExitStack() as reading:
            theirs = [reading.enter_context(contextlib.closing(streamed(journal, r, page)))
                      for r in _recorded(journal, others)]  # fmt: skip
            for mine, *more in zip(plain, *theirs, strict=False):  # the same files, unless one was pruned
                yield mine
                yield from more
        return
    later: dict[str, deque[FileResult[Any]]] = {}
    after = chain_runs.next_of(found)
    if after is not None:
        for then in _recorded(journal, [follow_up(found.id, after)]):
            for result in streamed(journal, then, page):
                later.setdefault(result.source, deque()).append(result)
    for result in plain:
        kept = later.get(result.source)
        yield kept.popleft() if kept else result


def _recorded(journal: str | os.PathLike[str], ids: list[str]) -> list[str]:
    """Those of the runs ``ids`` that ``journal`` holds."""
    with Journal(journal) as book:
        return [run for run in ids if book.recorded(run)]


def _streamed(reading: contextlib.ExitStack, found: Run, chunks: dict[int, Chunk], pages: Iterator[list[FileEntry]],
              journal: str | os.PathLike[str]) -> Generator[FileResult[Any], None, None]:  # fmt: skip
    with reading:
        provider: type[Provider[Any, Any]] | None = get_provider(found.provider) if found.provider else None
        if provider is not None and issubclass(provider, SynchronousProvider):  # kept as its requests' replies
            entries = [entry for entries in pages for entry in entries]
            assembled = synchronous.results(provider, found, list(chunks.values()))
            for entry, result in zip(entries, assembled, strict=True):
                yield attrs.evolve(result, source=entry.path)
            return
        for entries in pages:
            for entry in entries:
                yield _result(provider, found.provider or "", entry, chunks, journal, found.id)


def _result(provider: type[Provider[Any, Any]] | None, name: str, entry: FileEntry, chunks: dict[int, Chunk],
            journal: str | os.PathLike[str], run: str) -> FileResult[Any]:  # fmt: skip
    if entry.status is not None:
        known = provider is not None and entry.result is not None  # None: the job's results could not be had
        result = provider.result_from(entry.result) if known and provider else FileResult("", JobStatus.UNKNOWN)
        return attrs.evolve(result, source=entry.path, status=JobStatus(entry.status), error=entry.error,
                            provider=name)  # fmt: skip
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
    return FileResult(entry.path, status, error, provider=name)


__all__ = ["RunProgress", "progress", "prune", "redacted", "resolved", "results", "streamed"]
