"""Resemble Detect batch API (``/api/v2/detect/batch``): ``files[]`` or one zip, per-file detects."""

from __future__ import annotations

import builtins
import contextlib
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from batchkit._core.inputs import LocalFile, as_path_list, check_file, check_files, open_parts, zip_file_names
from batchkit._core.options import coerce_options
from batchkit._core.steps import Operation, Parallel
from batchkit._core.wire import read_json, structure
from batchkit.errors import InputError, ProviderError, ResponseFormatError, UnsupportedError
from batchkit.models import BatchJob, FileResult, JobRef, JobStatus
from batchkit.providers.base import Provider, Submission

from .models import Batch, Detect
from .options import ResembleOptions

MAX_FILES = 50
EXTENSIONS = frozenset(
    {".wav", ".mp3", ".m4a", ".ogg", ".aac", ".flac", ".mp4", ".mov", ".avi", ".mkv", ".webm"}
    | {".jpg", ".jpeg", ".png", ".gif", ".webp"}
)
BATCH_STATUS = {
    "processing": JobStatus.RUNNING,
    "completed": JobStatus.SUCCEEDED,
    "partially_failed": JobStatus.PARTIALLY_FAILED,
    "failed": JobStatus.FAILED,
}
DETECT_STATUS = {"processing": JobStatus.RUNNING, "completed": JobStatus.SUCCEEDED, "failed": JobStatus.FAILED}


def _item(body: Any, what: str) -> Any:
    """The ``item`` of a ``{success, item}`` envelope (a bare item is accepted too)."""
    if isinstance(body, Mapping) and "item" in body:
        return body["item"]
    if isinstance(body, Mapping) and "uuid" in body:
        return body
    raise ResponseFormatError(f"{what} has no item", snippet=str(body)[:200])


def _time(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None


def to_batch_job(body: Any) -> BatchJob:
    """A batch reply, or a batch callback payload (it mirrors the reply), as a :class:`BatchJob`."""
    item = _item(body, "Resemble batch")
    batch = structure(item, Batch, "Resemble batch")
    return BatchJob(
        provider="resemble",
        id=batch.uuid,
        status=BATCH_STATUS.get(batch.status.lower(), JobStatus.UNKNOWN),
        provider_status=batch.status,
        created_at=_time(batch.created_at),
        total_count=batch.total_files,
        succeeded_count=batch.completed_count,
        failed_count=batch.failed_count,
        children=batch.detect_uuids,
        raw=item,
    )


def to_file_result(body: Any) -> FileResult:
    """A detect reply (``GET /api/v2/detect/{uuid}``) as a :class:`FileResult`."""
    item = _item(body, "Resemble detect")
    detect = structure(item, Detect, "Resemble detect")
    status = DETECT_STATUS.get((detect.status or "").lower(), JobStatus.UNKNOWN)
    error = detect.error_message or (detect.audio_source_tracing.error_message if detect.audio_source_tracing else None)
    return FileResult(
        source=detect.filename or detect.uuid,
        status=status,
        error=error if status is JobStatus.FAILED or error else None,
        prediction=detect,
        raw=item,
    )


def _is_media(name: str) -> bool:
    return "." in name and name[name.rfind(".") :].lower() in EXTENSIONS


class ResembleProvider(Provider):
    """Resemble detect batches: up to 50 files or one zip, 500 MB, then one detect per file."""

    name = "resemble"
    default_base_url = "https://app.resemble.ai"
    key_env = "RESEMBLE_API_KEY"
    BATCH = "/api/v2/detect/batch"
    DETECT = "/api/v2/detect"

    @staticmethod
    def auth_headers(api_key: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {api_key}"}

    def prepare(self, submission: Submission) -> tuple[dict[str, str], str, list[LocalFile]]:
        """Form fields, the part name and the files, checked; raises :class:`InputError`."""
        options = coerce_options(submission.options, ResembleOptions, self.name)
        if submission.urls or submission.text:
            raise InputError("resemble: the detect batch endpoint takes local files or a zip, not urls or text")
        paths = as_path_list(submission.files, "files")
        if paths and submission.zip is not None:
            raise InputError("resemble: give files or one zip, not both")
        if not paths and submission.zip is None:
            raise InputError("resemble: nothing to submit; give files or a zip")
        if len(paths) > MAX_FILES:
            raise InputError(f"resemble: {len(paths)} files, more than the {MAX_FILES} a batch takes")
        if paths:
            field, files = "files[]", check_files(paths)
            for f in files:
                if not _is_media(f.name):
                    allowed = " ".join(sorted(EXTENSIONS))
                    raise InputError(f"resemble: {f.path}: extension {f.suffix!r} is not accepted; allowed: {allowed}")
        else:
            field, files = "file", [check_file(as_path_list(submission.zip, "zip")[0])]
            media = [name for name in zip_file_names(files[0]) if _is_media(name) and not name.startswith(".")]
            if not 1 <= len(media) <= MAX_FILES:
                raise InputError(
                    f"resemble: {files[0].path}: {len(media)} media entries; a batch zip needs 1 to {MAX_FILES}"
                )
        total = sum(f.size for f in files)
        if total > options.max_total_bytes:
            raise InputError(f"resemble: {total} bytes in all, over the {options.max_total_bytes}-byte batch limit")
        fields = options.form_fields()
        if submission.callback_url:
            fields["callback_url"] = submission.callback_url
        return fields, field, files

    def chunk_limits(self, options: Any) -> tuple[int, int]:
        return MAX_FILES, coerce_options(options, ResembleOptions, self.name).max_total_bytes

    def submit(self, submission: Submission) -> Operation[BatchJob]:
        fields, field, files = self.prepare(submission)
        with contextlib.ExitStack() as stack:
            parts = open_parts(stack, field, files, self.upload_progress)
            call = self.call("POST", self.BATCH, data=fields or None, files=parts, creates=True)
            response = yield from self.send(call)
        return self.created(response, to_batch_job)

    def get(self, job_id: str) -> Operation[BatchJob]:
        response = yield from self.send(self.call("GET", f"{self.BATCH}/{job_id}"))
        return to_batch_job(read_json(response, "Resemble batch"))

    def list(
        self, limit: int, statuses: frozenset[JobStatus], filters: Mapping[str, Any]
    ) -> Operation[builtins.list[BatchJob]]:
        raise UnsupportedError("resemble has no list of batches; keep the ids submit() returns")
        yield  # pragma: no cover

    def results(self, job: JobRef) -> Operation[builtins.list[FileResult]]:
        batch = job if isinstance(job, BatchJob) else (yield from self.get(job))
        detects = [self._detect(uuid) for uuid in batch.children]
        results: builtins.list[FileResult] = yield Parallel(detects, limit=8)
        return results

    def _detect(self, uuid: str) -> Operation[FileResult]:
        try:
            response = yield from self.send(self.call("GET", f"{self.DETECT}/{uuid}"))
        except (ProviderError, ResponseFormatError) as exc:
            return FileResult(source=uuid, status=JobStatus.UNKNOWN, error=f"could not fetch detect {uuid}: {exc}")
        return to_file_result(read_json(response, "Resemble detect"))
