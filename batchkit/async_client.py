"""The asynchronous client: executes the shared operations with ``httpx.AsyncClient``."""

from __future__ import annotations

import asyncio
import builtins
import contextlib
import os
from collections.abc import AsyncIterator, Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import httpx

from batchkit._core.client_base import ClientBase
from batchkit._core.download import ExtractLimits
from batchkit._core.inputs import Paths
from batchkit._core.large import JobGroup
from batchkit._core.steps import Call, Done, Emit, Operation, Parallel, Sleep, Step, advance
from batchkit.models import BatchJob, FileResult, JobRef, JobStatus

if TYPE_CHECKING:
    from typing_extensions import Unpack

    from batchkit._core.client_base import ManyInputs, SubmitInputs, WaitOptions

T = TypeVar("T")


class AsyncClient(ClientBase[httpx.AsyncClient]):
    """The awaitable twin of :class:`batchkit.Client`; make one with :func:`batchkit.connect_async`."""

    http_type = httpx.AsyncClient

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        if self._owns_http:
            await self._http.aclose()

    async def submit(self, files: Paths | None = None, **inputs: Unpack[SubmitInputs]) -> BatchJob:
        """See :meth:`batchkit.Client.submit`."""
        return await self._run(self._session.submit(files, inputs))

    async def submit_many(self, files: Paths, **inputs: Unpack[ManyInputs]) -> JobGroup:
        """See :meth:`batchkit.Client.submit_many`."""
        return await self._run(self._session.submit_many(files, inputs))

    async def get(self, job: JobRef) -> BatchJob:
        """See :meth:`batchkit.Client.get`."""
        return await self._run(self._session.get(job))

    async def list(
        self, *, limit: int = 50, status: JobStatus | Iterable[JobStatus] | None = None, **filters: Any
    ) -> builtins.list[BatchJob]:
        """See :meth:`batchkit.Client.list`."""
        return await self._run(self._session.list(limit, status, filters))

    async def wait(self, job: JobRef, *, timeout: float | None = None, poll_interval: float | None = None) -> BatchJob:
        """See :meth:`batchkit.Client.wait`."""
        return await self._run(self._session.wait(job, timeout, poll_interval))

    async def wait_all(self, jobs: Iterable[JobRef], **waiting: Unpack[WaitOptions]) -> builtins.list[BatchJob]:
        """See :meth:`batchkit.Client.wait_all`."""
        return await self._run(self._session.wait_all(jobs, waiting))

    async def as_completed(self, jobs: Iterable[JobRef], **waiting: Unpack[WaitOptions]) -> AsyncIterator[BatchJob]:
        """See :meth:`batchkit.Client.as_completed`; use ``async for``."""
        operation = self._session.watch(jobs, waiting)
        with contextlib.closing(operation):
            step = advance(operation, None)
            while not isinstance(step, Done):
                if isinstance(step, Emit):
                    yield step.job
                step = advance(operation, await self._do(step))

    async def results(self, job: JobRef | JobGroup) -> builtins.list[FileResult]:
        """See :meth:`batchkit.Client.results`."""
        return await self._run(self._session.results(job))

    async def download_artifacts(
        self, job: JobRef, dest: str | os.PathLike[str], *, extract: bool = False, limits: ExtractLimits | None = None
    ) -> Path:
        """See :meth:`batchkit.Client.download_artifacts`."""
        return await self._run(self._session.download_artifacts(job, dest, extract, limits))

    async def _run(self, operation: Operation[T]) -> T:
        with contextlib.closing(operation):
            step = advance(operation, None)
            while not isinstance(step, Done):
                step = advance(operation, await self._do(step))
            return step.value

    async def _do(self, step: Step) -> Any:
        if isinstance(step, Emit):
            return None
        if isinstance(step, Sleep):
            await asyncio.sleep(step.seconds)
            return None
        if isinstance(step, Parallel):
            gate = asyncio.Semaphore(step.limit)

            async def bounded(operation: Operation[Any]) -> Any:
                async with gate:
                    return await self._run(operation)

            return list(await asyncio.gather(*(bounded(op) for op in step.operations)))
        return await self._send(step)

    async def _send(self, call: Call) -> httpx.Response | httpx.RequestError:
        try:
            response = await self._http.send(call.build(self._http), auth=self._session.auth, stream=True)
            try:
                sink = call.sink_for(response)
                if sink is None:
                    await response.aread()
                else:
                    async for chunk in response.aiter_bytes():
                        sink.write(chunk)
            finally:
                await response.aclose()
        except httpx.RequestError as exc:
            return exc
        return response
