"""Reality Defender's replies read: scans as jobs and results, its ``{code, response}`` errors typed,
and every URL in a reply stripped of its query (presigned heatmap links are secrets and expire)."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import httpx

from batchkit.errors import PermissionDeniedError, ProviderError, ResponseFormatError
from batchkit.models import BatchJob, FileResult, JobStatus

from .models import ModelScore, Reason, Scan

NAME = "reality-defender"
RUNNING = frozenset({"ANALYZING", "DOWNLOADING"})
ALIASES = {"MANIPULATED": "FAKE", "ARTIFICIAL": "FAKE"}
"""What the SDKs and older replies call ``FAKE``."""
ANSWERED = frozenset({"FAKE", "SUSPICIOUS", "AUTHENTIC"})
UNANSWERED = frozenset({"NOT_APPLICABLE", "UNABLE_TO_EVALUATE"})
"""Ended without a verdict: each is the file's outcome, with why (``UNABLE_TO_EVALUATE`` may succeed
when uploaded again: a new scan)."""
PLAN_CODES = frozenset({"free-tier-not-allowed", "upload-limit-reached"})
PRIVATE = frozenset({"userInfo", "userId", "institutionId"})
"""Fields about the account (personal data), never kept."""


class PlanLimitError(PermissionDeniedError):
    """Reality Defender refused the upload for the plan (``code`` ``free-tier-not-allowed`` or
    ``upload-limit-reached``; HTTP 400): nothing more can be sent with this key until the plan allows it."""

    @property
    def code(self) -> str:
        """The reply's ``code``."""
        return str(self.details.get("code", ""))


def plan_error(error: ProviderError) -> ProviderError:
    """``error`` as a :class:`PlanLimitError` where its ``code`` is a plan's limit."""
    if error.details.get("code") not in PLAN_CODES:
        return error
    typed = PlanLimitError(error.provider, error.status_code, error.message, details=error.details,
                           request_id=error.request_id)  # fmt: skip
    typed.attempts = error.attempts
    return typed


def error_body(response: httpx.Response) -> tuple[str, Mapping[str, Any]]:
    """(message, details) of an error reply ``{code, response, errno}`` (an S3 refusal is XML: its text)."""
    try:
        body = response.json()
    except ValueError:
        return response.text.strip()[:300], {}
    if not isinstance(body, dict):
        return str(body)[:300], {}
    message = body.get("response") or body.get("message") or body.get("code") or ""
    return str(message)[:500], {k: body[k] for k in ("code", "errno") if k in body}


def without_queries(value: Any) -> Any:
    """``value`` with every URL's query and fragment cut off, and no account fields."""
    if isinstance(value, str):
        return value.split("?", 1)[0].split("#", 1)[0] if value.startswith(("http://", "https://")) else value
    if isinstance(value, Mapping):
        return {str(k): without_queries(v) for k, v in value.items() if k not in PRIVATE}
    if isinstance(value, list):
        return [without_queries(v) for v in value]
    return value


def status_of(body: Mapping[str, Any]) -> str:
    """The scan's status: its summary's, else ``overallStatus`` (a summary is null while it downloads)."""
    summary = body.get("resultsSummary")
    status = summary.get("status") if isinstance(summary, Mapping) else None
    status = str(status or body.get("overallStatus") or "").upper()
    return ALIASES.get(status, status)


def job_status(status: str) -> JobStatus:
    if status in RUNNING:
        return JobStatus.RUNNING
    if status in ANSWERED:
        return JobStatus.SUCCEEDED
    if status in UNANSWERED:
        return JobStatus.FAILED
    return JobStatus.UNKNOWN  # QUEUED, PROCESSING, ... are not documented: polled on, to the wait's end


def to_job(body: Any) -> BatchJob:
    """A scan (``GET /api/media/users/{requestId}``) as a job of one file."""
    if not isinstance(body, Mapping) or not isinstance(body.get("requestId"), str) or not body["requestId"]:
        raise ResponseFormatError("a Reality Defender scan needs its requestId", snippet=str(body)[:200])
    status = status_of(body)
    kept = without_queries(body)
    job_state = job_status(status)
    message = describe(to_scan(kept)) if job_state is JobStatus.FAILED else None
    done = int(job_state is JobStatus.SUCCEEDED)
    return BatchJob(NAME, body["requestId"], job_state, status or "UNKNOWN", total_count=1, succeeded_count=done,
                    failed_count=int(job_state is JobStatus.FAILED), message=message, raw=kept)  # fmt: skip


def _score(value: Any) -> float | None:
    """A 0-100 score as 0-1 (the API's ``finalScore``); None for what is not a number."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        return None
    return min(1.0, max(0.0, float(value) / 100))


def _reasons(body: Mapping[str, Any], metadata: Mapping[str, Any]) -> tuple[Reason, ...]:
    """Why a scan has no verdict: the summary's ``reasons`` (a list of ``{code, message}``; the key is
    not documented), else each model's ``predictionNumber.reason``."""
    found: list[Reason] = []
    for item in metadata.get("reasons") or ():
        if isinstance(item, Mapping):
            found.append(Reason(str(item.get("code") or ""), str(item.get("message") or "")))
        elif isinstance(item, str):
            found.append(Reason("", item))
    for model in body.get("models") or ():
        guess = model.get("predictionNumber") if isinstance(model, Mapping) else None
        if not found and isinstance(guess, Mapping) and guess.get("reason"):
            code, _, message = str(guess["reason"]).partition(": ")
            reason = Reason(code, message) if message else Reason("", code)
            if reason not in found:
                found.append(reason)
    return tuple(found)


def to_scan(body: Mapping[str, Any]) -> Scan:
    """A finished scan's typed result."""
    summary = body.get("resultsSummary")
    summary = summary if isinstance(summary, Mapping) else {}
    metadata = summary.get("metadata")
    metadata = metadata if isinstance(metadata, Mapping) else {}
    models = []
    for model in body.get("models") or ():
        if not isinstance(model, Mapping) or str(model.get("status")) == "NOT_APPLICABLE":
            continue
        status = str(model.get("status") or "")
        score = _score(model.get("finalScore"))
        models.append(ModelScore(str(model.get("name") or ""), ALIASES.get(status, status), score))
    languages = tuple(str(x) for x in metadata.get("languages") or () if isinstance(x, str))
    kind = body.get("mediaType")
    name = body.get("originalFileName") or body.get("name")
    return Scan(str(body.get("requestId") or ""), status_of(body), _score(metadata.get("finalScore")),
                str(kind) if kind else None, str(name) if name else None, tuple(models), _reasons(body, metadata),
                languages)  # fmt: skip


def describe(scan: Scan) -> str:
    """Why a scan has no verdict, in words."""
    why = "; ".join(f"{r.code}: {r.message}" if r.code and r.message else r.code or r.message for r in scan.reasons)
    if scan.status == "UNABLE_TO_EVALUATE":
        why = why or "an error occurred while processing the file (a new upload may succeed)"
    return f"{scan.status}: {why}" if why else scan.status


def to_result(body: Any) -> FileResult[Scan]:
    """A scan as the result of its one file: succeeded with a verdict, or failed saying why not."""
    if not isinstance(body, Mapping):
        return FileResult("", JobStatus.UNKNOWN, error="no scan was kept", provider=NAME)
    kept = without_queries(body)
    scan = to_scan(kept)
    source = str(kept.get("originalFileName") or kept.get("name") or scan.request_id)
    state = job_status(scan.status)
    if state is JobStatus.SUCCEEDED:
        return FileResult(source, state, prediction=scan, raw=kept, provider=NAME)
    error = describe(scan) if state is JobStatus.FAILED else f"the scan has not ended ({scan.status or 'no status'})"
    return FileResult(source, state, error=error, prediction=scan, raw=kept, provider=NAME)
