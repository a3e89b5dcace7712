"""Sending: every request a provider builds goes through :func:`send`, which applies the retry rules.

Providers are pure: their operations yield :class:`Call` s and receive successful responses (or
have the typed error thrown into them). :func:`sending` stands between a provider's operation and
the executor and does the rest: timeouts, retries, backoff, and the never-twice rule for creates.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

import attrs
import httpx

from batchkit._kernel.clock import Clock
from batchkit._kernel.inputs import FileChangedError
from batchkit._kernel.retry import RetryPolicy, provider_error, retry_after_seconds
from batchkit._kernel.steps import Call, Done, Failed, Identified, NotSent, Operation, Parallel, Sleep, advance
from batchkit.errors import AmbiguousSubmissionError, BatchkitError, ProviderError, TransportError
from batchkit.observing import NO_OBSERVER, Event, Observer

if TYPE_CHECKING:
    from batchkit.providers.base import Provider

log = logging.getLogger("batchkit")
T = TypeVar("T")

_NOT_SENT = (
    httpx.ConnectError,
    httpx.ConnectTimeout,
    httpx.PoolTimeout,
    httpx.UnsupportedProtocol,
    httpx.LocalProtocolError,  # h11 refused the request before writing it (a bad header value)
)
UPLOAD_SECONDS = 300.0


class Gate(Protocol):
    """A pace shared beyond this client (workers on one journal): asked before every attempt (``creates``:
    whether it may create a job), told of every 429."""

    def before(self, creates: bool) -> Operation[None]: ...

    def pause(self, seconds: float) -> Operation[None]: ...


@attrs.frozen
class Sender:
    """How one client sends: its provider, retry policy, timeouts and clock."""

    provider: Provider[Any, Any]
    policy: RetryPolicy
    timeout: httpx.Timeout
    clock: Clock
    reply_limit: int | None = None
    """The largest reply read into memory, for every request (None: each request's own bound)."""
    deadline: float | None = None
    """A moment (``clock.monotonic()``) no retry may sleep past: a wait's end."""
    gate: Gate | None = None
    identify: Callable[[str], Operation[None]] | None = None
    """Journals the id an operation says it is creating (:class:`Identified`); None: it is not kept."""
    upload_total: float | None = None
    """Seconds a create's upload may take in all (a worker's: shorter than its settle window)."""
    intend: Callable[[], float | None] | None = None
    """Journals the intent of a create, run by the executor just before the request is written (after
    the shared rate, a 429's pause and the client's limiter: a send stopped while waiting was never made);
    returns the moment the upload's bound counts from (:attr:`Call.before`)."""
    observer: Observer = NO_OBSERVER
    """Told of each request, retry, rate-limit pause and create outcome."""
    chosen: bool = False
    """The timeout was chosen for these calls (``timeout=`` of a call, ``with_options``): an upload keeps it
    as its read and write timeout. Otherwise an upload may take :data:`UPLOAD_SECONDS` for each."""

    @property
    def upload_timeout(self) -> httpx.Timeout:
        t = self.timeout
        if self.chosen:
            return t
        return httpx.Timeout(t.connect, read=max(t.read or 0, UPLOAD_SECONDS),
                             write=max(t.write or 0, UPLOAD_SECONDS), pool=t.pool)  # fmt: skip

    def run(self, operation: Operation[T]) -> Operation[T]:
        """``operation`` (a provider's) with each :class:`Call` sent through :meth:`send`."""
        with contextlib.closing(operation):  # closed at once when the run ends early, its cleanup in order
            step = advance(operation, None)
            while not isinstance(step, Done):
                outcome: Any
                try:
                    if isinstance(step, Call):
                        outcome = yield from self.send(step)
                    elif isinstance(step, Parallel):
                        outcome = yield Parallel([self.run(op) for op in step.operations])
                    elif isinstance(step, Identified):
                        if self.identify is not None:
                            yield from self.identify(step.job_id)
                        outcome = None
                    else:
                        outcome = yield step
                except Exception as exc:  # a failure found by the executor goes to the operation itself
                    if isinstance(step, Call) and step.creates and isinstance(exc, BatchkitError):
                        refused = not isinstance(exc, AmbiguousSubmissionError)
                        self._tell("create", step, status="refused" if refused else "ambiguous")
                    outcome = Failed(exc)
                step = advance(operation, outcome)
            return step.value

    def prepared(self, call: Call) -> Call:
        """``call`` with this client's timeouts and reply bound."""
        return attrs.evolve(
            call,
            timeout=self.upload_timeout if call.uploads else self.timeout,
            total=None if call.uploads or call.sink is not None else self.timeout.read,
            max_bytes=self.reply_limit or call.max_bytes,
            upload_total=self.upload_total if call.creates else None,
        )

    def refusal(self, response: httpx.Response) -> BatchkitError:
        """The typed error for a reply that is not a success."""
        return provider_error(self.provider.name, response, self.provider.error_body)

    def _tell(self, name: str, call: Call, **fields: Any) -> None:
        if self.observer is not NO_OBSERVER:  # none is made for nobody: a status call's cost is counted
            self.observer.event(Event(name, self.provider.name, operation=operation_of(call), **fields))

    def send(self, call: Call) -> Operation[httpx.Response]:
        """Send ``call``, retrying what is safe to retry; return the successful response (a create's outcome
        is told here when accepted, by :meth:`run` when refused or ambiguous).

        Reads are retried on connection errors, timeouts, 429 and 5xx. A job-creating call is
        retried only when the connection failed before anything was sent; once it may have
        arrived, an :class:`AmbiguousSubmissionError` is raised instead.
        """
        provider, policy, advice = self.provider.name, self.policy, self.provider.ambiguity_advice
        call = self.prepared(call)
        started = self.clock.monotonic()
        attempt = 0
        while True:
            attempt += 1
            if self.gate is not None:
                waited = self.clock.monotonic()
                yield from self.gate.before(call.creates)
                if (waited := self.clock.monotonic() - waited) > 0:
                    self._tell("rate_wait", call, seconds=waited)
            sent = self.clock.monotonic()
            outcome = yield attrs.evolve(call, before=self.intend) if call.creates and self.intend else call
            if isinstance(outcome, NotSent):
                raise outcome.error
            if self.observer is not NO_OBSERVER:
                self._tell("request", call, attempt=attempt, seconds=self.clock.monotonic() - sent,
                           status=status_class(outcome), upload_bytes=upload_bytes(call, outcome))  # fmt: skip
            retry_after = None
            failure: BatchkitError
            if isinstance(outcome, BatchkitError):  # found by the executor: a changed file, a reply too large
                if call.creates and not isinstance(outcome, FileChangedError):
                    raise AmbiguousSubmissionError(provider, str(outcome), advice=advice) from None
                raise outcome
            if isinstance(outcome, httpx.Response):
                if log.isEnabledFor(logging.DEBUG):
                    log.debug("%s -> %d (attempt %d)", call.target, outcome.status_code, attempt)
                if outcome.is_success:
                    if call.creates:
                        self._tell("create", call, status="accepted")
                    return outcome
                failure = provider_error(provider, outcome, self.provider.error_body)
                if outcome.status_code == 429 and self.gate is not None:  # every worker waits, not this one alone
                    said = retry_after_seconds(outcome, self.clock.time())
                    pause = policy.delay(attempt - 1, said)  # capped as a sleep is
                    self._tell("rate_limited", call, seconds=pause)
                    yield from self.gate.pause(pause)
                final = self.provider.error_replies_are_final
                if call.creates and outcome.status_code >= 500 and not final:
                    raise AmbiguousSubmissionError(
                        provider, f"HTTP {outcome.status_code}", status_code=outcome.status_code, advice=advice
                    ) from failure
                if (call.creates and not final) or outcome.status_code not in policy.statuses:
                    raise failure
                if outcome.status_code in policy.retry_after_statuses:
                    retry_after = retry_after_seconds(outcome, self.clock.time())
            else:
                log.debug("%s failed: %s (attempt %d)", call.target, type(outcome).__name__, attempt)
                if call.creates and not isinstance(outcome, _NOT_SENT):
                    raise AmbiguousSubmissionError(provider, type(outcome).__name__, advice=advice) from None
                failure = TransportError(f"{provider}: {call.target}: {_describe(outcome)}")
                if isinstance(outcome, httpx.LocalProtocolError):
                    raise _attempts(failure, attempt)
            delay = policy.delay(attempt - 1, retry_after)
            spent = self.clock.monotonic() - started
            past_deadline = self.deadline is not None and self.clock.monotonic() + delay > self.deadline
            if attempt > policy.max_retries or (policy.total is not None and spent + delay > policy.total):
                raise _attempts(failure, attempt)
            if past_deadline:
                raise _attempts(failure, attempt)
            log.info("%s: retrying in %.2fs after %s", call.target, delay, type(failure).__name__)
            self._tell("retry", call, attempt=attempt, seconds=delay)
            yield Sleep(delay)


def operation_of(call: Call) -> str:
    """A request's kind, for metrics and logs (never its path, which holds ids and signatures)."""
    if call.creates:
        return "create"
    if call.body is not None or call.uploads:
        return "upload"
    if call.sink is not None:
        return "download"
    return "read" if call.method == "GET" else call.method.lower()


def status_class(outcome: object) -> str:
    """``2xx`` … ``5xx`` for a reply, ``error`` for a request that got none."""
    return f"{outcome.status_code // 100}xx" if isinstance(outcome, httpx.Response) else "error"


def upload_bytes(call: Call, outcome: object) -> int | None:
    """The file bytes a request that got a reply carried (None: it carried none)."""
    files = [upload.file for upload in call.uploads] + ([call.body.file] if call.body is not None else [])
    return sum(f.size for f in files) if files and isinstance(outcome, httpx.Response) else None


def _attempts(error: BatchkitError, attempts: int) -> BatchkitError:
    """``error``, saying how many attempts were made when there was more than one."""
    if isinstance(error, (ProviderError, TransportError)):
        error.attempts = attempts
    if attempts > 1 and error.args:
        error.args = (f"{error.args[0]} (after {attempts} attempts)", *error.args[1:])
    return error


def _describe(error: Exception) -> str:
    """A transport failure in words; never the request itself (its headers carry the key)."""
    if isinstance(error, httpx.LocalProtocolError):
        return "LocalProtocolError: the request could not be written (an invalid header or body)"
    return f"{type(error).__name__}: {error}" if str(error) else type(error).__name__
