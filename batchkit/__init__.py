"""batchkit: one client for remote batch-detection APIs (Hume, Resemble).

>>> import batchkit
>>> with batchkit.connect("hume") as client:          # doctest: +SKIP
...     job = client.wait(client.submit(["clip.mp4"]))
...     results = client.results(job)
"""

from typing import TYPE_CHECKING, Any

from batchkit._core.download import ExtractLimits
from batchkit._core.journal import Chunk
from batchkit._core.large import JobGroup
from batchkit._core.polling import PollSchedule
from batchkit._core.retry import RetryPolicy
from batchkit.client import Client
from batchkit.errors import (
    AmbiguousSubmissionError,
    AuthenticationError,
    BadRequestError,
    BatchkitError,
    ConfigError,
    InputError,
    InsufficientBalanceError,
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
from batchkit.models import BatchJob, FileResult, JobStatus

__version__ = "0.1.0"

connect = Client.connect
"""A :class:`Client` for the given or configured provider (``batchkit.connect("hume")``)."""

if TYPE_CHECKING:
    from batchkit.async_client import AsyncClient

    connect_async = AsyncClient.connect


def __getattr__(name: str) -> Any:
    """``AsyncClient`` and ``connect_async`` are imported on first use (asyncio is not needed before)."""
    if name in ("AsyncClient", "connect_async"):
        from batchkit.async_client import AsyncClient

        return AsyncClient if name == "AsyncClient" else AsyncClient.connect
    raise AttributeError(f"module 'batchkit' has no attribute {name!r}")


__all__ = [
    "AmbiguousSubmissionError",
    "AsyncClient",
    "AuthenticationError",
    "BadRequestError",
    "BatchJob",
    "BatchkitError",
    "Chunk",
    "Client",
    "ConfigError",
    "ExtractLimits",
    "FileResult",
    "InputError",
    "InsufficientBalanceError",
    "JobGroup",
    "JobStatus",
    "NotFoundError",
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
    "connect",
    "connect_async",
]
