"""A receiver of providers' callbacks that writes them into a journal: an ASGI app, served by
``batchkit callbacks --journal URL --listen HOST:PORT``.

A provider POSTs to ``<receiver>/<provider>?batchkit_nonce=…``: the ``callback_url`` a journaled run
gave it, where batchkit put a nonce of its own (``enqueue``/``submit_many`` runs; each of Hive's
async tasks has one). A callback is trusted only when its job id is a journaled chunk's of that
provider and its nonce is the one journaled with it; anything else is refused (403) and logged,
without its body. Bodies are bounded (413 past :data:`MAX_BODY`). Trusted callbacks are idempotent:

* a synchronous provider's (Hive's async tasks): the result replaces the acknowledgement kept as the
  chunk's reply, so the job ends without anyone polling;
* any other's (Resemble, Hume): the chunk is due now, so a worker collects its results at once
  instead of at its next poll (workers may poll seldom).

Without a receiver, jobs are polled as before.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import time
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any
from urllib.parse import parse_qs

from batchkit import webhooks
from batchkit._kernel.journal import Journal
from batchkit._kernel.nonces import NONCE, nonce_of, same_nonce
from batchkit.errors import BatchkitError, InputError
from batchkit.providers import get_provider
from batchkit.providers.base import SynchronousProvider

log = logging.getLogger("batchkit")
MAX_BODY = 4 << 20
"""The largest callback body read (a Hive video result has a few classes per second of video)."""

Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]


class TooLarge(Exception):
    """A body over the receiver's bound."""


def expected_nonce(spec: Any, index: int) -> str | None:
    """The nonce journaled with chunk ``index`` of a run whose spec is ``spec``: a synchronous request's
    own ``callback_url``'s, else the run's."""
    if not isinstance(spec, dict):
        return None
    requests = spec.get("requests")
    if isinstance(requests, list) and 0 <= index < len(requests) and isinstance(requests[index], dict):
        return nonce_of((requests[index].get("spec") or {}).get("callback_url"))
    return nonce_of((spec.get("inputs") or {}).get("callback_url"))


class CallbackReceiver:
    """The ASGI app: ``POST /<provider>?batchkit_nonce=…`` (any path whose last segment is the
    provider's name) into the journal at ``journal``."""

    def __init__(self, journal: str | os.PathLike[str], *, max_body: int = MAX_BODY,
                 clock: Callable[[], float] = time.time) -> None:  # fmt: skip
        self.journal = journal
        self.max_body = max_body
        self.clock = clock

    def receive(self, provider: str, nonce: str | None, body: bytes) -> tuple[int, str]:
        """One callback: ``(HTTP status, what became of it)``."""
        try:
            cls = get_provider(provider)
        except BatchkitError:
            return 404, f"no provider {provider[:40]!r}"
        try:
            callback = webhooks.parse(cls.name, body)
        except InputError as exc:
            return 400, str(exc)
        except BatchkitError as exc:
            return 400, f"the callback cannot be read: {exc}"
        book = Journal(self.journal)
        try:
            found = book.find_job(cls.name, callback.job.id)
            if found is None or not same_nonce(nonce, expected_nonce(found[0].spec, found[1].index)):
                log.warning("%s callback refused: it matches no journaled submission (job id %s)", cls.name,
                            callback.job.id[:80])  # fmt: skip
                return 403, "no journaled submission has this job id and nonce"
            run, chunk = found
            reply = dict(callback.job.raw) if issubclass(cls, SynchronousProvider) else None
            changed = book.called_back(chunk, reply, int(self.clock() * 1000))
        finally:
            book.close()
        log.info("%s callback of job %s (run %s): %s", cls.name, callback.job.id, run.id,
                 "recorded" if changed else "already recorded")  # fmt: skip
        return 200, "recorded" if changed else "already recorded"

    async def __call__(self, scope: MutableMapping[str, Any], receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            while True:
                kind = (await receive())["type"]
                await send({"type": f"{kind}.complete"})
                if kind == "lifespan.shutdown":
                    return
        if scope["type"] != "http":
            return
        if scope["method"] != "POST":
            await _reply(send, 405, "callbacks are POSTed")
            return
        headers = dict(scope.get("headers") or ())
        declared = headers.get(b"content-length", b"")
        if declared.isdigit() and int(declared) > self.max_body:
            await _reply(send, 413, f"a callback body is at most {self.max_body} bytes")
            return
        try:
            body = await self._body(receive)
        except TooLarge:
            await _reply(send, 413, f"a callback body is at most {self.max_body} bytes")
            return
        provider = str(scope.get("path", "")).rstrip("/").rsplit("/", 1)[-1]
        query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
        nonce = (query.get(NONCE) or [None])[-1]
        status, said = await asyncio.to_thread(self.receive, provider, nonce, body)
        await _reply(send, status, said)

    async def _body(self, receive: Receive) -> bytes:
        chunks, size = [], 0
        while True:
            message = await receive()
            piece = message.get("body", b"")
            size += len(piece)
            if size > self.max_body:
                raise TooLarge
            chunks.append(piece)
            if not message.get("more_body"):
                return b"".join(chunks)


async def _reply(send: Send, status: int, message: str) -> None:
    body = json.dumps({"ok": status == 200, "message": message}).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})


__all__ = ["MAX_BODY", "CallbackReceiver", "expected_nonce"]
