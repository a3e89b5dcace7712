"""The asynchronous client: carries out the shared operations with ``httpx.AsyncClient``.

Requests in flight are bounded by one limiter for the client's lifetime (``PollSchedule.concurrency``),
shared by nested parallel work; disk work runs on the client's disk threads (as on the sync client);
siblings of a failed parallel operation are cancelled, and awaited, before the failure is raised.
"""

from __future__ import annotations

import asyncio
import builtins
import contextlib
import importlib.util
import os
import sys
import time
from collections.abc import AsyncIterator, Callable, Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar, overload

import httpx

from batchkit._kernel.download import ExtractLimits
from batchkit._kernel.inputs import Paths
from batchkit._kernel.not_given import NOT_GIVEN, NotGiven
from batchkit._kernel.steps import (
    END,
    EXCHANGE_BOUND,
    Blocking,
    Call,
    Done,
    Emit,
    Failed,
    Identified,
    Items,
    NextItem,
    NotSent,
    Operation,
    Parallel,
    ReplyTooSlow,
    Sleep,
    Step,
    advance,
    redirect,
)
from batchkit._kernel.streams import AsyncByteReader
from batchkit._orchestration.client_base import ClientBase
from batchkit._orchestration.groups import JobGroup
from batchkit._orchestration.operations import Operations
from batchkit._orchestration.workers import WorkSummary
from batchkit.errors import BatchkitError
from batchkit.models import BatchJob, FileResult, JobRef, JobStatus

if TYPE_CHECKING:
    from typing_extensions import Unpack

    from batchkit._orchestration.client_base import (
        ClientSettings,
        ManyInputs,
        RunInputs,
        SubmitInputs,
        WaitOptions,
        WorkOptions,
    )


def _record_that_sniffio_is_absent() -> None:
    """httpcore 1.0 runs ``import sniffio`` for every async lock and request, and Python does not cache a
    failed import: each try walks ``sys.path`` again (httpcore PR 1103), a fifth of a worker's CPU.
    Where sniffio is not installed, say so once in ``sys.modules``: the import then fails at once."""
    if "sniffio" not in sys.modules and importlib.util.find_spec("sniffio") is None:
        sys.modules["sniffio"] = None  # type: ignore[assignment]


_record_that_sniffio_is_absent()

T = TypeVar("T")


class AsyncClient(ClientBase[httpx.AsyncClient]):
    """The awaitable twin of :class:`batchkit.Client`: ``batchkit.AsyncClient("hume")`` or
    :func:`batchkit.connect_async`."""

    http_type = httpx.AsyncClient

    def __init__(
        self, provider: str | None = None, *, http_client: httpx.AsyncClient | None = None,
        **settings: Unpack[ClientSettings],
    ) -> None:  # fmt: skip
        super().__init__(provider, http_client=http_client, **settings)
        self._limiter = asyncio.Semaphore(self._ops.poll.concurrency)

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the connections and the threads; the client (and every copy from ``with_options``)
        then raises :class:`ClientClosedError`. A copy's ``aclose`` closes nothing."""
        if self._is_copy:
            return
        if self._owns_http:
            await self._http.aclose()
        await asyncio.to_thread(self._threads.close)

    async def submit(
        self, files: Paths | None = None, *, timeout: float | NotGiven = NOT_GIVEN, **inputs: Unpack[SubmitInputs]
    ) -> BatchJob:
        """See :meth:`batchkit.Client.submit`."""
        ops = self._configured(timeout)
        return await self._run(ops, ops.submit(files, inputs))

    async def submit_many(
        self, files: Paths, *, timeout: float | NotGiven = NOT_GIVEN, **inputs: Unpack[ManyInputs]
    ) -> JobGroup:
        """See :meth:`batchkit.Client.submit_many`."""
        ops = self._configured(timeout)
        return await self._run(ops, ops.submit_many(files, inputs))

    async def enqueue(self, files: Paths, *, timeout: float | NotGiven = NOT_GIVEN, **inputs: Unpack[RunInputs]) -> str:
        """See :meth:`batchkit.Client.enqueue`."""
        ops = self._configured(timeout)
        return await self._run(ops, ops.enqueue(files, inputs))

    async def _enqueue_chained(self, files: Paths, chain: Mapping[str, Any], **inputs: Any) -> str:
        """See :meth:`batchkit.Client._enqueue_chained`."""
        return await self._run(self._ops, self._ops.enqueue(files, inputs, chain))

    async def work(self, journal: str | os.PathLike[str], **options: Unpack[WorkOptions]) -> WorkSummary:
        """See :meth:`batchkit.Client.work`."""
        return await self._run(self._ops, self._ops.work(journal, options))

    async def get(self, job: JobRef, *, timeout: float | NotGiven = NOT_GIVEN) -> BatchJob:
        """See :meth:`batchkit.Client.get`."""
        ops = self._configured(timeout)
        return await self._run(ops, ops.get(job))

    async def list(
        self, *, limit: int = 50, status: JobStatus | Iterable[JobStatus] | None = None,
        timeout: float | NotGiven = NOT_GIVEN, **filters: Any,
    ) -> AsyncIterator[BatchJob]:  # fmt: skip
        """See :meth:`batchkit.Client.list`; use ``async for``."""
        ops = self._configured(timeout)
        async for job in self._emitted(ops, ops.list(limit, status, filters)):
            yield job

    async def wait(self, job: JobRef, *, timeout: float | None = None, poll_interval: float | None = None) -> BatchJob:
        """See :meth:`batchkit.Client.wait`."""
        return await self._run(self._ops, self._ops.wait(job, timeout, poll_interval))

    @overload
    async def wait_all(self, jobs: JobGroup, **waiting: Unpack[WaitOptions]) -> JobGroup: ...  # type: ignore[overload-overlap]

    @overload
    async def wait_all(self, jobs: Iterable[JobRef], **waiting: Unpack[WaitOptions]) -> builtins.list[BatchJob]: ...

    async def wait_all(
        self, jobs: Iterable[JobRef] | JobGroup, **waiting: Unpack[WaitOptions]
    ) -> builtins.list[BatchJob] | JobGroup:
        """See :meth:`batchkit.Client.wait_all`."""
        return await self._run(self._ops, self._ops.wait_all(jobs, waiting))

    async def as_completed(self, jobs: Iterable[JobRef], **waiting: Unpack[WaitOptions]) -> AsyncIterator[BatchJob]:
        """See :meth:`batchkit.Client.as_completed`; use ``async for``."""
        async for job in self._emitted(self._ops, self._ops.watch(jobs, waiting)):
            yield job

    async def results(
        self, job: JobRef | JobGroup, *, timeout: float | NotGiven = NOT_GIVEN
    ) -> builtins.list[FileResult[Any]]:
        """See :meth:`batchkit.Client.results`."""
        ops = self._configured(timeout)
        return await self._run(ops, ops.results(job))

    async def iter_results(
        self, job: JobRef, *, timeout: float | NotGiven = NOT_GIVEN
    ) -> AsyncIterator[FileResult[Any]]:
        """See :meth:`batchkit.Client.iter_results`; use ``async for``."""
        ops = self._configured(timeout)
        async for result in self._emitted(ops, ops.stream(job)):
            yield result

    async def download_artifacts(
        self, job: JobRef, dest: str | os.PathLike[str], *, extract: bool = False, limits: ExtractLimits | None = None,
        timeout: float | NotGiven = NOT_GIVEN,
    ) -> Path:  # fmt: skip
        """See :meth:`batchkit.Client.download_artifacts`."""
        ops = self._configured(timeout)
        return await self._run(ops, ops.download_artifacts(job, dest, extract, limits))

    async def _run(self, ops: Operations, operation: Operation[T]) -> T:
        self._check_open()
        with contextlib.closing(operation):
            step = advance(operation, None)
            while not isinstance(step, Done):
                step = advance(operation, await self._do(ops, step))
            return step.value

    async def _emitted(self, ops: Operations, operation: Operation[Any]) -> AsyncIterator[Any]:
        """Carry out ``operation``, yielding what it emits; item sources it opens close with it."""
        self._check_open()
        async with contextlib.AsyncExitStack() as opened:
            with contextlib.closing(operation):
                step = advance(operation, None)
                while not isinstance(step, Done):
                    if isinstance(step, Emit):
                        yield step.value
                    step = advance(operation, await self._do(ops, step, opened))

    async def _do(self, ops: Operations, step: Step, opened: contextlib.AsyncExitStack | None = None) -> Any:
        if isinstance(step, (Emit, Identified)):  # an id no journal keeps here
            return None
        if isinstance(step, (Items, NextItem)):
            assert opened is not None, "item sources are read only by _emitted"
            try:
                return await (self._open(ops, step.call, opened) if isinstance(step, Items) else
                              anext(step.source, END))  # fmt: skip
            except Exception as exc:
                return Failed(exc)
        if isinstance(step, Sleep):
            await ops.clock.asleep(step.seconds)
            return None
        if isinstance(step, Blocking):
            try:
                return await self._on_disk(step.fn)
            except Exception as exc:
                return Failed(exc)
        if isinstance(step, Parallel):
            return await self._parallel(ops, step)
        async with self._limiter:
            since = None
            if step.before is not None:  # the slot is held: nothing waits between it and the send
                try:
                    since = await self._on_disk(step.before)
                except Exception as exc:
                    return NotSent(exc)
            if step.total is None:
                return await self._send(ops, step, since)
            bound = EXCHANGE_BOUND * step.total
            try:
                if sys.version_info >= (3, 11):  # a deadline on this task: no task of its own per request
                    async with asyncio.timeout(bound):
                        return await self._send(ops, step, since)
                return await asyncio.wait_for(self._send(ops, step, since), bound)
            except asyncio.TimeoutError:
                return ReplyTooSlow()

    async def _on_disk(self, fn: Callable[[], Any]) -> Any:
        """``fn()`` on a disk thread; once begun it ends before a cancellation goes on (a claim, a write)."""
        work = asyncio.get_running_loop().run_in_executor(self._threads.pool("disk"), fn)
        try:
            return await asyncio.shield(work)
        except asyncio.CancelledError:
            await asyncio.wait([work])
            if not work.cancelled():
                work.exception()  # seen: what it raised is moot once cancelled, and asyncio would log it
            raise

    async def _open(self, ops: Operations, call: Call, opened: contextlib.AsyncExitStack) -> Any:
        """The items of ``call``'s reply as they are parsed; or a refusal, read whole."""
        import ijson

        files = opened.enter_context(contextlib.ExitStack())
        response = await self._http.send(call.build(self._http, files, None), auth=ops.auth, stream=True)
        opened.push_async_callback(response.aclose)
        if not response.is_success:
            await response.aread()
            return response
        return ijson.items_async(AsyncByteReader(response.aiter_bytes()), "item", use_float=True).__aiter__()

    async def _parallel(self, ops: Operations, step: Parallel) -> Any:
        """Every operation's value in order; the first failure cancels the rest and is thrown in."""
        tasks = [asyncio.ensure_future(self._run(ops, op)) for op in step.operations]
        try:
            if tasks:
                await asyncio.wait(tasks, return_when=asyncio.FIRST_EXCEPTION)
            failed = next((t for t in tasks if t.done() and not t.cancelled() and t.exception()), None)
            if failed is None:
                return [t.result() for t in tasks]
            return Failed(failed.exception() or RuntimeError("unreachable"))
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

    async def _send(self, ops: Operations, call: Call,
                    since: float | None = None) -> httpx.Response | httpx.RequestError | BatchkitError:  # fmt: skip
        try:
            with contextlib.ExitStack() as stack:
                request = call.build(self._http, stack, ops.on_upload, since)
                response = await self._http.send(request, auth=ops.auth, stream=True, follow_redirects=False)
                hops = 0
                while (hop := redirect(self._http, response, hops)) is not None:
                    hops += 1
                    await response.aclose()
                    response = await self._http.send(hop, auth=ops.auth, stream=True, follow_redirects=False)
                try:
                    reading = call.reading(response, time.monotonic)
                    async for chunk in response.aiter_bytes():
                        reading.feed(chunk)
                finally:
                    await response.aclose()
        except (httpx.RequestError, BatchkitError) as exc:
            return exc
        return reading.response()
