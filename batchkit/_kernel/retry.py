"""The retry policy as an immutable value, and reading a failed reply into a typed error.

No ready-made retry library fits the core's dependency budget (httpx, attrs, cattrs) and the
sans-I/O shape, so the schedule is the usual one written once here: exponential backoff with
full jitter (as urllib3's ``Retry`` and stamina do), capped, honouring ``Retry-After``, with a
bound on the total time spent retrying.
"""

from __future__ import annotations

import math
import random
import time
from collections.abc import Callable, Mapping
from typing import Any

import attrs
import httpx

from batchkit.errors import ProviderError, RateLimitedError, error_class_for

BodyParser = Callable[[httpx.Response], tuple[str, Mapping[str, Any]]]
"""Reads a provider's error body into (message, details)."""

_REQUEST_ID_HEADERS = ("x-request-id", "request-id", "x-amzn-requestid", "x-amz-request-id")


def _finite(minimum: float) -> Callable[[Any, attrs.Attribute[Any], float], None]:
    def check(_: Any, attribute: attrs.Attribute[Any], value: float) -> None:
        number = isinstance(value, (int, float)) and not isinstance(value, bool)
        if not number or not math.isfinite(value) or value < minimum:
            raise ValueError(f"{attribute.name} must be a finite number >= {minimum}, got {value!r}")

    return check


def _optional_total(_: Any, attribute: attrs.Attribute[Any], value: float | None) -> None:
    if value is not None:
        _finite(0)(_, attribute, value)


@attrs.frozen
class RetryPolicy:
    """When and how long to wait before re-sending a request. Immutable; ``max_retries=0`` disables.

    ``total`` bounds the time from the first attempt to the last retry's start (None: unbounded);
    ``retry_after_statuses`` are the statuses whose ``Retry-After`` is honoured (429 and 503).
    """

    max_retries: int = attrs.field(default=3, validator=[attrs.validators.instance_of(int), attrs.validators.ge(0),
                                                         attrs.validators.le(100)])  # fmt: skip
    backoff_base: float = attrs.field(default=0.5, validator=_finite(0))
    backoff_max: float = attrs.field(default=30.0, validator=_finite(0))
    retry_after_max: float = attrs.field(default=120.0, validator=_finite(0))
    total: float | None = attrs.field(default=300.0, validator=_optional_total)
    statuses: frozenset[int] = frozenset({429, 500, 502, 503, 504})
    retry_after_statuses: frozenset[int] = frozenset({429, 503})

    def delay(self, attempt: int, retry_after: float | None = None) -> float:
        """Seconds to sleep before retry number ``attempt + 1``."""
        if retry_after is not None:
            return min(retry_after, self.retry_after_max)
        return random.uniform(0, min(self.backoff_max, self.backoff_base * 2 ** min(attempt, 64)))


def retry_after_seconds(response: httpx.Response, now: float | None = None) -> float | None:
    """The ``Retry-After`` header as seconds (delta or HTTP date), or None."""
    value = response.headers.get("retry-after")
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        import email.utils  # only for a date (about 7 ms to import)

        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            return None
        seconds = when.timestamp() - (time.time() if now is None else now)
    return max(0.0, seconds) if math.isfinite(seconds) else None


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
