"""Workers: claim chunks of runs in a journal, send them, follow their jobs, collect their results.

Any number of workers, in any processes on any hosts, may share one journal. Each takes one chunk at
a time per lane, under a lease it renews while it works; a worker that dies or stalls loses its
leases and another continues from what the journal recorded. Nothing is sent twice: the intent is
committed before a create, and a create whose outcome is unknown is looked for, never repeated.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import os
import random
import uuid
from collections import deque
from collections.abc import Callable, Collection, Sequence
from pathlib import Path
from typing import Any, Protocol

import attrs
import cattrs

from batchkit._kernel.clock import Clock
from batchkit._kernel.inputs import LocalFile, check_file
from batchkit._kernel.journal import Chunk, ChunkState, Claim, FileEntry, Journal, RowError, Run, Scope, within
from batchkit._kernel.steps import Blocking, Operation, Parallel, Sleep
from batchkit.errors import (
    AmbiguousSubmissionError,
    BatchkitError,
    InputError,
    LeaseLostError,
    ProviderError,
    RateLimitedError,
    TransportError,
    UnsupportedError,
)
from batchkit.models import BatchJob, FileResult, JobStatus
from batchkit.providers.base import Provider, Request, Shape, Submission, SynchronousProvider
from batchkit.providers.capabilities import Reconciles

from .sending import Sender
from .waiting import PollSchedule

log = logging.getLogger("batchkit")


class Sends(Protocol):
    """What a worker needs of the client: its provider, sender, clock, poll schedule, and a create."""

    @property
    def provider(self) -> Provider[Any, Any]: ...

    @property
    def sender(self) -> Sender: ...

    @property
    def clock(self) -> Clock: ...

    @property
    def poll(self) -> PollSchedule: ...

    def create(self, prepared: Any, identify: Callable[[str], Operation[None]] | None = None,
               ) -> Operation[BatchJob]: ...  # fmt: skip


def requests_of(run: Run) -> list[Request]:
    """A synchronous provider's run as the requests its chunks are."""
    return [cattrs.structure(r, Request) for r in (run.spec or {}).get("requests", [])]


@attrs.define
class WorkSummary:
    """What one worker did."""

    sent: int = 0
    """Chunks it created jobs for."""
    adopted: int = 0
    """Interrupted sends it found the job of (through the provider's list)."""
    finished: int = 0
    """Jobs whose end and results it recorded."""
    ambiguous: int = 0
    """Sends it left ambiguous (they may have landed; never sent again by a worker)."""
    failed: int = 0
    """Chunks the provider refused."""
    lost: int = 0
    """Chunks another worker took over after this one's lease ended (its writes were refused)."""


@attrs.frozen
class Lease:
    seconds: float = 30.0

    @property
    def ms(self) -> int:
        return int(self.seconds * 1000)


class Worker:
    """Works the chunks of ``scope`` in ``lanes`` concurrent lanes.

    ``strict`` (``submit_many``): a refusal or a failed check is raised, not only recorded.
    ``resend``: a send that may have landed and cannot be found is sent again.
    ``until_done``: stop when no chunk in scope has work left (else work until cancelled).
    """

    IDLE = 1.0
    """The longest sleep between looks at the journal when nothing is due."""

    def __init__(self, ops: Sends, journal: Journal, scope: Scope, *, lanes: int = 1, lease: Lease = Lease(),
                 strict: bool = False, resend: bool = False, until_done: bool = True) -> None:  # fmt: skip
        self.ops, self.journal, self.scope = ops, journal, scope
        self.lanes, self.lease, self.strict, self.resend, self.until_done = lanes, lease, strict, resend, until_done
        self.owner = uuid.uuid4().hex
        self.summary = WorkSummary()
        self._runs: dict[str, Run] = {}
        self._skipped: set[int] = set(scope.skip)
        self._working = 0

    def _now_ms(self) -> int:
        return int(self.ops.clock.time() * 1000)

    def run(self) -> Operation[WorkSummary]:
        self._working = self.lanes
        try:
            yield Parallel([*(self._lane() for _ in range(self.lanes)), self._heartbeat()])
        finally:
            self.journal.release(self.owner)  # quick, and needed even when the operation is closed
        return self.summary

    def _heartbeat(self) -> Operation[None]:
        """Renew this worker's leases every third of a lease (counted from when the last renewal began,
        so time a slow renewal took is not added on top) while a lane works; a renewal the journal
        refused is tried again a quarter second on."""
        clock, every = self.ops.clock, self.lease.seconds / 3
        due = clock.monotonic() + every
        while self._working:
            yield Sleep(min(max(due - clock.monotonic(), 0.0), 0.25))  # short: the heartbeat ends with the lanes
            began = clock.monotonic()
            if began >= due:
                renewed = yield Blocking(self._renew)
                due = began + (every if renewed else 0.25)

    def _renew(self) -> bool:
        """Extend this worker's leases, asking twice; False when the journal refused both times (a dropped
        connection, a lock): logged, and a refusal must not end the heartbeat while the lanes work on."""
        for attempt in (1, 2):
            try:
                self.journal.renew(self.owner, self._now_ms(), self.lease.ms)
                return True
            except BatchkitError as exc:
                if attempt == 2:
                    log.warning("worker %s could not renew its leases (%s); trying again", self.owner[:8], exc)
        return False

    def _lane(self) -> Operation[None]:
        try:
            while True:
                now = self._now_ms()
                scope = attrs.evolve(self.scope, skip=frozenset(self._skipped))
                claim: Claim | None = yield Blocking(functools.partial(self.journal.claim, self.owner, scope, now,
                                                                       self.lease.ms))  # fmt: skip
                if claim is None:
                    due: int | None = yield Blocking(functools.partial(self.journal.next_due, scope, now))
                    if due is None and self.until_done:
                        return
                    wait = self.IDLE if due is None else (due - now) / 1000
                    yield Sleep(min(max(wait, 0.05), self.IDLE))
                    continue
                try:
                    yield from self._handle(claim)
                except LeaseLostError as exc:
                    self.summary.lost += 1
                    log.warning("%s", exc)
                except RowError as exc:  # this chunk's rows, or its run's, cannot be read: it alone fails
                    yield from self._failed(claim, exc)
        finally:
            self._working -= 1

    def _handle(self, claim: Claim) -> Operation[None]:
        chunk = claim.chunk
        if chunk.run not in self._runs:
            self._runs[chunk.run] = yield Blocking(lambda: self.journal.run(chunk.run))
        run = self._runs[chunk.run]
        if chunk.state == ChunkState.SENT:
            yield from self._follow(claim, run)
            return
        if chunk.state in (ChunkState.SENDING, ChunkState.AMBIGUOUS):
            found = yield from self._find(chunk, run, chunk.intent_ms or 0)
            if isinstance(found, BatchJob):
                yield from self._adopt(claim, found)
                return
            if not self.resend:
                why = found if chunk.error is None else f"{chunk.error.split('; ')[0]}; {found}"
                yield from self._ambiguous(claim, why)
                return
        yield from self._send(claim, run)

    # -- sending --------------------------------------------------------------------------------------

    def _trusted(self, run: Run, entries: Sequence[FileEntry]) -> None:
        """Refuse rows that name a file outside the run's folders, or one of unknown size (only a run
        migrated from a journal of schema 1 to 3, ``created_ms`` 0, has those)."""
        folders = (run.spec or {}).get("roots")
        for entry in entries:
            if not isinstance(folders, list) or not within(entry.path, [str(f) for f in folders]):
                raise RowError(f"{self.journal.where}: {RowError.what} ({entry.path} is outside the folders run"
                               f" {run.id} was enqueued from)")  # fmt: skip
            if entry.size < 0 and run.created_ms != 0:
                raise RowError(f"{self.journal.where}: {RowError.what} ({entry.path} has no recorded size)")

    def _prepare(self, run: Run, chunk: Chunk) -> Any:
        """What this chunk sends (:meth:`Provider.create`'s argument, or a synchronous provider's request),
        its files as they were when enqueued."""
        entries = self.journal.files(run.id, chunk.index)
        self._trusted(run, entries)
        files = []
        for entry in entries:
            local = check_file(Path(entry.path))
            mtime = os.stat(entry.path).st_mtime_ns
            if entry.size >= 0 and (local.size != entry.size or entry.mtime_ns not in (None, mtime)):
                raise InputError(f"{entry.path}: changed since the run was enqueued; enqueue it again as a new run")
            files.append(local)
        if self.ops.provider.shape is Shape.SYNCHRONOUS:
            return requests_of(run)[chunk.index]
        inputs = dict((run.spec or {}).get("inputs", {}))
        try:
            submission = Submission(files=files, **inputs)
        except TypeError as exc:
            raise RowError(f"{self.journal.where}: {RowError.what} (run {run.id}: {exc})") from None
        return self.ops.provider.prepare(submission)

    def _create(self, claim: Claim, run: Run, prepared: Any, known: list[str]) -> Operation[BatchJob | tuple[str, Any]]:
        """Send the chunk: a job is created (an id it says before its bytes go is journaled at once, and
        put in ``known``), or (synchronous) the provider's id of the request and its reply."""
        provider = self.ops.provider
        if isinstance(provider, SynchronousProvider):
            options = (run.spec or {}).get("inputs", {}).get("options")
            return (yield from self.ops.sender.run(provider.send(prepared, options)))

        def identify(job_id: str) -> Operation[None]:
            yield Blocking(lambda: self.journal.identified(claim, job_id))
            known.append(job_id)

        return (yield from self.ops.create(prepared, identify))

    def _send(self, claim: Claim, run: Run) -> Operation[None]:
        journal, chunk = self.journal, claim.chunk
        try:
            prepared = yield Blocking(lambda: self._prepare(run, chunk))
        except InputError as exc:
            yield from self._failed(claim, exc)
            return
        intent_ms: int = yield Blocking(lambda: journal.intend(claim, self._now_ms(), self.lease.ms))
        known: list[str] = []
        try:
            outcome = yield from self._create(claim, run, prepared, known)
        except AmbiguousSubmissionError as exc:
            found = yield from self._find(attrs.evolve(chunk, job_id=known[0] if known else None), run, intent_ms)
            if isinstance(found, BatchJob):
                yield from self._adopt(claim, found)
            else:
                yield from self._ambiguous(claim, f"{exc.reason}; {found}")
            return
        except RateLimitedError as exc:  # refused before a job was made; the sender paused every worker
            refused = str(exc)
            yield Blocking(lambda: journal.unsend(claim, refused))
            return
        except BatchkitError as exc:
            yield from self._failed(claim, exc)
            return
        if isinstance(outcome, BatchJob):
            first = self.ops.poll.initial
            yield Blocking(lambda: journal.sent(claim, outcome.id, outcome.children,
                                                self._now_ms() + int(first * 1000), first))  # fmt: skip
        else:  # the reply is the result: kept with the chunk's end, then what was made for it goes
            remote, reply = outcome
            yield Blocking(lambda: journal.answered(claim, remote, JobStatus.SUCCEEDED.value, reply))
            yield Blocking(lambda: discard(prepared.made))
            self.summary.finished += 1
        self.summary.sent += 1

    def _find(self, chunk: Chunk, run: Run, since_ms: int) -> Operation[BatchJob | str]:
        """The job this chunk's interrupted send created, or why it cannot be told (a synchronous
        provider's request is never found again: its reply is gone; what the provider can tell of it)."""
        provider = self.ops.provider
        if chunk.job_id:  # its id was known before its bytes went (a presign step): it is that job
            return BatchJob(provider.name, chunk.job_id, JobStatus.UNKNOWN, "")
        if isinstance(provider, SynchronousProvider):
            said: str = yield from self.ops.sender.run(provider.lookup(requests_of(run)[chunk.index], since_ms))
            return said
        if not isinstance(provider, Reconciles):
            return f"{provider.name} cannot look for an interrupted send"
        entries: list[FileEntry] = yield Blocking(lambda: self.journal.files(run.id, chunk.index))
        self._trusted(run, entries)  # a provider may read them (md5 sums)
        files = [LocalFile(Path(e.path), e.size) for e in entries]
        options = (run.spec or {}).get("inputs", {}).get("options")
        held = yield Blocking(lambda: self.journal.held(self.ops.provider.name, run.id, chunk.index))
        try:
            found = yield from self.ops.sender.run(provider.find_submission(files, since_ms, options, held))
        except UnsupportedError as exc:
            return str(exc)
        return found if found is not None else "interrupted while sending, and no job with these files was found"

    def _adopt(self, claim: Claim, found: BatchJob) -> Operation[None]:
        first, name = self.ops.poll.initial, self.ops.provider.name
        adopted = yield Blocking(lambda: self.journal.adopt(claim, name, found.id, found.children,
                                                            self._now_ms() + int(first * 1000), first))  # fmt: skip
        if not adopted:
            yield from self._ambiguous(claim, f"the job found ({found.id}) is another chunk's by now")
            return
        self.summary.adopted += 1

    def _ambiguous(self, claim: Claim, reason: str) -> Operation[None]:
        interval = self._next_interval(claim.chunk)
        yield Blocking(lambda: self.journal.ambiguous(claim, reason, self._now_ms() + int(interval * 1000), interval))
        if not self.scope.patient:  # looked for once in this call; a worker looks again when it is due
            self._skipped.add(claim.chunk.index)
        self.summary.ambiguous += 1

    def _failed(self, claim: Claim, exc: BatchkitError) -> Operation[None]:
        refused = str(exc)
        yield Blocking(lambda: self.journal.failed(claim, refused))  # not skipped by index: other runs have one
        self.summary.failed += 1
        if self.strict:
            raise exc
        log.warning("chunk %d of %s failed: %s", claim.chunk.index, claim.chunk.run, refused)

    # -- following ------------------------------------------------------------------------------------

    def _next_interval(self, chunk: Chunk) -> float:
        poll = self.ops.poll
        interval = poll.initial if chunk.poll_interval is None else min(chunk.poll_interval * poll.factor, poll.maximum)
        return interval * random.uniform(1 - poll.jitter, 1 + poll.jitter)

    def _follow(self, claim: Claim, run: Run) -> Operation[None]:
        """Check the chunk's job; when it has ended, record its results per input file."""
        chunk, provider, journal = claim.chunk, self.ops.provider, self.journal
        interval = self._next_interval(chunk)
        due = self._now_ms() + int(interval * 1000)
        job = BatchJob(provider.name, chunk.job_id or "", JobStatus.UNKNOWN, "", children=chunk.children)
        try:
            now = yield from self.ops.sender.run(provider.follow(job))
            if not now.status.is_terminal:
                yield Blocking(lambda: journal.polled(claim, now.status.value, None, due, interval))
                return
            results: list[FileResult[Any]] | BatchkitError
            try:
                results = yield from self.ops.sender.run(provider.results(attrs.evolve(now, id=job.id)))
            except BatchkitError as exc:  # an ended job whose results cannot be had: every file says why,
                if transient(exc, self.ops.sender.policy.statuses):  # unless asking later may answer (M3)
                    raise
                results = exc
        except BatchkitError as exc:
            if self.strict or isinstance(exc, LeaseLostError):
                raise
            problem = str(exc)
            yield Blocking(lambda: journal.polled(claim, None, problem, due, interval))
            return
        entries: list[FileEntry] = yield Blocking(lambda: journal.files(run.id, chunk.index))
        yield Blocking(lambda: journal.finished(claim, now.status.value, outcomes(entries, results)))
        self.summary.finished += 1


def transient(error: BatchkitError, statuses: Collection[int]) -> bool:
    """Whether ``error`` (its retries spent) may pass: the network, or a status the policy retries (a 503)."""
    return isinstance(error, TransportError) or (isinstance(error, ProviderError) and error.status_code in statuses)


def discard(paths: Sequence[str]) -> None:
    """Remove files batchkit made for a request, once its reply is kept, and their folder once it is empty."""
    for made in paths:
        Path(made).unlink(missing_ok=True)
    for folder in {Path(made).parent for made in paths}:
        with contextlib.suppress(OSError):  # not empty: other requests' pieces are still to be sent
            folder.rmdir()


def outcomes(entries: Sequence[FileEntry], results: list[FileResult[Any]] | BatchkitError,
             ) -> list[tuple[int, str, str | None, Any]]:  # fmt: skip
    """Each input file's ``(index, status, error, raw result)``: results matched by file name, then
    (where a provider does not name them, as with Resemble's zero retention) in order."""
    if isinstance(results, BatchkitError):
        return [(e.index, JobStatus.FAILED.value, str(results), None) for e in entries]
    by_name: dict[str, deque[int]] = {}
    for position, result in enumerate(results):
        by_name.setdefault(result.source, deque()).append(position)
    matched = {e.index: by_name[name].popleft() for e in entries if by_name.get(name := Path(e.path).name)}
    rest = deque(sorted(set(range(len(results))) - set(matched.values())))
    found: list[tuple[int, str, str | None, Any]] = []
    for entry in entries:
        n: int | None = matched[entry.index] if entry.index in matched else rest.popleft() if rest else None
        if n is None:
            found.append((entry.index, JobStatus.FAILED.value, "the job returned no result for this file", None))
        else:
            result = results[n]
            found.append((entry.index, result.status.value, result.error, dict(result.raw)))
    return found
