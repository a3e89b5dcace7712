"""The synchronous client: executes the shared operations with ``httpx.Client``."""

from __future__ import annotations

import builtins
import os
import time
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import httpx

from batchkit._core.client_base import ClientBase
from batchkit._core.download import ExtractLimits
from batchkit._core.inputs import Paths
from batchkit._core.large import JobGroup
from batchkit._core.steps import Call, Emit, Operation, Parallel, Sleep, Step, drive, run
from batchkit.models import BatchJob, FileResult, JobRef, JobStatus

if TYPE_CHECKING:
    from typing_extensions import Unpack

    from batchkit._core.client_base import ManyInputs, SubmitInputs, WaitOptions

T = TypeVar("T")


class Client(ClientBase[httpx.Client]):
    """A provider client that blocks; make one with :func:`batchkit.connect`."""

    http_type = httpx.Client

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        if self._owns_http:
            self._http.close()

    def submit(self, files: Paths | None = None, **inputs: Unpack[SubmitInputs]) -> BatchJob:
        """Create a job from ``files``, ``urls``, ``text`` or a ``zip``; checked before anything is sent."""
        return self._run(self._session.submit(files, inputs))

    def submit_many(self, files: Paths, **inputs: Unpack[ManyInputs]) -> JobGroup:
        """Submit any number of files as provider-sized jobs, journaled in ``journal`` (sqlite).

        Re-running with the same files and journal resumes: chunks already sent are skipped; a chunk
        whose send was interrupted is matched to its job where the provider allows (Hume), else it
        raises :class:`AmbiguousSubmissionError` (with ``.group``) unless ``resend_ambiguous``.
        """
        return self._run(self._session.submit_many(files, inputs))

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

    def wait_all(self, jobs: Iterable[JobRef], **waiting: Unpack[WaitOptions]) -> builtins.list[BatchJob]:
        """Wait for every job (one bounded pool of requests, not a thread per job); in the order given."""
        return self._run(self._session.wait_all(jobs, waiting))

    def as_completed(self, jobs: Iterable[JobRef], **waiting: Unpack[WaitOptions]) -> Iterator[BatchJob]:
        """Yield each job as it finishes; a timeout raises :class:`WaitTimeoutError` with the rest."""
        return drive(self._session.watch(jobs, waiting), self._do)

    def results(self, job: JobRef | JobGroup) -> builtins.list[FileResult]:
        """One :class:`FileResult` per input (of every chunk, for a :class:`JobGroup`)."""
        return self._run(self._session.results(job))

    def download_artifacts(
        self, job: JobRef, dest: str | os.PathLike[str], *, extract: bool = False, limits: ExtractLimits | None = None
    ) -> Path:
        """Stream the job's artifacts zip into ``dest``; with ``extract``, unpack it safely."""
        return self._run(self._session.download_artifacts(job, dest, extract, limits))

    def _run(self, operation: Operation[T]) -> T:
        return run(operation, self._do)

    def _do(self, step: Step) -> Any:
        if isinstance(step, Emit):
            return None
        if isinstance(step, Sleep):
            time.sleep(step.seconds)
            return None
        if isinstance(step, Parallel):
            from concurrent.futures import ThreadPoolExecutor

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
