"""The emulator fake of the Acme provider: jobs that finish on the emulator's schedule."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from batchkit.emulator.fake import Fake, read_parts, respond
from batchkit.emulator.state import Phase, Reply, State


class AcmeFake(Fake):
    unauthorized = Reply(401, {"error": "bad key"})

    def __init__(self, state: State, provider: str) -> None:
        super().__init__(state, provider)
        self.jobs: dict[str, dict[str, Any]] = {}

    def key(self, request: Request) -> str | None:
        return request.headers.get("acme-key")

    def reset(self) -> None:
        self.jobs.clear()

    def routes(self) -> list[Route]:
        return [
            Route("/acme/v1/jobs", self._create, methods=["POST"]),
            Route("/acme/v1/jobs/{id}", self.by_id(self.get), methods=["GET"]),
            Route("/acme/v1/jobs/{id}/results", self.by_id(self.results), methods=["GET"]),
        ]

    async def _create(self, request: Request) -> Response:
        parts, close = await read_parts(request)
        await close()
        names = [p.filename for p in parts if p.name == "media" and p.filename]
        if not names:
            return respond(Reply(400, {"error": "no media"}))
        job_id = self.state.new_id()
        self.jobs[job_id] = {"names": names, "schedule": self.state.schedule()}
        self.created()
        return respond(Reply(201, self._body(job_id)))

    def _body(self, job_id: str) -> dict[str, Any]:
        job = self.jobs[job_id]
        phase = self.state.phase(job["schedule"])
        state = {Phase.QUEUED: "waiting", Phase.RUNNING: "working", Phase.DONE: "done"}[phase]
        return {"id": job_id, "state": state, "files": job["names"]}

    def get(self, job_id: str) -> Reply:
        return Reply(200, self._body(job_id)) if job_id in self.jobs else Reply(404, {"error": "no such job"})

    def results(self, job_id: str) -> Reply:
        if job_id not in self.jobs:
            return Reply(404, {"error": "no such job"})
        names = self.jobs[job_id]["names"]
        return Reply(200, [{"name": n, "verdict": "clean", "confidence": 0.5 + i / 100} for i, n in enumerate(names)])
