"""What an operation asks its executor to do.

An operation is a generator: it yields steps and receives their outcomes. The executors
(sync and async) only carry steps out; every decision is made in the generator.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import AsyncIterator, Callable, Generator, Sequence
from typing import Any, Generic, Protocol, TypeVar

import attrs
import httpx

from batchkit.errors import ResponseFormatError

from .inputs import UPLOAD_CHUNK, FileChangedError, LocalFile, Progress, UploadFile

T = TypeVar("T")

Operation = Generator["Step", Any, T]
"""A pure operation: a generator of steps, given each step's outcome, that returns a ``T``."""


class Sink(Protocol):
    """Where a streamed response body goes."""

    def restart(self) -> None: ...

    def write(self, chunk: bytes) -> None: ...


@attrs.frozen
class Upload:
    """One file part of a multipart request: opened, and read at its checked size, only when sent."""

    field: str
    file: LocalFile
    content_type: str

    def open(self, stack: contextlib.ExitStack, progress: Progress | None, deadline: float | None = None) -> UploadFile:
        """The file opened for sending (closed with ``stack``), read until ``deadline``; one gone since its
        check is an error."""
        try:
            handle = stack.enter_context(open(self.file.path, "rb"))  # noqa: SIM115 - the stack closes it
        except (OSError, ValueError) as exc:
            raise FileChangedError(f"{self.file.path}: cannot be opened for upload ({exc})") from None
        return UploadFile(handle, self.file, progress, deadline)


KEYLESS = "batchkit.keyless"
"""The request extension marking a request to a whole URL (a presigned one): no key header goes with it."""


@attrs.frozen
class Call:
    """Send one HTTP request; the outcome is an ``httpx.Response`` or an ``httpx.TransportError``.

    ``creates`` marks a job-creating request, which is never re-sent once it may have arrived.
    With a ``sink``, a successful body is streamed into it instead of being read into memory.
    Providers leave ``timeout`` unset; the orchestration fills it from the client's settings.
    """

    method: str
    base_url: str
    path: str = attrs.field(repr=lambda path: path.partition("?")[0])
    """Appended to ``base_url`` (or, with ``base_url=""``, a whole URL: a presigned one's query is never shown,
    and it never carries the provider's key: such a URL holds its own authority)."""
    params: Sequence[tuple[str, str]] = ()
    json: Any = None
    data: dict[str, str] | None = None
    uploads: Sequence[Upload] = ()
    parts: Sequence[tuple[str, str, str]] = ()
    """Text parts with a content type of their own, ``(name, text, content type)`` (a JSON ``config``)."""
    body: Upload | None = None
    """A file sent as the whole body, at its checked size (a PUT to a presigned URL)."""
    creates: bool = False
    sink: Sink | None = attrs.field(default=None, eq=False)
    max_bytes: int = 16 * 1024 * 1024
    """The largest reply read into memory (a streamed download is not bounded)."""
    timeout: httpx.Timeout | None = None
    total: float | None = None
    """Seconds the whole exchange may take once the reply has begun (None: each read is bounded only)."""
    upload_total: float | None = None
    """Seconds the upload of its files may take in all, from the moment ``before`` names (else from when
    it is built; None: no bound)."""
    before: Callable[[], float | None] | None = attrs.field(default=None, eq=False, repr=False)
    """Disk work the executor does once a slot to send is held, just before the request is written (a
    worker's intent: nothing waits between it and the send); what it raises comes back as :class:`NotSent`.
    It returns the moment (``time.monotonic()``) the upload's bound counts from: the first intent, taken
    before it was journaled, so a process stopped after journaling it cannot send a whole body later."""
    _reported: list[int] = attrs.field(factory=lambda: [0], eq=False, repr=False, alias="_reported")
    """Upload bytes reported to the progress callback, taken back when a retry starts again."""

    @property
    def target(self) -> str:
        """The method and path, without a query (a presigned URL's signature is never shown)."""
        return f"{self.method} {self.path.partition('?')[0]}"

    def reading(self, response: httpx.Response, now: Callable[[], float]) -> Reading:
        """How ``response``'s body is to be taken in (``now`` is the executor's monotonic clock)."""
        return Reading(self, response, now)

    def build(
        self, http: httpx.Client | httpx.AsyncClient, stack: contextlib.ExitStack, progress: Progress | None,
        since: float | None = None,
    ) -> httpx.Request:
        """The request, with upload files opened on ``stack`` (closed by the caller after sending); the
        upload's bound counts from ``since`` (``time.monotonic()``, what ``before`` returned), or from now."""
        if progress is not None and self.uploads:
            progress = self._counted(progress)
        begun = time.monotonic() if since is None else since
        deadline = None if self.upload_total is None else begun + self.upload_total
        files: list[tuple[str, Any]] = [
            (u.field, (u.file.name, u.open(stack, progress, deadline), u.content_type)) for u in self.uploads
        ]
        files += [(name, (None, text.encode(), kind)) for name, text, kind in self.parts]
        content: Any = None
        headers = None
        if self.body is not None:
            content = _pieces(self.body.open(stack, progress, deadline), isinstance(http, httpx.AsyncClient))
            headers = {"Content-Type": self.body.content_type, "Content-Length": str(self.body.file.size)}
        request = http.build_request(
            self.method,
            self.base_url + self.path,
            params=list(self.params) or None,
            json=self.json,
            data=self.data,
            files=files or None,
            content=content,
            headers=headers,
            timeout=self.timeout if self.timeout is not None else httpx.USE_CLIENT_DEFAULT,
            extensions={KEYLESS: True} if not self.base_url else None,
        )
        if not self.base_url and request.url.query:  # a presigned URL: httpx's log line must not show its query
            PRESIGNED.hide(request.url)
        return request

    def _counted(self, progress: Progress) -> Progress:
        """``progress``, after taking back what an earlier attempt of this call reported."""
        reported = self._reported
        if reported[0]:
            progress(-reported[0])
            reported[0] = 0

        def report(sent: int) -> None:
            reported[0] += sent
            progress(sent)

        return report


class PresignedQueries(logging.Filter):
    """Takes the query (its signature) off the presigned URLs batchkit sends in httpx's request log lines
    (``HTTP Request: PUT https://…``, at INFO); every other line is left as httpx wrote it."""

    KEPT = 256
    """The most URLs remembered (the newest): each is needed only until its reply's line is logged."""

    def __init__(self) -> None:
        super().__init__()
        self._urls: dict[str, None] = {}

    def hide(self, url: httpx.URL) -> None:
        """Leave ``url``'s query out of httpx's log lines."""
        self._urls[str(url)] = None
        while len(self._urls) > self.KEPT:
            self._urls.pop(next(iter(self._urls)), None)

    def _shown(self, arg: object) -> object:
        hidden = isinstance(arg, httpx.URL) and str(arg) in self._urls
        return arg.copy_with(query=None) if hidden and isinstance(arg, httpx.URL) else arg

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple) and self._urls:
            record.args = tuple(self._shown(a) for a in record.args)
        return True


PRESIGNED = PresignedQueries()
logging.getLogger("httpx").addFilter(PRESIGNED)


def _pieces(file: UploadFile, asynchronous: bool) -> Any:
    """A file body in pieces, as the client sending it iterates (the async client an async iterator)."""
    if not asynchronous:
        return iter(lambda: file.read(UPLOAD_CHUNK), b"")

    async def pieces() -> AsyncIterator[bytes]:
        while piece := file.read(UPLOAD_CHUNK):
            yield piece

    return pieces()


EXCHANGE_BOUND = 2
"""A request (connect, send and reply) may take this many times its ``total`` in all."""


def redirect(http: httpx.Client | httpx.AsyncClient, response: httpx.Response, hops: int) -> httpx.Request | None:
    """The next request of a redirect, where the caller's httpx client follows redirects and has hops left.

    Executors send with ``follow_redirects=False`` and send each hop themselves, so that every hop goes
    through the client's auth (which keeps key headers from other origins)."""
    if not (http.follow_redirects and hops < http.max_redirects and response.is_redirect):
        return None
    return response.next_request


class ReplyTooSlow(httpx.ReadTimeout):
    """The reply went on past the request's total deadline (a slow drip is not a live connection)."""

    def __init__(self, message: str = "the exchange took longer than the request's total bound") -> None:
        super().__init__(message)


class Reading:
    """A reply's body as it arrives: into the call's sink (a successful download) or into memory,
    within the call's size bound and total deadline."""

    def __init__(self, call: Call, response: httpx.Response, now: Callable[[], float]) -> None:
        self._response = response
        self._now = now
        self._deadline = None if call.total is None else now() + call.total
        self._sink = call.sink if call.sink is not None and response.is_success else None
        self._limit = call.max_bytes
        self._chunks: list[bytes] = []
        self._size = 0
        if self._sink is not None:
            self._sink.restart()
            return
        declared = response.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > self._limit:
            raise self._too_large(int(declared))

    def _too_large(self, size: int) -> ResponseFormatError:
        return ResponseFormatError(f"the reply has more than {self._limit} bytes ({size} so far); not read further",
                                   status_code=self._response.status_code)  # fmt: skip

    def feed(self, chunk: bytes) -> None:
        if self._deadline is not None and self._now() > self._deadline:
            raise ReplyTooSlow("the reply took longer than the request's total deadline")
        if self._sink is not None:
            self._sink.write(chunk)
            return
        self._size += len(chunk)
        if self._size > self._limit:
            raise self._too_large(self._size)
        self._chunks.append(chunk)

    def response(self) -> httpx.Response:
        """The response with its body read (empty when it went to the sink): the body as httpx decoded it
        while it arrived, kept where httpx's own ``read()`` keeps it. A response made anew from it would
        decode a compressed body a second time (and cost more than the request's own parsing)."""
        r = self._response
        r._content = b"".join(self._chunks)
        self._chunks.clear()
        return r


@attrs.frozen
class Sleep:
    """Pause for ``seconds`` (on the client's clock); the outcome is ``None``."""

    seconds: float


@attrs.frozen
class Parallel:
    """Run operations concurrently within the client's one concurrency budget; the outcome is their
    results in order. When one fails, the others are cancelled and the failure is raised."""

    operations: Sequence[Operation[Any]]


@attrs.frozen
class Emit:
    """Hand ``value`` to whoever iterates the operation (``as_completed``); the outcome is ``None``."""

    value: Any


@attrs.frozen
class Blocking:
    """Disk work (sqlite, md5, zip checks, extraction), in a worker thread on both clients, so neither
    the scheduler nor an event loop stalls. The outcome is ``fn()``'s value; what it raises is thrown
    into the operation."""

    fn: Callable[[], Any]


@attrs.frozen
class Identified:
    """The provider's id of what is being created, known before its bytes go (a presign reply): a
    worker journals it at once, so an interrupted upload is found by it. The outcome is ``None``."""

    job_id: str


@attrs.frozen
class Items:
    """Send ``call`` and parse its reply, a JSON list, as it arrives (``batchkit[stream]``'s ijson).
    The outcome is an item source for :class:`NextItem`, or, for a reply that is not a success, the
    response read whole. The executor closes the source when the operation ends."""

    call: Call


@attrs.frozen
class NextItem:
    """The next item of an :class:`Items` source; the outcome is the item, or :data:`END`."""

    source: Any


END = object()
"""What :class:`NextItem` gives once the list is over."""

Step = Call | Sleep | Parallel | Emit | Blocking | Items | NextItem | Identified


@attrs.frozen
class Done(Generic[T]):
    """The operation finished with ``value``."""

    value: T


@attrs.frozen
class NotSent:
    """A :class:`Call`'s outcome when its ``before`` failed: nothing was sent."""

    error: Exception


@attrs.frozen
class Failed:
    """A step's outcome that is an exception: thrown into the operation instead of sent."""

    error: BaseException


def advance(operation: Operation[T], outcome: Any) -> Step | Done[T]:
    """Give ``operation`` the outcome of its last step (a :class:`Failed` is thrown into it);
    get its next step, or :class:`Done`."""
    try:
        if isinstance(outcome, Failed):
            return operation.throw(outcome.error)
        return operation.send(outcome)
    except StopIteration as stop:
        return Done(stop.value)


def emitted_to(operation: Operation[T], sink: Callable[[Any], object]) -> Operation[T]:
    """``operation`` with each value it emits (:class:`Emit`) handed to ``sink`` here, not passed on."""
    step = advance(operation, None)
    while not isinstance(step, Done):
        outcome = sink(step.value) if isinstance(step, Emit) else (yield step)
        step = advance(operation, None if isinstance(step, Emit) else outcome)
    return step.value


def collected(operation: Operation[Any]) -> Operation[list[Any]]:
    """What ``operation`` emits, gathered into a list."""
    found: list[Any] = []
    yield from emitted_to(operation, found.append)
    return found
