"""The fake Resemble detect batch API: every documented 400/402/403/404 rule, batches and detects."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import random
import time
import zipfile
from collections.abc import Sequence
from pathlib import PurePosixPath
from typing import Any

import attrs
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from batchkit.emulator.fake import Fake, call_back_later, read_parts, respond
from batchkit.emulator.media import media_type, rng_for
from batchkit.emulator.state import Part, Phase, Reply, State

MAX_FILES = 50
MAX_TOTAL_BYTES = 500 * 10**6
BOOL_FIELDS = frozenset(
    {"intelligence", "search_identity", "visualize", "audio_source_tracing_enabled", "use_llm", "zero_retention_mode"}
)
NUMBER_FIELDS = frozenset({"frame_length", "start_region", "end_region", "max_video_secs"})
TEXT_FIELDS = frozenset({"callback_url"})


@attrs.define
class Detect:
    uuid: str
    filename: str
    kind: str
    schedule: tuple[float, float]
    settings: dict[str, Any]
    created: float
    """Seconds since the epoch."""
    redacted: str = ""
    """The name under zero retention: ``redacted_<32 hex>.<ext>``."""

    @property
    def created_at(self) -> str:
        return _iso(self.created)


@attrs.define
class Batch:
    uuid: str
    created_at: str
    detects: list[Detect]
    callback_url: str | None


def _error(status: int, message: str, details: dict[str, Any] | None = None) -> Reply:
    body: dict[str, Any] = {"success": False, "message": message}
    if details is not None:
        body["details"] = details
    return Reply(status, body)


def _iso(seconds: float) -> str:
    return dt.datetime.fromtimestamp(seconds, dt.timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _now() -> str:
    return _iso(time.time())


def _parse_settings(fields: Sequence[Part]) -> dict[str, Any] | Reply:
    settings: dict[str, Any] = {"visualize": True}
    for part in fields:
        name, value = part.name, part.value.strip()
        if name in BOOL_FIELDS:
            if value.lower() not in ("true", "false", "1", "0"):
                return _error(400, f"{name} must be a boolean")
            settings[name] = value.lower() in ("true", "1")
        elif name in NUMBER_FIELDS:
            try:
                settings[name] = float(value)
            except ValueError:
                return _error(400, f"{name} must be a number")
        elif name in TEXT_FIELDS:
            if not value.startswith(("http://", "https://")):
                return _error(400, f"{name} must be an http(s) URL")
            settings[name] = value
        else:
            return _error(400, f"unknown field {name!r}")
    frame = settings.get("frame_length")
    if frame is not None and not 1 <= frame <= 4:
        return _error(400, "frame_length must be between 1 and 4 seconds")
    return settings


class ResembleFake(Fake):
    """Detect batches, with every documented 400/402/403/404 rule, and their detects."""

    unauthorized = Reply(401, {"success": False, "message": "Unauthorized"})

    def __init__(self, state: State, provider: str) -> None:
        super().__init__(state, provider)
        self.batches: dict[str, Batch] = {}
        self.detects: dict[str, Detect] = {}
        self.intelligence_used = 0

    def reset(self) -> None:
        self.batches.clear()
        self.detects.clear()
        self.intelligence_used = 0

    def key(self, request: Request) -> str | None:
        """``Bearer <key>`` (the docs) or ``Token token=<key>`` (what Resemble's own SDKs send)."""
        auth = request.headers.get("authorization", "")
        for scheme in ("bearer ", "token token="):
            if auth.lower().startswith(scheme):
                return auth[len(scheme) :].strip() or None
        return None

    def routes(self) -> list[Route]:
        return [
            Route("/api/v2/detect/batch", self._create_endpoint, methods=["POST"]),
            Route("/api/v2/detect/batch/{id}", self.by_id(self.get_batch), methods=["GET"]),
            Route("/api/v2/detect", self._single_endpoint, methods=["POST"]),
            Route("/api/v2/detect", self._list_endpoint, methods=["GET"]),
            Route("/api/v2/detect/{id}", self.by_id(self.get_detect), methods=["GET"]),
        ]

    async def _list_endpoint(self, request: Request) -> Response:
        return respond(self.list_detects(request.query_params.get("page"), request.query_params.get("page_size")))

    async def _single_endpoint(self, request: Request) -> Response:
        """One detect from a multipart ``file`` or a JSON ``url``; ``Prefer: wait`` answers when it is done."""
        if request.headers.get("content-type", "").startswith("multipart/form-data"):
            parts, close = await read_parts(request)
            try:
                files = [p for p in parts if p.name == "file" and p.filename is not None]
                if len(files) != 1:
                    return respond(_error(400, "Provide exactly one file"))
                if files[0].size == 0:
                    return respond(_error(400, "The file is empty"))
                settings = _parse_settings([p for p in parts if p.filename is None])
                name = files[0].filename or "file"
            finally:
                await close()
        else:
            try:
                body = json.loads(await request.body() or b"{}")
            except (ValueError, RecursionError):
                return respond(_error(400, "request body is not valid JSON"))
            url = body.get("url") if isinstance(body, dict) else None
            if not isinstance(url, str) or not url.startswith("https://"):
                return respond(_error(400, "url must be a public https URL"))
            fields = [Part(k, None, 0, json.dumps(v) if isinstance(v, bool) else str(v))
                      for k, v in body.items() if k != "url" and v is not None]  # fmt: skip
            settings = _parse_settings(fields)
            name = url.rstrip("/").rsplit("/", 1)[-1]
        if isinstance(settings, Reply):
            return respond(settings)
        if media_type(name) is None:
            return respond(_error(400, f"Unsupported file type detected: {name}"))
        with self.state.lock:
            detect = self._new_detect(name, settings, time.time())
            self.detects[detect.uuid] = detect
            self.created()
        if "wait" in (request.headers.get("prefer") or "").lower():
            await asyncio.sleep(max(0.0, detect.schedule[1] - self.state.clock()))
            return respond(self.get_detect(detect.uuid))
        return respond(Reply(200, {"success": True, "item": {"uuid": detect.uuid, "metrics": {},
                       "created_at": detect.created_at, "updated_at": detect.created_at,
                       "media_type": detect.kind, "intelligence": None}}))  # fmt: skip

    def list_detects(self, page: str | None, page_size: str | None) -> Reply:
        """The team's detects, newest first, a page at a time (``page`` required, 10 to 1000 a page)."""
        try:
            number, size = int(page or ""), int(page_size or 10)
        except ValueError:
            return _error(400, "page is required and must be a number")
        if number < 1 or not 10 <= size <= 1000:
            return _error(400, "page must be 1 or more and page_size 10 to 1000")
        with self.state.lock:
            newest = sorted(self.detects.values(), key=lambda d: d.created, reverse=True)
        chunk = newest[(number - 1) * size : number * size]
        return Reply(200, {"success": True, "page": number, "num_pages": max(1, -(-len(newest) // size)),
                           "page_size": size, "total_count": len(newest),
                           "items": [self.detect_item(d) for d in chunk]})  # fmt: skip

    async def _create_endpoint(self, request: Request) -> Response:
        if not request.headers.get("content-type", "").startswith("multipart/form-data"):
            return respond(_error(400, "multipart/form-data required"))
        parts, close = await read_parts(request)
        try:
            reply = self.create(parts, request.headers.get("prefer"))
        finally:
            await close()
        if reply.status == 202:
            call_back_later(self.state, self.callback, reply.body["item"]["uuid"])
        return respond(reply)

    def create(self, parts: Sequence[Part], prefer: str | None) -> Reply:
        if prefer and "wait" in prefer.lower():
            return _error(400, "Prefer: wait is not supported for batch detection")
        files = [p for p in parts if p.name == "files[]" and p.filename is not None]
        archives = [p for p in parts if p.name == "file" and p.filename is not None]
        fields = [p for p in parts if p.filename is None]
        if not files and not archives:
            return _error(400, "Missing files[] and zip file")
        if files and archives:
            return _error(400, "Provide either files[] or a zip file, not both")
        if len(archives) > 1:
            return _error(400, "Only one zip file may be provided")
        names = [p.filename or "" for p in files]
        if archives:
            listed = self._zip_media(archives[0])
            if isinstance(listed, Reply):
                return listed
            names = listed
        if len(names) > MAX_FILES:
            return _error(400, f"Batch exceeds {MAX_FILES} files")
        if sum(p.size for p in files + archives) > MAX_TOTAL_BYTES:
            return _error(400, "Total size exceeds 500 MB")
        bad = [n for n in names if media_type(n) is None]
        if bad:
            return _error(400, f"Unsupported file type detected: {bad[0]}")
        settings = _parse_settings(fields)
        if isinstance(settings, Reply):
            return settings
        return self._admit(names, settings)

    def _zip_media(self, archive: Part) -> list[str] | Reply:
        if not (archive.filename or "").lower().endswith(".zip"):
            return _error(400, "file must be a .zip archive")
        try:
            archive.file.seek(0)
            with zipfile.ZipFile(archive.file) as zf:
                entries = [PurePosixPath(i.filename).name for i in zf.infolist() if not i.is_dir()]
        except zipfile.BadZipFile:
            return _error(400, "file is not a valid zip archive")
        media = [n for n in entries if media_type(n) is not None and not n.startswith(".")]
        if not media:
            return _error(400, "The zip archive contains no supported media files")
        return media

    def _admit(self, names: list[str], settings: dict[str, Any]) -> Reply:
        cfg = self.state.config
        with self.state.lock:
            costs = [cfg.cost_cents.get(media_type(n) or "", 0) for n in names]
            estimates = [
                {"filename": n, "media_type": media_type(n), "estimated_cost_cents": c}
                for n, c in zip(names, costs, strict=True)
            ]
            total = sum(costs)
            if cfg.wallet_cents is not None and total > cfg.wallet_cents:
                return _error(
                    402,
                    "Insufficient wallet balance for this batch",
                    {"per_file_estimates": estimates, "total_estimated_cost_cents": total},
                )
            requested = len(names) if settings.get("intelligence") else 0
            if cfg.intelligence_limit is not None and self.intelligence_used + requested > cfg.intelligence_limit:
                return _error(
                    403,
                    "Intelligence detect limit reached on the Default plan",
                    {"limit": cfg.intelligence_limit, "used": self.intelligence_used, "requested": requested},
                )
            if cfg.wallet_cents is not None:
                cfg.wallet_cents -= total
            self.intelligence_used += requested
            created = time.time()
            detects = [self._new_detect(n, settings, created, (i + 1) / len(names)) for i, n in enumerate(names)]
            batch = Batch(self.state.new_id(), _iso(created), detects, settings.get("callback_url"))
            self.batches[batch.uuid] = batch
            self.detects.update((d.uuid, d) for d in detects)
            self.created()
        return Reply(202, {"success": True, "item": self.batch_item(batch)})

    def _new_detect(self, name: str, settings: dict[str, Any], created: float, share: float = 1.0) -> Detect:
        uuid = self.state.new_id()
        redacted = f"redacted_{uuid.replace('-', '')}{PurePosixPath(name).suffix}"
        return Detect(uuid, name, media_type(name) or "audio", self.state.schedule(share), settings, created, redacted)

    def _detect_status(self, detect: Detect) -> str:
        if self.state.phase(detect.schedule) != Phase.DONE:
            return "processing"
        return "failed" if self.fails(detect.filename) else "completed"

    def batch_item(self, batch: Batch) -> dict[str, Any]:
        statuses = [self._detect_status(d) for d in batch.detects]
        completed, failed = statuses.count("completed"), statuses.count("failed")
        if "processing" in statuses:
            status = "processing"
        elif failed == 0:
            status = "completed"
        else:
            status = "failed" if completed == 0 else "partially_failed"
        return {
            "uuid": batch.uuid,
            "status": status,
            "total_files": len(batch.detects),
            "completed_count": completed,
            "failed_count": failed,
            "created_at": batch.created_at,
            "detect_uuids": [d.uuid for d in batch.detects],
        }

    def callback(self, uuid: str) -> tuple[str | None, float, dict[str, Any] | None]:
        """Where to call back, when (emulator clock), and with what (None until the batch ends)."""
        batch = self.batches[uuid]
        item = self.batch_item(batch)
        done_at = max(d.schedule[1] for d in batch.detects)
        return batch.callback_url, done_at, {"success": True, "item": item} if item["status"] != "processing" else None

    def get_batch(self, uuid: str) -> Reply:
        batch = self.batches.get(uuid)
        return (
            Reply(200, {"success": True, "item": self.batch_item(batch)}) if batch else _error(404, "Batch not found")
        )

    def get_detect(self, uuid: str) -> Reply:
        detect = self.detects.get(uuid)
        if detect is None:
            return _error(404, "Detect not found")
        return Reply(200, {"success": True, "item": self.detect_item(detect)})

    def detect_item(self, detect: Detect) -> dict[str, Any]:
        """A detect as ``GET /api/v2/detect/{uuid}`` shows it, with every documented field."""
        status = self._detect_status(detect)
        settings = detect.settings
        zero = bool(settings.get("zero_retention_mode"))
        done = status != "processing"
        url = None if zero else f"https://emulator.invalid/media/{detect.uuid}"
        tracing = bool(settings.get("audio_source_tracing_enabled") or settings.get("audio_source_tracing"))
        item: dict[str, Any] = {
            "uuid": detect.uuid,
            "media_type": detect.kind,
            "status": status,
            "filename": detect.redacted if zero else detect.filename,
            "url": url,
            "audio_url": url,
            "duration": None,
            "metrics": {},
            "image_metrics": None,
            "video_metrics": None,
            "intelligence": None,
            "zero_retention_mode": zero,
            "media_redacted": zero,
            "media_deleted": zero and done,
            "file_deleted_at": detect.created_at if zero and done else None,
            "visualize": bool(settings.get("visualize", True)),
            "audio_source_tracing_enabled": tracing,
            "use_ood_detector": bool(settings.get("use_ood_detector", False)),
            "extra_params": {
                "search_identity_requested": bool(settings.get("search_identity", False)),
                "use_reverse_search": bool(settings.get("use_reverse_search", False)),
            },
            "created_at": detect.created_at,
            "updated_at": _iso(detect.created + detect.schedule[1] - detect.schedule[0]) if done else detect.created_at,
        }
        if status == "failed":
            item["error_message"] = "emulated failure: could not analyse file"
        elif status == "completed":
            rng = rng_for(self.state.config.seed, detect.filename)
            item.update(resemble_detect(rng, detect.kind, item["visualize"]))
            label = (item["metrics"] or {}).get("label") or str((item["image_metrics"] or {}).get("label")).lower()
            if settings.get("intelligence"):
                description = f"emulated analysis: likely {label}"
                item["intelligence"] = {"uuid": self.state.new_id(), "created_at": item["updated_at"],
                                        "detect_uuid": detect.uuid, "description": description}  # fmt: skip
            if tracing and detect.kind == "audio" and label == "fake":
                item["audio_source_tracing"] = {"label": rng.choice(("resemble_ai", "elevenlabs")),
                                                "error_message": None}  # fmt: skip
        return item


def resemble_detect(rng: random.Random, kind: str, visualize: bool) -> dict[str, Any]:
    """The analysis fields of a completed detect for one file of ``kind``."""
    score = round(rng.random(), 4)
    label = "fake" if score >= 0.5 else "real"
    heatmap = f"https://emulator.invalid/heatmaps/{rng.getrandbits(32):08x}.png" if visualize else ""
    duration = round(rng.uniform(1, 30), 2)  # sent as a string or a number, as the service does
    out: dict[str, Any] = {"duration": None if kind == "image" else f"{duration}" if rng.random() < 0.5 else duration}
    if kind in ("audio", "video"):
        chunks = [f"{min(1.0, max(0.0, score + rng.uniform(-0.1, 0.1))):.4f}" for _ in range(3)]
        out["metrics"] = {
            "label": label,
            "score": chunks,
            "consistency": "0.9",
            "aggregated_score": f"{score:.4f}",
            "image": heatmap,
        }
    if kind == "video":
        frame = {"type": "ImageResult", "conclusion": label.capitalize(), "score": score, "certainty": "0.9",
                 "certainty (%)": "90%", "timestamp": 0.0, "children": []}  # fmt: skip
        video = {"type": "VideoResult", "conclusion": label.capitalize(), "score": score, "certainty": 0.9,
                 "certainty (%)": "90%", "children": [frame]}  # fmt: skip
        out["video_metrics"] = {"label": label.capitalize(), "score": f"{score}", "certainty": "0.9", "treeview": "",
                                "children": [video]}  # fmt: skip
    if kind == "image":
        ifl = {"score": score, "heatmap": heatmap}
        out["image_metrics"] = {"type": "ImageAnalysis", "label": label.capitalize(), "score": score,
                                "image": heatmap, "children": [], "ifl": ifl}  # fmt: skip
    return out
