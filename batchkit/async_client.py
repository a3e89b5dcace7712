"""The asynchronous client: executes the shared operations with ``httpx.AsyncClient``."""

from __future__ import annotations

import asyncio
import builtins
import contextlib
import os
from collections.abc import Iterable, Sequence
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


class AsyncClient:
    """The awaitable twin of :class:`batchkit.Client`; make one with :func:`batchkit.connect_async`."""

    def __init__(
        self,
        settings: config.Settings,
        *,
        http_client: httpx.AsyncClient | None = None,
        retry: RetryPolicy | None = None,
        poll: PollSchedule | None = None,
    ) -> None:
        self._session = Session(settings, retry=retry, poll=poll)
        self._http = http_client or httpx.AsyncClient()
        self._owns_http = http_client is None

    @property
    def provider(self) -> str:
        return self._session.provider.name

    def __repr__(self) -> str:
        return f"<batchkit.AsyncClient {self._session!r}>"

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        if self._owns_http:
            await self._http.aclose()

    async def submit(
        self,
        files: Paths | None = None,
        *,
        urls: Sequence[str] | None = None,
        text: Sequence[str] | str | None = None,
        zip: str | os.PathLike[str] | None = None,
        callback_url: str | None = None,
        options: Any = None,
    ) -> BatchJob:
        """See :meth:`batchkit.Client.submit`."""
        return await self._run(self._session.submit(Submission(files, urls, text, zip, callback_url, options)))

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

    async def results(self, job: JobRef) -> builtins.list[FileResult]:
        """See :meth:`batchkit.Client.results`."""
        return await self._run(self._session.results(job))

    async def download_artifacts(
        self, job: JobRef, dest: str | os.PathLike[str], *, extract: bool = False, limits: ExtractLimits | None = None
    ) -> Path:
        """See :meth:`batchkit.Client.download_artifacts`."""
        return await self._run(self._session.download_artifacts(job, Path(dest), extract, limits or ExtractLimits()))

    async def _run(self, operation: Operation[T]) -> T:
        with contextlib.closing(operation):
            outcome: Any = None
            while True:
                try:
                    step = operation.send(outcome)
                except StopIteration as done:
                    return done.value  # type: ignore[no-any-return]
                outcome = await self._do(step)

    async def _do(self, step: Step) -> Any:
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


def connect_async(
    provider: str | None = None,
    *,
    api_key: str | None = None,
    base_url: str | None = None,
    timeout: float | None = None,
    max_retries: int | None = None,
    config_file: str | os.PathLike[str] | None = None,
    http_client: httpx.AsyncClient | None = None,
) -> AsyncClient:
    """An :class:`AsyncClient`; use it as ``async with batchkit.connect_async(...) as client``."""
    settings = config.resolve(
        provider, api_key=api_key, base_url=base_url, timeout=timeout, max_retries=max_retries, config_file=config_file
    )
    return AsyncClient(settings, http_client=http_client)
