"""batchkit: one client for remote batch-detection APIs.

>>> import batchkit
>>> with batchkit.connect("resemble") as client:          # doctest: +SKIP
...     job = client.wait(client.submit(["clip.wav"]))
...     results = client.results(job)

Names are imported on first use (PEP 562), so ``import batchkit`` is cheap and the pytest plugin
(:mod:`batchkit.testing`) loads nothing of batchkit before coverage starts.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from batchkit import runs
    from batchkit._kernel.download import ExtractLimits
    from batchkit._kernel.journal import Chunk
    from batchkit._kernel.not_given import NOT_GIVEN, NotGiven
    from batchkit._kernel.retry import RetryPolicy
    from batchkit._orchestration.groups import JobGroup
    from batchkit._orchestration.waiting import PollSchedule
    from batchkit._orchestration.workers import WorkSummary
    from batchkit.async_client import AsyncClient
    from batchkit.chains import AsyncChainClient, ChainClient, connect, connect_async
    from batchkit.client import Client
    from batchkit.errors import (
        AmbiguousSubmissionError,
        AuthenticationError,
        BadRequestError,
        BatchkitError,
        ClientClosedError,
        ConfigError,
        EngineError,
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
        RunKeyConflictError,
        ServerError,
        TransportError,
        UnsupportedError,
        WaitTimeoutError,
    )
    from batchkit.models import BatchJob, Callback, FileResult, JobStatus
    from batchkit.results import rows, typed
    from batchkit.verdict_rows import verdicts


__version__ = "0.1.0"

_ERRORS = [
    "AmbiguousSubmissionError", "AuthenticationError", "BadRequestError", "BatchkitError", "ClientClosedError",
    "ConfigError", "EngineError", "InputError",
    "InsufficientBalanceError", "JobNotFinishedError", "JournalError", "LeaseLostError", "NotFoundError",
    "PermissionDeniedError", "ProviderError", "RateLimitedError", "ResponseFormatError", "RunKeyConflictError",
    "ServerError", "TransportError", "UnsupportedError", "WaitTimeoutError",
]  # fmt: skip

_HOMES: dict[str, str] = {
    **dict.fromkeys(_ERRORS, "batchkit.errors"),
    **dict.fromkeys(("BatchJob", "Callback", "FileResult", "JobStatus"), "batchkit.models"),
    **dict.fromkeys(("rows", "typed"), "batchkit.results"),
    "verdicts": "batchkit.verdict_rows",
    **dict.fromkeys(("NOT_GIVEN", "NotGiven"), "batchkit._kernel.not_given"),
    "AsyncClient": "batchkit.async_client",
    "AsyncChainClient": "batchkit.chains",
    "ChainClient": "batchkit.chains",
    "Chunk": "batchkit._kernel.journal",
    "Client": "batchkit.client",
    "ExtractLimits": "batchkit._kernel.download",
    "JobGroup": "batchkit._orchestration.groups",
    "PollSchedule": "batchkit._orchestration.waiting",
    "RetryPolicy": "batchkit._kernel.retry",
    "WorkSummary": "batchkit._orchestration.workers",
}
"""Where each public name lives."""

def __getattr__(name: str) -> Any:
    """Import a public name on first use and keep it (public classes say ``batchkit``, as httpx's do)."""
    if name in ("connect", "connect_async"):
        value: Any = getattr(importlib.import_module("batchkit.chains"), name)
    elif name == "runs":
        value = importlib.import_module("batchkit.runs")
    elif name in _HOMES:
        value = getattr(importlib.import_module(_HOMES[name]), name)
        if isinstance(value, type):
            value.__module__ = "batchkit"
    else:
        raise AttributeError(f"module 'batchkit' has no attribute {name!r}")
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)


__all__ = [
    "NOT_GIVEN",
    "AmbiguousSubmissionError",
    "AsyncChainClient",
    "AsyncClient",
    "AuthenticationError",
    "BadRequestError",
    "BatchJob",
    "BatchkitError",
    "Callback",
    "ChainClient",
    "Chunk",
    "Client",
    "ClientClosedError",
    "ConfigError",
    "EngineError",
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
    "RunKeyConflictError",
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
    "verdicts",
]
