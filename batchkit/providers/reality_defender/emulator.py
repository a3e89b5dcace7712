"""The fake Reality Defender API: presign, the presigned PUT target (an S3 stand-in on the emulator),
scans and their list, as the official Python SDK (``realitydefender`` 0.1.13) reads them.

A scan's verdict follows its file's name: ``fake`` in it makes it ``FAKE`` (93.4), ``suspicious``
``SUSPICIOUS`` (55.0), ``no-face`` ``NOT_APPLICABLE`` (no faces detected), a failing name
(:meth:`~batchkit.emulator.state.State.failing`) ``UNABLE_TO_EVALUATE``; any other ``AUTHENTIC`` with a
seeded score of 1-40. Setting :attr:`RealityDefenderFake.refusal` to a plan code
(``free-tier-not-allowed``, ``upload-limit-reached``) makes every presign answer that 400.
"""

from __future__ import annotations

import datetime as dt
import secrets
import time
from typing import Any
from urllib.parse import quote

import attrs
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from batchkit.emulator.fake import Fake, respond
from batchkit.emulator.media import rng_for
from batchkit.emulator.state import Phase, Reply, State

from .limits import MAX_NAME, MEDIA_TYPES, sent_name

MODELS = {
    "image": ("rd-img-ensemble", "rd-elm-img", "rd-pine-img"),
    "video": ("rd-vid-ensemble", "rd-tahoe-vid"),
    "audio": ("rd-aud-ensemble", "rd-marconi-aud"),
    "text": ("rd-txt-ensemble",),
}
EXPIRED = b"<Error><Code>AccessDenied</Code><Message>Request has expired</Message></Error>"
S3 = "/_s3/rd-uploads/{media}/{name}"


def _error(status: int, code: str, message: str) -> Reply:
    return Reply(status, {"code": code, "response": message, "errno": status, "requestId": None})


NOT_FOUND = _error(404, "not-found", "Not found")


def _iso(seconds: float) -> str:
    return dt.datetime.fromtimestamp(seconds, dt.timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


@attrs.define
class Upload:
    request_id: str
    media_id: str
    name: str
    signature: str
    created: float
    """Seconds since the epoch."""
    schedule: tuple[float, float] | None = None
    """Set once the bytes arrived."""
    size: int = 0
    keyed: bool = False
    """Whether the PUT carried the API key (the official SDK's does; batchkit's must not)."""


class RealityDefenderFake(Fake):
    unauthorized = _error(401, "unauthorized", "Invalid API key")

    def __init__(self, state: State, provider: str) -> None:
        super().__init__(state, provider)
        self.uploads: dict[str, Upload] = {}
        self.refusal: str | None = None
        self.expired = False
        """Set, every PUT answers S3's 403 for an expired URL."""

    def key(self, request: Request) -> str | None:
        return request.headers.get("x-api-key")

    def reset(self) -> None:
        self.uploads.clear()
        self.refusal, self.expired = None, False

    def routes(self) -> list[Route]:
        return [
            Route("/api/files/aws-presigned", self._presign, methods=["POST"]),
            Route(S3.format(media="{media}", name="{name}"), self.keyless(self._put), methods=["PUT"]),
            Route("/api/media/users/{id}", self.by_id(self.scan), methods=["GET"]),
            Route("/api/v2/media/users/pages/{page}", self._pages, methods=["GET"]),
        ]

    async def _presign(self, request: Request) -> Response:
        if request.headers.get("content-type", "").startswith("application/json"):
            try:
                body = await request.json()
            except ValueError:
                body = None
            name = body.get("fileName") if isinstance(body, dict) else None
        else:
            name = (await request.form()).get("fileName")
        if not isinstance(name, str) or not name.strip():
            return respond(_error(400, "validation-error", "fileName is required"))
        if len(name) > MAX_NAME:
            return respond(_error(400, "validation-error", f"fileName is over {MAX_NAME} characters"))
        if self.refusal:
            return respond(_error(400, self.refusal, f"emulated plan refusal: {self.refusal}"))
        upload = Upload(self.state.new_id(), self.state.new_id(), sent_name(name.rsplit("/", 1)[-1]),
                        secrets.token_hex(32), time.time())  # fmt: skip
        with self.state.lock:
            self.uploads[upload.request_id] = upload
        day = time.strftime("%Y%m%d", time.gmtime())
        credential = quote(f"EMU/{day}/us-east-1/s3/aws4_request", "")
        query = (f"X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential={credential}"
                 f"&X-Amz-Date={day}T000000Z&X-Amz-Expires=900&X-Amz-Security-Token={secrets.token_hex(16)}"
                 f"&X-Amz-SignedHeaders=host&X-Amz-Signature={upload.signature}")  # fmt: skip
        path = S3.format(media=upload.media_id, name=quote(upload.name))
        url = f"{str(request.base_url).rstrip('/')}{path}?{query}"
        return respond(Reply(200, {"code": "ok", "errno": 0, "requestId": upload.request_id,
                                   "mediaId": upload.media_id, "response": {"signedUrl": url}}))  # fmt: skip

    async def _put(self, request: Request) -> Response:
        with self.state.lock:
            upload = next((u for u in self.uploads.values() if u.media_id == request.path_params["media"]), None)
        if self.expired or upload is None or request.query_params.get("X-Amz-Signature") != upload.signature:
            return Response(EXPIRED, 403, media_type="application/xml")
        size = 0
        async for chunk in request.stream():
            size += len(chunk)
        with self.state.lock:
            upload.size, upload.keyed = size, "x-api-key" in request.headers
            if upload.schedule is None:
                upload.schedule = self.state.schedule()
                self.created()
        return Response(b"", 200, headers={"ETag": f'"{upload.signature[:32]}"'})

    def _verdict(self, upload: Upload) -> tuple[str, float | None, list[dict[str, str]]]:
        name = upload.name.lower()
        if self.fails(upload.name):
            return "UNABLE_TO_EVALUATE", None, []
        if "no-face" in name:
            return "NOT_APPLICABLE", None, [{"code": "relevance", "message": "no faces detected/faces too small"}]
        if "fake" in name:
            return "FAKE", 93.4, []
        if "suspicious" in name:
            return "SUSPICIOUS", 55.0, []
        return "AUTHENTIC", float(rng_for(self.state.config.seed, upload.name).randint(10, 400)) / 10, []

    def body(self, upload: Upload) -> dict[str, Any]:
        suffix = upload.name[upload.name.rfind(".") :].lower() if "." in upload.name else ""
        kind = MEDIA_TYPES.get(suffix, "image")
        base: dict[str, Any] = {
            "name": upload.name, "filename": f"rd-{upload.media_id}", "originalFileName": upload.name,
            "requestId": upload.request_id, "uploadedDate": _iso(upload.created), "mediaType": kind.upper(),
            "overallStatus": "ANALYZING", "resultsSummary": None, "models": [], "webhookUrls": [],
            "userInfo": {"email": "someone@example.com"}, "createdAt": _iso(upload.created),
            "media_metadata_info": {"file_size": upload.size},
        }  # fmt: skip
        if upload.schedule is None or self.state.phase(upload.schedule) != Phase.DONE:
            return base
        status, score, reasons = self._verdict(upload)
        metadata: dict[str, Any] = {"finalScore": score}
        if reasons:
            metadata["reasons"] = reasons
        models = []
        for media, names in MODELS.items():
            for model in names:
                mine = media == kind and status not in ("NOT_APPLICABLE", "UNABLE_TO_EVALUATE")
                models.append({"name": model, "status": status if mine else "NOT_APPLICABLE", "data": None,
                               "code": None if mine else "not_applicable", "error": None,
                               "predictionNumber": score / 100 if mine and score is not None else None,
                               "normalizedPredictionNumber": score if mine else None, "rollingAvgNumber": None,
                               "finalScore": score if mine else None})  # fmt: skip
        base.update(overallStatus=status, resultsSummary={"status": status, "metadata": metadata}, models=models,
                    updatedAt=_iso(upload.created + 1))  # fmt: skip
        if kind == "image" and status == "FAKE":
            base["heatmaps"] = {"rd-elm-img": f"https://heatmaps.example/{upload.media_id}.png?X-Amz-Signature=hm"}
        return base

    def scan(self, request_id: str) -> Reply:
        with self.state.lock:
            upload = self.uploads.get(request_id)
        if upload is None or upload.schedule is None:
            return NOT_FOUND
        return Reply(200, self.body(upload))

    async def _pages(self, request: Request) -> Response:
        query = request.query_params
        try:
            page, size = int(request.path_params["page"]), int(query.get("size") or 10)
            start, end = (_date(query.get(k)) for k in ("startDate", "endDate"))
        except ValueError:
            return respond(_error(400, "validation-error", "page, size, startDate and endDate must be valid"))
        if page < 0 or not 1 <= size <= 100:
            return respond(_error(400, "validation-error", "page must be 0 or more and size 1 to 100"))
        name = (query.get("name") or "").lower()
        with self.state.lock:
            found = [u for u in self.uploads.values() if u.schedule is not None and name in u.name.lower()
                     and (start is None or _day(u.created) >= start) and (end is None or _day(u.created) <= end)]
        found.sort(key=lambda u: u.created, reverse=True)
        items = [self.body(u) for u in found[page * size : (page + 1) * size]]
        pages = -(-len(found) // size)
        return respond(Reply(200, {"totalItems": len(found), "totalPages": pages, "currentPage": page,
                                   "currentPageItemsCount": len(items), "mediaList": items}))  # fmt: skip


def _day(seconds: float) -> dt.date:
    return dt.datetime.fromtimestamp(seconds, dt.timezone.utc).date()


def _date(value: str | None) -> dt.date | None:
    """``YYYY-MM-DD``, zero padding optional (the TypeScript SDK sends ``2026-1-5``)."""
    if not value:
        return None
    year, month, day = (int(part) for part in value.split("-"))
    return dt.date(year, month, day)
