"""The emulator as an ASGI app (Starlette; python-multipart parses uploads streaming to disk)."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
from collections.abc import Awaitable, Callable, MutableMapping
from typing import TYPE_CHECKING, Any

import httpx
from starlette.applications import Starlette
from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from .faults import Fault, FaultKind
from .state import Part, Recorded, Reply

if TYPE_CHECKING:
    from . import Emulator

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
Handler = Callable[[Request], Awaitable[Response]]

HUME_UNAUTHORIZED = Reply(
    401, {"fault": {"faultstring": "Invalid ApiKey", "detail": {"errorcode": "oauth.v2.InvalidApiKey"}}}
)
RESEMBLE_UNAUTHORIZED = Reply(401, {"success": False, "message": "Unauthorized"})


class Dropped(Exception):
    """Raised after a response has started, so the server closes the connection mid-reply."""


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


def create_app(emu: Emulator) -> Callable[[Scope, Receive, Send], Awaitable[None]]:
    """Both providers' routes, behind fault injection and the request log."""

    def guarded(provider: str, handler: Handler) -> Handler:
        async def endpoint(request: Request) -> Response:
            if provider == "hume":
                key, denied = request.headers.get("x-hume-api-key"), HUME_UNAUTHORIZED
            else:
                auth = request.headers.get("authorization", "")
                key, denied = (auth[7:] if auth.lower().startswith("bearer ") else None), RESEMBLE_UNAUTHORIZED
            if not emu.state.key_ok(provider, key):
                return respond(denied)
            return await handler(request)

        return endpoint

    async def hume_create(request: Request) -> Response:
        if request.headers.get("content-type", "").startswith("multipart/form-data"):
            parts, close = await read_parts(request)
            try:
                reply = emu.hume.create_multipart(parts)
            finally:
                await close()
        else:
            reply = emu.hume.create_json(await request.body())
        if reply.status == 200:
            call_back_later(emu, emu.hume.callback, reply.body["job_id"])
        return respond(reply)

    async def resemble_create(request: Request) -> Response:
        if not request.headers.get("content-type", "").startswith("multipart/form-data"):
            return respond(Reply(400, {"success": False, "message": "multipart/form-data required"}))
        parts, close = await read_parts(request)
        try:
            reply = emu.resemble.create(parts, request.headers.get("prefer"))
        finally:
            await close()
        if reply.status == 202:
            call_back_later(emu, emu.resemble.callback, reply.body["item"]["uuid"])
        return respond(reply)

    def by_id(method: Callable[[str], Reply], param: str = "id") -> Handler:
        async def endpoint(request: Request) -> Response:
            return respond(method(request.path_params[param]))

        return endpoint

    async def hume_list(request: Request) -> Response:
        return respond(emu.hume.list(request.query_params.multi_items()))

    async def introspect(request: Request) -> Response:
        return JSONResponse(
            {"creates": dict(emu.state.creates), "requests": len(emu.requests), "faults_injected": emu.faults.injected}
        )

    routes = [
        Route("/v0/batch/jobs", guarded("hume", hume_create), methods=["POST"]),
        Route("/v0/batch/jobs", guarded("hume", hume_list), methods=["GET"]),
        Route("/v0/batch/jobs/{id}", guarded("hume", by_id(emu.hume.get)), methods=["GET"]),
        Route("/v0/batch/jobs/{id}/predictions", guarded("hume", by_id(emu.hume.predictions)), methods=["GET"]),
        Route("/v0/batch/jobs/{id}/artifacts", guarded("hume", by_id(emu.hume.artifacts)), methods=["GET"]),
        Route("/api/v2/detect/batch", guarded("resemble", resemble_create), methods=["POST"]),
        Route("/api/v2/detect/batch/{id}", guarded("resemble", by_id(emu.resemble.get_batch)), methods=["GET"]),
        Route("/api/v2/detect/{id}", guarded("resemble", by_id(emu.resemble.get_detect)), methods=["GET"]),
        Route("/_emulator", introspect, methods=["GET"]),
    ]
    return FaultGate(Starlette(routes=routes), emu)


CallbackSource = Callable[[str], tuple[str | None, float, dict[str, Any] | None]]
_LOOPBACK = ("127.0.0.1", "localhost", "::1")
_deliveries: set[asyncio.Task[None]] = set()


def call_back_later(emu: Emulator, source: CallbackSource, job_id: str) -> None:
    """POST the job's callback once it ends, if its ``callback_url`` is on this machine (loopback only)."""
    url, _, _ = source(job_id)
    if not url or httpx.URL(url).host not in _LOOPBACK:
        return

    async def deliver() -> None:
        while True:
            _, done_at, payload = source(job_id)
            if payload is not None:
                break
            await asyncio.sleep(max(0.01, done_at - emu.state.clock()))
        async with httpx.AsyncClient(timeout=10) as client:
            with contextlib.suppress(httpx.HTTPError):
                await client.post(url, json=payload)

    task = asyncio.get_running_loop().create_task(deliver())
    _deliveries.add(task)
    task.add_done_callback(_deliveries.discard)


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
        fault = None if path.startswith("/_emulator") else self.emu.faults.take(method, path)
        generation = self.emu.state.generation
        scope.setdefault("state", {})
        logged = False

        def log(status: int) -> None:
            """Record the request as its reply starts, before the client can see the reply."""
            nonlocal logged
            if not logged:
                logged = True
                query = scope.get("query_string", b"").decode("latin-1")
                parts = scope["state"].get("parts", ())
                entry = Recorded(method, path, query, status, parts, fault.kind.value if fault else None)
                self.emu.state.record(entry, generation)

        async def reply(message: Message) -> None:
            if message["type"] == "http.response.start":
                log(message["status"])
            if fault is None or fault.kind not in _HANDLED_THEN_REPLACED:
                await send(message)

        try:
            await self._handle(fault, scope, receive, send, reply, log)
        finally:
            log(0)

    async def _handle(
        self, fault: Fault | None, scope: Scope, receive: Receive, send: Send, reply: Send, log: Callable[[int], None]
    ) -> None:
        kind = fault.kind if fault else None
        if fault is not None and kind is FaultKind.SLOW:
            await asyncio.sleep(fault.delay)
        if fault is None or kind is FaultKind.SLOW:
            await self.app(scope, receive, reply)
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
