"""Hume's successor Expression Measurement API (``https://api.cloud.hume.ai/v1/expression``), a
provider of the synchronous shape: each upload's reply is its measurements.

``prepare`` converts what must be converted and checks every limit; :meth:`requests` packs the files
into uploads; the client journals them as a run and sends them, keeping each reply before it counts.
A reply lost after its upload was sent is never re-sent by itself: the run list says whether it was
billed.
"""

from __future__ import annotations

import builtins
import datetime as dt
import json
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, ClassVar

import attrs
import cattrs

from batchkit._kernel.inputs import LocalFile, as_path_list, check_files
from batchkit._kernel.journal.stores import data_dir
from batchkit._kernel.options import coerce_options
from batchkit._kernel.steps import Emit, Operation, Upload
from batchkit._kernel.wire import read_json, structure
from batchkit.errors import BatchkitError, InputError, UnsupportedError
from batchkit.models import BatchJob, FileResult, JobStatus
from batchkit.providers.base import Answer, Request, Requests, Sample, Submission, SynchronousProvider

from .models import AudioReply, ExpressionPrediction, VideoReply
from .options import HumeExpressionOptions
from .plan import Item, Plan, plan
from .replies import file_results, restore
from .rows import tidy_rows

RUNS = "/v1/expression/run"
CLOCK_SKEW_S = 5
"""Seconds before an upload's intent that a run of it may seem to have started (clocks differ)."""
PAGE_SIZE = 100
"""Runs asked for a page of the run list."""
MAX_PAGES = 100
"""Pages of the run list read to tell whether an upload was billed (beyond: cannot tell)."""
RUN_STATUS = {"live": JobStatus.RUNNING, "ended": JobStatus.SUCCEEDED, "errored": JobStatus.FAILED}


class HumeExpressionProvider(SynchronousProvider[Plan, ExpressionPrediction]):
    name = "hume-expression"
    default_base_url = "https://api.cloud.hume.ai"
    key_env = "HUME_API_KEY"
    ambiguity_advice = (
        "its measurements cannot be fetched again; options={'resend_ambiguous': True} uploads it again knowingly"
    )
    error_replies_are_final: ClassVar[bool] = True
    """Hume bills no failed file request: a 429 or 5xx measured nothing and is retried."""

    @staticmethod
    def auth_headers(api_key: str) -> dict[str, str]:
        return {"X-Hume-Api-Key": api_key}

    def prepare(self, submission: Submission) -> Plan:
        if submission.urls or submission.text or submission.zip or submission.callback_url:
            raise InputError(f"{self.name} takes local audio, video and image files only (no urls, text, zip or"
                             " callback_url)")  # fmt: skip
        options = coerce_options(submission.options, HumeExpressionOptions, self.name)
        files = check_files(as_path_list(submission.files, "files"))
        if not files:
            raise InputError(f"{self.name}: no files given")
        media = Path(os.environ.get("BATCHKIT_MEDIA_DIR") or data_dir() / "media")
        return plan(files, options, media)

    def requests(self, prepared: Plan) -> Requests:
        requests = [Request(tuple(sorted({p.file for p in item.parts})), attrs.asdict(item),
                            tuple(p.path for p in item.parts if p.converted)) for item in prepared.items]  # fmt: skip
        return Requests(prepared.fingerprint, prepared.files, requests, prepared.options.resend_ambiguous)

    def send(self, request: Request, options: Any) -> Operation[tuple[str, Any]]:
        item = cattrs.structure(dict(request.spec), Item)
        chosen = coerce_options(options, HumeExpressionOptions, self.name)
        config = json.dumps(chosen.audio_config() if item.endpoint == "audio" else chosen.video_config())
        kind = "audio/wav" if item.endpoint == "audio" else "image/jpeg"
        uploads = [Upload("file", LocalFile(Path(p.path), p.size), kind) for p in item.parts]
        parts = [("config", config, "application/json")] if config != "{}" else []
        response = yield self.request("POST", f"/v1/expression/{item.endpoint}/file", uploads=uploads,
                                      parts=parts, creates=True)  # fmt: skip
        model: type[AudioReply | VideoReply] = AudioReply if item.endpoint == "audio" else VideoReply

        def parse(reply: Any) -> tuple[str, Any]:
            return structure(reply, model, f"Hume {item.endpoint} upload reply").run_id, reply

        return self.created(response, parse)

    @classmethod
    def assemble(cls, names: Sequence[str], requests: Sequence[Request],
                 answers: Sequence[Answer]) -> builtins.list[FileResult[Any]]:  # fmt: skip
        return file_results(cls.name, names, requests, answers)

    def list(self, limit: int, statuses: frozenset[JobStatus], filters: Mapping[str, Any]) -> Operation[None]:
        """Hume's runs, newest first: filters ``mode``, ``endpoint``, ``user_id``, ``started_after``,
        ``started_before`` (datetimes or RFC 3339), and the statuses; pages followed by cursor."""
        known = ("mode", "endpoint", "user_id", "started_after", "started_before")
        unknown = sorted(set(filters) - set(known))
        if unknown:
            raise InputError(f"unknown filter {unknown[0]!r}; {self.name} lists runs by {', '.join(known)}")
        params = [(k, v.isoformat() if isinstance(v, dt.datetime) else str(v)) for k, v in filters.items()]
        wanted = {s for s, status in RUN_STATUS.items() if status in statuses}
        if len(wanted) == 1:
            params.append(("status", wanted.pop()))
        emitted, cursor = 0, None
        while emitted < limit:
            page = [*params, ("page_size", str(min(PAGE_SIZE, limit - emitted))),
                    *([("cursor", cursor)] if cursor else [])]  # fmt: skip
            body = read_json((yield self.request("GET", RUNS, params=page)), "Hume run list")
            runs = body.get("runs") if isinstance(body, dict) else None
            if not isinstance(runs, list):
                break
            for job in map(_run_job, runs):
                if emitted < limit and (not statuses or job.status in statuses):
                    yield Emit(job)
                    emitted += 1
            cursor = body.get("next_cursor")
            if not cursor or not runs:
                break

    def lookup(self, request: Request, since_ms: int) -> Operation[str]:
        """What the run list says of an upload that may have been measured: billed, not billed, or (when
        the list cannot be read to the intent, or a run is still live) that it cannot tell."""
        item = cattrs.structure(dict(request.spec), Item)
        since = dt.datetime.fromtimestamp(since_ms / 1000 - CLOCK_SKEW_S, dt.timezone.utc).isoformat()
        params = [("mode", "file"), ("endpoint", item.endpoint), ("started_after", since),
                  ("page_size", str(PAGE_SIZE))]  # fmt: skip
        runs: builtins.list[Any] = []
        cursor: str | None = None
        for _ in range(MAX_PAGES):
            try:
                body = read_json((yield self.request("GET", RUNS, params=[*params, *([("cursor", cursor)] if cursor
                                                                                      else [])])), "Hume run list")
            except BatchkitError as exc:  # the lookup is advice; its failure must not hide the ambiguity
                return f"cannot tell whether it was billed: the run list could not be read ({type(exc).__name__})"
            page = body.get("runs") if isinstance(body, dict) else None
            if not isinstance(page, list):
                return "cannot tell whether it was billed: the run list could not be read (no runs in it)"
            runs += [r for r in page if isinstance(r, dict)]
            cursor = body.get("next_cursor")
            if not cursor or not page:
                break
        else:
            return f"cannot tell whether it was billed: more than {MAX_PAGES} pages of runs since the upload began"
        if any(r.get("status") == "live" for r in runs):
            return "cannot tell whether it was billed: a run since the upload began is still live"
        size = sum(p.size for p in item.parts)
        billed = [r for r in runs if r.get("bytes_received") == size and (r.get("metered_seconds") or 0) > 0]
        if billed:
            seconds = sum(float(r["metered_seconds"]) for r in billed)
            ids = ", ".join(str(r.get("run_id")) for r in billed)
            if len(billed) > 1:
                return f"it was probably billed: one of runs {ids} of the same size (its measurements are lost)"
            return f"it was billed: run {ids}, {seconds:g} metered seconds (its measurements are lost)"
        return "no billed run of it since the upload began: sending it again should not be billed twice"

    def chunk_limits(self, options: Any) -> tuple[int, int]:
        return 100_000, 10**13

    @classmethod
    def result_from(cls, raw: Any) -> FileResult[Any]:
        return restore(cls.name, raw)

    @classmethod
    def sample(cls, folder: Path) -> Sample:
        from batchkit.samples import write_samples

        return Sample([p for p in write_samples(folder) if p.suffix in (".wav", ".jpg")])

    rows = staticmethod(tidy_rows)

    def get(self, job_id: str) -> Operation[BatchJob]:
        """One of Hume's runs (a request's, as :meth:`list` shows them): its status, no results."""
        return _run_job(read_json((yield self.request("GET", f"{RUNS}/{job_id}")), "Hume run"))


def _run_job(run: Any) -> BatchJob:
    if not isinstance(run, dict):
        raise UnsupportedError("a Hume run that is not an object")
    status = str(run.get("status", ""))
    return BatchJob("hume-expression", str(run.get("run_id", "")), RUN_STATUS.get(status, JobStatus.UNKNOWN), status,
                    raw=run)  # fmt: skip


__all__ = ["ExpressionPrediction", "HumeExpressionOptions", "HumeExpressionProvider"]
