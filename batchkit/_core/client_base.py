"""What both clients share besides the operations: construction, identity and argument types."""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, ClassVar, Generic, TypedDict, TypeVar

import httpx

if TYPE_CHECKING:
    from typing_extensions import Required, Self, Unpack

from batchkit.config import Settings, resolve

from .inputs import Progress
from .polling import OnUpdate, PollSchedule
from .retry import RetryPolicy
from .session import Session

HttpT = TypeVar("HttpT", httpx.Client, httpx.AsyncClient)


class SubmitInputs(TypedDict, total=False):
    """Keyword arguments of ``submit`` besides ``files``."""

    urls: Sequence[str] | None
    text: Sequence[str] | str | None
    zip: str | os.PathLike[str] | None
    callback_url: str | None
    options: Any


class ManyInputs(TypedDict, total=False):
    """Keyword arguments of ``submit_many``."""

    journal: Required[str | os.PathLike[str]]
    """The sqlite file that records each chunk before and after it is sent."""
    chunk: int | None
    """At most this many files a job (default: the provider's limit)."""
    resend_ambiguous: bool
    """Send again chunks whose earlier send was interrupted and could not be matched to a job."""
    callback_url: str | None
    options: Any


class WaitOptions(TypedDict, total=False):
    """Keyword arguments of ``wait_all`` and ``as_completed``."""

    timeout: float | None
    """Give up after this many seconds (:class:`WaitTimeoutError` carries every job's last state)."""
    poll_interval: float | None
    """A fixed interval instead of the client's :class:`PollSchedule`."""
    on_update: OnUpdate | None
    """Called with a job whenever its status changes."""


class ConnectSettings(TypedDict, total=False):
    """Keyword arguments of ``connect``/``connect_async``; see :func:`batchkit.config.resolve`."""

    api_key: str | None
    base_url: str | None
    timeout: float | None
    max_retries: int | None
    config_file: str | os.PathLike[str] | None


class ClientBase(Generic[HttpT]):
    """Holds the session and the httpx client; subclasses only execute operations."""

    http_type: ClassVar[type[Any]]

    def __init__(
        self,
        settings: Settings,
        *,
        http_client: HttpT | None = None,
        retry: RetryPolicy | None = None,
        poll: PollSchedule | None = None,
        on_upload: Progress | None = None,
    ) -> None:
        self._session = Session(settings, retry=retry, poll=poll, on_upload=on_upload)
        self._http: HttpT = http_client if http_client is not None else self.http_type()
        self._owns_http = http_client is None

    @classmethod
    def connect(
        cls, provider: str | None = None, *, http_client: HttpT | None = None, **settings: Unpack[ConnectSettings]
    ) -> Self:
        """A client for ``provider`` (or the configured one); settings resolve as :func:`batchkit.config.resolve`."""
        return cls(resolve(provider, **settings), http_client=http_client)

    @property
    def provider(self) -> str:
        """The provider's name, e.g. ``"hume"``."""
        return self._session.provider.name

    def __repr__(self) -> str:
        return f"<batchkit.{type(self).__name__} {self._session!r}>"
