"""The synchronous shape: one request whose reply is the result (hume-expression).

A submission is a run in the journal whose chunks are its requests. Any worker sends them; each
reply is kept with its chunk's end in one fenced write; a job is its run, and its state and results
are read from the journal. A request whose reply was lost is never sent again by itself.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Protocol

import attrs

from batchkit._kernel.journal import Chunk, ChunkState, Journal, Run, Scope
from batchkit._kernel.journal.stores import POSTGRES_SCHEMES
from batchkit._kernel.steps import Blocking, Operation
from batchkit.errors import AmbiguousSubmissionError, InputError, NotFoundError, UnsupportedError
from batchkit.models import BatchJob, FileResult, JobStatus
from batchkit.providers.base import Answer, Requests, SynchronousProvider

from .workers import Sends, Worker, requests_of


class Operations(Sends, Protocol):
    """What the synchronous shape needs of the client: a worker's needs, and the client's journal."""

    @property
    def journal(self) -> str | os.PathLike[str]: ...

LANES = 8
"""Requests one ``submit`` keeps in flight (within the client's concurrency budget)."""


def spec_of(planned: Requests, inputs: Mapping[str, Any]) -> dict[str, Any]:
    """What a worker anywhere needs to send the requests and read their results (plain JSON)."""
    return {"inputs": dict(inputs), "names": [f.name for f in planned.files],
            "requests": [attrs.asdict(r) for r in planned.requests]}  # fmt: skip


def record(journal: Journal, provider: str, planned: Requests, inputs: Mapping[str, Any], now_ms: int,
           key: str | None = None, chain: Mapping[str, Any] | None = None) -> str:  # fmt: skip
    """The submission's run, recorded (or found recorded by an earlier one, or named by ``key``; ``chain``:
    as a part of an enqueued ensemble); refused requests are planned again."""
    entries = [(str(f.path.resolve()), f.size, os.stat(f.path).st_mtime_ns) for f in planned.files]
    layout = [r.files for r in planned.requests]
    spec = spec_of(planned, inputs) if chain is None else {**spec_of(planned, inputs), "chain": dict(chain)}
    run = journal.record_run(provider, planned.identity, spec, entries, layout, now_ms, key)
    journal.retry_failed(run)
    return run


def open_journal(target: str | os.PathLike[str]) -> Journal:
    """The client's journal (a sqlite file's folder is made when missing)."""
    if not os.fspath(target).startswith(POSTGRES_SCHEMES):
        Path(target).parent.mkdir(parents=True, exist_ok=True)
    return Journal(target)


def submit(ops: Operations, prepared: Any, inputs: Mapping[str, Any]) -> Operation[BatchJob]:
    """Record the submission as a run in the client's journal and send its requests from here; the job."""
    provider = ops.provider
    assert isinstance(provider, SynchronousProvider)
    planned = provider.requests(prepared)
    book: Journal = yield Blocking(lambda: open_journal(ops.journal))
    try:
        run = yield Blocking(lambda: record(book, provider.name, planned, inputs, int(ops.clock.time() * 1000)))
        worker = Worker(ops, book, Scope(provider.name, run, poll=False, patient=False), lanes=LANES,
                        resend=planned.resend)  # fmt: skip
        yield from worker.run()
        found: tuple[Run, list[Chunk]] = yield Blocking(lambda: (book.run(run), book.chunks(run)))
    finally:
        book.close()
    job = job_of(provider, *found)
    lost = [c for c in found[1] if c.state in (ChunkState.AMBIGUOUS, ChunkState.SENDING)]
    if lost:
        reasons = "; ".join(f"request {c.index}: {c.error}" for c in lost)
        what = f"job {job.id}: {len(lost)} upload(s) lost their reply ({reasons})"
        raise AmbiguousSubmissionError(provider.name, what, advice=provider.ambiguity_advice)
    return job


def read(ops: Operations, job_id: str) -> Operation[tuple[Run, list[Chunk]]]:
    """A job's run and requests, as the client's journal has them."""
    name = ops.provider.name

    def load() -> tuple[Run, list[Chunk]]:
        book = open_journal(ops.journal)
        try:
            try:
                run = book.run(job_id)
            except InputError:
                raise NotFoundError(name, 404, f"no {name} job {job_id} in the journal {book.where} (`jobs` lists the "
                                    "provider's own runs, one per request, which have no status here; batchkit's "
                                    "jobs are the runs `batchkit runs --journal J` lists)") from None  # fmt: skip
            if run.provider != name or run.spec is None:
                raise NotFoundError(name, 404, f"{job_id} in the journal {book.where} is a {run.provider} run,"
                                               f" not a {name} job")  # fmt: skip
            return run, book.chunks(job_id)
        finally:
            book.close()

    found: tuple[Run, list[Chunk]] = yield Blocking(load)
    return found


def results(provider: type[SynchronousProvider[Any, Any]] | SynchronousProvider[Any, Any], run: Run,
            chunks: Sequence[Chunk]) -> list[FileResult[Any]]:  # fmt: skip
    """One result per input file of the run, from its requests' answers so far."""
    answers = [Answer(c.state, c.error, c.reply) for c in chunks]
    return provider.assemble(list((run.spec or {}).get("names", [])), requests_of(run), answers)


def status_of(chunks: Sequence[Chunk]) -> JobStatus:
    states = [c.state for c in chunks]
    done, failed = states.count(ChunkState.DONE), sum(s in (ChunkState.FAILED, ChunkState.AMBIGUOUS) for s in states)
    if done + failed < len(states):
        return JobStatus.QUEUED if not done + failed and ChunkState.SENDING not in states else JobStatus.RUNNING
    return JobStatus.SUCCEEDED if not failed else JobStatus.FAILED if not done else JobStatus.PARTIALLY_FAILED


def job_of(provider: SynchronousProvider[Any, Any], run: Run, chunks: Sequence[Chunk]) -> BatchJob:
    """The job a run is: its status from its requests' (running while a result says its work goes on),
    its counts from its files' results."""
    status = status_of(chunks)
    found = results(provider, run, chunks)
    if status.is_terminal and any(r.status in (JobStatus.QUEUED, JobStatus.RUNNING) for r in found):
        status = JobStatus.RUNNING  # a reply that acknowledges work going on (its result comes by callback)
    problems = [c.error for c in chunks if c.error and c.state != ChunkState.DONE]
    answered = [c.state for c in chunks].count(ChunkState.DONE)
    return BatchJob(provider.name, run.id, status, status.value,
                    created_at=dt.datetime.fromtimestamp(run.created_ms / 1000, dt.timezone.utc),
                    total_count=len(found), succeeded_count=sum(r.status is JobStatus.SUCCEEDED for r in found),
                    failed_count=sum(r.status is JobStatus.FAILED for r in found),
                    message="; ".join(problems[:3]) or None,
                    raw={"requests": len(chunks), "answered": answered})  # fmt: skip


def state(ops: Operations, job_id: str) -> Operation[BatchJob]:
    """The job ``job_id`` as the journal has it; an id the journal does not know is asked of the provider,
    which may know it as one of its own runs (one request's, as ``list()`` shows them)."""
    provider = ops.provider
    assert isinstance(provider, SynchronousProvider)
    try:
        found = yield from read(ops, job_id)
    except NotFoundError as unknown:
        try:
            return (yield from ops.sender.run(provider.get(job_id)))
        except (NotFoundError, UnsupportedError):
            raise unknown from None
    return job_of(provider, *found)


def collected(ops: Operations, job_id: str) -> Operation[list[FileResult[Any]]]:
    provider = ops.provider
    assert isinstance(provider, SynchronousProvider)
    found = yield from read(ops, job_id)
    return results(provider, *found)
