"""batchkit: one client for remote batch-detection APIs.

>>> import batchkit
>>> with batchkit.connect("hume") as client:          # doctest: +SKIP
...     job = client.wait(client.submit(["clip.mp4"]))
...     results = client.results(job)
"""

from typing import TYPE_CHECKING, Any

from batchkit import runs
from batchkit._kernel.download import ExtractLimits
from batchkit._kernel.journal import Chunk
from batchkit._kernel.not_given import NOT_GIVEN, NotGiven
from batchkit._kernel.retry import RetryPolicy
from batchkit._orchestration.groups import JobGroup
from batchkit._orchestration.waiting import PollSchedule
from batchkit._orchestration.workers import WorkSummary
from batchkit.client import Client
from batchkit.errors import (
    AmbiguousSubmissionError,
    AuthenticationError,
    BadRequestError,
    BatchkitError,
    ClientClosedError,
    ConfigError,
    InputError,
    InsufficientBalanceError,
    JobNotFinishedError,
    JournalError,
    LeaseLostError,
    NotFoundError,
    PermissionDeniedError,
    ProviderError,
    RateLimitedError,
    ResponseFormatError,
    ServerError,
    TransportError,
    UnsupportedError,
    WaitTimeoutError,
)
from batchkit.models import BatchJob, Callback, FileResult, JobStatus
from batchkit.results import rows, typed

__version__ = "0.1.0"

connect = Client.connect
"""A :class:`Client` for the given or configured provider (``batchkit.connect("hume", retry=...)``)."""

if TYPE_CHECKING:
    from batchkit.async_client import AsyncClient

    connect_async = AsyncClient.connect


def __getattr__(name: str) -> Any:
    """``AsyncClient`` and ``connect_async`` are imported on first use (asyncio is not needed before)."""
    if name in ("AsyncClient", "connect_async"):
        from batchkit.async_client import AsyncClient

        AsyncClient.__module__ = "batchkit"
        return AsyncClient if name == "AsyncClient" else AsyncClient.connect
    raise AttributeError(f"module 'batchkit' has no attribute {name!r}")


__all__ = [
    "NOT_GIVEN",
    "AmbiguousSubmissionError",
    "AsyncClient",
    "AuthenticationError",
    "BadRequestError",
    "BatchJob",
    "BatchkitError",
    "Callback",
    "Chunk",
    "Client",
    "ClientClosedError",
    "ConfigError",
    "ExtractLimits",
    "FileResult",
    "InputError",
    "InsufficientBalanceError",
    "JobGroup",
    "JobNotFinishedError",
    "JobStatus",
    "JournalError",
    "LeaseLostError",
    "NotFoundError",
    "NotGiven",
    "PermissionDeniedError",
    "PollSchedule",
    "ProviderError",
    "RateLimitedError",
    "ResponseFormatError",
    "RetryPolicy",
    "ServerError",
    "TransportError",
    "UnsupportedError",
    "WaitTimeoutError",
    "WorkSummary",
    "connect",
    "connect_async",
    "rows",
    "runs",
    "typed",
]

for _name in __all__:  # public names say where to find them (as httpx does)
    _value = globals().get(_name)
    if isinstance(_value, type):
        _value.__module__ = "batchkit"
del _name, _value
