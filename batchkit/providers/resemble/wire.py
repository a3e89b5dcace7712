"""Resemble replies as batchkit models: batches (and their callbacks) and detects."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from batchkit._kernel.wire import structure
from batchkit.errors import ResponseFormatError
from batchkit.models import BatchJob, FileResult, JobStatus

from .models import Batch, Detect

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


def to_file_result(body: Any) -> FileResult[Any]:
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
        provider="resemble",
    )
