"""A whole exchange's bound kept by the connection itself: the sync client's own httpx client reads and
writes through streams that wait no longer than the exchange has left, so a request alone in its run is
sent on the calling thread (no hop to a pool thread) and a reply that drips in is still cut off.

The streams wrap httpcore's (httpx's own transport), each wait bounded by :func:`within`'s deadline on
the thread that sends; with no deadline set they are httpcore's, unchanged."""

from __future__ import annotations

import functools
import threading
import time
from collections.abc import Callable, Iterable
from typing import Any

import httpcore
import httpx

_local = threading.local()


class ExchangeTooLong(Exception):
    """The exchange's deadline passed while it waited on the connection."""


class within:
    """Bound every wait of this thread's exchange by ``deadline`` (``time.monotonic()``; None: none); the
    bound of an exchange around it (one made from an upload's progress callback) is kept for after."""

    __slots__ = ("_deadline", "_outer")

    def __init__(self, deadline: float | None) -> None:
        self._deadline = deadline

    def __enter__(self) -> None:
        self._outer = getattr(_local, "deadline", None)
        _local.deadline = self._deadline

    def __exit__(self, *exc: object) -> None:
        _local.deadline = self._outer


def passed() -> bool:
    """Whether this thread's exchange has a deadline, now behind it."""
    deadline: float | None = getattr(_local, "deadline", None)
    return deadline is not None and time.monotonic() >= deadline


def _bounded(timeout: float | None) -> float | None:
    deadline: float | None = getattr(_local, "deadline", None)
    if deadline is None:
        return timeout
    left = deadline - time.monotonic()
    if left <= 0:
        raise ExchangeTooLong
    return left if timeout is None else min(timeout, left)


class _Stream(httpcore.NetworkStream):
    def __init__(self, inner: httpcore.NetworkStream) -> None:
        self._inner = inner

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self._inner.read(max_bytes, _bounded(timeout))

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self._inner.write(buffer, _bounded(timeout))

    def close(self) -> None:
        self._inner.close()

    def start_tls(self, ssl_context: Any, server_hostname: str | None = None,
                  timeout: float | None = None) -> httpcore.NetworkStream:  # fmt: skip
        return _Stream(self._inner.start_tls(ssl_context, server_hostname, _bounded(timeout)))

    def get_extra_info(self, info: str) -> Any:
        return self._inner.get_extra_info(info)


class _Backend(httpcore.NetworkBackend):
    def __init__(self, inner: httpcore.NetworkBackend) -> None:
        self._inner = inner

    def connect_tcp(self, host: str, port: int, timeout: float | None = None, local_address: str | None = None,
                    socket_options: Iterable[Any] | None = None) -> httpcore.NetworkStream:  # fmt: skip
        return _Stream(self._inner.connect_tcp(host, port, _bounded(timeout), local_address, socket_options))

    def connect_unix_socket(self, path: str, timeout: float | None = None,
                            socket_options: Iterable[Any] | None = None) -> httpcore.NetworkStream:  # fmt: skip
        return _Stream(self._inner.connect_unix_socket(path, _bounded(timeout), socket_options))

    def sleep(self, seconds: float) -> None:
        self._inner.sleep(seconds)


def bounded_client(verify: Any) -> tuple[httpx.Client, Callable[[str], bool] | None]:
    """An httpx client as httpx makes it (a proxy from the environment mounted), and, where its connections
    keep :func:`within`'s deadline, whether a request to a base URL would go on one already open and idle.

    Only then is a lone request sent on the calling thread: opening a connection resolves the host's name
    (``getaddrinfo``, which nothing bounds) and may shake hands over TLS, so a request that must open one is
    sent from the pool, where the calling thread watches its whole bound. No such test where a proxy is
    mounted (its transport is another), nor under an httpx whose transport is laid out otherwise."""
    http = httpx.Client(verify=verify)
    pool = getattr(http._transport, "_pool", None)
    inner = getattr(pool, "_network_backend", None)
    proxied = any(mounted is not None for mounted in http._mounts.values())
    if proxied or not isinstance(pool, httpcore.ConnectionPool) or not isinstance(inner, httpcore.NetworkBackend):
        return http, None
    pool._network_backend = _Backend(inner)

    def open_to(base_url: str) -> bool:
        origin = _origin(base_url)
        return origin is not None and any(c.can_handle_request(origin) and c.is_idle() for c in pool.connections)

    return http, open_to


@functools.lru_cache(maxsize=64)
def _origin(base_url: str) -> httpcore.Origin | None:
    """A provider's base URL (never a presigned one: those have no base) as httpcore's connections name it."""
    try:
        url = httpx.URL(base_url)
        return httpcore.URL(scheme=url.raw_scheme, host=url.raw_host, port=url.port, target=b"/").origin
    except (httpx.InvalidURL, KeyError, TypeError):
        return None
