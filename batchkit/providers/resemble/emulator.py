"""The fake Resemble detect batch API: every documented 400/402/403/404 rule, batches and detects."""

from __future__ import annotations

import datetime as dt
import random
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
    created_at: str


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


def _now() -> str:
    return dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


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
        auth = request.headers.get("authorization", "")
        return auth[7:] if auth.lower().startswith("bearer ") else None

    def routes(self) -> list[Route]:
        return [
            Route("/api/v2/detect/batch", self._create_endpoint, methods=["POST"]),
            Route("/api/v2/detect/batch/{id}", self.by_id(self.get_batch), methods=["GET"]),
            Route("/api/v2/detect/{id}", self.by_id(self.get_detect), methods=["GET"]),
        ]

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
            created = _now()
            detects = [
                Detect(
                    self.state.new_id(),
                    n,
                    media_type(n) or "audio",
                    self.state.schedule((i + 1) / len(names)),
                    settings,
                    created,
                )
                for i, n in enumerate(names)
            ]
            batch = Batch(self.state.new_id(), created, detects, settings.get("callback_url"))
            self.batches[batch.uuid] = batch
            self.detects.update((d.uuid, d) for d in detects)
            self.created()
        return Reply(202, {"success": True, "item": self.batch_item(batch)})

    def _detect_status(self, detect: Detect) -> str:
        if self.state.phase(detect.schedule) != Phase.DONE:
            return "processing"
        return "failed" if self.state.failing(detect.filename) else "completed"

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
        status = self._detect_status(detect)
        settings = detect.settings
        zero = bool(settings.get("zero_retention_mode"))
        item: dict[str, Any] = {
            "uuid": detect.uuid,
            "media_type": detect.kind,
            "status": status,
            "filename": f"redacted_{detect.uuid[:8]}{PurePosixPath(detect.filename).suffix}"
            if zero
            else detect.filename,
            "url": None if zero else f"https://emulator.invalid/media/{detect.uuid}",
            "visualize": settings.get("visualize", True),
            "zero_retention_mode": zero,
            "created_at": detect.created_at,
            "updated_at": _now(),
        }
        if status == "failed":
            item["error_message"] = "emulated failure: could not analyse file"
        elif status == "completed":
            rng = rng_for(self.state.config.seed, detect.filename)
            item.update(resemble_detect(rng, detect.kind, bool(settings.get("intelligence")), bool(item["visualize"])))
        return Reply(200, {"success": True, "item": item})


def resemble_detect(rng: random.Random, kind: str, intelligence: bool, visualize: bool) -> dict[str, Any]:
    """The analysis fields of a completed detect for one file of ``kind``."""
    score = round(rng.random(), 4)
    label = "fake" if score >= 0.5 else "real"
    heatmap = f"https://emulator.invalid/heatmaps/{rng.getrandbits(32):08x}.png" if visualize else None
    out: dict[str, Any] = {"duration": f"{rng.uniform(1, 30):.2f}" if kind != "image" else None}
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
        out["video_metrics"] = {
            "label": label.capitalize(),
            "score": score,
            "certainty": 0.9,
            "treeview": None,
            "children": [],
        }
    if kind == "image":
        out["image_metrics"] = {"label": label.capitalize(), "score": score, "image": heatmap, "children": []}
    if intelligence:
        out["intelligence"] = {
            "uuid": f"int-{rng.getrandbits(32):08x}",
            "status": "completed",
            "description": f"emulated analysis: likely {label}",
        }
    return out
