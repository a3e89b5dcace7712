"""Hume Expression Measurement batch API (``/v0/batch/jobs``).

Hume has announced that this v0 batch API stops on 2026-06-14; batchkit keeps to its
documented contract, and the emulator keeps it usable for development and tests.
"""

from __future__ import annotations

import builtins
import collections
import itertools
import json
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import attrs

from batchkit._kernel.download import AtomicFile
from batchkit._kernel.inputs import (
    LocalFile,
    as_path_list,
    callback_url,
    check_files,
    md5_of,
    one_path,
    split_hint,
    strings,
)
from batchkit._kernel.options import coerce_options
from batchkit._kernel.steps import Blocking, Call, Emit, Operation, Upload, collected
from batchkit._kernel.wire import read_json, read_list
from batchkit.errors import InputError, ResponseFormatError, UnsupportedError
from batchkit.models import BatchJob, Callback, FileResult, JobStatus
from batchkit.providers.base import Provider, Sample, Submission

from .models import Job, SourcePrediction
from .options import HumeOptions
from .rows import tidy_rows
from .wire import STATUS_TO_HUME, created_job, in_given_order, name_texts, structure_job, to_batch_job, to_file_result

MAX_INPUTS = 100
MAX_FILE_BYTES = 100 * 1024 * 1024
MAX_REQUEST_BYTES = 10**9
"""batchkit's bound on one local-file job (Hume documents 100 MB a file, no request total)."""
RECONCILE_MARGIN_MS = 60_000
PREDICTIONS_BYTES = 1 << 30
LIST_BYTES = 64 << 20
PAGE_SIZE = 100
"""Jobs asked for per page of the list (Hume's largest page is not documented; 100 is safe)."""
LIST_FILTERS = {
    "when": ("created_before", "created_after"),
    "timestamp_ms": None,
    "sort_by": ("created", "started", "ended"),
    "direction": ("asc", "desc"),
}


@attrs.frozen
class Prepared:
    """A checked Hume submission: the JSON config and the local files."""

    config: dict[str, Any]
    files: list[LocalFile]


def same_options(sent: Mapping[str, Any], echoed: Mapping[str, Any]) -> bool:
    """Whether a job's echoed request has the options that were ``sent``: the same models, and every
    value that was sent (servers add their defaults, which are not compared)."""
    if "models" in sent and set(sent["models"]) != set(echoed.get("models") or {}):
        return False
    return _covers(echoed, sent)


def _covers(echoed: Any, sent: Any) -> bool:
    if isinstance(sent, Mapping):
        return isinstance(echoed, Mapping) and all(k in echoed and _covers(echoed[k], v) for k, v in sent.items())
    return bool(echoed == sent)


def _at_most(items: list[str], what: str) -> list[str]:
    if len(items) > MAX_INPUTS:
        raise InputError(f"hume: {len(items)} {what}, more than the {MAX_INPUTS} a job takes; use an archive")
    return items


def _ms(job: BatchJob) -> int:
    """When ``job`` was created, in ms since the epoch (as Hume gave it)."""
    assert job.created_at is not None
    return round(job.created_at.timestamp() * 1000)


class HumeProvider(Provider[Prepared, SourcePrediction]):
    """Hume batch jobs: JSON for URLs and text, multipart for local files."""

    name = "hume"
    default_base_url = "https://api.hume.ai"
    key_env = "HUME_API_KEY"
    ambiguity_advice = "look for it in client.list() (batchkit jobs) before retrying"
    JOBS = "/v0/batch/jobs"

    @staticmethod
    def auth_headers(api_key: str) -> dict[str, str]:
        return {"X-Hume-Api-Key": api_key}

    def prepare(self, submission: Submission) -> Prepared:
        options = coerce_options(submission.options, HumeOptions, self.name)
        archive = one_path(submission.zip, "zip")
        files = check_files(as_path_list(submission.files, "files") + ([archive] if archive else []))
        if len(files) > MAX_INPUTS:
            raise InputError(
                f"hume: {len(files)} files, more than the {MAX_INPUTS} a job takes (or use an archive); "
                + split_hint(MAX_INPUTS, "jobs")
            )
        for f in files:
            if f.size > MAX_FILE_BYTES:
                raise InputError(f"hume: {f.path}: {f.size} bytes, over the {MAX_FILE_BYTES}-byte local file limit")
        config = options.to_wire()
        urls = _at_most(strings(submission.urls, "hume: urls"), "urls")
        for url in urls:
            if not url.startswith(("http://", "https://")):
                raise InputError(f"hume: {url!r} is not an http(s) URL")
        text = _at_most(strings(submission.text, "hume: text"), "texts")
        if not (files or urls or text):
            raise InputError("hume: nothing to submit; give files, zip, urls or text")
        config.update({k: val for k, val in (("urls", urls), ("text", text)) if val})
        if (callback := callback_url(submission.callback_url)) is not None:
            config["callback_url"] = callback
        return Prepared(config, files)

    def create(self, prepared: Prepared) -> Operation[BatchJob]:
        config, files = prepared.config, prepared.files
        if files:
            uploads = [Upload("file", f, f.content_type) for f in files]
            data = {"json": json.dumps(config)} if config else None
            call = self.request("POST", self.JOBS, data=data, uploads=uploads, creates=True)
        else:
            call = self.request("POST", self.JOBS, json=config, creates=True)
        response = yield call
        return self.created(response, created_job)

    def get(self, job_id: str) -> Operation[BatchJob]:
        response = yield self.request("GET", f"{self.JOBS}/{job_id}")
        return to_batch_job(read_json(response, "Hume job"))

    def list(self, limit: int, statuses: frozenset[JobStatus], filters: Mapping[str, Any]) -> Operation[None]:
        """Jobs, newest first, ``limit`` in all: pages of :data:`PAGE_SIZE` are followed by creation time
        (Hume has no cursor), unless ``filters`` choose their own order or window (then one page)."""
        params = [("status", s) for s in sorted({STATUS_TO_HUME[s] for s in statuses if s in STATUS_TO_HUME})]
        for key, value in filters.items():
            allowed = LIST_FILTERS.get(key, ())
            if key not in LIST_FILTERS or (allowed and value not in allowed):
                raise InputError(f"hume: unknown list filter {key}={value!r}; known: {sorted(LIST_FILTERS)}")
            params.append((key, str(value)))
        seen: set[str] = set()
        emitted = 0
        created: collections.Counter[int] = collections.Counter()  # jobs seen per creation ms
        before: int | None = None  # the page goes back from here: created at or before it, the ties seen asked again
        while emitted < limit:
            window = [("when", "created_before"), ("timestamp_ms", str(before + 1))] if before is not None else []
            size = limit if filters else min(limit - emitted, PAGE_SIZE)
            asked = size + (created[before] if before is not None else 0)
            response = yield self.request("GET", self.JOBS, params=[("limit", str(asked)), *params, *window],
                                          max_bytes=LIST_BYTES)  # fmt: skip
            jobs = [to_batch_job(item) for item in read_list(response, "Hume job list")]
            new = [job for job in jobs if job.id not in seen]
            seen.update(job.id for job in new)
            created.update(_ms(job) for job in new if job.created_at is not None)
            for job in new:
                if emitted < limit and (not statuses or job.status in statuses):
                    yield Emit(job)
                    emitted += 1
            if filters or not new or len(jobs) < asked or any(job.created_at is None for job in jobs):
                break
            before = min(_ms(job) for job in jobs)

    def results(self, job: BatchJob) -> Operation[builtins.list[FileResult[Any]]]:
        response = yield self.request("GET", f"{self.JOBS}/{job.id}/predictions", max_bytes=PREDICTIONS_BYTES)
        return in_given_order([to_file_result(item) for item in read_list(response, "Hume predictions")], job.raw)

    def stream_results(self, job: BatchJob) -> tuple[Call, Callable[[Any], FileResult[Any]]]:
        """The predictions reply, one source at a time (texts named ``text[0]`` … as they come)."""
        texts = itertools.count()

        def to_result(item: Any) -> FileResult[Any]:
            [result] = name_texts([to_file_result(item)], texts)
            return result

        return self.request("GET", f"{self.JOBS}/{job.id}/predictions"), to_result

    def artifacts(self, job_id: str, sink: AtomicFile) -> Operation[None]:
        yield self.request("GET", f"{self.JOBS}/{job_id}/artifacts", sink=sink)

    def chunk_limits(self, options: Any) -> tuple[int, int]:
        return MAX_INPUTS, MAX_REQUEST_BYTES

    def find_submission(self, files: Sequence[LocalFile], since_ms: int, options: Any,
                        held: frozenset[str] = frozenset()) -> Operation[BatchJob | None]:  # fmt: skip
        """A recent job with these files (names as the server saw them, md5 sums) and these options.

        Jobs created up to a minute before the intent count (clocks differ); models must be the same
        ones, and every option that was sent must be echoed with the same value in the job's request.
        """
        sums: list[str] = yield Blocking(lambda: [md5_of(f.path) for f in files])
        wanted = sorted(zip((f.sent_name for f in files), sums, strict=True))
        sent = coerce_options(options, HumeOptions, self.name).to_wire()
        filters = {"when": "created_after", "timestamp_ms": since_ms - RECONCILE_MARGIN_MS}
        listed: list[BatchJob] = yield from collected(self.list(MAX_INPUTS, frozenset(), filters))
        for job in listed:
            request = structure_job(job.raw).request
            if job.id in held or request is None or sorted((f.filename, f.md5sum) for f in request.files) != wanted:
                continue
            echoed = {"models": request.models, **dict(request.extra), "notify": request.notify}
            if same_options(sent, echoed):
                return job
        if len(listed) >= MAX_INPUTS:  # the list may go on past what one page showed
            raise UnsupportedError(f"cannot tell: {len(listed)} or more jobs were created since the intent")
        return None

    @classmethod
    def parse_callback(cls, body: Mapping[str, Any]) -> Callback:
        job_id, status = body.get("job_id"), body.get("status")
        if not isinstance(job_id, str) or not isinstance(status, str):
            raise ResponseFormatError("Hume callback needs job_id and status", snippet=str(body)[:200])
        predictions = body.get("predictions")
        results = tuple(to_file_result(p) for p in predictions) if isinstance(predictions, list) else None
        state: dict[str, Any] = {"status": status, "message": body.get("message")}
        if results is not None:
            state["num_errors"] = sum(r.status is not JobStatus.SUCCEEDED for r in results)
            state["num_predictions"] = sum(r.status is not JobStatus.FAILED for r in results)
        job = to_batch_job({"job_id": job_id, "state": state})
        return Callback(attrs.evolve(job, raw=body), results)


    @classmethod
    def result_from(cls, raw: Any) -> FileResult[Any]:
        return to_file_result(raw)

    rows = staticmethod(tidy_rows)

    @classmethod
    def sample(cls, folder: Path) -> Sample:
        from batchkit.samples import write_samples

        files = write_samples(folder)
        return Sample(files, {"text": ["What a wonderful surprise, thank you so much!"]})


__all__ = ["MAX_FILE_BYTES", "MAX_INPUTS", "HumeProvider", "Job", "to_batch_job", "to_file_result"]
