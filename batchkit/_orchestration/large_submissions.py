"""Large submissions: split into provider-sized chunks, journaled, resumable."""

from __future__ import annotations

import hashlib
import json
import logging
import uuid
from collections.abc import Mapping, Sequence
from typing import Any, Protocol

from batchkit._kernel.clock import Clock
from batchkit._kernel.inputs import LocalFile
from batchkit._kernel.journal import Chunk, ChunkState, Journal
from batchkit._kernel.steps import Blocking, Operation, Sleep
from batchkit.errors import AmbiguousSubmissionError, BatchkitError, InputError, UnsupportedError
from batchkit.models import BatchJob, JobStatus
from batchkit.providers.base import Provider, Submission

from .groups import JobGroup
from .sending import Sender

log = logging.getLogger("batchkit")


class Creator(Protocol):
    """What a large submission needs of the client: its provider, sender and clock, and a create."""

    @property
    def provider(self) -> Provider: ...

    @property
    def sender(self) -> Sender: ...

    @property
    def clock(self) -> Clock: ...

    def create(self, prepared: Any) -> Operation[BatchJob]: ...


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


class LargeSubmission:
    """One ``submit_many`` call: its plan, its journal, and the sending of each chunk not yet sent.

    Chunks are claimed in the journal one at a time, so processes sharing a journal help each other
    and each chunk is created once; a run whose chunks are all settled or held by other live
    processes waits for those, then returns the same group.
    """

    WAIT_FOR_OTHERS = 0.2
    """Seconds between looks at the journal while other processes hold chunks."""

    def __init__(self, ops: Creator, journal: Journal, inputs: Mapping[str, Any], resend: bool) -> None:
        self.ops = ops
        self.provider = ops.provider
        self.journal = journal
        self.inputs = inputs
        self.resend = resend
        self.owner = uuid.uuid4().hex

    def run(self, files: Sequence[LocalFile], chunk: int | None) -> Operation[JobGroup]:
        """Send every chunk not yet sent; reconcile or report those whose earlier send was interrupted."""
        provider, journal = self.provider, self.journal
        max_files, max_bytes = provider.chunk_limits(self.inputs.get("options"))
        if chunk is not None:
            if isinstance(chunk, bool) or not isinstance(chunk, int) or not 1 <= chunk <= max_files:
                raise InputError(f"chunk must be 1 to {max_files} files for {provider.name}, got {chunk!r}")
            max_files = chunk
        parts = plan(files, max_files, max_bytes)
        prepared = yield Blocking(lambda: [provider.prepare(Submission(files=p, **self.inputs)) for p in parts])
        identity = fingerprint(provider.name, files, (max_files, max_bytes), self.inputs)
        yield Blocking(lambda: journal.open(identity, [[str(f.path) for f in p] for p in parts]))
        handled: set[int] = set()
        try:
            while True:
                record: Chunk | None = yield Blocking(lambda: journal.claim(self.owner, handled))
                if record is None:
                    if not (yield Blocking(lambda: journal.held_elsewhere(self.owner))):
                        break
                    yield Sleep(self.WAIT_FOR_OTHERS)
                    continue
                handled.add(record.index)
                yield from self._send(record, parts[record.index], prepared[record.index])
        except GeneratorExit:  # interrupted (Ctrl-C, a cancelled task): the journal knows where it stopped
            log.warning("submit_many interrupted; call it again with the same files and journal=%s to resume",
                        journal.path)  # fmt: skip
            raise
        finally:
            journal.release(self.owner)  # quick, and needed even when the operation is closed
        final: list[Chunk] = yield Blocking(journal.chunks)
        group = JobGroup(
            provider.name,
            journal.path,
            tuple(final),
            tuple(
                BatchJob(provider.name, c.job_id, JobStatus.UNKNOWN, "", children=c.children)
                for c in final
                if c.job_id
            ),
        )
        if group.ambiguous:
            indexes = [c.index for c in group.ambiguous]
            reason = f"chunks {indexes} were interrupted while sending; resend_ambiguous=True sends them again"
            reasons = "; ".join(f"chunk {c.index}: {c.error}" for c in group.ambiguous if c.error)
            raise AmbiguousSubmissionError(provider.name, f"{reason} ({reasons})" if reasons else reason, group=group,
                                           advice=provider.ambiguity_advice)  # fmt: skip
        return group

    def _find(self, part: list[LocalFile], since_ms: int) -> Operation[BatchJob | str]:
        """The job this chunk's interrupted send created, or why it cannot be told."""
        options = self.inputs.get("options")
        try:
            found = yield from self.ops.sender.run(self.provider.find_submission(part, since_ms, options))
        except UnsupportedError as exc:
            return str(exc)
        return found if found is not None else "interrupted while sending, and no job with these files was found"

    def _adopt(self, index: int, found: BatchJob) -> Operation[None]:
        yield Blocking(lambda: self.journal.sent(self.owner, index, found.id, found.children))

    def _send(self, record: Chunk, part: list[LocalFile], prepared: Any) -> Operation[None]:
        journal, owner, index = self.journal, self.owner, record.index
        if record.state in (ChunkState.SENDING, ChunkState.AMBIGUOUS):
            found = yield from self._find(part, record.intent_ms or 0)
            if isinstance(found, BatchJob):
                yield from self._adopt(index, found)
                return
            if not self.resend:
                why = found if record.error is None else f"{record.error.split('; ')[0]}; {found}"
                yield Blocking(lambda: journal.ambiguous(owner, index, why))
                return
        intent_ms: int = yield Blocking(lambda: journal.intend(owner, index, self.ops.clock.time()))
        try:
            job = yield from self.ops.create(prepared)
        except AmbiguousSubmissionError as exc:
            adopted = yield from self._find(part, intent_ms)
            if isinstance(adopted, BatchJob):
                yield from self._adopt(index, adopted)
            else:
                reason = f"{exc.reason}; {adopted}"
                yield Blocking(lambda: journal.ambiguous(owner, index, reason))
            return
        except BatchkitError as exc:
            refused = str(exc)
            yield Blocking(lambda: journal.failed(owner, index, refused))
            raise
        yield Blocking(lambda: journal.sent(owner, index, job.id))
