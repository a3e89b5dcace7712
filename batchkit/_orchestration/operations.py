"""What a client does, as operations both executors carry out: submit, get, list, wait, results,
artifacts and large submissions. Everything sent goes through the client's :class:`Sender`."""

from __future__ import annotations

import builtins
import logging
import os
from collections.abc import Callable, Generator, Iterable, Mapping
from importlib.util import find_spec
from pathlib import Path
from typing import Any

import attrs
import httpx

from batchkit._kernel.clock import Clock
from batchkit._kernel.download import AtomicFile, ExtractLimits, complete_zip, safe_extract
from batchkit._kernel.inputs import LocalFile, Paths, Progress, as_path_list, check_files, each_path, is_job_id
from batchkit._kernel.journal import Journal, Scope
from batchkit._kernel.journal.patience import patiently
from batchkit._kernel.retry import RetryPolicy
from batchkit._kernel.signed_urls import guard_httpx_log
from batchkit._kernel.steps import END, KEYLESS, Blocking, Call, Emit, Items, NextItem, Operation, Parallel
from batchkit.config import Secret
from batchkit.errors import (
    BatchkitError,
    InputError,
    JobNotFinishedError,
    ResponseFormatError,
    TransportError,
    UnsupportedError,
)
from batchkit.models import BatchJob, FileResult, JobRef, JobStatus
from batchkit.providers.base import Provider, Shape, Submission
from batchkit.providers.capabilities import Archives, Lists, Streams

from . import synchronous
from .given_names import GivenNames
from .groups import JobGroup
from .large_submissions import portable, record, submit_many
from .sending import Sender
from .shared_rate import SharedRate, bucket_name
from .waiting import OnUpdate, PollSchedule, ignoring_emits, watch
from .workers import SETTLE_SECONDS, Lease, Worker, WorkSummary

log = logging.getLogger("batchkit")
guard_httpx_log()  # httpx logs each request's URL at INFO: a presigned one's query is a secret


class KeyAuth(httpx.Auth):
    """Adds the provider's key headers as each request leaves; the key lives nowhere else.

    On a redirect to another origin, httpx would carry every header but ``Authorization`` along:
    the key headers are dropped there, and on a request to a whole URL a reply gave (a presigned one).
    """

    def __init__(self, headers: Callable[[str], dict[str, str]], key: Secret, base_url: str) -> None:
        self._headers = headers
        self._key = key
        self._origin = httpx.URL(base_url).copy_with(path="/", query=None, fragment=None)

    def bucket(self, provider: str) -> str:
        """The shared rate bucket of this provider and credential (a digest of the key, never the key)."""
        return bucket_name(provider, str(self._origin), self._key.reveal())

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        url = request.url
        same = (url.scheme, url.host, url.port) == (self._origin.scheme, self._origin.host, self._origin.port)
        if same and not request.extensions.get(KEYLESS):
            request.headers.update(self._headers(self._key.reveal()))
        else:
            for name in self._headers(""):
                request.headers.pop(name, None)
        yield request


def as_job(provider: str, job: JobRef) -> BatchJob:
    """``job``, or a job known only by its id; an id must be one path segment of plain characters."""
    if isinstance(job, BatchJob):
        ident = job.id
    elif isinstance(job, str):
        ident = job
    else:
        raise InputError(f"expected a BatchJob or a job id, got {type(job).__name__} {job!r}")
    if not is_job_id(ident):
        raise InputError(f"{ident!r} is not a job id (letters, digits and . _ : @ - only)")
    return job if isinstance(job, BatchJob) else BatchJob(provider, ident, JobStatus.UNKNOWN, "")


SUBMIT_KEYS = ("urls", "text", "zip", "callback_url", "options")
RUN_KEYS = ("journal", "chunk", "run_key")
"""What names a run and its plan, besides the submission's inputs."""


def _known(inputs: Mapping[str, Any], keys: tuple[str, ...]) -> Mapping[str, Any]:
    """``inputs``, which must all be keyword arguments of the method."""
    unknown = sorted(set(inputs) - set(keys))
    if unknown:
        raise InputError(f"unknown argument {unknown[0]!r}; the arguments are {', '.join(keys)}")
    return inputs


def _statuses(status: JobStatus | str | Iterable[JobStatus | str] | None) -> frozenset[JobStatus]:
    items = [] if status is None else [status] if isinstance(status, (JobStatus, str)) else list(status)
    found = set()
    for item in items:
        if isinstance(item, str) and item.upper() in JobStatus.__members__:
            item = JobStatus[item.upper()]
        if not isinstance(item, JobStatus):
            names = ", ".join(s.name for s in JobStatus)
            raise InputError(f"status filter must be JobStatus values or their names ({names}), got {item!r:.80}")
        found.add(item)
    return frozenset(found)


@attrs.frozen
class Operations:
    """One client's configuration, and every operation it offers."""

    provider: Provider[Any, Any]
    sender: Sender
    auth: KeyAuth = attrs.field(repr=False)
    poll: PollSchedule
    on_upload: Progress | None
    journal: str | os.PathLike[str]
    """Where the runs of a synchronous provider's ``submit`` are kept."""
    given: GivenNames = attrs.field(factory=GivenNames, repr=False, eq=False)
    """The paths this client's jobs were given (copies made by :meth:`configured` share it)."""

    @property
    def clock(self) -> Clock:
        return self.sender.clock

    def configured(self, *, timeout: float | None = None, retry: RetryPolicy | None = None) -> Operations:
        """A copy with another request timeout or retry policy."""
        sender = self.sender
        if timeout is not None:
            sender = attrs.evolve(sender, timeout=request_timeout(timeout), chosen=True)
        if retry is not None:
            sender = attrs.evolve(sender, policy=retry)
        return attrs.evolve(self, sender=sender)

    def submit(self, files: Paths | None, inputs: Mapping[str, Any]) -> Operation[BatchJob]:
        submission = Submission(files=files, **_known(inputs, SUBMIT_KEYS))
        prepared = yield Blocking(lambda: self.provider.prepare(submission))
        if self.provider.shape is Shape.SYNCHRONOUS:
            job = yield from synchronous.submit(self, prepared, portable(inputs))
        else:
            job = yield from self.create(prepared)
        self.given.record(job.id, as_path_list(files, "files"))
        return job

    def create(self, prepared: Any, identify: Callable[[str], Operation[None]] | None = None,
               intend: Callable[[], float | None] | None = None, upload_total: float | None = None,
               ) -> Operation[BatchJob]:  # fmt: skip
        """A job from ``prepared``; ``identify`` journals its id where the provider knows it before the bytes
        go, ``intend`` the intent just before they go; its upload takes at most ``upload_total`` seconds."""
        sender = attrs.evolve(self.sender, identify=identify, intend=intend, upload_total=upload_total)
        job = yield from sender.run(self.provider.create(prepared))
        log.info("%s: created job %s", self.provider.name, job.id)
        return job

    def _journaled(self, journal: Any, files: Paths) -> Operation[tuple[Journal, builtins.list[LocalFile]]]:
        if journal is None:
            raise InputError("a large submission needs journal=<path or postgresql:// URL>: it records each chunk")
        local = yield Blocking(lambda: check_files(as_path_list(files, "files")))
        if not local:
            raise InputError("no files given")
        book: Journal = yield Blocking(lambda: Journal(journal))
        return book, local

    def paced(self, journal: Journal, rate: float | None) -> Operations:
        """These operations, with creates paced by the rate all workers on ``journal`` share (and every
        request held while a 429 pauses them)."""
        if rate is not None and (isinstance(rate, bool) or not isinstance(rate, (int, float)) or not 0 < rate < 1e6):
            raise InputError(f"rate must be a positive number of creates a second, got {rate!r}")
        gate = SharedRate(journal, self.auth.bucket(self.provider.name), rate, self.clock)
        return attrs.evolve(self, sender=attrs.evolve(self.sender, gate=gate))

    def submit_many(self, files: Paths, inputs: Mapping[str, Any]) -> Operation[JobGroup]:
        settings = dict(_known(inputs, (*SUBMIT_KEYS, *RUN_KEYS, "resend_ambiguous", "wait", "rate", "settle",
                                        "lease")))  # fmt: skip
        journal, chunk, key, rate = (settings.pop(name, None) for name in (*RUN_KEYS, "rate"))
        resend, wait = bool(settings.pop("resend_ambiguous", False)), bool(settings.pop("wait", False))
        settle = settle_seconds(settings.pop("settle", SETTLE_SECONDS))
        lease = lease_of(settings.pop("lease", None))
        book, local = yield from self._journaled(journal, files)
        try:
            return (yield from submit_many(self.paced(book, rate), book, local, settings, chunk, resend, wait, settle,
                                           lease, key))  # fmt: skip
        finally:
            book.close()

    def enqueue(self, files: Paths, inputs: Mapping[str, Any],
                chain: Mapping[str, Any] | None = None) -> Operation[str]:  # fmt: skip
        settings = dict(_known(inputs, (*SUBMIT_KEYS, *RUN_KEYS)))
        journal, chunk, key = (settings.pop(name, None) for name in RUN_KEYS)
        if journal is None:
            raise InputError("a large submission needs journal=<path or postgresql:// URL>: it records each chunk")
        book: Journal = yield Blocking(lambda: Journal(journal))
        try:  # the files are read one at a time: a run of millions is never held
            run = yield from record(self, book, each_path(files, "files"), settings, chunk, key, chain)
        finally:
            book.close()
        log.info("%s: recorded run %s in %s", self.provider.name, run, book.where)
        return run

    def work(self, journal: str | os.PathLike[str], settings: Mapping[str, Any]) -> Operation[WorkSummary]:
        known = dict(_known(settings, ("until_done", "run", "concurrency", "lease", "rate", "settle", "idle",
                                       "prune")))  # fmt: skip
        settle = settle_seconds(known.get("settle", SETTLE_SECONDS))
        idle = idle_seconds(known.get("idle"))
        prune = known.get("prune")
        if prune is not None and (isinstance(prune, bool) or not isinstance(prune, (int, float)) or not prune >= 0):
            raise InputError(f"prune must be seconds, 0 or more, got {prune!r}")
        lanes = known.get("concurrency") or self.poll.concurrency
        if isinstance(lanes, bool) or not isinstance(lanes, int) or lanes < 1:
            raise InputError(f"concurrency must be a positive integer, got {lanes!r}")
        lease = lease_of(known.get("lease"))
        book: Journal = yield from patiently(lambda: Journal(journal))  # a worker may start while it restarts
        try:
            asked, run = known.get("run"), None
            if asked is not None:
                found = yield Blocking(lambda: book.run(asked))
                run = found.id  # a prefix of its id names it too
                if found.provider != self.provider.name:
                    raise InputError(f"run {run} is for {found.provider}; this client speaks {self.provider.name}")
            scope = Scope(self.provider.name, run)
            worker = Worker(self.paced(book, known.get("rate")), book, scope, lanes=lanes, lease=lease,
                            until_done=bool(known.get("until_done", False)), settle=settle, idle=idle,
                            prune=prune)  # fmt: skip
            return (yield from worker.run())
        finally:
            book.close()

    def get(self, job: JobRef) -> Operation[BatchJob]:
        return self._follow(as_job(self.provider.name, job), self.sender)

    def _follow(self, job: BatchJob, sender: Sender) -> Operation[BatchJob]:
        """The job now: asked of the provider, or read from the journal (a synchronous provider's)."""
        if self.provider.shape is Shape.SYNCHRONOUS:
            return synchronous.state(self, job.id)
        return sender.run(self.provider.follow(job))

    def _collect(self, job: BatchJob) -> Operation[builtins.list[FileResult[Any]]]:
        """A finished job's results: asked of the provider, or read from the journal."""
        if self.provider.shape is Shape.SYNCHRONOUS:
            return synchronous.collected(self, job.id)
        return self.sender.run(self.provider.results(job))

    def list(
        self, limit: int, status: JobStatus | Iterable[JobStatus] | None, filters: Mapping[str, Any]
    ) -> Operation[None]:
        """Up to ``limit`` recent jobs in all, each emitted as its page arrives (checked before anything is sent)."""
        if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
            raise InputError(f"limit must be a positive integer, got {limit!r}")
        if not isinstance(self.provider, Lists):
            raise UnsupportedError(f"{self.provider.name} has no list of jobs; keep the ids submit() returns")
        return self.sender.run(self.provider.list(limit, _statuses(status), filters))

    def _schedule(self, poll_interval: float | None) -> PollSchedule:
        if poll_interval is None:
            return self.poll
        try:
            return attrs.evolve(self.poll, initial=poll_interval, factor=1.0, maximum=poll_interval)
        except (TypeError, ValueError) as exc:
            raise InputError(f"poll_interval must be a positive number of seconds, got {poll_interval!r}") from exc

    def wait(self, job: JobRef, timeout: float | None, poll_interval: float | None) -> Operation[BatchJob]:
        if not isinstance(job, (BatchJob, str)):
            raise InputError(f"wait takes one job or job id, got {type(job).__name__}; use wait_all for many")
        [done] = yield from ignoring_emits(self.watch([job], {"timeout": timeout, "poll_interval": poll_interval}))
        return done

    def watch(self, jobs: Iterable[JobRef] | JobRef, waiting: Mapping[str, Any]) -> Operation[builtins.list[BatchJob]]:
        """Follow ``jobs`` until all are terminal; each is emitted as it finishes."""
        _known(waiting, ("timeout", "poll_interval", "on_update"))
        schedule = self._schedule(waiting.get("poll_interval"))
        timeout = waiting.get("timeout")
        if timeout is not None and (isinstance(timeout, bool) or not isinstance(timeout, (int, float))
                                    or not timeout >= 0 or timeout == float("inf")):  # fmt: skip
            raise InputError(f"timeout must be a finite number of seconds, got {timeout!r}")
        given = [jobs] if isinstance(jobs, (BatchJob, str)) else list(jobs)
        checked = [as_job(self.provider.name, job) for job in given]
        refs = [job if job.provider_status else job.id for job in checked]
        known = {job.id: job for job in checked}
        sender = self.sender
        if timeout is not None:  # no retry inside a poll sleeps past the wait's end
            sender = attrs.evolve(sender, deadline=self.clock.monotonic() + timeout)

        def get(ident: str) -> Operation[BatchJob]:
            return self._follow(known[ident], sender)

        return watch(self.provider.name, get, refs, schedule, timeout, waiting.get("on_update"), self.clock)

    def wait_all(
        self, jobs: Iterable[JobRef] | JobGroup, waiting: Mapping[str, Any]
    ) -> Operation[builtins.list[BatchJob] | JobGroup]:
        """Every job at its end, in order; a :class:`JobGroup` comes back refreshed."""
        done = yield from ignoring_emits(self.of(jobs).watch(jobs, waiting))
        return jobs.refreshed(done) if isinstance(jobs, JobGroup) else done

    def of(self, jobs: object) -> Operations:
        """The operations that follow ``jobs``: a synchronous provider's group is read from its own journal."""
        if isinstance(jobs, JobGroup) and self.provider.shape is Shape.SYNCHRONOUS:
            return attrs.evolve(self, journal=jobs.journal)
        return self

    def results(self, job: JobRef | JobGroup) -> Operation[builtins.list[FileResult[Any]]]:
        """One job's results, or every chunk's of a group (fetched concurrently), in order.

        The same for every provider: a job that has not ended is a :class:`JobNotFinishedError`.
        """
        if not isinstance(job, JobGroup):
            return (yield from self._results_of(as_job(self.provider.name, job)))
        ops = self.of(job)
        per_job: builtins.list[builtins.list[FileResult[Any]]] = yield Parallel([ops._results_of(j) for j in job.jobs])
        return [result for results in per_job for result in results]

    def _results_of(self, job: BatchJob) -> Operation[builtins.list[FileResult[Any]]]:
        job = yield from self._finished(job)
        return list(map(self._namer(job), (yield from self._collect(job))))

    def _namer(self, job: BatchJob) -> Callable[[FileResult[Any]], FileResult[Any]]:
        """Gives each of ``job``'s results, in order, its path as given (where this client made the job)
        and its provider's name (how :func:`batchkit.rows` finds its columns)."""
        given = self.given.namer(job.id)
        return lambda r: given(r if r.provider else attrs.evolve(r, provider=self.provider.name))

    def _finished(self, job: BatchJob) -> Operation[BatchJob]:
        """``job`` as it is now, which must have ended (:class:`JobNotFinishedError` otherwise)."""
        if not job.provider_status or not job.status.is_terminal:  # an id, a journal's, or a stale object
            now = yield from self._follow(job, self.sender)
            job = attrs.evolve(now, id=job.id)  # the id asked for, not one a server sent back
        if not job.status.is_terminal:
            raise JobNotFinishedError(job)
        return job

    def stream(self, job: JobRef) -> Operation[None]:
        """A finished job's results, each emitted as it is parsed from the reply where the provider
        streams them and ijson (``batchkit[stream]``) is installed, else fetched and emitted one by one.
        A stream is not retried once it has begun: results were handed out."""
        finished = yield from self._finished(as_job(self.provider.name, job))
        plan = self.provider.stream_results(finished) if isinstance(self.provider, Streams) else None
        if plan is None or not streaming_available():
            for result in map(self._namer(finished), (yield from self._collect(finished))):
                yield Emit(result)
            return
        call, to_result = plan
        named = self._namer(finished)
        stream = ResultStream(self.sender.prepared(call), to_result, self.sender.refusal)
        try:
            source = yield Items(stream.call)
        except Exception as exc:
            raise stream.failure(exc) from None
        if isinstance(source, httpx.Response):
            raise stream.refusal(source)
        while True:
            try:
                item = yield NextItem(source)
            except Exception as exc:
                raise stream.failure(exc) from None
            if item is END:
                return
            yield Emit(named(stream.to_result(item)))

    def download_artifacts(
        self, job: JobRef, dest: str | os.PathLike[str], extract: bool, limits: ExtractLimits | None
    ) -> Operation[Path]:
        ident = as_job(self.provider.name, job).id
        provider = self.provider
        if not isinstance(provider, Archives):
            raise UnsupportedError(f"{provider.name} has no artifacts")
        folder = Path(dest)
        if folder.exists() and not folder.is_dir():
            raise InputError(f"{folder}: is not a directory")
        sink = AtomicFile(folder / f"{ident}-artifacts.zip")
        try:
            yield from self.sender.run(provider.artifacts(ident, sink))
        except BaseException:
            sink.discard()
            raise
        archive: Path = yield Blocking(lambda: sink.commit(complete_zip))
        if not extract:
            return archive
        extracted: Path = yield Blocking(lambda: safe_extract(archive, folder / ident, limits or ExtractLimits()))
        return extracted


def lease_of(value: Any) -> Lease:
    """A lease, checked: 0.5 to 3600 seconds (None: the default)."""
    if value is None:
        return Lease()
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0.5 <= value <= 3600:
        raise InputError(f"lease must be 0.5 to 3600 seconds, got {value!r}")
    return Lease(float(value))


def idle_seconds(value: Any) -> float | None:
    """A worker's longest idle rest, checked: 0.05 to 3600 seconds (None: its default)."""
    if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float))
                              or not 0.05 <= value <= 3600):  # fmt: skip
        raise InputError(f"idle must be 0.05 to 3600 seconds, got {value!r}")
    return value


def settle_seconds(value: Any) -> float:
    """A settle window, checked: a number of seconds, more than 0 and at most a day."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < value <= 86400:
        raise InputError(f"settle must be more than 0 and at most 86400 seconds, got {value!r}")
    return float(value)


def streaming_available() -> bool:
    """Whether ijson (``batchkit[stream]``) is installed."""

    return find_spec("ijson") is not None


@attrs.frozen
class ResultStream:
    """A finished job's results as one streamed request: its items, parsed as they arrive, become results."""

    call: Call
    to_result: Callable[[Any], FileResult[Any]]
    refusal: Callable[[httpx.Response], BatchkitError]

    def failure(self, exc: Exception) -> BatchkitError:
        """What a failure while streaming is, typed (a stream is not retried: results were handed out)."""
        if isinstance(exc, BatchkitError):
            return exc
        if isinstance(exc, httpx.RequestError):
            return TransportError(f"{self.call.target}: {type(exc).__name__} while streaming results")
        return ResponseFormatError(f"{self.call.target}: the results could not be read ({type(exc).__name__})")


def request_timeout(seconds: float) -> httpx.Timeout:
    """The timeouts of one request from the client's ``timeout`` setting (connecting: at most 10 s)."""
    return httpx.Timeout(seconds, connect=min(seconds, 10.0))


__all__ = ["KeyAuth", "OnUpdate", "Operations", "as_job", "request_timeout"]
