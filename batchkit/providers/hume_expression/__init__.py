"""Hume's successor Expression Measurement API (``https://api.cloud.hume.ai/v1/expression``) as a batch.

The API measures uploads synchronously and keeps no measurements: a job here is batchkit's own, a run
in the journal whose requests are the uploads. ``submit`` converts what must be converted, checks
every limit, then sends the requests and keeps each reply before it counts; ``get`` and ``results``
read the journal. A reply lost after its upload was sent is never re-sent by itself: the run list
says whether it was billed.
"""

from __future__ import annotations

import builtins
import datetime as dt
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any, ClassVar

from batchkit._kernel.inputs import as_path_list, check_files
from batchkit._kernel.journal import Chunk, ChunkState, Journal, Run
from batchkit._kernel.options import coerce_options
from batchkit._kernel.steps import Blocking, Operation
from batchkit._kernel.wire import read_json
from batchkit.errors import AmbiguousSubmissionError, InputError, UnsupportedError
from batchkit.models import BatchJob, FileResult, JobStatus
from batchkit.providers.base import Provider, Sample, Submission

from . import jobs
from .models import ExpressionPrediction
from .options import HumeExpressionOptions
from .plan import Item, Plan, plan
from .rows import tidy_rows

RUNS = "/v1/expression/run"
CLOCK_SKEW_S = 5
"""Seconds before an upload's intent that a run of it may seem to have started (clocks differ)."""
PAGE_SIZE = 100
"""Runs asked for a page of the run list."""
RUN_STATUS = {"live": JobStatus.RUNNING, "ended": JobStatus.SUCCEEDED, "errored": JobStatus.FAILED}


class HumeExpressionProvider(Provider):
    name = "hume-expression"
    default_base_url = "https://api.cloud.hume.ai"
    key_env = "HUME_API_KEY"
    emulator = "batchkit.providers.hume_expression.emulator:HumeExpressionFake"
    ambiguity_advice = (
        "its measurements cannot be fetched again; options={'resend_ambiguous': True} uploads it again knowingly"
    )
    error_replies_are_final: ClassVar[bool] = True
    """Hume bills no failed file request: a 429 or 5xx measured nothing and is retried."""

    @staticmethod
    def auth_headers(api_key: str) -> dict[str, str]:
        return {"X-Hume-Api-Key": api_key}

    def _journal(self) -> Journal:
        from batchkit._kernel.journal import default_journal, is_postgres

        target = self.journal or default_journal()
        if not is_postgres(target):
            Path(target).parent.mkdir(parents=True, exist_ok=True)
        return Journal(target)

    def _read(self, job_id: str) -> tuple[Run, builtins.list[Chunk]]:
        """A job's run and requests, as the journal has them."""
        journal = self._journal()
        try:
            return jobs.read_job(journal, self.name, job_id)
        finally:
            journal.close()

    def prepare(self, submission: Submission) -> Plan:
        if submission.urls or submission.text or submission.zip or submission.callback_url:
            raise InputError(f"{self.name} takes local audio, video and image files only (no urls, text, zip or"
                             " callback_url)")  # fmt: skip
        options = coerce_options(submission.options, HumeExpressionOptions, self.name)
        files = check_files(as_path_list(submission.files, "files"))
        if not files:
            raise InputError(f"{self.name}: no files given")
        media = Path(os.environ.get("BATCHKIT_MEDIA_DIR") or _media_root(self.journal))
        return plan(files, options, media)

    def create(self, prepared: Plan) -> Operation[BatchJob]:
        journal: Journal = yield Blocking(self._journal)
        try:
            run = yield Blocking(lambda: jobs.record(journal, self.name, prepared))
            sends = jobs.Sends(self.name, self.request, self._billing)
            chunks = yield from jobs.send_all(sends, journal, prepared, run)
            found = yield Blocking(lambda: jobs.keep(journal, self.name, run, chunks))
        finally:
            journal.close()
        job = jobs.job_of(self.name, found, chunks)
        lost = [c for c in chunks if c.state == ChunkState.AMBIGUOUS]
        if lost:
            reasons = "; ".join(f"request {c.index}: {c.error}" for c in lost)
            what = f"job {job.id}: {len(lost)} upload(s) lost their reply ({reasons})"
            raise AmbiguousSubmissionError(self.name, what, advice=self.ambiguity_advice)
        return job

    def get(self, job_id: str) -> Operation[BatchJob]:
        job: BatchJob = yield Blocking(lambda: jobs.job_of(self.name, *self._read(job_id)))
        return job

    def results(self, job: BatchJob) -> Operation[builtins.list[FileResult[Any]]]:
        found: builtins.list[FileResult[Any]] = yield Blocking(
            lambda: jobs.file_results(self.name, *self._read(job.id))
        )
        return found

    def list(
        self, limit: int, statuses: frozenset[JobStatus], filters: Mapping[str, Any]
    ) -> Operation[builtins.list[BatchJob]]:
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
        found: builtins.list[BatchJob] = []
        cursor: str | None = None
        while len(found) < limit:
            page = [*params, ("page_size", str(min(PAGE_SIZE, limit))), *([("cursor", cursor)] if cursor else [])]
            body = read_json((yield self.request("GET", RUNS, params=page)), "Hume run list")
            runs = body.get("runs") if isinstance(body, dict) else None
            if not isinstance(runs, list):
                break
            found += [job for job in map(_run_job, runs) if not statuses or job.status in statuses]
            cursor = body.get("next_cursor")
            if not cursor or not runs:
                break
        return found[:limit]

    def _billing(self, item: Item, since_ms: int) -> Operation[str]:
        """What the run list says of an upload that may have been measured: billed or not."""
        since = dt.datetime.fromtimestamp(since_ms / 1000 - CLOCK_SKEW_S, dt.timezone.utc).isoformat()
        params = [("mode", "file"), ("endpoint", item.endpoint), ("started_after", since), ("page_size", "100")]
        try:
            body = read_json((yield self.request("GET", RUNS, params=params)), "Hume run list")
        except Exception as exc:  # the lookup is advice; its failure must not hide the ambiguity
            return f"the run list could not be read to tell whether it was billed ({type(exc).__name__})"
        size = sum(p.size for p in item.parts)
        runs = body.get("runs") if isinstance(body, dict) else None
        billed = [r for r in runs or [] if isinstance(r, dict) and r.get("bytes_received") == size
                  and (r.get("metered_seconds") or 0) > 0]  # fmt: skip
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
        return jobs.restore(cls.name, raw)

    @classmethod
    def sample(cls, folder: Path) -> Sample:
        from batchkit.samples import write_samples

        return Sample([p for p in write_samples(folder) if p.suffix in (".wav", ".jpg")])

    rows = staticmethod(tidy_rows)


def _media_root(journal: str | os.PathLike[str] | None) -> str:
    """Converted media live beside a sqlite journal, else in batchkit's data directory."""
    from batchkit._kernel.journal.stores import data_dir, is_postgres

    text = os.fspath(journal) if journal is not None else ""
    if text and not is_postgres(text):
        return f"{text}.media"
    return str(data_dir() / "media")


def _run_job(run: Any) -> BatchJob:
    if not isinstance(run, dict):
        raise UnsupportedError("a Hume run that is not an object")
    status = str(run.get("status", ""))
    return BatchJob("hume-expression", str(run.get("run_id", "")), RUN_STATUS.get(status, JobStatus.UNKNOWN), status,
                    raw=run)  # fmt: skip


__all__ = ["ExpressionPrediction", "HumeExpressionOptions", "HumeExpressionProvider"]
