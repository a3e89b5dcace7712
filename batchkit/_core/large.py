"""Large submissions: split into provider-sized chunks, journaled, resumable."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import attrs

from batchkit.errors import AmbiguousSubmissionError, BatchkitError, InputError
from batchkit.models import BatchJob, JobStatus

from .inputs import LocalFile
from .journal import Chunk, ChunkState, Journal
from .steps import Operation

if TYPE_CHECKING:
    from batchkit.providers.base import Provider

    from .session import Session


@attrs.frozen
class JobGroup:
    """The jobs of one large submission; iterate it to get them (``client.wait_all(group)``)."""

    provider: str
    journal: Path
    chunks: tuple[Chunk, ...]
    jobs: tuple[BatchJob, ...]

    def __iter__(self) -> Iterator[BatchJob]:
        return iter(self.jobs)

    def __len__(self) -> int:
        return len(self.jobs)

    @property
    def status(self) -> JobStatus:
        """The combined status of the jobs as last known (see :meth:`JobStatus.combine`)."""
        return JobStatus.combine(job.status for job in self.jobs)

    def refreshed(self, jobs: Iterable[BatchJob]) -> JobGroup:
        """This group with the jobs' latest states (``group.refreshed(client.wait_all(group))``)."""
        latest = {job.id: job for job in jobs}
        return attrs.evolve(self, jobs=tuple(latest.get(job.id, job) for job in self.jobs))

    @property
    def ambiguous(self) -> tuple[Chunk, ...]:
        """Chunks that may have been created but could not be matched to a job."""
        return tuple(c for c in self.chunks if c.state in (ChunkState.AMBIGUOUS, ChunkState.SENDING))


def plan(files: Sequence[LocalFile], max_files: int, max_bytes: int) -> list[list[LocalFile]]:
    """Split ``files``, in order, into chunks of at most ``max_files`` files and ``max_bytes`` bytes."""
    chunks: list[list[LocalFile]] = []
    current: list[LocalFile] = []
    size = 0
    for f in files:
        if f.size > max_bytes:
            raise InputError(f"{f.path}: {f.size} bytes, more than one batch may hold ({max_bytes})")
        if current and (len(current) == max_files or size + f.size > max_bytes):
            chunks.append(current)
            current, size = [], 0
        current.append(f)
        size += f.size
    if current:
        chunks.append(current)
    return chunks


def fingerprint(provider: str, files: Sequence[LocalFile], limits: tuple[int, int], inputs: Mapping[str, Any]) -> str:
    described = {
        "provider": provider,
        "files": [(str(f.path.resolve()), f.size) for f in files],
        "limits": limits,
        "inputs": {k: repr(v) for k, v in sorted(inputs.items())},
    }
    return hashlib.sha256(json.dumps(described).encode()).hexdigest()


def submit_many(
    session: Session,
    files: Sequence[LocalFile],
    journal: Journal,
    chunk: int | None,
    inputs: Mapping[str, Any],
    resend_ambiguous: bool,
) -> Operation[JobGroup]:
    """Send every chunk not yet sent; reconcile or report those whose earlier send was interrupted."""
    provider = session.provider
    max_files, max_bytes = provider.chunk_limits(inputs.get("options"))
    if chunk is not None:
        if isinstance(chunk, bool) or not isinstance(chunk, int) or not 1 <= chunk <= max_files:
            raise InputError(f"chunk must be 1 to {max_files} files for {provider.name}, got {chunk!r}")
        max_files = chunk
    parts = plan(files, max_files, max_bytes)
    for part in parts:
        provider.prepare(_submission(part, inputs))
    identity = fingerprint(provider.name, files, (max_files, max_bytes), inputs)
    chunks = journal.open(identity, [[str(f.path) for f in p] for p in parts])
    for record in chunks:
        yield from _send(session, journal, record, parts[record.index], inputs, resend_ambiguous)
    final = journal.chunks()
    group = JobGroup(
        provider.name,
        journal.path,
        tuple(final),
        tuple(BatchJob(provider.name, c.job_id, JobStatus.UNKNOWN, "") for c in final if c.job_id),
    )
    if group.ambiguous:
        indexes = [c.index for c in group.ambiguous]
        reason = f"chunks {indexes} were interrupted while sending; resend_ambiguous=True sends them again"
        raise AmbiguousSubmissionError(
            provider.name,
            reason,
            group=group,
        )
    return group


def _submission(part: Sequence[LocalFile], inputs: Mapping[str, Any]) -> Any:
    from batchkit.providers.base import Submission

    return Submission(files=[f.path for f in part], **inputs)


def _send(
    session: Session, journal: Journal, record: Chunk, part: list[LocalFile], inputs: Mapping[str, Any], resend: bool
) -> Operation[None]:
    provider: Provider = session.provider
    if record.state == ChunkState.SENT:
        return
    if record.state in (ChunkState.SENDING, ChunkState.AMBIGUOUS):
        found = yield from provider.find_submission(part, record.intent_ms or 0)
        if found is not None:
            journal.sent(record.index, found)
            return
        if not resend:
            journal.ambiguous(record.index, record.error or "interrupted while sending")
            return
    journal.intend(record.index)
    intent_ms = journal.chunks()[record.index].intent_ms or 0
    try:
        job = yield from session.submit([f.path for f in part], inputs)
    except AmbiguousSubmissionError as exc:
        found = yield from provider.find_submission(part, intent_ms)
        if found is None:
            journal.ambiguous(record.index, str(exc))
        else:
            journal.sent(record.index, found)
        return
    except BatchkitError as exc:
        journal.failed(record.index, str(exc))
        raise
    journal.sent(record.index, job.id)
