"""Hume replies as batchkit models: jobs, statuses and per-source results."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from datetime import datetime, timezone
from typing import Any

import attrs

from batchkit._kernel.wire import structure
from batchkit.errors import ResponseFormatError
from batchkit.models import BatchJob, FileResult, JobStatus

from .models import Job, SourcePrediction

STATUS_TO_HUME = {
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


def structure_job(data: Any) -> Job:
    return structure(data, Job, "Hume job")


def to_batch_job(data: Any) -> BatchJob:
    job = structure_job(data)
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


def to_file_result(data: Any) -> FileResult[Any]:
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
        provider="hume",
    )


def created_job(body: Any) -> BatchJob:
    job_id = body.get("job_id") if isinstance(body, dict) else None
    if not isinstance(job_id, str) or not job_id:
        raise ResponseFormatError("Hume job creation reply has no job_id", snippet=str(body)[:200])
    return BatchJob("hume", job_id, JobStatus.QUEUED, "QUEUED", raw=body)


def in_given_order(results: list[FileResult[Any]], job: Any) -> list[FileResult[Any]]:
    """``results`` in the order the inputs were given (URLs, then files, then texts, each as listed in
    the job's request where it is known), texts named ``text[0]``, ``text[1]`` ..."""
    named = name_texts(results, itertools.count())
    request = job.get("request") if isinstance(job, dict) else None
    if not isinstance(request, dict):
        return named
    urls = [u for u in request.get("urls") or [] if isinstance(u, str)]
    files = [f.get("filename") for f in request.get("files") or [] if isinstance(f, dict)]
    rank = {name: i for i, name in enumerate([*urls, *files])}

    def position(indexed: tuple[int, FileResult[Any]]) -> tuple[int, int]:
        index, result = indexed
        return (0, rank[result.source]) if result.source in rank else (1, index)

    return [r for _, r in sorted(enumerate(named), key=position)]


def name_texts(results: list[FileResult[Any]], numbers: Iterator[int]) -> list[FileResult[Any]]:
    """Text inputs named ``text[0]``, ``text[1]`` … (Hume names every one ``text``)."""
    return [attrs.evolve(r, source=f"text[{next(numbers)}]") if _is_text(r) else r for r in results]


def _is_text(result: FileResult[Any]) -> bool:
    source = result.prediction.source if isinstance(result.prediction, SourcePrediction) else None
    return source is not None and source.type == "text"
