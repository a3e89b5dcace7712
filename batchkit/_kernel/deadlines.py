"""A whole exchange's bound kept by the connection itself: the sync client's own httpx client reads and
writes through streams that wait no longer than the exchange has left, so a request alone in its run is
sent on the calling thread (no hop to a pool thread) and a reply that drips in is still cut off.

The streams wrap httpcore's (httpx's own transport), each wait bounded by :func:`within`'s deadline on
the thread that sends; with no deadline set they are httpcore's, unchanged."""

from __future__ import annotations

import threading
import time
import urllib.request
from collections.abc import Iterable
from typing import Any

import httpcore
import httpx

_local = threading.local()


class ExchangeTooLong(Exception):
    """The exchange's deadline passed while it waited on the connection."""


class within:
    """Bound every wait of this thread's exchange by ``deadline`` (``time.monotonic()``; None: none)."""

    __slots__ = ("_deadline",)

    def __init__(self, deadline: float | None) -> None:
        self._deadline = deadline

    def __enter__(self) -> None:
        _local.deadline = self._deadline

    def __exit__(self, *exc: object) -> None:
        _local.deadline = None


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


def bounded_client(verify: Any) -> tuple[httpx.Client, bool]:
    """An httpx client of httpx's own transport, and whether its connections keep :func:`within`'s
    deadline (not where a proxy is configured, whose transport is another, nor under an httpx whose
    transport is laid out otherwise)."""
    transport = httpx.HTTPTransport(verify=verify)
    pool = getattr(transport, "_pool", None)
    inner = getattr(pool, "_network_backend", None)
    bounded = isinstance(inner, httpcore.NetworkBackend) and not urllib.request.getproxies()
    if isinstance(inner, httpcore.NetworkBackend) and bounded:
        pool._network_backend = _Backend(inner)  # type: ignore[union-attr]
    return httpx.Client(verify=verify, transport=transport), bounded
