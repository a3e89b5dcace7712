"""The emulator fake of the Acme Presign provider: upload slots behind signed URLs, then items that
finish on the emulator's schedule once their bytes have arrived."""

from __future__ import annotations

import secrets
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from batchkit.emulator.fake import Fake, respond
from batchkit.emulator.state import Phase, Reply, State


class PresignFake(Fake):
    unauthorized = Reply(401, {"error": "bad key"})

    def __init__(self, state: State, provider: str) -> None:
        super().__init__(state, provider)
        self.items: dict[str, dict[str, Any]] = {}

    def key(self, request: Request) -> str | None:
        return request.headers.get("acme-key")

    def reset(self) -> None:
        self.items.clear()

    def routes(self) -> list[Route]:
        return [
            Route("/presign/v1/items", self._slot, methods=["POST"]),
            Route("/presign/v1/items/{id}", self.by_id(self.get), methods=["GET"]),
            Route("/presign/v1/blobs/{id}", self.keyless(self._put), methods=["PUT"]),
        ]

    async def _slot(self, request: Request) -> Response:
        body = await request.json()
        item, signature = self.state.new_id(), secrets.token_hex(8)
        self.items[item] = {"name": body["name"], "size": body["size"], "signature": signature, "schedule": None}
        self.created()
        url = f"{str(request.base_url).rstrip('/')}/presign/v1/blobs/{item}?signature={signature}"
        return respond(Reply(201, {"id": item, "upload_url": url}))

    async def _put(self, request: Request) -> Response:
        item = self.items.get(request.path_params["id"])
        if item is None or request.query_params.get("signature") != item["signature"]:
            return respond(Reply(403, {"error": "signature does not match"}))
        data = await request.body()
        if len(data) != item["size"]:
            return respond(Reply(400, {"error": f"{len(data)} bytes, {item['size']} announced"}))
        item["schedule"] = item["schedule"] or self.state.schedule()
        return respond(Reply(200, {}))

    def get(self, item_id: str) -> Reply:
        item = self.items.get(item_id)
        if item is None:
            return Reply(404, {"error": "no such item"})
        body: dict[str, Any] = {"id": item_id, "name": item["name"], "state": "awaiting_upload"}
        if item["schedule"] is not None:
            phase = self.state.phase(item["schedule"])
            body["state"] = {Phase.QUEUED: "working", Phase.RUNNING: "working", Phase.DONE: "done"}[phase]
            if phase is Phase.DONE:
                body.update(verdict="clean", score=0.25)
        return Reply(200, body)
