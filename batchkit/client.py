"""The synchronous client: executes the shared operations with ``httpx.Client``."""

from __future__ import annotations

import builtins
import contextlib
import os
import time
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

import httpx

from batchkit import config
from batchkit._core.download import ExtractLimits
from batchkit._core.inputs import Paths
from batchkit._core.polling import PollSchedule
from batchkit._core.retry import RetryPolicy
from batchkit._core.session import Session
from batchkit._core.steps import Call, Operation, Parallel, Sleep, Step
from batchkit.models import BatchJob, FileResult, JobRef, JobStatus
from batchkit.providers import Submission

T = TypeVar("T")


class Client:
    """A provider client that blocks; make one with :func:`batchkit.connect`."""

    def __init__(
        self,
        settings: config.Settings,
        *,
        http_client: httpx.Client | None = None,
        retry: RetryPolicy | None = None,
        poll: PollSchedule | None = None,
    ) -> None:
        self._session = Session(settings, retry=retry, poll=poll)
        self._http = http_client or httpx.Client()
        self._owns_http = http_client is None

    @property
    def provider(self) -> str:
        return self._session.provider.name

    def __repr__(self) -> str:
        return f"<batchkit.Client {self._session!r}>"

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        if self._owns_http:
            self._http.close()

    def submit(
        self,
        files: Paths | None = None,
        *,
        urls: Sequence[str] | None = None,
        text: Sequence[str] | str | None = None,
        zip: str | os.PathLike[str] | None = None,
        callback_url: str | None = None,
        options: Any = None,
    ) -> BatchJob:
        """Create a job; inputs are checked before anything is sent."""
        return self._run(self._session.submit(Submission(files, urls, text, zip, callback_url, options)))

    def get(self, job: JobRef) -> BatchJob:
        """The job's current state."""
        return self._run(self._session.get(job))

    def list(
        self, *, limit: int = 50, status: JobStatus | Iterable[JobStatus] | None = None, **filters: Any
    ) -> builtins.list[BatchJob]:
        """Recent jobs, newest first; ``filters`` are the provider's own list parameters."""
        return self._run(self._session.list(limit, status, filters))

    def wait(self, job: JobRef, *, timeout: float | None = None, poll_interval: float | None = None) -> BatchJob:
        """Poll until the job is terminal; :class:`WaitTimeoutError` after ``timeout`` seconds."""
        return self._run(self._session.wait(job, timeout, poll_interval))

    def results(self, job: JobRef) -> builtins.list[FileResult]:
        """One :class:`FileResult` per input."""
        return self._run(self._session.results(job))

    def download_artifacts(
        self, job: JobRef, dest: str | os.PathLike[str], *, extract: bool = False, limits: ExtractLimits | None = None
    ) -> Path:
        """Stream the job's artifacts zip into ``dest``; with ``extract``, unpack it safely."""
        return self._run(self._session.download_artifacts(job, Path(dest), extract, limits or ExtractLimits()))

    def _run(self, operation: Operation[T]) -> T:
        with contextlib.closing(operation):
            outcome: Any = None
            while True:
                try:
                    step = operation.send(outcome)
                except StopIteration as done:
                    return done.value  # type: ignore[no-any-return]
                outcome = self._do(step)

    def _do(self, step: Step) -> Any:
        if isinstance(step, Sleep):
            time.sleep(step.seconds)
            return None
        if isinstance(step, Parallel):
            with ThreadPoolExecutor(max_workers=step.limit) as pool:
                return list(pool.map(self._run, step.operations))
        return self._send(step)

    def _send(self, call: Call) -> httpx.Response | httpx.RequestError:
        try:
            response = self._http.send(call.build(self._http), auth=self._session.auth, stream=True)
            try:
                sink = call.sink_for(response)
                if sink is None:
                    response.read()
                else:
                    for chunk in response.iter_bytes():
                        sink.write(chunk)
            finally:
                response.close()
        except httpx.RequestError as exc:
            return exc
        return response


def connect(
    provider: str | None = None,
    *,
    api_key: str | None = None,
    base_url: str | None = None,
    timeout: float | None = None,
    max_retries: int | None = None,
    config_file: str | os.PathLike[str] | None = None,
    http_client: httpx.Client | None = None,
) -> Client:
    """A :class:`Client` for ``provider`` (or the configured one); see :mod:`batchkit.config`."""
    settings = config.resolve(
        provider, api_key=api_key, base_url=base_url, timeout=timeout, max_retries=max_retries, config_file=config_file
    )
    return Client(settings, http_client=http_client)
