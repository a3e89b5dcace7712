"""The fake Hive V2 task API: sync tasks answered at once, async tasks acknowledged and their result
POSTed to ``callback_url`` when done (loopback only), per-task errors and the project's 429.

A ``url`` on this machine (loopback only, and only while the emulator is not served to others) is
downloaded as Hive would: refused is download error 2203, an HTTP error 2100. Results are seeded by
the input's name (a file's, a URL's last segment, or the text): ``fake`` in it
scores ``ai_generated`` 0.97 and ``deepfake`` 0.91, any other name under 0.2. Images have one frame,
video and audio ``config.frames``. A failing name (:meth:`~batchkit.emulator.state.State.failing`)
fails with classifier error 3000; ``flaky`` in a name fails its first try with download error 2100.
``rate_limited`` is how many of the next submits are answered 429.
"""

from __future__ import annotations

import datetime as dt
import json
import time
from typing import Any

import attrs
import httpx
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from batchkit.emulator.fake import Fake, call_back_later, may_call_back, read_parts, respond
from batchkit.emulator.media import media_type, rng_for
from batchkit.emulator.state import Reply, State

PROJECT = 56789
MODEL = "AI art and deepfake detection"
RATE_LIMITED = Reply(429, {"return_code": 429, "message": "Project has been rate limited"})


def _error(status: int, message: str) -> Reply:
    return Reply(status, {"return_code": status, "message": message})


@attrs.define
class Task:
    id: str
    name: str
    kind: str | None
    metadata: str | None
    callback: str | None
    done_at: float
    body: dict[str, Any] = attrs.field(factory=dict)


class HiveFake(Fake):
    unauthorized = _error(401, "Unauthorized")

    def __init__(self, state: State, provider: str) -> None:
        super().__init__(state, provider)
        self.tasks: dict[str, Task] = {}
        self.tries: dict[str, int] = {}
        self.rate_limited = 0

    def key(self, request: Request) -> str | None:
        scheme, _, key = request.headers.get("authorization", "").partition(" ")
        return key.strip() if scheme.lower() == "token" else None

    def reset(self) -> None:
        self.tasks.clear()
        self.tries.clear()
        self.rate_limited = 0

    def routes(self) -> list[Route]:
        return [Route("/api/v2/task/sync", self._sync, methods=["POST"]),
                Route("/api/v2/task/async", self._async, methods=["POST"]),
                Route("/api/v1/task/async", self._async, methods=["POST"])]  # fmt: skip

    async def _task(self, request: Request) -> Task | Reply:
        with self.state.lock:
            if self.rate_limited > 0:
                self.rate_limited -= 1
                return RATE_LIMITED
        parts, close = await read_parts(request)
        try:
            given = {p.name: p for p in parts}
            inputs = [given[k] for k in ("media", "url", "text_data") if k in given]
            if len(inputs) != 1:
                return _error(400, "Submit your request using only one of media, url or text_data")
            data = inputs[0]
            name = (data.filename or "" if data.name == "media" else data.value.split("?", 1)[0].rsplit("/", 1)[-1]
                    if data.name == "url" else data.value)  # fmt: skip
            kind = "TEXT" if data.name == "text_data" else {"image": "PHOTO", "video": "VIDEO", "audio": "AUDIO"}.get(
                media_type(name) or "image", "PHOTO")  # fmt: skip
            meta, hook = given.get("metadata"), given.get("callback_url")
        finally:
            await close()
        _, done = self.state.schedule()
        task = Task(self.state.new_id(), name, kind, meta.value if meta else None, hook.value if hook else None, done)
        download = await _download(self.state, data.value) if data.name == "url" else 0
        task.body = self._body(task, download)
        with self.state.lock:
            self.tasks[task.id] = task
        self.created()
        return task

    def _body(self, task: Task, download: int = 0) -> dict[str, Any]:
        with self.state.lock:
            tries = self.tries[task.name] = self.tries.get(task.name, 0) + 1
        body: dict[str, Any] = {"id": task.id, "project_id": PROJECT, "callback": task.callback,
                                "metadata": task.metadata, "created_on": _now(), "from_cache": False}  # fmt: skip
        code = download or (3000 if self.fails(task.name) else 2100 if "flaky" in task.name and tries == 1 else 0)
        given = {"id": task.id, "model": MODEL, "model_type": "CATEGORIZATION", "charge": 0.0001,
                 "media": {"url": None, "filename": task.name, "type": task.kind}}  # fmt: skip
        if code:
            message = {3000: "CLASSIFIER_ERROR", 2203: "HTTP_CONNECTION_ERROR_ECONNREFUSED"}.get(code, "HTTP_ERROR")
            body.update(error_code=code, error=message,
                        status=[{"status": {"code": str(code), "message": message},
                                 "response": {"input": given, "output": []}}])  # fmt: skip
            return body
        frames = 1 if task.kind in ("PHOTO", "TEXT") else max(1, self.state.config.frames)
        rng = rng_for(self.state.config.seed, task.name)
        fake = "fake" in task.name.lower()
        output = []
        for second in range(frames):
            ai = 0.97 if fake else round(rng.uniform(0.01, 0.2), 4)
            deepfake = 0.91 if fake else round(rng.uniform(0.0, 0.2), 4)
            classes = [{"class": "ai_generated", "score": ai}, {"class": "not_ai_generated", "score": round(1 - ai, 4)},
                       {"class": "midjourney" if fake else "none", "score": 0.9},
                       {"class": "deepfake", "score": deepfake}]  # fmt: skip
            output.append({"time": second * (20 if task.kind == "AUDIO" else 1), "classes": classes})
        success = {"code": "0", "message": "SUCCESS"}
        body["status"] = [{"status": success, "response": {"input": given, "output": output}}]
        return body

    async def _sync(self, request: Request) -> Response:
        task = await self._task(request)
        if isinstance(task, Reply):
            return respond(task)
        return respond(Reply(200, {**task.body, "user_id": 1234}))

    async def _async(self, request: Request) -> Response:
        task = await self._task(request)
        if isinstance(task, Reply):
            return respond(task)
        if task.callback:
            call_back_later(self.state, self._callback, task.id)
        ack = {"task_id": task.id, "id": task.id, "project_id": PROJECT, "message": "Task received",
               "status": [{"task_id": task.id}]}  # fmt: skip
        return respond(Reply(200, ack))

    def _callback(self, task_id: str) -> tuple[str | None, float, dict[str, Any] | None]:
        task = self.tasks[task_id]
        ready = self.state.clock() >= task.done_at
        return task.callback, task.done_at, json.loads(json.dumps(task.body)) if ready else None


async def _download(state: State, url: str) -> int:
    """Fetch ``url`` as Hive would, where it is on this machine: 0 when it arrived, else its error code."""
    if not may_call_back(state, url):
        return 0
    try:
        async with httpx.AsyncClient(timeout=10) as client:
            reply = await client.get(url)
    except httpx.HTTPError:
        return 2203
    return 2100 if reply.status_code >= 400 else 0


def _now() -> str:
    return dt.datetime.fromtimestamp(time.time(), dt.timezone.utc).isoformat(timespec="milliseconds")
