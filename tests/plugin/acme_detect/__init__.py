"""A third-party provider, defined only in the test tree: "Acme Detect", a small made-up batch API.

Its wire: ``POST /acme/v1/jobs`` (multipart ``media`` parts, ``Acme-Key`` header) answers
``{"id", "state"}``; ``GET /acme/v1/jobs/{id}`` the same with ``files``; ``GET .../results`` a list
of ``{"name", "verdict", "confidence"}``. Installed by the tests as a throwaway distribution that
declares it in the ``batchkit.providers`` entry-point group.
"""

from __future__ import annotations

import builtins
from collections.abc import Iterator, Mapping
from typing import Any

from batchkit import BatchJob, Callback, FileResult, InputError, JobStatus, ResponseFormatError
from batchkit.providers.base import (
    LocalFile,
    Operation,
    Provider,
    Row,
    Submission,
    Upload,
    as_path_list,
    check_files,
    common_row,
    read_json,
    read_list,
)

STATES = {"waiting": JobStatus.QUEUED, "working": JobStatus.RUNNING, "done": JobStatus.SUCCEEDED,
          "broken": JobStatus.FAILED}  # fmt: skip


def to_job(body: Any) -> BatchJob:
    if not isinstance(body, dict) or not isinstance(body.get("id"), str) or not isinstance(body.get("state"), str):
        raise ResponseFormatError("acme job reply needs id and state", snippet=str(body)[:200])
    files = body.get("files") or []
    return BatchJob("acme", body["id"], STATES.get(body["state"], JobStatus.UNKNOWN), body["state"],
                    total_count=len(files) or None, raw=body)  # fmt: skip


class AcmeProvider(Provider):
    name = "acme"
    default_base_url = "https://api.acme.invalid"
    key_env = "ACME_API_KEY"

    @staticmethod
    def auth_headers(api_key: str) -> dict[str, str]:
        return {"Acme-Key": api_key}

    def prepare(self, submission: Submission) -> list[LocalFile]:
        if submission.urls or submission.text or submission.zip or submission.options:
            raise InputError("acme: only local files")
        files = check_files(as_path_list(submission.files, "files"))
        if not 1 <= len(files) <= 5:
            raise InputError("acme: 1 to 5 files a job")
        return files

    def create(self, prepared: list[LocalFile]) -> Operation[BatchJob]:
        uploads = [Upload("media", f, f.content_type) for f in prepared]
        response = yield self.request("POST", "/acme/v1/jobs", uploads=uploads, creates=True)
        return self.created(response, to_job)

    def get(self, job_id: str) -> Operation[BatchJob]:
        response = yield self.request("GET", f"/acme/v1/jobs/{job_id}")
        return to_job(read_json(response, "acme job"))

    def results(self, job: BatchJob) -> Operation[builtins.list[FileResult]]:
        response = yield self.request("GET", f"/acme/v1/jobs/{job.id}/results")
        return [
            FileResult(str(item["name"]), JobStatus.SUCCEEDED, prediction=item, raw=item)
            for item in read_list(response, "acme results")
        ]

    def chunk_limits(self, options: Any) -> tuple[int, int]:
        return 5, 10**9

    @classmethod
    def parse_callback(cls, body: Mapping[str, Any]) -> Callback:
        return Callback(to_job(dict(body)))

    @classmethod
    def rows(cls, result: FileResult) -> Iterator[Row]:
        item = result.prediction
        yield common_row(result, kind="verdict", name=item["verdict"], score=item["confidence"])
