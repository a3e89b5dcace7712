"""Everything a client does, as I/O-free operations; both clients execute these."""

from __future__ import annotations

import builtins
import logging
import os
from collections.abc import Callable, Generator, Iterable, Mapping
from pathlib import Path
from typing import Any

import attrs
import httpx

from batchkit.config import Secret, Settings
from batchkit.errors import InputError
from batchkit.models import BatchJob, FileResult, JobRef, JobStatus, job_id
from batchkit.providers import Submission

from .download import AtomicFile, ExtractLimits, safe_extract
from .inputs import Paths, Progress, as_path_list, check_files
from .journal import Journal
from .large import JobGroup, submit_many
from .polling import PollSchedule, quiet, watch
from .retry import RetryPolicy
from .steps import Operation, Parallel

log = logging.getLogger("batchkit")


class KeyAuth(httpx.Auth):
    """Adds the provider's key headers as each request leaves; the key lives nowhere else."""

    def __init__(self, headers: Callable[[str], dict[str, str]], key: Secret) -> None:
        self._headers = headers
        self._key = key

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        request.headers.update(self._headers(self._key.reveal()))
        yield request


def _statuses(status: JobStatus | Iterable[JobStatus] | None) -> frozenset[JobStatus]:
    items = [] if status is None else [status] if isinstance(status, JobStatus) else list(status)
    for item in items:
        if not isinstance(item, JobStatus):
            raise InputError(f"status filter must be JobStatus values, got {item!r}")
    return frozenset(items)


class Session:
    """A configured provider plus the client-level policies (retries, polling, concurrency)."""

    def __init__(
        self,
        settings: Settings,
        *,
        retry: RetryPolicy | None = None,
        poll: PollSchedule | None = None,
        on_upload: Progress | None = None,
    ) -> None:
        timeout = httpx.Timeout(settings.timeout, connect=min(settings.timeout, 10.0))
        retry = retry or RetryPolicy(max_retries=settings.max_retries)
        self.provider = settings.provider(settings.base_url, retry=retry, timeout=timeout)
        self.auth = KeyAuth(settings.provider.auth_headers, settings.api_key)
        self.provider.upload_progress = on_upload
        self.poll = poll or PollSchedule()

    def __repr__(self) -> str:
        return f"{self.provider.name} at {self.provider.base_url}"

    def submit(self, files: Paths | None, inputs: Mapping[str, Any]) -> Operation[BatchJob]:
        job = yield from self.provider.submit(Submission(files=files, **inputs))
        log.info("%s: created job %s", self.provider.name, job.id)
        return job

    def submit_many(self, files: Paths, inputs: Mapping[str, Any]) -> Operation[JobGroup]:
        settings = dict(inputs)
        journal = settings.pop("journal", None)
        chunk, resend = settings.pop("chunk", None), bool(settings.pop("resend_ambiguous", False))
        if journal is None:
            raise InputError("submit_many needs journal=<path>: it records each chunk so a run can resume")
        local = check_files(as_path_list(files, "files"))
        if not local:
            raise InputError("submit_many: no files given")
        book = Journal(journal)
        try:
            return (yield from submit_many(self, local, book, chunk, settings, resend))
        finally:
            book.close()

    def get(self, job: JobRef) -> Operation[BatchJob]:
        return self.provider.get(job_id(job))

    def list(
        self, limit: int, status: JobStatus | Iterable[JobStatus] | None, filters: Mapping[str, Any]
    ) -> Operation[list[BatchJob]]:
        if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
            raise InputError(f"limit must be a positive integer, got {limit!r}")
        return self.provider.list(limit, _statuses(status), filters)

    def _schedule(self, poll_interval: float | None) -> PollSchedule:
        if poll_interval is None:
            return self.poll
        return attrs.evolve(self.poll, initial=poll_interval, factor=1.0, maximum=poll_interval)

    def wait(self, job: JobRef, timeout: float | None, poll_interval: float | None) -> Operation[BatchJob]:
        [done] = yield from self.wait_all([job], {"timeout": timeout, "poll_interval": poll_interval})
        return done

    def watch(self, jobs: Iterable[JobRef], waiting: Mapping[str, Any]) -> Operation[builtins.list[BatchJob]]:
        """Follow ``jobs`` until all are terminal; each is emitted as it finishes."""
        schedule = self._schedule(waiting.get("poll_interval"))
        return watch(
            self.provider.name, self.provider.get, jobs, schedule, waiting.get("timeout"), waiting.get("on_update")
        )

    def wait_all(self, jobs: Iterable[JobRef], waiting: Mapping[str, Any]) -> Operation[builtins.list[BatchJob]]:
        return quiet(self.watch(jobs, waiting))

    def results(self, job: JobRef | JobGroup) -> Operation[builtins.list[FileResult]]:
        """One job's results, or every chunk's of a group (fetched concurrently), in order."""
        if not isinstance(job, JobGroup):
            return (yield from self.provider.results(job))
        per_job: builtins.list[builtins.list[FileResult]] = yield Parallel(
            [self.provider.results(j) for j in job.jobs], self.poll.concurrency
        )
        return [result for results in per_job for result in results]

    def download_artifacts(
        self, job: JobRef, dest: str | os.PathLike[str], extract: bool, limits: ExtractLimits | None
    ) -> Operation[Path]:
        ident = job_id(job)
        folder = Path(dest)
        sink = AtomicFile(folder / f"{ident}-artifacts.zip")
        try:
            yield from self.provider.artifacts(ident, sink)
        except BaseException:
            sink.discard()
            raise
        archive = sink.commit()
        return safe_extract(archive, folder / ident, limits or ExtractLimits()) if extract else archive
