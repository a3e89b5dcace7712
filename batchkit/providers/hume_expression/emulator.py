"""The fake of Hume's successor API: synchronous audio and image uploads checked as the notes say,
runs recorded with their billing, the run list with its filters and cursor, and the documented errors."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Sequence
from typing import Any

import attrs
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from batchkit.emulator.fake import Fake, respond
from batchkit.emulator.media import rng_for
from batchkit.emulator.state import Part, Reply, State

from .media import BYTES_PER_SECOND, MAX_BODY, image_problem, jpeg_size, kind, wav_format

AUDIO_EXPRESSIONS = ("interest", "calmness", "amusement", "concentration", "joy", "confusion", "boredom", "neutral")
VOICE_ATTRIBUTES = ("fast", "clear", "warm", "breathy", "low")
FACE_EXPRESSIONS = ("joy", "calmness", "surprise", "interest", "concentration", "tiredness")
DESCRIPTIONS = ("smile", "frown", "raised eyebrows", "eyes closed")
AUDIO_KEYS = frozenset({"measurement_timer_ms"})
VIDEO_KEYS = frozenset({"face", "face_state"})
FACE_KEYS = frozenset({"threshold", "min_size", "return_face_state"})


def _error(status: int, code: str, message: str, request_id: str) -> Reply:
    return Reply(status, {"type": "error", "code": code, "message": message, "request_id": request_id})


def _iso(moment: dt.datetime) -> str:
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


@attrs.define
class RunRecord:
    run_id: str
    endpoint: str
    started_at: dt.datetime
    bytes_received: int
    metered_seconds: float
    config: dict[str, Any]
    status: str = "ended"

    def summary(self) -> dict[str, Any]:
        return {"run_id": self.run_id, "user_id": "emulator-user", "status": self.status, "endpoint": self.endpoint,
                "mode": "file", "started_at": _iso(self.started_at), "ended_at": _iso(self.started_at),
                "bytes_received": self.bytes_received, "bytes_recorded": self.bytes_received,
                "metered_seconds": self.metered_seconds}  # fmt: skip


def _billed(seconds: float) -> float:
    """A run billed for any media is billed at least 10 seconds."""
    return 0.0 if seconds <= 0 else round(max(10.0, seconds), 3)


class HumeExpressionFake(Fake):
    """``/v1/expression``: audio and video file uploads, and the runs they are recorded as."""

    unauthorized = Reply(401, {"message": "Invalid API key"})
    max_upload = MAX_BODY

    def __init__(self, state: State, provider: str) -> None:
        super().__init__(state, provider)
        self.runs: list[RunRecord] = []

    def reset(self) -> None:
        self.runs.clear()

    def key(self, request: Request) -> str | None:
        bearer = request.headers.get("authorization", "")
        return request.headers.get("x-hume-api-key") or (bearer[7:] if bearer.lower().startswith("bearer ") else None)

    def routes(self) -> list[Route]:
        base = "/v1/expression"
        return [
            Route(f"{base}/audio/file", self._upload("audio"), methods=["POST"]),
            Route(f"{base}/video/file", self._upload("video"), methods=["POST"]),
            Route(f"{base}/run", self._list, methods=["GET"]),
            Route(base + "/run/{id}", self.by_id(self.get), methods=["GET"]),
            Route(base + "/run/{id}/events", self.by_id(self.events), methods=["GET"]),
        ]

    def _upload(self, endpoint: str) -> Any:
        async def handle(request: Request) -> Response:
            request_id = self.state.new_id().replace("-", "")
            length = int(request.headers.get("content-length") or 0)
            if length > MAX_BODY:
                code = "audio_too_long" if endpoint == "audio" else "image_too_large"
                return respond(_error(413, code, f"the request body is over {MAX_BODY} bytes", request_id))
            if not request.headers.get("content-type", "").startswith("multipart/form-data"):
                return respond(_error(400, "invalid_request", "expected multipart/form-data", request_id))
            parts = _multipart(request.headers["content-type"], await request.body())
            request.state.parts = tuple((p.name, p.filename, p.size) for p in parts)
            return respond((self.audio if endpoint == "audio" else self.video)(parts, request_id))

        return handle

    def _config(self, parts: Sequence[Part], allowed: frozenset[str], request_id: str) -> dict[str, Any] | Reply:
        texts = [p.value for p in parts if p.name == "config"]
        if not texts:
            return {}
        try:
            config = json.loads(texts[0])
        except ValueError as exc:
            return _error(400, "config_invalid", f"the config part is not valid: {exc}", request_id)
        if not isinstance(config, dict):
            return _error(400, "config_invalid", "the config part is not valid: expected an object", request_id)
        for key in config:
            if key not in allowed:
                expected = ", ".join(f"`{k}`" for k in sorted(allowed))
                return _error(400, "config_invalid", f"the config part is not valid: unknown field `{key}`, expected "
                                                     f"one of {expected}", request_id)  # fmt: skip
        return config

    def _record(self, endpoint: str, size: int, seconds: float, config: dict[str, Any]) -> RunRecord:
        run = RunRecord(self.state.new_id(), endpoint, dt.datetime.now(dt.timezone.utc), size, _billed(seconds),
                        config)  # fmt: skip
        with self.state.lock:
            self.runs.append(run)
            self.state.creates[self.provider] += 1
        return run

    def audio(self, parts: Sequence[Part], request_id: str) -> Reply:
        files = [p for p in parts if p.name == "file"]
        if len(files) != 1:
            return _error(400, "invalid_request", "exactly one `file` part is required", request_id)
        config = self._config(parts, AUDIO_KEYS, request_id)
        if isinstance(config, Reply):
            return config
        timer = config.get("measurement_timer_ms", 3000)
        if isinstance(timer, bool) or not isinstance(timer, int) or not 3000 <= timer <= 10000:
            return _error(400, "config_invalid", "measurement_timer_ms must be 3000 to 10000", request_id)
        part = files[0]
        part.file.seek(0)
        head = part.file.read(16)
        found = kind(head)
        pcm_bytes = part.size
        if found in ("mp3", "flac", "ogg", "mp4", "riff"):
            return _error(415, "unsupported_media_type", f"{found} audio is not accepted: send 16 kHz mono 16-bit "
                                                         "PCM as WAV or raw samples", request_id)  # fmt: skip
        if found == "wav":
            fmt = wav_format(part.file)
            if fmt is None or not fmt.acceptable:
                return _error(400, "audio_decode_failed", "the WAV must be 16-bit PCM, 16 kHz, mono", request_id)
            pcm_bytes = fmt.data_size
        if pcm_bytes == 0 or pcm_bytes % 2:
            return _error(400, "audio_decode_failed", "the audio is empty or has an odd number of bytes", request_id)
        duration = pcm_bytes * 1000 // BYTES_PER_SECOND
        run = self._record("audio", part.size, duration / 1000, {"measurement_timer_ms": timer})
        rng = rng_for(self.state.config.seed, part.md5)
        utterances, measurements = [], []
        start = min(98, duration)
        if duration > start:
            utterances.append({"utterance_id": 0, "audio_start_ms": start, "audio_end_ms": duration})
            for n, at in enumerate(range(start, duration, timer)):
                end = min(at + timer, duration)
                measurements.append({
                    "measurement_id": n, "utterance_id": 0, "audio_start_ms": max(start, end - 10_000),
                    "audio_end_ms": end, "trigger": "interval" if end < duration else "speech_ended",
                    "expressions": _scores(rng, AUDIO_EXPRESSIONS, 0.3),
                    "voice_attributes": _scores(rng, VOICE_ATTRIBUTES, 0.725),
                })  # fmt: skip
        return Reply(200, {"request_id": request_id, "run_id": run.run_id, "received": {"audio_duration_ms": duration},
                           "utterances": utterances, "measurements": measurements})  # fmt: skip

    def video(self, parts: Sequence[Part], request_id: str) -> Reply:
        files = [p for p in parts if p.name == "file"]
        if not files:
            return _error(400, "invalid_request", "at least one `file` part is required", request_id)
        config = self._config(parts, VIDEO_KEYS, request_id)
        if isinstance(config, Reply):
            return config
        face = config.get("face") or {}
        if not isinstance(face, dict) or set(face) - FACE_KEYS:
            return _error(400, "config_invalid", "the config part is not valid: face takes threshold, min_size, "
                                                 "return_face_state", request_id)  # fmt: skip
        for part in files:  # every image is checked before any is measured
            part.file.seek(0)
            if kind(part.file.read(16)) != "jpeg":
                return _error(415, "unsupported_media_type", f"{part.filename}: only JPEG images are accepted",
                              request_id)  # fmt: skip
            problem = image_problem(part.size, jpeg_size(part.file))
            if problem:
                return _error(413 if "more than" in problem else 400, "image_too_large" if "more than" in problem
                              else "image_decode_failed", f"{part.filename}: {problem}", request_id)  # fmt: skip
        run = self._record("video", sum(p.size for p in files), len(files) / 3, {"face": face})
        threshold = float(face.get("threshold", 0.9))
        first = _face_numbering(config.get("face_state"))
        measurements = []
        for n, part in enumerate(files):
            rng = rng_for(self.state.config.seed, part.md5)
            faces = []
            for f in range(rng.choice((0, 1, 1, 2))):
                x, y = rng.uniform(0, 400), rng.uniform(0, 300)
                box = [round(x, 1), round(y, 1), round(x + 120, 1), round(y + 150, 1)]
                faces.append({"face_id": first + f, "bbox": box, "confidence": round(rng.uniform(threshold, 1.0), 4),
                              "expressions": _scores(rng, FACE_EXPRESSIONS, 0.1),
                              "descriptions": _scores(rng, DESCRIPTIONS, 0.1)})  # fmt: skip
            measurements.append({"frame_id": n, "faces": faces})
        body: dict[str, Any] = {"request_id": request_id, "run_id": run.run_id, "received": {"frames": len(files)},
                                "measurements": measurements}  # fmt: skip
        if face.get("return_face_state"):
            body["face_state"] = f"fs.{first + 2}.{request_id[:8]}"
        return Reply(200, body)

    async def _list(self, request: Request) -> Response:
        q = request.query_params
        with self.state.lock:
            runs = list(reversed(self.runs))
        for key in ("status", "mode", "endpoint"):
            if key in q:
                runs = [r for r in runs if r.summary()[key] == q[key]]
        for key in ("started_after", "started_before"):
            if key in q:
                try:
                    moment = dt.datetime.fromisoformat(q[key].replace("Z", "+00:00"))
                except ValueError:
                    return respond(_error(400, "invalid_request", f"{key} must be RFC 3339", "-"))
                after = key == "started_after"
                runs = [r for r in runs if (r.started_at >= moment) == after]
        try:
            size = int(q.get("page_size", "50"))
            start = int(q.get("cursor", "0") or 0)
        except ValueError:
            return respond(_error(400, "invalid_request", "page_size and cursor must be valid", "-"))
        page = runs[start : start + max(1, min(size, 100))]
        body: dict[str, Any] = {"runs": [r.summary() for r in page]}
        if start + len(page) < len(runs):
            body["next_cursor"] = str(start + len(page))
        return respond(Reply(200, body))

    def get(self, run_id: str) -> Reply:
        with self.state.lock:
            found = next((r for r in self.runs if r.run_id == run_id), None)
        if found is None:
            return _error(404, "not_found", f"run {run_id} not found", "-")
        audio = {"audio": {"type": "audio/pcm", "encoding": "s16le", "sample_rate": 16000, "channels": 1}}
        config = {"schema": "v4", **(audio if found.endpoint == "audio" else {"image": {"type": "image/jpeg"}}),
                  **found.config}  # fmt: skip
        return Reply(200, {**found.summary(), "config": config})

    def events(self, run_id: str) -> Reply:
        reply = self.get(run_id)
        if reply.status != 200:
            return reply
        return Reply(200, {"events": [], "at_cap": False, "capped_kinds": [], "gaps": False})


def _multipart(content_type: str, body: bytes) -> list[Part]:
    """The parts of a multipart body, ``file`` parts as bytes whether or not they carry a file name
    (Hume's SDK sends bytes without one); fields as text."""
    import email.parser
    import email.policy
    import hashlib
    import io

    message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
        b"Content-Type: " + content_type.encode("latin-1") + b"\r\n\r\n" + body
    )
    parts = []
    for piece in message.iter_parts() if message.is_multipart() else ():
        name = piece.get_param("name", header="content-disposition")
        payload = piece.get_payload(decode=True)
        data = payload if isinstance(payload, bytes) else b""
        if not isinstance(name, str):
            continue
        if name == "file":
            digest = hashlib.md5(data, usedforsecurity=False).hexdigest()
            parts.append(Part(name, piece.get_filename() or "", len(data), "", digest, piece.get_content_type(),
                              io.BytesIO(data)))  # fmt: skip
        else:
            parts.append(Part(name, None, len(data), data.decode("utf-8", "replace")))
    return parts


def _scores(rng: Any, names: Sequence[str], cutoff: float) -> list[dict[str, Any]]:
    """Scores of ``names`` judged present (above ``cutoff``), most probable first, 4 decimals."""
    found = [{"name": n, "probability": round(p, 4)} for n in names if (p := rng.random()) > cutoff]
    return sorted(found, key=lambda s: -s["probability"])


def _face_numbering(token: Any) -> int:
    """Where ``face_id`` numbering continues from a ``face_state`` token (0 for none or a bad one)."""
    if not isinstance(token, str) or not token.startswith("fs."):
        return 0
    try:
        return int(token.split(".")[1])
    except (IndexError, ValueError):
        return 0


__all__ = ["HumeExpressionFake"]
