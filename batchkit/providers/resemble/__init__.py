"""Resemble Detect batch API (``/api/v2/detect/batch``): ``files[]`` or one zip, per-file detects."""

from __future__ import annotations

import builtins
import time
from collections import Counter
from collections.abc import Mapping, Sequence
from datetime import datetime
from email.utils import parsedate_to_datetime
from typing import Any

import attrs
import httpx

from batchkit._kernel.inputs import (
    LocalFile,
    as_path_list,
    callback_url,
    check_file,
    check_files,
    one_path,
    split_hint,
    zip_file_names,
)
from batchkit._kernel.options import coerce_options
from batchkit._kernel.steps import Operation, Parallel, Upload
from batchkit._kernel.wire import read_json
from batchkit.errors import InputError, ProviderError, ResponseFormatError, UnsupportedError
from batchkit.models import BatchJob, Callback, FileResult, JobStatus
from batchkit.providers.base import Provider, Submission

from .models import Detect
from .options import ResembleOptions
from .rows import tidy_rows, verdict_of
from .wire import to_batch_job, to_file_result

MAX_FILES = 50
ADOPTED = "adopted-"
"""The id prefix of a batch found again through its detects."""
RECONCILE_MARGIN_S = 60.0
"""How far before the intent detects are looked at when the server tells no time (clocks differ)."""
DATE_SLACK_S = 2.0
"""How far before the intent, in the server's clock, detects are looked at: a ``Date`` header's whole
seconds and the time the list request took."""
LIST_PAGES = 50
LIST_BYTES = 256 << 20
DETECT_BYTES = 64 << 20
"""A detect may carry heatmaps as data URIs."""
VIDEOS = frozenset({".mp4", ".mov", ".avi", ".mkv", ".webm"})
IMAGES = frozenset({".jpg", ".jpeg", ".png", ".gif", ".webp"})
EXTENSIONS = frozenset({".wav", ".mp3", ".m4a", ".ogg", ".aac", ".flac"}) | VIDEOS | IMAGES


@attrs.frozen
class Prepared:
    """A checked Resemble submission: form fields, the file part's name, the files."""

    fields: dict[str, str]
    field: str
    files: list[LocalFile]


def media_type(name: str) -> str:
    suffix = name[name.rfind(".") :].lower() if "." in name else ""
    return "image" if suffix in IMAGES else "video" if suffix in VIDEOS else "audio"


def _seconds(value: Any) -> float | None:
    """An ISO 8601 time as seconds since the epoch, or None."""
    if not isinstance(value, str):
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


def _server_skew(response: httpx.Response) -> float | None:
    """The server's clock less this host's (seconds), from a reply's ``Date`` header; None without one."""
    try:
        return parsedate_to_datetime(response.headers["date"]).timestamp() - time.time()
    except (KeyError, TypeError, ValueError, IndexError):
        return None


_FEATURES = {"intelligence": "intelligence", "audio_source_tracing_enabled": "audio_source_tracing"}
"""Options whose output a detect carries (under another name) only when they were asked for."""


def _echoes(item: Any, options: ResembleOptions) -> bool:
    """Whether a detect was made with ``options``: every setting it echoes has the value that was sent
    (or the default), and it carries no feature's output that was not asked for."""
    if not isinstance(item, dict):
        return False
    for field in attrs.fields(ResembleOptions):
        sent, echoed = getattr(options, field.name), item.get(field.name)
        if field.name == "max_total_bytes" or echoed is None or isinstance(echoed, (dict, list)):
            continue
        if isinstance(echoed, bool):
            if echoed != bool(field.name == "visualize" if sent is None else sent):
                return False
        elif sent is not None and _number(echoed) != float(sent):
            return False
    return not any(item.get(output) and not getattr(options, name) for name, output in _FEATURES.items())


def _number(value: Any) -> float | None:
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def _is_media(name: str) -> bool:
    return "." in name and name[name.rfind(".") :].lower() in EXTENSIONS


class ResembleProvider(Provider[Prepared, Detect]):
    """Resemble detect batches: up to 50 files or one zip, 500 MB, then one detect per file."""

    name = "resemble"
    default_base_url = "https://app.resemble.ai"
    key_env = "RESEMBLE_API_KEY"
    ambiguity_advice = (
        "Resemble has no list of batches: look for these files in the detect list (GET /api/v2/detect) "
        "before retrying; submit_many does this itself"
    )
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
            raise InputError(
                f"resemble: {len(paths)} files, more than the {MAX_FILES} a batch takes; "
                + split_hint(MAX_FILES, "batches")
            )
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

    def follow(self, job: BatchJob) -> Operation[BatchJob]:
        """A batch by its uuid; a chunk adopted from the detect list (its batch uuid cannot be known)
        by its detects, whose states make the batch's."""
        if not job.id.startswith(ADOPTED):
            return (yield from self.get(job.id))
        if not job.children:
            raise InputError(f"{job.id} is a batch found again through its detects; follow it from its JobGroup")
        detects: builtins.list[Any] = yield Parallel([self._detect_item(uuid) for uuid in job.children])
        statuses = [str(d.get("status", "processing")) for d in detects]
        done, failed = statuses.count("completed"), statuses.count("failed")
        status = ("processing" if done + failed < len(statuses) else "completed" if not failed
                  else "failed" if not done else "partially_failed")  # fmt: skip
        created = min((str(d.get("created_at") or "") for d in detects), default=None)
        counts = {"total_files": len(statuses), "completed_count": done, "failed_count": failed}
        return to_batch_job({"uuid": job.id, "status": status, **counts, "created_at": created,
                             "detect_uuids": list(job.children)})  # fmt: skip

    def _detect_item(self, uuid: str) -> Operation[Any]:
        response = yield self.request("GET", f"{self.DETECT}/{uuid}", max_bytes=DETECT_BYTES)
        item = read_json(response, "Resemble detect")
        return item.get("item", item) if isinstance(item, dict) else {}

    def find_submission(self, files: Sequence[LocalFile], since_ms: int, options: Any,
                        held: frozenset[str] = frozenset()) -> Operation[BatchJob | None]:  # fmt: skip
        """The detects a batch of exactly these files made since the intent, found in the team's detect list.

        The list is paged newest first and read back to the intent, in the server's clock (its ``Date``
        header, less :data:`DATE_SLACK_S`; a minute before the intent when it sends none). Detects
        created together (one ``created_at``), not ``held`` by another chunk, whose file names (as the
        multipart header carried them) and media types are exactly the chunk's (as a multiset) and whose
        echoed settings are these options are adopted as a job ``adopted-<first detect uuid>`` followed
        by its detects. Other batches made in the same instant are told apart by their names; where they
        share the chunk's names, it cannot tell. Under zero retention names are redacted, so nothing can
        be matched.
        """
        settings = coerce_options(options, ResembleOptions, self.name)
        if settings.zero_retention_mode:
            raise UnsupportedError("zero retention redacts file names: the batch cannot be found in the detect list")
        wanted = sorted((f.sent_name, media_type(f.name)) for f in files)
        since = since_ms / 1000 - RECONCILE_MARGIN_S
        groups: dict[str, builtins.list[Any]] = {}
        for page in range(1, LIST_PAGES + 1):
            response = yield self.request("GET", self.DETECT, params=[("page", str(page)), ("page_size", "100")],
                                          max_bytes=LIST_BYTES)  # fmt: skip
            if page == 1 and (skew := _server_skew(response)) is not None:
                since = since_ms / 1000 + skew - DATE_SLACK_S
            body = read_json(response, "Resemble detect list")
            items = body.get("items") if isinstance(body, dict) else None
            if not isinstance(items, list) or not items:
                break
            older = False
            for item in items:
                created = _seconds(item.get("created_at") if isinstance(item, dict) else None)
                if created is None or created < since:
                    older = True
                    continue
                if str(item.get("uuid")) not in held and _echoes(item, settings):
                    groups.setdefault(str(item.get("created_at")), []).append(item)
            if older or page >= int(body.get("num_pages") or 1):
                break
        else:
            raise UnsupportedError(f"cannot tell: the detect list is longer than {LIST_PAGES} pages since the intent")
        unclear = False
        for members in groups.values():  # an instant may hold several batches (a fleet creates at once)
            ours = [m for m in members if (str(m.get("filename")), m.get("media_type")) in wanted]
            named = sorted((str(m.get("filename")), m.get("media_type")) for m in ours)
            if named == wanted:
                uuids = tuple(str(m.get("uuid")) for m in ours)
                return BatchJob(self.name, f"{ADOPTED}{uuids[0]}", JobStatus.UNKNOWN, "", children=uuids)
            unclear = unclear or Counter(wanted) <= Counter(named)
        if unclear:
            raise UnsupportedError("cannot tell: batches created in the same instant share this chunk's file names,"
                                   " so its detects cannot be told from theirs")  # fmt: skip
        return None

    def results(self, job: BatchJob) -> Operation[builtins.list[FileResult[Any]]]:
        if not job.children:  # known only by its id: its detects come with the batch
            job = yield from self.follow(job)
        results: builtins.list[FileResult[Any]] = yield Parallel([self._detect(uuid) for uuid in job.children])
        return results

    def _detect(self, uuid: str) -> Operation[FileResult[Any]]:
        try:
            response = yield self.request("GET", f"{self.DETECT}/{uuid}", max_bytes=DETECT_BYTES)
            return to_file_result(read_json(response, "Resemble detect"))
        except (ProviderError, ResponseFormatError) as exc:
            error = f"could not fetch detect {uuid}: {exc}"
            return FileResult(source=uuid, status=JobStatus.UNKNOWN, error=error, provider=self.name)

    @classmethod
    def parse_callback(cls, body: Mapping[str, Any]) -> Callback:
        return Callback(to_batch_job(body))

    @classmethod
    def result_from(cls, raw: Any) -> FileResult[Any]:
        return to_file_result(raw)

    rows = staticmethod(tidy_rows)
    verdict = staticmethod(verdict_of)
