"""A third-party provider of the per-item shape, defined only in the test tree: "Acme Presign".

Its wire, like Reality Defender's two-step upload: ``POST /presign/v1/items`` (JSON ``name`` and
``size``, ``Acme-Key`` header) answers ``{"id", "upload_url"}``, a presigned URL; the file's bytes
are ``PUT`` there; ``GET /presign/v1/items/{id}`` answers ``{"id", "state", "name", "verdict",
"score"}``. The item's id exists before any byte is sent, and says so (:class:`Identified`), so an
interrupted upload is found by it. Nothing in batchkit names it.
"""

from __future__ import annotations

import builtins
from typing import Any

from batchkit import BatchJob, FileResult, InputError, JobStatus, ResponseFormatError
from batchkit.providers.base import (
    Call,
    Identified,
    LocalFile,
    Operation,
    Provider,
    Shape,
    Submission,
    Upload,
    as_path_list,
    check_files,
    read_json,
)

STATES = {"awaiting_upload": JobStatus.QUEUED, "working": JobStatus.RUNNING, "done": JobStatus.SUCCEEDED}


def to_job(body: Any) -> BatchJob:
    if not isinstance(body, dict) or not isinstance(body.get("id"), str) or not isinstance(body.get("state"), str):
        raise ResponseFormatError("acme-presign item needs id and state", snippet=str(body)[:200])
    return BatchJob("acme-presign", body["id"], STATES.get(body["state"], JobStatus.UNKNOWN), body["state"],
                    total_count=1, raw=body)  # fmt: skip


def to_slot(body: Any) -> tuple[str, str]:
    if not isinstance(body, dict) or not isinstance(body.get("id"), str) or not isinstance(body.get("upload_url"), str):
        raise ResponseFormatError("acme-presign slot needs id and upload_url")
    return body["id"], body["upload_url"]


class PresignProvider(Provider):
    name = "acme-presign"
    default_base_url = "https://api.acme-presign.invalid"
    key_env = "ACME_PRESIGN_API_KEY"
    shape = Shape.PER_ITEM

    @staticmethod
    def auth_headers(api_key: str) -> dict[str, str]:
        return {"Acme-Key": api_key}

    def prepare(self, submission: Submission) -> LocalFile:
        if submission.urls or submission.text or submission.zip or submission.options:
            raise InputError("acme-presign: only local files")
        files = check_files(as_path_list(submission.files, "files"))
        if len(files) != 1:
            raise InputError("acme-presign: one file an item")
        return files[0]

    def create(self, prepared: LocalFile) -> Operation[BatchJob]:
        asked = yield self.request("POST", "/presign/v1/items", json={"name": prepared.name, "size": prepared.size},
                                   creates=True)  # fmt: skip
        item, url = self.created(asked, to_slot)
        yield Identified(item)  # journaled before any byte goes
        yield Call("PUT", "", url, body=Upload("file", prepared, prepared.content_type))
        return BatchJob(self.name, item, JobStatus.QUEUED, "awaiting_upload", total_count=1)

    def get(self, job_id: str) -> Operation[BatchJob]:
        response = yield self.request("GET", f"/presign/v1/items/{job_id}")
        return to_job(read_json(response, "acme-presign item"))

    def uploaded(self, job_id: str) -> Operation[BatchJob | None]:
        """The item, once its bytes arrived; None while it still awaits them."""
        job = yield from self.get(job_id)
        return None if job.raw["state"] == "awaiting_upload" else job

    def results(self, job: BatchJob) -> Operation[builtins.list[FileResult[Any]]]:
        body = job.raw if job.raw.get("verdict") else (yield from self.get(job.id)).raw
        prediction = {"verdict": body["verdict"], "score": body["score"]}
        return [FileResult(str(body["name"]), JobStatus.SUCCEEDED, prediction=prediction, raw=dict(body))]

    def chunk_limits(self, options: Any) -> tuple[int, int]:
        return 1, 10**9
