"""The emulator as an ASGI app: every registered provider's fake, behind fault injection and the log."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, MutableMapping
from typing import TYPE_CHECKING, Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from .faults import Fault, FaultKind
from .limits import BodyLimit
from .state import Recorded

if TYPE_CHECKING:
    from . import Emulator

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]


class Dropped(Exception):
    """Raised after a response has started, so the server closes the connection mid-reply."""


def create_app(emu: Emulator) -> Callable[[Scope, Receive, Send], Awaitable[None]]:
    """Every fake's routes (each behind its key check), behind fault injection and the request log."""

    async def introspect(request: Request) -> Response:
        creates = {name: emu.created(name) for name in emu.fakes}
        return JSONResponse({"creates": creates, "requests": len(emu.requests), "faults_injected": emu.faults.injected})

    async def not_found(request: Request, exc: Exception) -> Response:
        return JSONResponse({"success": False, "message": f"no route {request.method} {request.url.path}"}, 404)

    routes = [Route("/_emulator", introspect, methods=["GET"])]
    limits = []
    for fake in emu.fakes.values():
        for route in fake.routes():
            routes.append(Route(route.path, fake.guarded(route.endpoint), methods=route.methods))
            limits.append((routes[-1], fake.max_upload))
    app = Starlette(routes=routes, exception_handlers={404: not_found, 405: not_found})
    return FaultGate(BodyLimit(app, limits, lambda: emu.config.idle_timeout), emu)


class FaultGate:
    """Injects the planned faults and records every request (without headers)."""

    def __init__(self, app: Callable[[Scope, Receive, Send], Awaitable[None]], emu: Emulator) -> None:
        self.app = app
        self.emu = emu

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        method, path = scope["method"], scope["path"]
        since = self.emu.faults.releases  # before taking: a release from now on lets a hold go
        fault = None if path.startswith("/_emulator") else self.emu.faults.take(method, path)
        generation = self.emu.state.generation
        arrived = time.monotonic()
        scope.setdefault("state", {})
        logged = False

        def log(status: int) -> None:
            """Record the request as its reply starts, before the client can see the reply."""
            nonlocal logged
            if not logged:
                logged = True
                query = scope.get("query_string", b"").decode("latin-1")
                parts = scope["state"].get("parts", ())
                entry = Recorded(method, path, query, status, parts, fault.kind.value if fault else None, arrived)
                self.emu.state.record(entry, generation)

        async def reply(message: Message) -> None:
            if message["type"] == "http.response.start":
                log(message["status"])
            if fault is None or fault.kind not in _HANDLED_THEN_REPLACED:
                await send(message)

        with self.emu.state.lock:
            if self.emu.state.generation == generation:
                self.emu.state.handling += 1
        try:
            await self._handle(fault, since, scope, receive, send, reply, log)
        finally:
            log(0)
            with self.emu.state.lock:
                if self.emu.state.generation == generation:  # a request from before a reset is not counted
                    self.emu.state.handling -= 1

    async def _handle(
        self, fault: Fault | None, since: int, scope: Scope, receive: Receive, send: Send, reply: Send,
        log: Callable[[int], None],
    ) -> None:
        kind = fault.kind if fault else None
        if fault is not None and kind is FaultKind.SLOW:
            await self.emu.faults.hold(fault.delay, since)
        if fault is None or kind is FaultKind.SLOW:
            await self.app(scope, receive, reply)
            return
        if kind is FaultKind.SLOW_REPLY:

            async def late(message: Message) -> None:
                if message["type"] == "http.response.start":
                    await self.emu.faults.hold(fault.delay, since)
                await reply(message)

            await self.app(scope, receive, late)
            return
        if kind in _HANDLED_THEN_REPLACED:
            await self.app(scope, receive, reply)
        if kind in (FaultKind.DROP_BEFORE_BODY, FaultKind.DROP_AFTER_BODY):
            log(0)
            await send({"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"64")]})
            raise Dropped(f"emulated connection drop on {scope['method']} {scope['path']}")
        if kind not in _HANDLED_THEN_REPLACED:
            while (await receive()).get("more_body"):
                pass
        status, headers, body = _canned(fault)
        out = send if kind in _HANDLED_THEN_REPLACED else reply
        await out({"type": "http.response.start", "status": status, "headers": headers})
        await out({"type": "http.response.body", "body": body})


_HANDLED_THEN_REPLACED = (FaultKind.DROP_AFTER_BODY, FaultKind.MALFORMED)
"""Faults where the request is handled (a create creates) but the client gets something else."""


def _canned(fault: Fault) -> tuple[int, list[tuple[bytes, bytes]], bytes]:
    json_type = (b"content-type", b"application/json")
    if fault.kind is FaultKind.RATE_LIMIT:
        return 429, [json_type, (b"retry-after", str(fault.retry_after).encode())], b'{"message": "Too Many Requests"}'
    if fault.kind is FaultKind.MALFORMED:
        return 200, [json_type], b'{"job_id": "trunc'
    if fault.kind is FaultKind.NOT_JSON:
        return fault.status, [(b"content-type", b"text/html")], b"<html><body>Bad Gateway</body></html>"
    return fault.status, [json_type], b'{"message": "emulated server error"}'
