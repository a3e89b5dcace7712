"""What both clients share besides the operations: construction, identity and argument types."""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, ClassVar, Generic, TypedDict, TypeVar

import httpx

if TYPE_CHECKING:
    from typing_extensions import Self, Unpack

from batchkit.config import Settings, resolve

from .polling import PollSchedule
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


class BatchInputs(TypedDict, total=False):
    """Keyword arguments of ``submit_many`` applied to every chunk."""

    callback_url: str | None
    options: Any


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
    ) -> None:
        self._session = Session(settings, retry=retry, poll=poll)
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
