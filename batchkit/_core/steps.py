"""What an operation asks its executor to do.

An operation is a generator: it yields steps and receives their outcomes. The executors
(sync and async) only carry steps out; every decision is made in the generator.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Generator, Sequence
from typing import Any, Generic, Protocol, TypeVar

import attrs
import httpx

T = TypeVar("T")

Operation = Generator["Step", Any, T]


class Sink(Protocol):
    """Where a streamed response body goes."""

    def restart(self) -> None: ...

    def write(self, chunk: bytes) -> None: ...


@attrs.frozen
class Call:
    """Send one HTTP request; the outcome is an ``httpx.Response`` or an ``httpx.TransportError``.

    ``creates`` marks a job-creating request, which is never re-sent once it may have arrived.
    With a ``sink``, a successful body is streamed into it instead of being read into memory.
    """

    method: str
    base_url: str
    path: str
    timeout: httpx.Timeout
    params: Sequence[tuple[str, str]] = ()
    json: Any = None
    data: dict[str, str] | None = None
    files: Sequence[tuple[str, Any]] | None = None
    creates: bool = False
    sink: Sink | None = attrs.field(default=None, eq=False)

    def sink_for(self, response: httpx.Response) -> Sink | None:
        """The sink, restarted, if ``response``'s body goes there; None to read it into memory."""
        if self.sink is None or not response.is_success:
            return None
        self.sink.restart()
        return self.sink

    def build(self, http: httpx.Client | httpx.AsyncClient) -> httpx.Request:
        return http.build_request(
            self.method,
            self.base_url + self.path,
            params=list(self.params) or None,
            json=self.json,
            data=self.data,
            files=self.files,
            timeout=self.timeout,
        )


@attrs.frozen
class Sleep:
    """Pause for ``seconds``; the outcome is ``None``."""

    seconds: float


@attrs.frozen
class Parallel:
    """Run operations concurrently, at most ``limit`` at a time; the outcome is their results in order."""

    operations: Sequence[Operation[Any]]
    limit: int


@attrs.frozen
class Emit:
    """Hand ``job`` to whoever iterates the operation (``as_completed``); the outcome is ``None``."""

    job: Any


Step = Call | Sleep | Parallel | Emit


@attrs.frozen
class Done(Generic[T]):
    """The operation finished with ``value``."""

    value: T


def advance(operation: Operation[T], outcome: Any) -> Step | Done[T]:
    """Give ``operation`` the outcome of its last step; get its next step, or :class:`Done`."""
    try:
        return operation.send(outcome)
    except StopIteration as stop:
        return Done(stop.value)


def drive(operation: Operation[T], do: Callable[[Step], Any]) -> Generator[Any, None, T]:
    """Carry out ``operation`` with the blocking ``do``, yielding what it emits; return its value."""
    with contextlib.closing(operation):
        step = advance(operation, None)
        while not isinstance(step, Done):
            if isinstance(step, Emit):
                yield step.job
            step = advance(operation, do(step))
        return step.value


def run(operation: Operation[T], do: Callable[[Step], Any]) -> T:
    """Carry out ``operation`` with the blocking ``do``, ignoring what it emits; return its value."""
    runner = drive(operation, do)
    while True:
        try:
            next(runner)
        except StopIteration as done:
            return done.value  # type: ignore[no-any-return]
