"""Resemble Detect batch API (``/api/v2/detect/batch``): ``files[]`` or one zip, per-file detects."""

from __future__ import annotations

import builtins
from collections.abc import Mapping
from typing import Any

import attrs

from batchkit._kernel.inputs import (
    LocalFile,
    as_path_list,
    callback_url,
    check_file,
    check_files,
    one_path,
    zip_file_names,
)
from batchkit._kernel.options import coerce_options
from batchkit._kernel.steps import Operation, Parallel, Upload
from batchkit._kernel.wire import read_json
from batchkit.errors import InputError, ProviderError, ResponseFormatError
from batchkit.models import BatchJob, Callback, FileResult, JobStatus
from batchkit.providers.base import Provider, Submission

from .options import ResembleOptions
from .rows import summary, tidy_rows
from .wire import to_batch_job, to_file_result

MAX_FILES = 50
DETECT_BYTES = 64 << 20
"""A detect may carry heatmaps as data URIs."""
EXTENSIONS = frozenset(
    {".wav", ".mp3", ".m4a", ".ogg", ".aac", ".flac", ".mp4", ".mov", ".avi", ".mkv", ".webm"}
    | {".jpg", ".jpeg", ".png", ".gif", ".webp"}
)


@attrs.frozen
class Prepared:
    """A checked Resemble submission: form fields, the file part's name, the files."""

    fields: dict[str, str]
    field: str
    files: list[LocalFile]


def _is_media(name: str) -> bool:
    return "." in name and name[name.rfind(".") :].lower() in EXTENSIONS


class ResembleProvider(Provider):
    """Resemble detect batches: up to 50 files or one zip, 500 MB, then one detect per file."""

    name = "resemble"
    default_base_url = "https://app.resemble.ai"
    key_env = "RESEMBLE_API_KEY"
    emulator = "batchkit.providers.resemble.emulator:ResembleFake"
    BATCH = "/api/v2/detect/batch"
    DETECT = "/api/v2/detect"

    @staticmethod
    def auth_headers(api_key: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {api_key}"}

    def prepare(self, submission: Submission) -> Prepared:
        options = coerce_options(submission.options, ResembleOptions, self.name)
        if submission.urls or submission.text:
            raise InputError("resemble: the detect batch endpoint takes local files or a zip, not urls or text")
        paths = as_path_list(submission.files, "files")
        archive = one_path(submission.zip, "zip")
        if paths and archive is not None:
            raise InputError("resemble: give files or one zip, not both")
        if not paths and archive is None:
            raise InputError("resemble: nothing to submit; give files or a zip")
        if len(paths) > MAX_FILES:
            raise InputError(f"resemble: {len(paths)} files, more than the {MAX_FILES} a batch takes")
        if archive is None:
            field, files = "files[]", check_files(paths)
            for f in files:
                if not _is_media(f.name):
                    allowed = " ".join(sorted(EXTENSIONS))
                    raise InputError(f"resemble: {f.path}: extension {f.suffix!r} is not accepted; allowed: {allowed}")
        else:
            field, files = "file", [check_file(archive)]
            media = [name for name in zip_file_names(files[0]) if _is_media(name) and not name.startswith(".")]
            if not 1 <= len(media) <= MAX_FILES:
                raise InputError(
                    f"resemble: {files[0].path}: {len(media)} media entries; a batch zip needs 1 to {MAX_FILES}"
                )
        total = sum(f.size for f in files)
        if total > options.max_total_bytes:
            raise InputError(f"resemble: {total} bytes in all, over the {options.max_total_bytes}-byte batch limit")
        fields = options.form_fields()
        if (url := callback_url(submission.callback_url)) is not None:
            fields["callback_url"] = url
        return Prepared(fields, field, files)

    def create(self, prepared: Prepared) -> Operation[BatchJob]:
        uploads = [Upload(prepared.field, f, f.content_type) for f in prepared.files]
        response = yield self.request("POST", self.BATCH, data=prepared.fields or None, uploads=uploads, creates=True)
        return self.created(response, to_batch_job)

    def chunk_limits(self, options: Any) -> tuple[int, int]:
        return MAX_FILES, coerce_options(options, ResembleOptions, self.name).max_total_bytes

    def get(self, job_id: str) -> Operation[BatchJob]:
        response = yield self.request("GET", f"{self.BATCH}/{job_id}")
        return to_batch_job(read_json(response, "Resemble batch"))

    def results(self, job: BatchJob) -> Operation[builtins.list[FileResult]]:
        if not job.raw:  # known only by its id: its detects come with the batch
            job = yield from self.get(job.id)
        results: builtins.list[FileResult] = yield Parallel([self._detect(uuid) for uuid in job.children])
        return results

    def _detect(self, uuid: str) -> Operation[FileResult]:
        try:
            response = yield self.request("GET", f"{self.DETECT}/{uuid}", max_bytes=DETECT_BYTES)
            return to_file_result(read_json(response, "Resemble detect"))
        except (ProviderError, ResponseFormatError) as exc:
            return FileResult(source=uuid, status=JobStatus.UNKNOWN, error=f"could not fetch detect {uuid}: {exc}")

    @classmethod
    def parse_callback(cls, body: Mapping[str, Any]) -> Callback:
        return Callback(to_batch_job(body))

    summary = staticmethod(summary)
    rows = staticmethod(tidy_rows)
