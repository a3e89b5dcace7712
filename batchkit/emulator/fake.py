"""What a provider's emulator fake is, and the pieces fakes are built from.

A fake is registered beside its provider (:func:`batchkit.providers.fake_of`); the emulator app mounts
the routes of every registered provider's fake behind one fault gate and request log.
"""

from __future__ import annotations

import abc
import asyncio
import contextlib
import hashlib
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import httpx
from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from .limits import MAX_UPLOAD, is_loopback
from .state import Part, Reply, State

Handler = Callable[[Request], Awaitable[Response]]
CallbackSource = Callable[[str], tuple[str | None, float, dict[str, Any] | None]]
_deliveries: set[asyncio.Task[None]] = set()


class Fake(abc.ABC):
    """One provider's emulated API: its routes and its state (jobs), over the emulator's shared state."""

    unauthorized: Reply
    """The reply to a request without an accepted key."""
    max_upload: int = MAX_UPLOAD
    """The largest multipart body its routes take (413 past it)."""

    def __init__(self, state: State, provider: str) -> None:
        self.state = state
        self.provider = provider

    @abc.abstractmethod
    def key(self, request: Request) -> str | None:
        """The API key the request carries, read from the provider's own header."""

    @abc.abstractmethod
    def routes(self) -> Sequence[Route]:
        """Starlette routes; each endpoint is wrapped in the key check by :meth:`guarded`."""

    @abc.abstractmethod
    def reset(self) -> None:
        """Forget every job."""

    def created(self) -> None:
        """Count one job creation (what ``Emulator.created(provider)`` reports)."""
        with self.state.lock:
            self.state.creates[self.provider] += 1

    def fails(self, name: str) -> bool:
        """Whether an input named ``name`` fails at this provider (:meth:`State.failing`)."""
        return self.state.failing(name, self.provider)

    @staticmethod
    def keyless(handler: Handler) -> Handler:
        """``handler`` as an endpoint that takes no API key (a presigned URL's target checks its own
        signature)."""

        async def endpoint(request: Request) -> Response:
            return await handler(request)

        endpoint.keyless = True  # type: ignore[attr-defined]
        return endpoint

    def guarded(self, handler: Handler) -> Handler:
        if getattr(handler, "keyless", False):
            return handler

        async def endpoint(request: Request) -> Response:
            if not self.state.key_ok(self.provider, self.key(request)):
                return respond(self.unauthorized)
            return await handler(request)

        return endpoint

    def by_id(self, method: Callable[[str], Reply], param: str = "id") -> Handler:
        """An endpoint answering ``method(path parameter)``."""

        async def endpoint(request: Request) -> Response:
            return respond(method(request.path_params[param]))

        return endpoint


def respond(reply: Reply) -> Response:
    if isinstance(reply.body, bytes):
        return Response(reply.body, reply.status, headers=dict(reply.headers))
    return JSONResponse(reply.body, reply.status, headers=dict(reply.headers))


async def read_parts(request: Request) -> tuple[list[Part], Callable[[], Awaitable[None]]]:
    """Every part of a multipart body; files are spooled to disk and hashed in chunks."""
    form = await request.form(max_files=10_000, max_fields=1_000)
    parts = []
    for name, value in form.multi_items():
        if isinstance(value, UploadFile):
            digest = hashlib.md5(usedforsecurity=False)
            while chunk := await value.read(1 << 20):
                digest.update(chunk)
            await value.seek(0)
            size = value.size if value.size is not None else 0
            parts.append(Part(name, value.filename or "", size, "", digest.hexdigest(), value.content_type, value.file))
        else:
            parts.append(Part(name, None, len(value), value))
    request.state.parts = tuple((p.name, p.filename, p.size) for p in parts)
    return parts, form.close


def may_call_back(state: State, url: str) -> bool:
    """Whether a callback may be POSTed to ``url``: one on this machine, by an emulator only this machine
    reaches (served to others, it would be anyone's way to reach this machine's own services)."""
    try:
        return not state.remote and is_loopback(httpx.URL(url).host)
    except (httpx.InvalidURL, TypeError):
        return False


def call_back_later(state: State, source: CallbackSource, job_id: str) -> None:
    """POST the job's callback once it ends, if its ``callback_url`` is on this machine (loopback only)."""
    url, _, _ = source(job_id)
    if not url or not may_call_back(state, url):
        return

    async def deliver() -> None:
        while True:
            _, done_at, payload = source(job_id)
            if payload is not None:
                break
            await asyncio.sleep(max(0.01, done_at - state.clock()))
        async with httpx.AsyncClient(timeout=10) as client:
            with contextlib.suppress(httpx.HTTPError):
                await client.post(url, json=payload)

    task = asyncio.get_running_loop().create_task(deliver())
    _deliveries.add(task)
    task.add_done_callback(_deliveries.discard)
