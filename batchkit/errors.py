"""Every error batchkit raises; catch :class:`BatchkitError` to catch them all.

BatchkitError                    the base of them all
├── ConfigError                  provider, key or setting missing or invalid
├── InputError (ValueError)      bad input or option; raised before anything is sent
│   └── BadRequestError          400/422 (also a ProviderError)
├── UnsupportedError             the provider has no such operation
├── ClientClosedError            the client was closed
├── TransportError               the network failed after retries
├── ResponseFormatError          a successful reply that cannot be understood
├── AmbiguousSubmissionError     a create may have reached the server; not re-sent
├── WaitTimeoutError             waiting ran out of time
├── JobNotFinishedError          results asked of a job that has not ended
├── JournalError                 a journal could not be read or written
│   └── LeaseLostError           another worker took over a chunk (fencing)
└── ProviderError                the provider answered an error status
    ├── BadRequestError          400/422
    ├── AuthenticationError      401
    ├── InsufficientBalanceError 402
    ├── PermissionDeniedError    403
    ├── NotFoundError            404
    ├── RateLimitedError         429
    └── ServerError              5xx
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from batchkit.models import BatchJob


class BatchkitError(Exception):
    """Base of every batchkit error."""


class ConfigError(BatchkitError):
    """The provider, key or another setting could not be resolved."""


class InputError(BatchkitError, ValueError):
    """A submission or option is invalid; raised before anything is sent."""


class RunKeyConflictError(InputError):
    """A run key already names a run of other files or settings in the journal; nothing was recorded."""

    def __init__(self, message: str, *, run_key: str, run: str) -> None:
        super().__init__(message)
        self.run_key = run_key
        """The key given."""
        self.run = run
        """The id of the run the key already names."""


class UnsupportedError(BatchkitError):
    """The provider has no such operation (e.g. artifacts on Resemble)."""


class ClientClosedError(BatchkitError):
    """The client was closed (``close``/``aclose``, or leaving its ``with`` block); make a new one."""


class TransportError(BatchkitError):
    """The network failed and retries were exhausted (or not allowed)."""

    attempts: int = 1
    """How many times the request was sent."""


class ResponseFormatError(BatchkitError):
    """A successful reply could not be understood."""

    def __init__(self, message: str, *, status_code: int | None = None, snippet: str = "") -> None:
        super().__init__(f"{message}: {snippet!r}" if snippet else message)
        self.status_code = status_code
        self.snippet = snippet


class AmbiguousSubmissionError(BatchkitError):
    """A job-creating request may have reached the server; it was not re-sent.

    Check for the job before submitting again (the message says how, per provider), or you may pay twice.
    """

    def __init__(
        self, provider: str, reason: str, *, status_code: int | None = None, group: Any = None,
        advice: str = "check the provider's jobs before retrying",
    ) -> None:  # fmt: skip
        super().__init__(
            f"{provider}: the submission may have been created ({reason}); "
            f"it was not re-sent to avoid a duplicate job - {advice}"
        )
        self.provider = provider
        self.reason = reason
        self.status_code = status_code
        self.group = group
        """For ``submit_many``: the :class:`JobGroup` of everything else that was sent."""


class JobNotFinishedError(BatchkitError):
    """Results were asked of a job that has not ended; ``job`` is its state now. Wait for it first."""

    def __init__(self, job: BatchJob) -> None:
        super().__init__(
            f"{job.provider} job {job.id} has not finished ({job.status.name}); wait for it, then ask for its results"
        )
        self.job = job


class JournalError(BatchkitError):
    """A journal could not be read or written (locked too long, a full disk, a row it did not write)."""


class LeaseLostError(JournalError):
    """A worker's lease on a chunk ended and another worker claimed it: the first may no longer write it."""


class EngineError(BatchkitError):
    """An engine (Ray, Airflow) could not keep batchkit's workers running; the journal keeps where they stopped."""


class WaitTimeoutError(BatchkitError):
    """Waiting ran out of time; ``jobs`` holds the last known state of each job."""

    def __init__(self, jobs: Sequence[BatchJob], timeout: float) -> None:
        pending = [job.id for job in jobs if not job.status.is_terminal]
        super().__init__(f"timed out after {timeout:g}s waiting for {len(pending)} job(s): {pending[:5]}")
        self.jobs = tuple(jobs)
        self.timeout = timeout

    @property
    def job(self) -> BatchJob:
        """The last known state of the (first) job waited on."""
        return self.jobs[0]


class ProviderError(BatchkitError):
    """The provider answered with an error status."""

    def __init__(
        self,
        provider: str,
        status_code: int,
        message: str,
        *,
        details: Mapping[str, Any] | None = None,
        request_id: str | None = None,
    ) -> None:
        rid = f" (request id {request_id})" if request_id else ""
        super().__init__(f"{provider}: HTTP {status_code}: {message}{rid}")
        self.provider = provider
        self.status_code = status_code
        self.message = message
        self.details: Mapping[str, Any] = details or {}
        self.request_id = request_id
        self.attempts = 1
        """How many times the request was sent."""


class BadRequestError(ProviderError, InputError):
    """400/422: the provider refused the input."""


class AuthenticationError(ProviderError):
    """401: the API key was refused."""


class InsufficientBalanceError(ProviderError):
    """402: the wallet cannot cover the submission (nothing was created)."""

    @property
    def per_file_estimates(self) -> Any:
        return self.details.get("per_file_estimates")

    @property
    def total_estimated_cost_cents(self) -> Any:
        return self.details.get("total_estimated_cost_cents")


class PermissionDeniedError(ProviderError):
    """403: a plan limit or missing access."""

    @property
    def limit(self) -> Any:
        return self.details.get("limit")

    @property
    def used(self) -> Any:
        return self.details.get("used")

    @property
    def requested(self) -> Any:
        return self.details.get("requested")


class NotFoundError(ProviderError):
    """404: no such job (or not yours)."""


class RateLimitedError(ProviderError):
    """429: too many requests; ``retry_after`` seconds if the server said."""

    def __init__(self, *args: Any, retry_after: float | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.retry_after = retry_after


class ServerError(ProviderError):
    """5xx: the provider failed."""


_BY_STATUS: dict[int, type[ProviderError]] = {
    400: BadRequestError,
    401: AuthenticationError,
    402: InsufficientBalanceError,
    403: PermissionDeniedError,
    404: NotFoundError,
    422: BadRequestError,
    429: RateLimitedError,
}


def error_class_for(status_code: int) -> type[ProviderError]:
    """The error class for an HTTP status."""
    if status_code >= 500:
        return ServerError
    return _BY_STATUS.get(status_code, ProviderError)


__all__ = [
    "AmbiguousSubmissionError",
    "AuthenticationError",
    "BadRequestError",
    "BatchkitError",
    "ConfigError",
    "InputError",
    "InsufficientBalanceError",
    "JobNotFinishedError",
    "JournalError",
    "LeaseLostError",
    "NotFoundError",
    "PermissionDeniedError",
    "ProviderError",
    "RateLimitedError",
    "ResponseFormatError",
    "ServerError",
    "TransportError",
    "UnsupportedError",
    "WaitTimeoutError",
]
