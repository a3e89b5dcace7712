"""Sending one request: the retry rules, the backoff schedule and the error mapping.

No ready-made retry library fits the core's dependency budget (httpx, attrs, cattrs) and the
sans-I/O shape, so the schedule is the usual one written once here: exponential backoff with
full jitter (as urllib3's ``Retry`` and stamina do), capped, honouring ``Retry-After``.
"""

from __future__ import annotations

import email.utils
import itertools
import logging
import random
import time
from collections.abc import Callable, Mapping
from typing import Any

import attrs
import httpx

from batchkit.errors import (
    AmbiguousSubmissionError,
    ProviderError,
    RateLimitedError,
    TransportError,
    error_class_for,
)

from .steps import Call, Operation, Sleep

log = logging.getLogger("batchkit")

BodyParser = Callable[[httpx.Response], tuple[str, Mapping[str, Any]]]
"""Reads a provider's error body into (message, details)."""

_NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout, httpx.UnsupportedProtocol)
_REQUEST_ID_HEADERS = ("x-request-id", "request-id", "x-amzn-requestid", "x-amz-request-id")


@attrs.frozen
class RetryPolicy:
    """When and how long to wait before re-sending a request. Immutable; ``max_retries=0`` disables."""

    max_retries: int = attrs.field(default=3, validator=attrs.validators.ge(0))
    backoff_base: float = attrs.field(default=0.5, validator=attrs.validators.ge(0))
    backoff_max: float = attrs.field(default=30.0, validator=attrs.validators.ge(0))
    retry_after_max: float = attrs.field(default=120.0, validator=attrs.validators.ge(0))
    statuses: frozenset[int] = frozenset({429, 500, 502, 503, 504})

    def delay(self, attempt: int, retry_after: float | None = None) -> float:
        """Seconds to sleep before retry number ``attempt + 1``."""
        if retry_after is not None:
            return min(retry_after, self.retry_after_max)
        return random.uniform(0, min(self.backoff_max, self.backoff_base * 2**attempt))


def retry_after_seconds(response: httpx.Response) -> float | None:
    """The ``Retry-After`` header as seconds (delta or HTTP date), or None."""
    value = response.headers.get("retry-after")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def provider_error(provider: str, response: httpx.Response, parse_body: BodyParser) -> ProviderError:
    """The typed error for a non-2xx reply."""
    try:
        message, details = parse_body(response)
    except Exception:  # a parser must never hide the status: fall back to the raw text
        message, details = response.text[:300], {}
    request_id = next((response.headers[h] for h in _REQUEST_ID_HEADERS if h in response.headers), None)
    cls = error_class_for(response.status_code)
    kwargs: dict[str, Any] = {"details": details, "request_id": request_id}
    if cls is RateLimitedError:
        kwargs["retry_after"] = retry_after_seconds(response)
    return cls(provider, response.status_code, message or response.reason_phrase, **kwargs)


def send(call: Call, policy: RetryPolicy, provider: str, parse_body: BodyParser) -> Operation[httpx.Response]:
    """Send ``call``, retrying what is safe to retry; return the successful response.

    Reads are retried on connection errors, timeouts, 429 and 5xx. A job-creating call is
    retried only when the connection failed before anything was sent; once it may have
    arrived, an :class:`AmbiguousSubmissionError` is raised instead.
    """
    target = f"{call.method} {call.path}"
    for attempt in itertools.count():
        outcome = yield call
        retry_after = None
        failure: Exception
        if isinstance(outcome, httpx.Response):
            log.debug("%s -> %d (attempt %d)", target, outcome.status_code, attempt + 1)
            if outcome.is_success:
                return outcome
            failure = provider_error(provider, outcome, parse_body)
            if call.creates and outcome.status_code >= 500:
                raise AmbiguousSubmissionError(
                    provider, f"HTTP {outcome.status_code}", status_code=outcome.status_code
                ) from failure
            if call.creates or outcome.status_code not in policy.statuses:
                raise failure
            if isinstance(failure, RateLimitedError):
                retry_after = failure.retry_after
        else:
            log.debug("%s failed: %s (attempt %d)", target, type(outcome).__name__, attempt + 1)
            if call.creates and not isinstance(outcome, _NOT_SENT):
                raise AmbiguousSubmissionError(provider, type(outcome).__name__) from outcome
            failure = TransportError(f"{provider}: {target}: {type(outcome).__name__}: {outcome}")
            failure.__cause__ = outcome
        if attempt >= policy.max_retries:
            raise failure
        delay = policy.delay(attempt, retry_after)
        log.info("%s: retrying in %.2fs after %s", target, delay, type(failure).__name__)
        yield Sleep(delay)
    raise AssertionError("unreachable")  # pragma: no cover
