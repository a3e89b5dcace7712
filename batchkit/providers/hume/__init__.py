"""Hume Expression Measurement batch API (``/v0/batch/jobs``).

Hume has announced that this v0 batch API stops on 2026-06-14; batchkit keeps to its
documented contract, and the emulator keeps it usable for development and tests.
"""

from __future__ import annotations

import builtins
import contextlib
import json
from collections.abc import Mapping, Sequence
from datetime import datetime, timezone
from typing import Any

import httpx

from batchkit._core.download import AtomicFile
from batchkit._core.inputs import LocalFile, as_path_list, check_files, md5_of, open_parts
from batchkit._core.options import coerce_options
from batchkit._core.steps import Operation
from batchkit._core.wire import read_json, structure
from batchkit.errors import InputError, ResponseFormatError
from batchkit.models import BatchJob, FileResult, JobRef, JobStatus, job_id
from batchkit.providers.base import Provider, Submission

from .options import HumeOptions
from .predictions import Job, SourcePrediction

MAX_INPUTS = 100
MAX_FILE_BYTES = 100 * 1024 * 1024
MAX_REQUEST_BYTES = 10**9
"""batchkit's bound on one local-file job (Hume documents 100 MB a file, no request total)."""
RECONCILE_MARGIN_MS = 60_000
LIST_FILTERS = {
    "when": ("created_before", "created_after"),
    "timestamp_ms": None,
    "sort_by": ("created", "started", "ended"),
    "direction": ("asc", "desc"),
}
_STATUS_TO_HUME = {
    JobStatus.QUEUED: "QUEUED",
    JobStatus.RUNNING: "IN_PROGRESS",
    JobStatus.SUCCEEDED: "COMPLETED",
    JobStatus.PARTIALLY_FAILED: "COMPLETED",
    JobStatus.FAILED: "FAILED",
}


def _time(ms: int | None) -> datetime | None:
    """A timestamp in ms as a datetime; one out of any calendar's range is dropped, not fatal."""
    try:
        return None if ms is None else datetime.fromtimestamp(ms / 1000, tz=timezone.utc)
    except (OverflowError, OSError, ValueError):
        return None


def job_status(job: Job) -> JobStatus:
    """Hume's state as a :class:`JobStatus` (COMPLETED splits by its error count)."""
    state = job.state
    status = state.status.upper()
    if status == "COMPLETED":
        if not state.num_errors:
            return JobStatus.SUCCEEDED
        return JobStatus.PARTIALLY_FAILED if state.num_predictions else JobStatus.FAILED
    return {
        "QUEUED": JobStatus.QUEUED,
        "IN_PROGRESS": JobStatus.RUNNING,
        "FAILED": JobStatus.FAILED,
    }.get(status, JobStatus.UNKNOWN)


def to_batch_job(data: Any) -> BatchJob:
    job = structure(data, Job, "Hume job")
    state = job.state
    predictions, errors = state.num_predictions, state.num_errors
    return BatchJob(
        provider="hume",
        id=job.job_id,
        status=job_status(job),
        provider_status=state.status,
        created_at=_time(state.created_timestamp_ms),
        started_at=_time(state.started_timestamp_ms),
        ended_at=_time(state.ended_timestamp_ms),
        total_count=None if predictions is None or errors is None else predictions + errors,
        succeeded_count=predictions,
        failed_count=errors,
        message=state.message,
        raw=data,
    )


def to_file_result(data: Any) -> FileResult:
    source = structure(data, SourcePrediction, "Hume prediction")
    results = source.results
    errors = results.errors if results else ()
    messages = [source.error] if source.error else [f"{e.file}: {e.message}" for e in errors]
    if not messages:
        status = JobStatus.SUCCEEDED
    elif results and results.predictions:
        status = JobStatus.PARTIALLY_FAILED
    else:
        status = JobStatus.FAILED
    return FileResult(
        source=source.source.label,
        status=status,
        error="; ".join(messages) or None,
        prediction=source,
        raw=data,
    )


def _strings(value: Any, what: str) -> list[str]:
    items = [value] if isinstance(value, str) else list(value or [])
    for item in items:
        if not isinstance(item, str) or not item:
            raise InputError(f"hume: {what} must be non-empty strings, got {item!r}")
    if len(items) > MAX_INPUTS:
        raise InputError(f"hume: {len(items)} {what}, more than the {MAX_INPUTS} a job takes; use an archive")
    return items


def _created_job(body: Any) -> BatchJob:
    job_id = body.get("job_id") if isinstance(body, dict) else None
    if not isinstance(job_id, str) or not job_id:
        raise ResponseFormatError("Hume job creation reply has no job_id", snippet=str(body)[:200])
    return BatchJob("hume", job_id, JobStatus.QUEUED, "QUEUED", raw=body)


def _list_body(response: httpx.Response, what: str) -> list[Any]:
    body = read_json(response, what)
    if not isinstance(body, list):
        raise ResponseFormatError(f"{what} is not a list", snippet=response.text[:200])
    return body


class HumeProvider(Provider):
    """Hume batch jobs: JSON for URLs and text, multipart for local files."""

    name = "hume"
    default_base_url = "https://api.hume.ai"
    key_env = "HUME_API_KEY"
    JOBS = "/v0/batch/jobs"

    @staticmethod
    def auth_headers(api_key: str) -> dict[str, str]:
        return {"X-Hume-Api-Key": api_key}

    def prepare(self, submission: Submission) -> tuple[dict[str, Any], list[LocalFile]]:
        """The request config and the local files, checked; raises :class:`InputError`."""
        options = coerce_options(submission.options, HumeOptions, self.name)
        paths = as_path_list(submission.files, "files") + as_path_list(submission.zip, "zip")
        files = check_files(paths)
        if len(files) > MAX_INPUTS:
            raise InputError(f"hume: {len(files)} files, more than the {MAX_INPUTS} a job takes; use an archive")
        for f in files:
            if f.size > MAX_FILE_BYTES:
                raise InputError(f"hume: {f.path}: {f.size} bytes, over the {MAX_FILE_BYTES}-byte local file limit")
        config = options.to_wire()
        urls = _strings(submission.urls, "urls")
        for url in urls:
            if not url.startswith(("http://", "https://")):
                raise InputError(f"hume: {url!r} is not an http(s) URL")
        text = _strings(submission.text, "text")
        if not (files or urls or text):
            raise InputError("hume: nothing to submit; give files, zip, urls or text")
        config.update({k: val for k, val in (("urls", urls), ("text", text)) if val})
        if submission.callback_url:
            config["callback_url"] = submission.callback_url
        return config, files

    def chunk_limits(self, options: Any) -> tuple[int, int]:
        return MAX_INPUTS, MAX_REQUEST_BYTES

    def find_submission(self, files: Sequence[LocalFile], since_ms: int) -> Operation[str | None]:
        """Match recent jobs by their files' names and md5 sums (Hume lists both)."""
        wanted = sorted((f.name, md5_of(f.path)) for f in files)
        filters = {"when": "created_after", "timestamp_ms": since_ms - RECONCILE_MARGIN_MS}
        for job in (yield from self.list(MAX_INPUTS, frozenset(), filters)):
            request = structure(job.raw, Job, "Hume job").request
            if request and sorted((f.filename, f.md5sum) for f in request.files) == wanted:
                return job.id
        return None

    def submit(self, submission: Submission) -> Operation[BatchJob]:
        config, files = self.prepare(submission)
        with contextlib.ExitStack() as stack:
            if files:
                parts = open_parts(stack, "file", files, self.upload_progress)
                data = {"json": json.dumps(config)} if config else None
                call = self.call("POST", self.JOBS, data=data, files=parts, creates=True)
            else:
                call = self.call("POST", self.JOBS, json=config, creates=True)
            response = yield from self.send(call)
        return self.created(response, _created_job)

    def get(self, job_id: str) -> Operation[BatchJob]:
        response = yield from self.send(self.call("GET", f"{self.JOBS}/{job_id}"))
        return to_batch_job(read_json(response, "Hume job"))

    def list(self, limit: int, statuses: frozenset[JobStatus], filters: Mapping[str, Any]) -> Operation[list[BatchJob]]:
        params = [("limit", str(limit))]
        params += [("status", s) for s in sorted({_STATUS_TO_HUME[s] for s in statuses if s in _STATUS_TO_HUME})]
        for key, value in filters.items():
            allowed = LIST_FILTERS.get(key, ())
            if key not in LIST_FILTERS or (allowed and value not in allowed):
                raise InputError(f"hume: unknown list filter {key}={value!r}; known: {sorted(LIST_FILTERS)}")
            params.append((key, str(value)))
        response = yield from self.send(self.call("GET", self.JOBS, params=params))
        jobs = [to_batch_job(item) for item in _list_body(response, "Hume job list")]
        return [job for job in jobs if not statuses or job.status in statuses]

    def results(self, job: JobRef) -> Operation[builtins.list[FileResult]]:
        response = yield from self.send(self.call("GET", f"{self.JOBS}/{job_id(job)}/predictions"))
        return [to_file_result(item) for item in _list_body(response, "Hume predictions")]

    def artifacts(self, job_id: str, sink: AtomicFile) -> Operation[None]:
        yield from self.send(self.call("GET", f"{self.JOBS}/{job_id}/artifacts", sink=sink))
