"""Hume's batch API emulated: jobs, list filters, predictions, artifacts and callbacks, as documented."""

from __future__ import annotations

import builtins
import csv
import io
import json
import time
import zipfile
from collections.abc import Sequence
from typing import Any

import attrs
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from batchkit.emulator.fake import Fake, call_back_later, read_parts, respond
from batchkit.emulator.media import media_type, rng_for
from batchkit.emulator.state import Part, Phase, Reply, State

from .fake_predictions import MODEL_DEFAULTS, hume_models, with_defaults

MODELS = tuple(MODEL_DEFAULTS)
MAX_INPUTS = 100
STATUSES = ("QUEUED", "IN_PROGRESS", "COMPLETED", "FAILED")


ARCHIVES = (".zip", ".tar.gz", ".tar.bz2", ".tar.xz")


@attrs.define
class Source:
    kind: str  # url | file | text
    name: str
    content_type: str | None = None
    md5: str | None = None
    members: list[str] = attrs.field(factory=list)
    """The files inside an archive (the service unpacks one; each member gets its own prediction)."""

    @property
    def files(self) -> list[str]:
        """What predictions are made for: each member of an archive, else the source itself."""
        return self.members or [self.name if self.kind != "text" else "text"]


def archive_members(url: str, seed: int) -> list[str]:
    """The members of an archive URL, made up deterministically from the URL and the seed
    (``.../faces.zip`` holds ``faces/100.jpg`` ... as seed 001's job does)."""
    name = url.rstrip("/").rsplit("/", 1)[-1]
    stem = next((name[: -len(a)] for a in ARCHIVES if name.lower().endswith(a)), name) or "archive"
    rng = rng_for(seed, "archive", url)
    kind = ".wav" if any(w in stem.lower() for w in ("audio", "voice", "call", "speech")) else (
        ".mp4" if "video" in stem.lower() else ".jpg")  # fmt: skip
    first = rng.randrange(100, 900)
    return [f"{stem}/{first + i}{kind}" for i in range(rng.randint(3, 10))]


@attrs.define
class Job:
    id: str
    schedule: tuple[float, float]
    created_ms: int
    started_ms: int
    ended_ms: int
    request: dict[str, Any]
    sources: list[Source]


def _error(status: int, message: str) -> Reply:
    return Reply(status, {"message": message})


class HumeFake(Fake):
    """Jobs, list filters, predictions, artifacts and callbacks of ``/v0/batch/jobs``."""

    unauthorized = Reply(
        401, {"fault": {"faultstring": "Invalid ApiKey", "detail": {"errorcode": "oauth.v2.InvalidApiKey"}}}
    )

    def __init__(self, state: State, provider: str) -> None:
        super().__init__(state, provider)
        self.jobs: dict[str, Job] = {}

    def reset(self) -> None:
        self.jobs.clear()

    def key(self, request: Request) -> str | None:
        return request.headers.get("x-hume-api-key")

    def routes(self) -> builtins.list[Route]:
        jobs = "/v0/batch/jobs"
        return [
            Route(jobs, self._create_endpoint, methods=["POST"]),
            Route(jobs, self._list_endpoint, methods=["GET"]),
            Route(jobs + "/{id}", self.by_id(self.get), methods=["GET"]),
            Route(jobs + "/{id}/predictions", self.by_id(self.predictions), methods=["GET"]),
            Route(jobs + "/{id}/artifacts", self.by_id(self.artifacts), methods=["GET"]),
        ]

    async def _create_endpoint(self, request: Request) -> Response:
        if request.headers.get("content-type", "").startswith("multipart/form-data"):
            parts, close = await read_parts(request)
            try:
                reply = self.create_multipart(parts)
            finally:
                await close()
        else:
            reply = self.create_json(await request.body())
        if reply.status == 200:
            call_back_later(self.state, self.callback, reply.body["job_id"])
        return respond(reply)

    async def _list_endpoint(self, request: Request) -> Response:
        return respond(self.list(request.query_params.multi_items()))

    # creation

    def create_json(self, raw: bytes) -> Reply:
        try:
            body = json.loads(raw or b"{}")
        except (ValueError, RecursionError):
            return _error(400, "request body is not valid JSON")
        if not isinstance(body, dict):
            return _error(400, "request body must be a JSON object")
        return self._create(body, [])

    def create_multipart(self, parts: Sequence[Part]) -> Reply:
        config: Any = {}
        files = []
        for part in parts:
            if part.name == "json":
                try:
                    config = json.loads(part.value or (part.file.read() if part.file else b"{}"))
                except (ValueError, RecursionError):
                    return _error(400, "the json part is not valid JSON")
            elif part.name == "file" and part.filename is not None:
                files.append(part)
            else:
                return _error(400, f"unexpected form field {part.name!r}")
        if not isinstance(config, dict):
            return _error(400, "the json part must be an object")
        return self._create(config, files)

    def _create(self, body: dict[str, Any], files: list[Part]) -> Reply:
        urls, text = body.get("urls") or [], body.get("text") or []
        if not isinstance(urls, list) or not isinstance(text, list):
            return _error(400, "urls and text must be lists")
        callback = body.get("callback_url")
        if callback is not None and (not isinstance(callback, str) or not callback.startswith(("http://", "https://"))):
            return _error(400, "callback_url must be an http(s) URL")
        models = body.get("models")
        if models is not None and (not isinstance(models, dict) or set(models) - set(MODELS)):
            return _error(400, f"models must be an object with keys among {', '.join(MODELS)}")
        if not (urls or text or files):
            return _error(400, "no input: give urls, text or files")
        if max(len(urls), len(text), len(files)) > MAX_INPUTS:
            return _error(400, f"at most {MAX_INPUTS} urls, text items or files per job")
        seed = self.state.config.seed
        sources = [Source("url", str(u), members=archive_members(str(u), seed) if str(u).lower().split("?")[0]
                          .endswith(ARCHIVES) else []) for u in urls]  # fmt: skip
        sources += [Source("file", p.filename or "file", p.content_type, p.md5) for p in files]
        sources += [Source("text", str(t)) for t in text]
        request = {
            "callback_url": body.get("callback_url"),
            "files": [
                {"filename": s.name, "md5sum": s.md5, "content_type": s.content_type}
                for s in sources
                if s.kind == "file"
            ],
            "models": with_defaults(models),
            "notify": bool(body.get("notify", False)),
            "text": list(text),
            "urls": list(urls),
        }
        if "transcription" in body:
            request["transcription"] = body["transcription"]
        with self.state.lock:
            now, clock = int(time.time() * 1000), self.state.clock()
            schedule = self.state.schedule()
            started, ended = (now + int((moment - clock) * 1000) for moment in schedule)
            job = Job(self.state.new_id(), schedule, now, started, ended, request, sources)
            self.jobs[job.id] = job
            self.created()
        return Reply(200, {"job_id": job.id})

    # reading

    def _status(self, job: Job) -> str:
        phase = self.state.phase(job.schedule)
        if phase != Phase.DONE:
            return "QUEUED" if phase == Phase.QUEUED else "IN_PROGRESS"
        marker = self.state.config.fail_marker
        everything_fails = bool(marker) and f"{marker}-job" in " ".join(s.name for s in job.sources)
        return "FAILED" if everything_fails else "COMPLETED"

    def job_body(self, job: Job) -> dict[str, Any]:
        status = self._status(job)
        state: dict[str, Any] = {"status": status, "created_timestamp_ms": job.created_ms}
        if status != "QUEUED":
            state["started_timestamp_ms"] = job.started_ms
        if status in ("COMPLETED", "FAILED"):
            state["ended_timestamp_ms"] = job.ended_ms
        if status == "COMPLETED":
            files = [f for s in job.sources for f in ([s.name] if self.fails(s.name) else s.files)]
            errors = sum(self.fails(f) for f in files)
            state.update(num_predictions=len(files) - errors, num_errors=errors)
        if status == "FAILED":
            state["message"] = "job failed: emulated failure"
        return {"job_id": job.id, "request": job.request, "state": state, "type": "INFERENCE"}

    def get(self, job_id: str) -> Reply:
        job = self.jobs.get(job_id)
        return Reply(200, self.job_body(job)) if job else _error(404, "job not found")

    def list(self, query: Sequence[tuple[str, str]]) -> Reply:
        params: dict[str, list[str]] = {}
        for key, value in query:
            params.setdefault(key, []).append(value)
        try:
            limit = int(params.get("limit", ["50"])[0])
            stamp = int(params.get("timestamp_ms", [str(int(time.time() * 1000))])[0])
        except ValueError:
            return _error(400, "limit and timestamp_ms must be integers")
        statuses = params.get("status", [])
        when = params.get("when", [None])[0]
        sort_by = params.get("sort_by", ["created"])[0]
        direction = params.get("direction", ["desc"])[0]
        if set(statuses) - set(STATUSES) or when not in (None, "created_before", "created_after"):
            return _error(400, "invalid status or when")
        if sort_by not in ("created", "started", "ended") or direction not in ("asc", "desc"):
            return _error(400, "invalid sort_by or direction")
        bodies = [self.job_body(j) for j in list(self.jobs.values())]
        if statuses:
            bodies = [b for b in bodies if b["state"]["status"] in statuses]
        if when == "created_before":
            bodies = [b for b in bodies if b["state"]["created_timestamp_ms"] < stamp]
        elif when == "created_after":
            bodies = [b for b in bodies if b["state"]["created_timestamp_ms"] > stamp]
        key = f"{sort_by}_timestamp_ms"
        bodies.sort(key=lambda b: b["state"].get(key) or 0, reverse=direction == "desc")
        return Reply(200, bodies[: max(0, limit)])

    def _completed(self, job_id: str) -> Job | Reply:
        job = self.jobs.get(job_id)
        if job is None:
            return _error(404, "job not found")
        if self._status(job) != "COMPLETED":
            return _error(400, f"job {job_id} is not completed")
        return job

    def predictions(self, job_id: str) -> Reply:
        job = self._completed(job_id)
        if isinstance(job, Reply):
            return job
        return Reply(200, [self._source_result(s, job.request["models"]) for s in job.sources])

    def _source_result(self, source: Source, models: dict[str, dict[str, Any]]) -> dict[str, Any]:
        described: dict[str, Any] = {"type": source.kind}
        if source.kind == "url":
            described["url"] = source.name
        elif source.kind == "file":
            described.update(filename=source.name, content_type=source.content_type, md5sum=source.md5)
        if self.fails(source.name):
            name = source.name if source.kind != "text" else "text"
            return {
                "source": described,
                "results": {
                    "predictions": [],
                    "errors": [{"file": name, "message": "emulated failure: could not process input"}],
                },
            }
        predictions, errors = [], []
        for file in source.files:
            if self.fails(file):
                errors.append({"file": file, "message": "emulated failure: could not process input"})
                continue
            kind = "text" if source.kind == "text" else media_type(file) or "video"
            rng = rng_for(self.state.config.seed, source.name, file)
            models_out = hume_models(rng, kind, models, self.state.config.frames, source.name)
            predictions.append({"file": file, "models": models_out})
        return {"source": described, "results": {"predictions": predictions, "errors": errors}}

    def artifacts(self, job_id: str) -> Reply:
        job = self._completed(job_id)
        if isinstance(job, Reply):
            return job
        predictions = self.predictions(job_id).body
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as zf:
            for model in job.request["models"]:
                rows = io.StringIO()
                writer = csv.writer(rows)
                writer.writerow(["file", "id", "emotion", "score"])
                for source in predictions:
                    for file_prediction in source["results"]["predictions"]:
                        block = file_prediction["models"].get(model) or {"grouped_predictions": []}
                        for group in block["grouped_predictions"]:
                            for p in group["predictions"]:
                                for e in p.get("emotions", [])[:3]:
                                    writer.writerow([file_prediction["file"], group["id"], e["name"], e["score"]])
                zf.writestr(f"{model}.csv", rows.getvalue())
        return Reply(200, buffer.getvalue(), {"content-type": "application/octet-stream"})

    def callback(self, job_id: str) -> tuple[str | None, float, dict[str, Any] | None]:
        """Where to call back, when (emulator clock), and with what (None until the job ends)."""
        job = self.jobs[job_id]
        done = self._status(job) in ("COMPLETED", "FAILED")
        return job.request.get("callback_url"), job.schedule[1], self.callback_payload(job) if done else None

    def callback_payload(self, job: Job) -> dict[str, Any]:
        body = self.job_body(job)
        payload: dict[str, Any] = {"job_id": job.id, "status": body["state"]["status"]}
        if payload["status"] == "COMPLETED":
            payload["predictions"] = self.predictions(job.id).body
        else:
            payload["message"] = body["state"].get("message")
        return payload
