"""Reality Defender (RealAPI), a provider of the per-item shape with a presign step.

One scan a file: ``POST /api/files/aws-presigned`` allocates its ``requestId`` and a presigned S3 URL;
the id is journaled before any byte goes (:class:`~batchkit.providers.base.Identified`); the file is
``PUT`` there, streamed from disk, without the API key; ``GET /api/media/users/{requestId}`` is
polled until the verdict. Poll-only: Reality Defender sends no callbacks.

Which request creates what: the presign makes an id and nothing billable (the analysis starts with
the bytes), so it is sent again like any request; the ``PUT`` is the create, never sent twice once the
bytes may have arrived (the journaled id then tells whether they did).
"""

from __future__ import annotations

import builtins
import datetime as dt
from collections.abc import Mapping
from pathlib import Path
from typing import Any, ClassVar

import attrs
import httpx

from batchkit._kernel.inputs import LocalFile, as_path_list, check_files
from batchkit._kernel.steps import Call, Emit, Identified, Operation, Upload
from batchkit._kernel.wire import read_json
from batchkit.errors import AmbiguousSubmissionError, InputError, NotFoundError, ProviderError, ResponseFormatError
from batchkit.models import BatchJob, FileResult, JobStatus
from batchkit.providers.base import Provider, Sample, Shape, Submission

from .limits import MAX_BYTES, checked, sent_name
from .models import ModelScore, Reason, Scan
from .rows import tidy_rows, verdict_of
from .wire import PlanLimitError, error_body, plan_error, to_job, to_result

PRESIGN = "/api/files/aws-presigned"
SCAN = "/api/media/users/{}"
PAGES = "/api/v2/media/users/pages/{}"
PAGE_SIZE = 50
"""Scans asked for a page of the list (the largest page the API allows is not documented)."""
MAX_PAGES = 1000


@attrs.frozen
class Prepared:
    """A checked file: its name as sent (special characters rewritten) and its media type."""

    file: LocalFile
    name: str
    media_type: str


def _slot(body: Any) -> tuple[str, str]:
    """``(requestId, signedUrl)`` of a presign reply."""
    if isinstance(body, dict):
        request_id, response = body.get("requestId"), body.get("response")
        url = response.get("signedUrl") if isinstance(response, dict) else None
        if isinstance(request_id, str) and request_id and isinstance(url, str) and url.startswith(("http:", "https:")):
            return request_id, url
    raise ResponseFormatError("a Reality Defender presign reply needs requestId and response.signedUrl")


def _day(value: Any, what: str) -> str:
    if isinstance(value, (dt.date, dt.datetime)):
        return value.strftime("%Y-%m-%d")
    if isinstance(value, str):
        try:
            return dt.date.fromisoformat(value).isoformat()
        except ValueError:
            pass
    raise InputError(f"reality-defender: {what} must be a date (or YYYY-MM-DD), got {value!r:.40}")


class RealityDefenderProvider(Provider[Prepared, Scan]):
    """Reality Defender scans: one file each (audio, video, image or text), a verdict and a score."""

    name = "reality-defender"
    default_base_url = "https://api.prd.realitydefender.xyz"
    key_env = "REALITY_DEFENDER_API_KEY"
    shape = Shape.PER_ITEM
    ambiguity_advice = "the scan's requestId says whether the bytes arrived: wait for it before uploading again"
    error_replies_are_final: ClassVar[bool] = False

    @staticmethod
    def auth_headers(api_key: str) -> dict[str, str]:
        return {"X-API-KEY": api_key}

    def error_body(self, response: httpx.Response) -> tuple[str, Mapping[str, Any]]:
        return error_body(response)

    def prepare(self, submission: Submission) -> Prepared:
        if submission.urls or submission.text or submission.zip:
            raise InputError("reality-defender: a scan is of one local file (no urls, text or zip)")
        if submission.callback_url:
            raise InputError("reality-defender sends no callbacks; its scans are polled")
        if submission.options:
            raise InputError("reality-defender takes no options")
        files = check_files(as_path_list(submission.files, "files"))
        if len(files) != 1:
            raise InputError(f"reality-defender: a scan is of one file, {len(files)} given; submit_many or enqueue"
                             " makes one scan a file")  # fmt: skip
        return Prepared(files[0], sent_name(files[0].name), checked(files[0]))

    def create(self, prepared: Prepared) -> Operation[BatchJob]:
        try:
            asked = yield self.request("POST", PRESIGN, json={"fileName": prepared.name})
        except ProviderError as exc:
            raise plan_error(exc) from None
        request_id, url = _slot(read_json(asked, "Reality Defender presign reply"))
        yield Identified(request_id)  # journaled before any byte goes
        put = Call("PUT", "", url, body=Upload("file", prepared.file, prepared.file.content_type), creates=True)
        try:
            yield put
        except AmbiguousSubmissionError as exc:
            reason = f"{exc.reason}; its requestId is {request_id}"
            raise AmbiguousSubmissionError(self.name, reason, status_code=exc.status_code,
                                           advice=self.ambiguity_advice) from None  # fmt: skip
        return BatchJob(self.name, request_id, JobStatus.QUEUED, "UPLOADED", total_count=1)

    def get(self, job_id: str) -> Operation[BatchJob]:
        """The scan now; one not found yet (its bytes have not arrived, or not been registered) is queued."""
        scan = yield from self.uploaded(job_id)
        if scan is None:
            return BatchJob(self.name, job_id, JobStatus.QUEUED, "NOT_FOUND", total_count=1,
                            message="no scan of this requestId yet (its upload has not arrived)")  # fmt: skip
        return scan

    def uploaded(self, job_id: str) -> Operation[BatchJob | None]:
        """The scan of ``job_id``; None when there is none (its bytes never arrived: asked after the settle
        window, long past the seconds a landed upload takes to show, so it is sent again, with a new presign:
        the old signed URL is a secret, never journaled)."""
        try:
            response = yield self.request("GET", SCAN.format(job_id))
        except NotFoundError:
            return None
        return to_job(read_json(response, "Reality Defender scan"))

    def results(self, job: BatchJob) -> Operation[builtins.list[FileResult[Scan]]]:
        body = job.raw if job.raw.get("resultsSummary") else (yield from self.get(job.id)).raw
        return [to_result(body)]

    def list(self, limit: int, statuses: frozenset[JobStatus], filters: Mapping[str, Any]) -> Operation[None]:
        """Scans, newest first, of the given statuses: filters ``name`` (part of the file name),
        ``start_date`` and ``end_date`` (dates, inclusive); pages followed to ``totalPages``."""
        known = ("name", "start_date", "end_date")
        unknown = sorted(set(filters) - set(known))
        if unknown:
            raise InputError(f"unknown filter {unknown[0]!r}; {self.name} lists scans by {', '.join(known)}")
        params = [("size", str(PAGE_SIZE))]
        if filters.get("name"):
            params.append(("name", str(filters["name"])))
        for key, wire in (("start_date", "startDate"), ("end_date", "endDate")):
            if filters.get(key) is not None:
                params.append((wire, _day(filters[key], key)))
        emitted = 0
        for page in range(MAX_PAGES):
            body = read_json((yield self.request("GET", PAGES.format(page), params=params)), "Reality Defender scans")
            items = (body.get("mediaList") or body.get("data")) if isinstance(body, dict) else None
            if not isinstance(items, list) or not items:
                break
            for job in map(to_job, items):
                if emitted < limit and (not statuses or job.status in statuses):
                    yield Emit(job)
                    emitted += 1
            if emitted >= limit or page + 1 >= int(body.get("totalPages") or 0):
                break

    def chunk_limits(self, options: Any) -> tuple[int, int]:
        return 1, max(MAX_BYTES.values())

    @classmethod
    def result_from(cls, raw: Any) -> FileResult[Any]:
        return to_result(raw)

    @classmethod
    def sample(cls, folder: Path) -> Sample:
        """The built-in image sample (a scan is of one file)."""
        from batchkit.samples import write_samples

        return Sample([p for p in write_samples(folder) if p.suffix == ".png"])

    rows = staticmethod(tidy_rows)
    verdict = staticmethod(verdict_of)


__all__ = ["ModelScore", "PlanLimitError", "RealityDefenderProvider", "Reason", "Scan"]
