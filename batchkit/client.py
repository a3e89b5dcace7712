"""The synchronous client: carries out the shared operations with ``httpx.Client``.

One driver runs an operation and every operation nested in it (``Parallel``) as generators in the
calling thread; requests go to one pool of ``PollSchedule.concurrency`` threads owned by the client,
so nested parallel work shares one budget and the thread count stays bounded; disk work goes to
threads of its own, so the driver is always free to renew leases and fire timers.
"""

from __future__ import annotations

import builtins
import contextlib
import heapq
import itertools
import os
import queue
import time
from collections import deque
from collections.abc import Callable, Generator, Iterable, Iterator, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar, cast, overload

import attrs
import httpx

from batchkit._kernel.deadlines import ExchangeTooLong, bounded_client, within
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
from batchkit._kernel.streams import ByteReader
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

T = TypeVar("T")


class Client(ClientBase[httpx.Client]):
    """A provider client that blocks: ``batchkit.Client("hume")`` or :func:`batchkit.connect`."""

    http_type = httpx.Client

    def __init__(
        self, provider: str | None = None, *, http_client: httpx.Client | None = None,
        **settings: Unpack[ClientSettings],
    ) -> None:  # fmt: skip
        super().__init__(provider, http_client=http_client, **settings)

    @classmethod
    def _own_http(cls, verify: Any) -> tuple[httpx.Client, Callable[[str], bool] | None]:
        return bounded_client(verify)

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the connections and the threads; the client (and every copy from ``with_options``)
        then raises :class:`ClientClosedError`. A copy's ``close`` closes nothing."""
        if self._is_copy:
            return
        if self._owns_http:
            self._http.close()  # first: a request still running on a thread then ends at once
        self._threads.close()

    def submit(
        self, files: Paths | None = None, *, timeout: float | NotGiven = NOT_GIVEN, **inputs: Unpack[SubmitInputs]
    ) -> BatchJob:
        """Create a job from ``files``, ``urls``, ``text`` or a ``zip``; checked before anything is sent."""
        ops = self._configured(timeout)
        return self._run(ops, ops.submit(files, inputs))

    def submit_many(
        self, files: Paths, *, timeout: float | NotGiven = NOT_GIVEN, **inputs: Unpack[ManyInputs]
    ) -> JobGroup:
        """Submit any number of files as provider-sized jobs, sent from this process one chunk after
        another and journaled in ``journal`` (a sqlite file or a ``postgresql://`` URL) as a run.

        Re-running with the same files and journal resumes: chunks already sent are skipped; a chunk
        whose send was interrupted is matched to its job where the provider allows, else it raises
        :class:`AmbiguousSubmissionError` (with ``.group``) unless ``resend_ambiguous``. ``wait=True``
        also follows the jobs and collects every file's result into the journal.
        """
        ops = self._configured(timeout)
        return self._run(ops, ops.submit_many(files, inputs))

    def enqueue(self, files: Paths, *, timeout: float | NotGiven = NOT_GIVEN, **inputs: Unpack[RunInputs]) -> str:
        """Record ``files`` as a run in ``journal`` for workers to send; its id.

        Every chunk is checked as the provider would before anything is recorded. The same files and
        settings give the same run: enqueuing again records nothing new.
        """
        ops = self._configured(timeout)
        return self._run(ops, ops.enqueue(files, inputs))

    def _enqueue_chained(self, files: Paths, chain: Mapping[str, Any], **inputs: Any) -> str:
        """:meth:`enqueue` as a part of provider chain ``chain`` (:mod:`batchkit.chains`)."""
        return self._run(self._ops, self._ops.enqueue(files, inputs, chain))

    def work(self, journal: str | os.PathLike[str], **options: Unpack[WorkOptions]) -> WorkSummary:
        """Work the runs of this client's provider in ``journal``: send their chunks, follow their
        jobs, collect their results into the journal. Any number of workers, on any hosts, may share
        one journal; each chunk is created once. Runs until cancelled, or ``until_done``.
        """
        return self._run(self._ops, self._ops.work(journal, options))

    def get(self, job: JobRef, *, timeout: float | NotGiven = NOT_GIVEN) -> BatchJob:
        """The job's current state."""
        ops = self._configured(timeout)
        return self._run(ops, ops.get(job))

    def list(
        self, *, limit: int = 50, status: JobStatus | Iterable[JobStatus] | None = None,
        timeout: float | NotGiven = NOT_GIVEN, **filters: Any,
    ) -> Iterator[BatchJob]:  # fmt: skip
        """Recent jobs, newest first, ``limit`` in all, as they come: the provider's pages are asked one
        after another while you iterate; ``filters`` are the provider's own list parameters (one the
        provider does not know is an :class:`InputError` at the first step, before anything is sent)."""
        ops = self._configured(timeout)
        return self._drive(ops, ops.list(limit, status, filters))

    def wait(self, job: JobRef, *, timeout: float | None = None, poll_interval: float | None = None) -> BatchJob:
        """Poll until the job is terminal and return it as it is then (``job`` itself, a frozen value, is
        not changed; ``results``/``iter_results`` refresh a job given them that had not ended);
        :class:`WaitTimeoutError` after ``timeout`` seconds."""
        return self._run(self._ops, self._ops.wait(job, timeout, poll_interval))

    @overload
    def wait_all(self, jobs: JobGroup, **waiting: Unpack[WaitOptions]) -> JobGroup: ...  # type: ignore[overload-overlap]

    @overload
    def wait_all(self, jobs: Iterable[JobRef], **waiting: Unpack[WaitOptions]) -> builtins.list[BatchJob]: ...

    def wait_all(
        self, jobs: Iterable[JobRef] | JobGroup, **waiting: Unpack[WaitOptions]
    ) -> builtins.list[BatchJob] | JobGroup:
        """Wait for every job (one bounded pool of requests, not a thread per job); in the order given."""
        return self._run(self._ops, self._ops.wait_all(jobs, waiting))

    def as_completed(self, jobs: Iterable[JobRef], **waiting: Unpack[WaitOptions]) -> Iterator[BatchJob]:
        """Yield each job as it finishes; a timeout raises :class:`WaitTimeoutError` with the rest."""
        return self._drive(self._ops, self._ops.watch(jobs, waiting))

    def results(
        self, job: JobRef | JobGroup, *, timeout: float | NotGiven = NOT_GIVEN
    ) -> builtins.list[FileResult[Any]]:
        """One :class:`FileResult` per input (of every chunk, for a :class:`JobGroup`)."""
        ops = self._configured(timeout)
        return self._run(ops, ops.results(job))

    def iter_results(self, job: JobRef, *, timeout: float | NotGiven = NOT_GIVEN) -> Iterator[FileResult[Any]]:
        """Each result as it arrives: Hume's predictions are parsed from the socket one input at a time
        (with ``batchkit[stream]``), so memory holds one input's predictions, not the reply; elsewhere
        the results are fetched, then handed out one by one. A stream is not retried once it has begun."""
        ops = self._configured(timeout)
        return self._drive(ops, ops.stream(job))

    def download_artifacts(
        self, job: JobRef, dest: str | os.PathLike[str], *, extract: bool = False, limits: ExtractLimits | None = None,
        timeout: float | NotGiven = NOT_GIVEN,
    ) -> Path:  # fmt: skip
        """Stream the job's artifacts zip into ``dest``; with ``extract``, unpack it safely."""
        ops = self._configured(timeout)
        return self._run(ops, ops.download_artifacts(job, dest, extract, limits))

    def _run(self, ops: Operations, operation: Operation[T]) -> T:
        self._check_open()
        run = _Run(self, ops, operation)
        try:
            for _ in run.loop():  # what a root operation emits is only for as_completed
                pass
        finally:
            run.close()
        return cast(T, run.value)

    def _drive(self, ops: Operations, operation: Operation[T]) -> Generator[Any, None, T]:
        """Carry out ``operation`` and everything nested in it, yielding what it emits; return its value."""
        self._check_open()
        run = _Run(self, ops, operation)
        try:
            yield from run.loop()
        finally:
            run.close()
        return cast(T, run.value)

    def _send(self, ops: Operations, call: Call,
              bounded: bool = False) -> httpx.Response | httpx.RequestError | BatchkitError | NotSent:  # fmt: skip
        """Send ``call`` and read its reply; ``bounded``: its whole exchange bounded here, by the connection."""
        since = None
        if call.before is not None:  # in this thread: the pool's slot is held, nothing waits between
            try:
                since = call.before()
            except Exception as exc:
                return NotSent(exc)
        deadline = time.monotonic() + EXCHANGE_BOUND * call.total if bounded and call.total is not None else None
        try:
            with within(deadline), contextlib.ExitStack() as stack:
                request = call.build(self._http, stack, ops.on_upload, since)
                response = self._http.send(request, auth=ops.auth, stream=True, follow_redirects=False)
                hops = 0
                while (hop := redirect(self._http, response, hops)) is not None:
                    hops += 1
                    response.close()
                    response = self._http.send(hop, auth=ops.auth, stream=True, follow_redirects=False)
                try:
                    reading = call.reading(response, time.monotonic)
                    for chunk in response.iter_bytes():
                        reading.feed(chunk)
                finally:
                    response.close()
        except (httpx.RequestError, BatchkitError, ExchangeTooLong) as exc:
            if isinstance(exc, ExchangeTooLong) or (isinstance(exc, httpx.TimeoutException) and deadline is not None
                                                    and time.monotonic() >= deadline):  # fmt: skip
                return ReplyTooSlow()
            return exc
        return reading.response()


class _Task:
    """One operation in a run, and where its value goes (its parent's results)."""

    def __init__(self, operation: Operation[Any], parent: _Task | None = None, index: int = 0) -> None:
        self.operation = operation
        self.parent = parent
        self.index = index
        self.children: list[_Task] = []
        self.results: list[Any] = []
        self.left = 0
        self.over = False
        self.step: Future[Any] | None = None
        """Its step running on a thread (a request, disk work)."""


@attrs.define
class _Drain:
    """Cancelled tasks whose steps still run: closed, in order, once those steps end; then ``then``."""

    tasks: list[_Task]
    running: set[Future[Any]]
    then: tuple[_Task, Failed] | None


def _carried_out(fn: Callable[[], Any]) -> Any:
    """``fn()``, or what it raised as a :class:`Failed` (disk work on a thread)."""
    try:
        return fn()
    except Exception as exc:
        return Failed(exc)


class _Run:
    """Advances a root operation and its nested ones in the calling thread; requests and disk work run
    on the client's threads, sleeps on the clock. A task cancelled while its step runs is closed once
    that step has ended (as an asyncio task is), and a failure reaches the parent only after that.

    Each step on a thread reports its end to one queue the calling thread waits on, bounded by the next
    timer or exchange deadline: one wake-up per step, however many run."""

    def __init__(self, client: Client, ops: Operations, operation: Operation[Any]) -> None:
        self.client, self.ops = client, ops
        self.root = _Task(operation)
        self.ready: deque[tuple[_Task, Any]] = deque([(self.root, None)])
        self.running: dict[Future[Any], _Task] = {}
        self.ended: queue.SimpleQueue[Future[Any]] = queue.SimpleQueue()
        """Steps whose threads are done (or that were cancelled before they began), as they end."""
        self.deadlines: dict[Future[Any], float] = {}
        self.drains: list[_Drain] = []
        self.timers: list[tuple[float, int, _Task]] = []
        self.order = itertools.count()
        self.value: Any = None
        self.opened: list[contextlib.ExitStack] = []

    def loop(self) -> Generator[Any, None, None]:
        """Run to the end, yielding what the root emits; the root's value is then :attr:`value`."""
        while True:
            while self.ready:
                task, outcome = self.ready.popleft()
                if task.over:
                    continue
                try:
                    step = advance(task.operation, outcome)
                except BaseException as exc:
                    if task is self.root or not isinstance(exc, Exception):
                        raise
                    self._fail(task, exc)
                    continue
                if isinstance(step, Done):
                    if task is self.root:
                        self.value = step.value
                        return
                    self._finish(task, step.value)
                elif isinstance(step, Emit):
                    if task is self.root:
                        yield step.value
                    self.ready.appendleft((task, None))
                else:
                    self._start(task, step)
            self._wait()

    def _start(self, task: _Task, step: Step) -> None:
        threads = self.client._threads
        if isinstance(step, Call):
            open_to = self.client._open_to
            if open_to is not None and not (self.running or self.timers or self.ready) and open_to(step.base_url):
                self.ready.append((task, self.client._send(self.ops, step, bounded=True)))  # alone: sent here
                return
            future = self._on_thread(task, threads.pool("requests"), self.client._send, self.ops, step)
            if step.total is not None:
                self.deadlines[future] = time.monotonic() + EXCHANGE_BOUND * step.total
        elif isinstance(step, Blocking):  # off this thread: the heartbeat renewing leases runs here
            self._on_thread(task, threads.pool("disk"), _carried_out, step.fn)
        elif isinstance(step, Sleep):
            due = self.ops.clock.monotonic() + step.seconds
            heapq.heappush(self.timers, (due, next(self.order), task))
        elif isinstance(step, (Items, NextItem)):  # a streamed reply, read where it is handed out
            try:
                outcome = self._open(step.call) if isinstance(step, Items) else next(step.source, END)
            except Exception as exc:
                outcome = Failed(exc)
            self.ready.append((task, outcome))
        elif isinstance(step, Identified):  # an id no journal keeps here
            self.ready.append((task, None))
        elif isinstance(step, Parallel):
            task.children = [_Task(op, task, i) for i, op in enumerate(step.operations)]
            task.results, task.left = [None] * len(task.children), len(task.children)
            if not task.children:
                self.ready.append((task, []))
            self.ready.extend((child, None) for child in task.children)

    def _on_thread(self, task: _Task, pool: ThreadPoolExecutor, fn: Callable[..., Any], *args: Any) -> Future[Any]:
        """Run ``task``'s step on ``pool``; its end is reported to :attr:`ended`."""
        future = pool.submit(fn, *args)
        task.step = future
        self.running[future] = task
        future.add_done_callback(self.ended.put)
        return future

    def _open(self, call: Call) -> Any:
        """The items of ``call``'s reply as they are parsed, closed with the run; or a refusal, read whole."""
        import ijson

        stack = contextlib.ExitStack()
        self.opened.append(stack)
        request = call.build(self.client._http, stack, None)
        response = self.client._http.send(request, auth=self.ops.auth, stream=True)
        stack.callback(response.close)
        if not response.is_success:
            response.read()
            return response
        return iter(ijson.items(ByteReader(response.iter_bytes()), "item", use_float=True))

    def _finish(self, task: _Task, value: Any) -> None:
        task.over = True
        parent = task.parent
        assert parent is not None
        parent.results[task.index] = value
        parent.left -= 1
        if parent.left == 0:
            self.ready.append((parent, parent.results))

    def _fail(self, task: _Task, error: Exception) -> None:
        """``task`` failed: its siblings are cancelled, and once their steps have ended the failure is
        raised in its parent."""
        task.over = True
        parent = task.parent
        assert parent is not None
        self._drain(parent.children, (parent, Failed(error)))

    def _drain(self, tasks: list[_Task], then: tuple[_Task, Failed] | None) -> None:
        """Cancel ``tasks`` and what they run; each is closed once its step has ended (children first)."""
        drain = _Drain([], set(), then)
        for task in tasks:
            self._cancel(task, drain)
        self.drains.append(drain)
        self._drained()

    def _cancel(self, task: _Task, drain: _Drain) -> None:
        for child in task.children:
            self._cancel(child, drain)
        if task.over:
            return
        task.over = True
        if task.step is not None:
            if task.step.cancel():  # it never began: nothing to wait for
                self.running.pop(task.step, None)
                self.deadlines.pop(task.step, None)
            else:
                drain.running.add(task.step)
        drain.tasks.append(task)

    def _drained(self) -> None:
        """Close the cancelled tasks whose steps have all ended; deliver what waited for them."""
        for drain in [d for d in self.drains if not d.running & self.running.keys()]:
            self.drains.remove(drain)
            for task in drain.tasks:
                task.operation.close()
            if drain.then is not None:
                self.ready.append(drain.then)

    def _ended(self, future: Future[Any], outcome: Callable[[], Any]) -> None:
        """``future``'s step has ended (or was cut off): it is forgotten first, so that what ``outcome()``
        raises (a BaseException a step let out) leaves nothing for :meth:`close` to wait on."""
        task = self.running.pop(future)
        self.deadlines.pop(future, None)
        value = outcome()
        if not task.over:
            task.step = None
            self.ready.append((task, value))

    def _wait(self) -> None:
        clock = self.ops.clock
        if self.running:
            limits = [due - time.monotonic() for due in self.deadlines.values()]
            if self.timers:
                limits.append(self.timers[0][0] - clock.monotonic())
            ended: list[Future[Any]] = []
            try:
                ended.append(self.ended.get(timeout=max(0.0, min(limits)) if limits else None))
                while True:
                    ended.append(self.ended.get_nowait())
            except queue.Empty:
                pass
            for i, future in enumerate(ended):
                if future in self.running:  # else it was cancelled before it began, or cut off by its deadline
                    try:
                        self._ended(future, future.result)
                    except BaseException:  # a step let one out: the ends not yet seen are kept for close()
                        for rest in ended[i + 1 :]:
                            self.ended.put(rest)
                        raise
            now = time.monotonic()
            for future, due in list(self.deadlines.items()):
                if now > due:  # the thread finishes on its own; its answer is not awaited
                    self._ended(future, lambda: ReplyTooSlow())
            self._drained()
        elif self.timers:
            clock.sleep(max(0.0, self.timers[0][0] - clock.monotonic()))
        now = clock.monotonic()
        while self.timers and self.timers[0][0] <= now:
            self.ready.append((heapq.heappop(self.timers)[2], None))

    def close(self) -> None:
        """Close every operation still open once its step has ended (the root last, so its cleanup
        runs after its children's): nothing this run sent is still in flight when it returns."""
        try:
            self._drain(self.root.children, None)
            while self.drains:
                self._wait()
        finally:
            self.root.operation.close()
            for stack in self.opened:
                stack.close()
