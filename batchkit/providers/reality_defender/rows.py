"""Reality Defender results as tidy rows and as one verdict."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from batchkit.models import FileResult, JobStatus
from batchkit.providers.base import Row, common_row
from batchkit.providers.capabilities import Verdict

from .models import Scan
from .wire import describe

VERDICTS = {"FAKE": "fake", "SUSPICIOUS": "uncertain", "AUTHENTIC": "real"}


def tidy_rows(result: FileResult[Any]) -> Iterator[Row]:
    """A ``verdict`` row (``name`` the summary's status, ``score`` its finalScore over 100), then one
    ``model`` row per model of the file's media type; ``model`` is the media type."""
    scan = result.prediction
    if not isinstance(scan, Scan):
        return
    kind = scan.media_type.lower() if scan.media_type else None
    yield common_row(result, kind="verdict", name=scan.status, score=scan.score, model=kind)
    for model in scan.models:
        yield common_row(result, kind="model", name=model.name, score=model.score, label=model.status, model=kind)


def verdict_of(result: FileResult[Any]) -> Verdict:
    """``FAKE`` fake, ``SUSPICIOUS`` uncertain, ``AUTHENTIC`` real (``p_fake`` the score);
    ``NOT_APPLICABLE`` not_applicable with its reasons; ``UNABLE_TO_EVALUATE`` and failures error."""
    scan = result.prediction
    if isinstance(scan, Scan) and scan.status in VERDICTS:
        return Verdict(VERDICTS[scan.status], scan.score)
    if isinstance(scan, Scan) and scan.status == "NOT_APPLICABLE":
        return Verdict("not_applicable", None, describe(scan))
    why = result.error or (f"the scan has not ended ({result.status.name})" if result.status is not JobStatus.FAILED
                           else "failed")  # fmt: skip
    return Verdict("error", None, why)
