"""What the emulator takes from the network: bodies up to a route's limit, read as they arrive (413 as
soon as one passes it, whatever its framing), and callers on other machines only when asked for."""

from __future__ import annotations

import asyncio
import ipaddress
import json
from collections.abc import Awaitable, Callable, MutableMapping, Sequence
from typing import Any

from starlette.routing import Match, Route

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
App = Callable[[Scope, Callable[[], Awaitable[Message]], Callable[[Message], Awaitable[None]]], Awaitable[None]]

MAX_JSON_BODY = 16 << 20
"""The largest body of a request that is not a multipart upload (a JSON create, say)."""
MAX_UPLOAD = 1_100_000_000
"""The largest multipart upload a fake takes unless it says otherwise (Hume's 1 GB, with room)."""


def is_loopback(host: str) -> bool:
    """Whether ``host`` names this machine only (``localhost``, 127.0.0.0/8, ``::1``)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


class TooLarge(Exception):
    """A request body passed its route's limit."""


class Idle(Exception):
    """A request body sent nothing for longer than the server's idle timeout."""


class BodyLimit:
    """Answers 413 once a request's body passes its limit (its route's fake's ``max_upload`` for a
    multipart body or a PUT's, :data:`MAX_JSON_BODY` otherwise), before reading any more of it; and 408,
    closing the connection, once a body has sent nothing for ``idle()`` seconds (what came of it is dropped)."""

    def __init__(self, app: App, routes: Sequence[tuple[Route, int]], idle: Callable[[], float | None]) -> None:
        self.app, self.routes, self.idle = app, routes, idle

    def limit(self, scope: Scope) -> int:
        headers = dict(scope.get("headers") or ())
        if scope["method"] != "PUT" and not headers.get(b"content-type", b"").startswith(b"multipart/"):
            return MAX_JSON_BODY
        return next((most for route, most in self.routes if route.matches(scope)[0] is Match.FULL), MAX_UPLOAD)

    async def __call__(self, scope: Scope, receive: Callable[[], Awaitable[Message]],
                       send: Callable[[Message], Awaitable[None]]) -> None:  # fmt: skip
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        most, seen, over, started, whole = self.limit(scope), 0, 0, False, False

        async def counted() -> Message:
            nonlocal seen, over, whole
            try:  # once the body is whole, the app waits for a disconnect as long as it likes
                message = await (receive() if whole else asyncio.wait_for(receive(), self.idle()))
            except asyncio.TimeoutError:
                over = 408
                raise Idle from None
            whole = whole or not message.get("more_body", False)
            seen += len(message.get("body", b""))
            if seen > most:
                over = 413
                raise TooLarge
            return message

        async def guarded(message: Message) -> None:
            nonlocal started
            if over:  # whatever the app makes of the interrupted body is not sent
                return
            started = True
            await send(message)

        try:
            await self.app(scope, counted, guarded)
        except Exception:
            if not over:
                raise
        if over and not started:
            said = f"the request body is over {most} bytes" if over == 413 else "the request body stopped coming"
            body = json.dumps({"success": False, "message": said}).encode()
            await send({"type": "http.response.start", "status": over,
                        "headers": [(b"content-type", b"application/json"), (b"connection", b"close")]})  # fmt: skip
            await send({"type": "http.response.body", "body": body})
