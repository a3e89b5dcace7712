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
import time
import uuid
from collections import deque
from collections.abc import Callable, Collection, Iterator, Sequence
from pathlib import Path
from typing import Any, Protocol, TypeVar

import attrs
import cattrs

from batchkit._kernel.clock import Clock
from batchkit._kernel.inputs import LocalFile, check_file
from batchkit._kernel.journal import Chunk, ChunkState, Claim, FileEntry, Journal, Onward, RowError, Run, Scope, within
from batchkit._kernel.journal.patience import PATIENCE, patiently
from batchkit._kernel.journal.stores import Unavailable
from batchkit._kernel.journal.wake_ups import WakeUps
from batchkit._kernel.steps import Blocking, Operation, Parallel, Sleep
from batchkit.errors import (
    AmbiguousSubmissionError,
    AuthenticationError,
    BatchkitError,
    InputError,
    LeaseLostError,
    NotFoundError,
    PermissionDeniedError,
    ProviderError,
    RateLimitedError,
    ServerError,
    TransportError,
    UnsupportedError,
)
from batchkit.models import BatchJob, FileResult, JobStatus
from batchkit.observing import Event
from batchkit.providers.base import Provider, Request, Shape, Submission, SynchronousProvider
from batchkit.providers.capabilities import ChecksUploads, Reconciles

from . import chain_runs
from .sending import Sender
from .waiting import PollSchedule

log = logging.getLogger("batchkit")
T = TypeVar("T")


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
               intend: Callable[[], float | None] | None = None, upload_total: float | None = None,
               ) -> Operation[BatchJob]: ...  # fmt: skip


def requests_of(run: Run) -> list[Request]:
    """A synchronous provider's run as the requests its chunks are."""
    return [cattrs.structure(r, Request) for r in (run.spec or {}).get("requests", [])]


SETTLE_SECONDS = 600.0
"""The default settle window. An interrupted send is sent again only when the provider's authoritative
lookup, made this long after its intent, does not find it. A create's upload is bounded to half of it
(300 s, the longest a worker's upload takes), and the other half is the room for a server to drop an
upload that stopped (a worker paused: real servers' idle timeouts are 60 to 120 s) and for its list to
show what it created."""


class NotThere(str):
    """An authoritative lookup's answer: the provider has no job of this send (it is certainly not there)."""


def joined(before: str | None, found: str) -> str:
    """Why a chunk is ambiguous: what interrupted it, then what the lookup said, each said once."""
    first = (before or "").split("; ")[0]
    return found if not first or first == found else f"{first}; {found}"


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
    """Chunks it left ambiguous (their send may have landed and cannot be told), each counted once
    however often it was looked for."""
    failed: int = 0
    """Chunks the provider refused."""
    lost: int = 0
    """Chunks another worker took over after this one's lease ended (its writes were refused)."""

    @property
    def progressed(self) -> bool:
        """Whether it moved any chunk on (a chunk it left ambiguous it may meet again)."""
        return bool(self.sent or self.adopted or self.finished or self.failed or self.lost)


@attrs.define
class _Sending:
    """What one send has journaled so far: its intent's time, and the id it said before its bytes went."""

    intent_ms: int | None = None
    began: float = 0.0
    """When the intent was begun (``time.monotonic()``): the upload's bound counts from it, retries too."""
    job_id: str | None = None


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
    ``settle``: seconds after its intent an interrupted send the provider's authoritative lookup does not
    find is sent again (its upload is bounded to half of it; see :data:`SETTLE_SECONDS`).
    ``idle``: the longest rest between looks at the journal when nothing is due (default :attr:`IDLE`, or
    :attr:`WOKEN_IDLE` where the journal wakes idle workers when a run is enqueued or a chunk is freed).
    ``prune``: delete the runs created more than this many seconds ago that are over, every
    :attr:`PRUNE_EVERY` (the first time at start), one worker of the fleet at a time.
    """

    IDLE = 1.0
    """The longest sleep between looks at the journal when nothing is due, where it sends no wake-ups."""
    WOKEN_IDLE = 30.0
    """The same where the journal wakes idle workers (PostgreSQL's ``NOTIFY``): polling is the fallback."""
    WAKE_CHECK = 0.1
    """How often a resting lane looks whether a wake-up came (a counter: no query)."""
    HEARTBEAT_CHECK = 0.05
    """How often the heartbeat looks whether the lanes have stopped (a counter: so a call that runs a worker,
    ``submit_many`` or a synchronous provider's ``submit``, returns this soon after its last lane)."""
    PAUSE = (5.0, 300.0)
    """How long a worker first stops claiming when the trouble is its own (its key refused, the provider
    out of its reach, the run's folders not on its host), and the most it grows to, doubling each time."""
    PRUNE_EVERY = 600.0
    JOURNAL_PATIENCE = PATIENCE
    """How long a worker waits for a journal out of reach (a database restarting) before it gives up."""
    FOLLOW_ERRORS = 8
    """How many checks of a job in a row may fail (each after a longer wait, up to the poll schedule's
    maximum) before the chunk is left ``failed`` with the error (its job is kept: ``retry_failed`` follows
    it again)."""

    def __init__(self, ops: Sends, journal: Journal, scope: Scope, *, lanes: int = 1, lease: Lease = Lease(),
                 strict: bool = False, resend: bool = False, until_done: bool = True,
                 settle: float = SETTLE_SECONDS, idle: float | None = None,
                 prune: float | None = None) -> None:  # fmt: skip
        self.ops, self.journal, self.scope, self.settle, self.idle = ops, journal, scope, settle, idle
        self.prune = prune
        self.lanes, self.lease, self.strict, self.resend, self.until_done = lanes, lease, strict, resend, until_done
        self.owner = uuid.uuid4().hex
        self.summary = WorkSummary()
        self._runs: dict[str, Run] = {}
        self._skipped: set[int] = set(scope.skip)
        self._unsettled: set[tuple[str, int]] = set()
        self._paused_until = 0.0
        self._pause = 0.0
        self._working = 0
        self._since: dict[tuple[str, int], float] = {}
        self.observer = ops.sender.observer
        self._wake_ups: WakeUps | None = None
        self._stirs = 0

    def _now_ms(self) -> int:
        return int(self.ops.clock.time() * 1000)

    def run(self) -> Operation[WorkSummary]:
        self._working = self.lanes
        yield Blocking(lambda: self.journal.register(self.owner, [self.ops.provider.name], _version(),
                                                     self._now_ms(), self.lease.ms))  # fmt: skip
        self.observer.event(Event("worker_started", self.ops.provider.name, self.scope.run))
        try:
            self._wake_ups = yield Blocking(self.journal.wake_ups)
            if self.idle is None:
                self.idle = self.IDLE if self._wake_ups is None else self.WOKEN_IDLE
            yield Parallel([*(self._lane() for _ in range(self.lanes)), self._heartbeat()])
        finally:
            if self._wake_ups is not None:
                self._wake_ups.close()
            try:
                self.journal.release(self.owner)  # quick, and needed even when the operation is closed
            except Unavailable as exc:  # its leases lapse by themselves
                log.warning("%s", exc)
            self.observer.event(Event("worker_stopped", self.ops.provider.name, self.scope.run))
        return self.summary

    def _woken(self) -> int:
        """How many wake-ups have come so far: the journal's, and this worker's own lanes' (one ended a
        chunk, which may have been the last, or stopped); read before the journal is looked at, so that
        one sent while it was being looked at is not missed by the rest that follows."""
        return self._stirs + (0 if self._wake_ups is None else self._wake_ups.count)

    def _rest(self, seconds: float, seen: int) -> Operation[None]:
        """Sleep ``seconds``, or less once this worker has been woken since it had been woken ``seen`` times."""
        clock = self.ops.clock
        end = clock.monotonic() + seconds
        while self._woken() == seen and (left := end - clock.monotonic()) > 0:
            yield Sleep(min(left, self.WAKE_CHECK))

    def _tell(self, name: str, claim: Claim, remote_id: str | None = None) -> None:
        """Tell the observer of a step of ``claim``'s chunk, with the seconds since it was claimed."""
        chunk = claim.chunk
        since = self._since.get((chunk.run, chunk.index))
        seconds = None if since is None else self.ops.clock.monotonic() - since
        self.observer.event(Event(name, self.ops.provider.name, chunk.run, chunk.index, remote_id or chunk.job_id,
                                  claim.token, seconds))  # fmt: skip

    @contextlib.contextmanager
    def _span(self, name: str, chunk: Chunk) -> Iterator[dict[str, Any]]:
        """The observer's span ``batchkit.<name>`` around a step of ``chunk``: its attributes, which the
        step may add the remote id to."""
        attributes: dict[str, Any] = {"batchkit.provider": self.ops.provider.name, "batchkit.run": chunk.run,
                                      "batchkit.chunk": chunk.index}  # fmt: skip
        if chunk.job_id:
            attributes["batchkit.remote_id"] = chunk.job_id
        with self.observer.span(f"batchkit.{name}", attributes):
            yield attributes

    def _heartbeat(self) -> Operation[None]:
        """Renew this worker's leases every third of a lease (counted from when the last renewal began,
        so time a slow renewal took is not added on top) while a lane works; a renewal the journal
        refused is tried again a quarter second on."""
        clock, every = self.ops.clock, self.lease.seconds / 3
        due, prune_due = clock.monotonic() + every, clock.monotonic()
        while self._working:
            if self.prune is not None and clock.monotonic() >= prune_due:
                yield Blocking(self._pruned)
                prune_due = clock.monotonic() + self.PRUNE_EVERY
            yield Sleep(min(max(due - clock.monotonic(), 0.0), self.HEARTBEAT_CHECK))  # it ends with the lanes
            began = clock.monotonic()
            self.observer.tick(began)
            if began >= due:
                renewed = yield Blocking(self._renew)
                due = began + (every if renewed else 0.25)

    def _pruned(self) -> None:
        """Delete the runs that are over and older than :attr:`prune` (unless another worker is doing it);
        a journal that refused is asked again next time."""
        assert self.prune is not None
        try:
            gone = self.journal.prune(int((self.ops.clock.time() - self.prune) * 1000), sweep=True)
        except BatchkitError as exc:
            log.warning("worker %s could not prune the journal (%s); trying again later", self.owner[:8], exc)
            return
        if gone:
            log.info("pruned %d run(s) over and created more than %.0f s ago: %s", len(gone), self.prune,
                     ", ".join(gone))  # fmt: skip

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
                paused = self._paused_until - self.ops.clock.monotonic()
                claim: Claim | None = None
                seen = self._woken()
                if paused <= 0:
                    claim = yield from self._patiently(functools.partial(self.journal.claim, self.owner, scope, now,
                                                                         self.lease.ms))  # fmt: skip
                if claim is None:
                    due: int | None = yield from self._patiently(functools.partial(self.journal.next_due, scope, now))
                    if due is None and self.until_done:
                        return
                    idle = self.idle or self.IDLE
                    wait = idle if due is None else (due - now) / 1000
                    yield from self._rest(min(max(wait, paused, 0.05), idle), seen)
                    continue
                key = (claim.chunk.run, claim.chunk.index)
                self._since[key] = self.ops.clock.monotonic()
                self._tell("chunk_claimed", claim)
                try:
                    yield from self._handle(claim)
                except Unavailable as exc:  # the chunk stays as the journal has it, given back once it is up
                    log.warning("chunk %d of %s: %s; giving it back once the journal is up", claim.chunk.index,
                                claim.chunk.run, exc)  # fmt: skip
                    yield from self._patiently(functools.partial(self.journal.let_go, claim))
                except LeaseLostError as exc:
                    self.summary.lost += 1
                    self._tell("lease_lost", claim)
                    log.warning("%s", exc)
                except RowError as exc:  # this chunk's rows, or its run's, cannot be read: it alone fails
                    yield from self._failed(claim, exc, chained=False)
                finally:
                    self._since.pop(key, None)
                    self._stirs += 1
        finally:
            self._working -= 1
            self._stirs += 1

    def _handle(self, claim: Claim) -> Operation[None]:
        chunk = claim.chunk
        if chunk.run not in self._runs:
            self._runs[chunk.run] = yield Blocking(lambda: self.journal.run(chunk.run))
        run = self._runs[chunk.run]
        if chunk.state == ChunkState.SENT:
            yield from self._follow(claim, run)
            return
        if chunk.state in (ChunkState.SENDING, ChunkState.AMBIGUOUS):
            intent = chunk.intent_ms or 0
            found = yield from self._find(chunk, run, intent)
            if isinstance(found, BatchJob):
                yield from self._adopt(claim, found)
                return
            now: int = yield Blocking(lambda: self.journal.now_ms(self._now_ms()))  # the intent's clock
            settled = isinstance(found, NotThere) and now >= intent + self.settle * 1000
            if not (self.resend or settled):
                yield from self._ambiguous(claim, joined(chunk.error, found), found)
                return
            if settled:
                log.info("chunk %d of %s: %s, %.0f s after its intent: sending it again", chunk.index, chunk.run,
                         found, self.settle)  # fmt: skip
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
        folders = [str(f) for f in (run.spec or {}).get("roots", [])]
        if folders and not any(os.path.isdir(folder) for folder in folders):
            raise Unreachable(f"run {run.id}: its folders ({', '.join(folders)}) are not on this host (a volume"
                              " not mounted?); its chunks are left for a worker that has them")  # fmt: skip
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

    def _create(self, claim: Claim, run: Run, prepared: Any,
                sending: _Sending) -> Operation[BatchJob | tuple[str, Any]]:  # fmt: skip
        """Send the chunk: a job is created (the intent journaled just before its bytes go, an id it says
        before they go journaled at once), or (synchronous) the provider's id of the request and its reply."""
        provider = self.ops.provider

        def intend() -> float:  # once: a create retried (its connection failed) keeps its first intent
            if sending.intent_ms is None:
                sending.began = time.monotonic()  # before it is journaled: the upload is bounded from here
                sending.intent_ms = self.journal.intend(claim, self._now_ms(), self.lease.ms)
            return sending.began

        bound = self.settle / 2  # an upload that may still land has landed before anyone looks for it
        if isinstance(provider, SynchronousProvider):
            options = (run.spec or {}).get("inputs", {}).get("options")
            sender = attrs.evolve(self.ops.sender, intend=intend, upload_total=bound)
            return (yield from sender.run(provider.send(prepared, options)))

        def identify(job_id: str) -> Operation[None]:
            yield Blocking(lambda: self.journal.identified(claim, job_id))
            sending.job_id = job_id

        return (yield from self.ops.create(prepared, identify, intend, bound))

    def _send(self, claim: Claim, run: Run) -> Operation[None]:
        journal, chunk = self.journal, claim.chunk
        try:
            prepared = yield Blocking(lambda: self._prepare(run, chunk))
        except Unreachable as exc:
            reason = str(exc)
            yield Blocking(lambda: journal.unsend(claim, reason))
            yield from self._paused(exc)
            return
        except InputError as exc:
            yield from self._failed(claim, exc)
            return
        sending = _Sending()
        try:
            with self._span("submit", chunk) as attributes:
                outcome = yield from self._create(claim, run, prepared, sending)
                attributes["batchkit.remote_id"] = outcome.id if isinstance(outcome, BatchJob) else outcome[0]
        except AmbiguousSubmissionError as exc:
            intent_ms = sending.intent_ms if sending.intent_ms is not None else self._now_ms()
            found = yield from self._find(attrs.evolve(chunk, job_id=sending.job_id), run, intent_ms)
            if isinstance(found, BatchJob):
                yield from self._adopt(claim, found)
            else:
                yield from self._ambiguous(claim, joined(exc.reason, found), found)
            return
        except RateLimitedError as exc:  # refused before a job was made; the sender paused every worker
            refused = str(exc)
            yield Blocking(lambda: journal.unsend(claim, refused))
            self._tell("chunk_unsent", claim)
            return
        except Unavailable:  # the intent could not be journaled: nothing was sent
            raise
        except BatchkitError as exc:
            down = isinstance(exc, (ServerError, TransportError)) and chain_runs.next_of(run) is not None
            if down or not _about_the_worker(exc):  # a chain's provider that is down: its next is asked
                yield from self._failed(claim, exc)
                return
            refused = str(exc)
            yield Blocking(lambda: journal.unsend(claim, refused))  # planned again, for a worker that can send it
            yield from self._paused(exc)
            return
        self._pause = 0.0
        if isinstance(outcome, BatchJob):
            yield from self._created(claim, outcome)
            self._tell("chunk_sent", claim, outcome.id)
        else:  # the reply is the result: kept with the chunk's end, then what was made for it goes
            remote, reply = outcome
            yield Blocking(lambda: journal.answered(claim, remote, JobStatus.SUCCEEDED.value, reply))
            self._tell("chunk_answered", claim, remote)
            yield Blocking(lambda: discard(prepared.made))
            self.summary.finished += 1
        self._settled(claim)
        self.summary.sent += 1

    def _created(self, claim: Claim, job: BatchJob) -> Operation[None]:
        """Record the job this worker's send created, always logged with its chunk. Fenced out (paused past
        its lease), it is still recorded where the chunk has no job yet: a created job is never forgotten."""
        first, chunk = self.ops.poll.initial, claim.chunk
        log.info("chunk %d of %s: created job %s", chunk.index, chunk.run, job.id)
        try:
            due = self._now_ms() + int(first * 1000)
            yield from self._patiently(lambda: self.journal.sent(claim, job.id, job.children, due, first))
            return
        except LeaseLostError:
            kept = yield Blocking(lambda: self.journal.learned(claim, job.id, job.children,
                                                               self._now_ms() + int(first * 1000), first))  # fmt: skip
        if not kept:  # logged by the lane, with the chunk and the job
            raise LeaseLostError(f"{self.journal.where}: chunk {chunk.index} of {chunk.run} was taken over by another"
                                 f" worker after this one's lease ended; its job {job.id} is not recorded by this"
                                 " worker (the chunk has a job, or was settled, by now)")  # fmt: skip
        log.warning("chunk %d of %s: job %s, created by this worker after its lease ended, is recorded (the chunk"
                    " had no job yet)", chunk.index, chunk.run, job.id)  # fmt: skip
        self._tell("lease_lost", claim, job.id)

    def _find(self, chunk: Chunk, run: Run, since_ms: int) -> Operation[BatchJob | str]:
        """The job this chunk's interrupted send created, or why it cannot be told (a synchronous
        provider's request is never found again: its reply is gone; what the provider can tell of it)."""
        provider = self.ops.provider
        if chunk.job_id:  # its id was known before its bytes went (a presign step): that job, if they arrived
            if not isinstance(provider, ChecksUploads):
                return BatchJob(provider.name, chunk.job_id, JobStatus.UNKNOWN, "")
            job_id = chunk.job_id
            with self._span("reconcile", chunk):
                arrived = yield from self.ops.sender.run(provider.uploaded(job_id))
            return arrived if arrived is not None else NotThere(f"no upload arrived for its id {job_id}")
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
            with self._span("reconcile", chunk) as attributes:
                found = yield from self.ops.sender.run(provider.find_submission(files, since_ms, options, held))
                if found is not None:
                    attributes["batchkit.remote_id"] = found.id
        except UnsupportedError as exc:
            return str(exc)
        return found if found is not None else NotThere("no job with these files was found")

    def _adopt(self, claim: Claim, found: BatchJob) -> Operation[None]:
        first, name = self.ops.poll.initial, self.ops.provider.name
        adopted = yield Blocking(lambda: self.journal.adopt(claim, name, found.id, found.children,
                                                            self._now_ms() + int(first * 1000), first))  # fmt: skip
        if not adopted:
            yield from self._ambiguous(claim, f"the job found ({found.id}) is another chunk's by now")
            return
        self._settled(claim)
        self._tell("chunk_adopted", claim, found.id)
        self.summary.adopted += 1

    def _ambiguous(self, claim: Claim, reason: str, found: str = "") -> Operation[None]:
        """Leave the chunk ambiguous: looked for again when due (an authoritative lookup that found nothing,
        once the settle window after its intent has passed: then it is sent again)."""
        interval = self._next_interval(claim.chunk)
        due = self._now_ms() + int(interval * 1000)
        if isinstance(found, NotThere):
            due = max(due, (claim.chunk.intent_ms or 0) + int(self.settle * 1000))
        yield Blocking(lambda: self.journal.ambiguous(claim, reason, due, interval))
        self._tell("chunk_ambiguous", claim)
        if not self.scope.patient:  # looked for once in this call; a worker looks again when it is due
            self._skipped.add(claim.chunk.index)
        self._settled(claim, False)

    def _settled(self, claim: Claim, settled: bool = True) -> None:
        """Count the chunk among those this worker leaves ambiguous, or no longer."""
        key = (claim.chunk.run, claim.chunk.index)
        (self._unsettled.discard if settled else self._unsettled.add)(key)
        self.summary.ambiguous = len(self._unsettled)

    def _failed(self, claim: Claim, exc: BatchkitError, chained: bool = True) -> Operation[None]:
        refused = str(exc)
        yield from self._fail(claim, refused, chained)  # not skipped by index: other runs have one
        self._tell("chunk_failed", claim)
        self.summary.failed += 1
        if self.strict:
            raise exc
        log.warning("chunk %d of %s failed: %s", claim.chunk.index, claim.chunk.run, refused)

    def _fail(self, claim: Claim, reason: str, chained: bool = True) -> Operation[None]:
        """The chunk failed; in a fallback chain its files go to the next provider, in the same write."""
        run = self._runs.get(claim.chunk.run)
        onward: list[Onward] = []
        if chained and run is not None and chain_runs.of(run) is not None:
            entries: list[FileEntry] = yield Blocking(lambda: self.journal.files(run.id, claim.chunk.index))
            onward = yield Blocking(lambda: chain_runs.onward(run, entries, {e.index for e in entries}))
        yield Blocking(lambda: self.journal.failed(claim, reason, onward))

    def _patiently(self, write: Callable[[], T]) -> Operation[T]:
        """``write()`` on the journal, made again while the database is out of reach (:func:`patiently`)."""
        return patiently(write, self.JOURNAL_PATIENCE)

    def _paused(self, exc: BatchkitError) -> Operation[None]:
        """Stop claiming for a while (longer each time in a row): the trouble is this worker's, not a chunk's."""
        first, most = self.PAUSE
        self._pause = min(most, self._pause * 2 if self._pause else first)
        self._paused_until = self.ops.clock.monotonic() + self._pause
        log.warning("%s; this worker stops claiming %s chunks for %.0f s (the chunk is left for others)",
                    exc, self.ops.provider.name, self._pause)  # fmt: skip
        if self.strict:
            raise exc
        yield from ()

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
            with self._span("poll", chunk):
                now = yield from self.ops.sender.run(provider.follow(job))
            self._pause = 0.0
            if not now.status.is_terminal:
                yield Blocking(lambda: journal.polled(claim, now.status.value, None, due, interval))
                self._tell("chunk_polled", claim)
                return
            results: list[FileResult[Any]] | BatchkitError
            try:
                with self._span("collect", chunk):
                    results = yield from self.ops.sender.run(provider.results(attrs.evolve(now, id=job.id)))
            except (TransportError, ServerError, AuthenticationError, PermissionDeniedError, Unavailable,
                    LeaseLostError):  # fmt: skip
                raise  # asked again later: a journal outage (the shared rate asks it too) is not the job's
            except BatchkitError as exc:  # an ended job whose results cannot be had: every file says why,
                if transient(exc, self.ops.sender.policy.statuses):  # unless asking later may answer (M3)
                    raise
                results = exc
        except BatchkitError as exc:
            if self.strict or isinstance(exc, (LeaseLostError, Unavailable)):
                raise
            yield from self._unfollowed(claim, exc, due, interval)
            self._tell("chunk_polled", claim)
            return
        entries: list[FileEntry] = yield Blocking(lambda: journal.files(run.id, chunk.index))
        ended = outcomes(entries, results)
        onward: list[Onward] = []
        if chain_runs.of(run) is not None:
            onward = yield Blocking(lambda: chain_runs.onward(run, entries, chain_runs.left(provider.name, ended)))
        yield Blocking(lambda: journal.finished(claim, now.status.value, ended, onward))
        self._tell("chunk_finished", claim)
        self.summary.finished += 1

    def _unfollowed(self, claim: Claim, exc: BatchkitError, due: int, interval: float) -> Operation[None]:
        """A check of the chunk's job failed: a job the provider no longer has is lost (never polled again);
        a refused key, or a provider out of reach, pauses this worker (the chunk is due for others at once);
        any other error is tried again later, up to :attr:`FOLLOW_ERRORS` times in a row."""
        journal, chunk, problem = self.journal, claim.chunk, str(exc)
        if isinstance(exc, NotFoundError):
            lost = f"lost job: the provider has no job {chunk.job_id} any more ({problem})"
            log.warning("chunk %d of %s: %s", chunk.index, chunk.run, lost)
            yield from self._fail(claim, lost)
            self.summary.failed += 1
        elif _about_the_worker(exc) or isinstance(exc, PermissionDeniedError):
            yield Blocking(lambda: journal.polled(claim, None, problem, self._now_ms(), chunk.poll_interval or 0.0))
            yield from self._paused(exc)
        elif chunk.attempts + 1 >= self.FOLLOW_ERRORS:
            given_up = f"{problem} (its job {chunk.job_id} could not be checked {chunk.attempts + 1} times in a row)"
            log.warning("chunk %d of %s: %s", chunk.index, chunk.run, given_up)
            yield from self._fail(claim, given_up)
            self.summary.failed += 1
        else:
            yield Blocking(lambda: journal.polled(claim, None, problem, due, interval, failures=chunk.attempts + 1))


def _version() -> str:
    """batchkit's version, as installed (what a worker says of itself in the registry)."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("batchkit")
    except PackageNotFoundError:
        return "unknown"


class Unreachable(BatchkitError):
    """What this worker cannot reach, though another might (the run's folders are not on its host)."""


def _about_the_worker(exc: BatchkitError) -> bool:
    """Whether a failure is this worker's, not the chunk's: its key refused, the provider out of its reach
    (retries spent), the provider failing, or the run's files not on its host."""
    return isinstance(exc, (AuthenticationError, TransportError, ServerError, Unreachable))


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
