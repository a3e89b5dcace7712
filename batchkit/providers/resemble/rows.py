"""Resemble results as tidy rows: the verdict, then each chunk."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from batchkit.models import FileResult
from batchkit.providers.base import Row, common_row
from batchkit.providers.capabilities import Verdict

from .models import Detect


def tidy_rows(result: FileResult[Any]) -> Iterator[Row]:
    """A ``verdict`` row with the headline score, then one ``chunk`` row per chunk score of audio.

    ``model`` is the detect's media type; ``label, aggregated_score, consistency, intelligence,
    audio_source_tracing`` are the detect's; a chunk's ``begin``/``end`` are its index times
    ``duration / chunks``.
    """
    detect = result.prediction
    if not isinstance(detect, Detect):
        return
    tracing = detect.audio_source_tracing
    shared = {
        "model": detect.media_type,
        "label": detect.label,
        "aggregated_score": detect.metrics.aggregated_score if detect.metrics else None,
        "consistency": detect.metrics.consistency if detect.metrics else None,
        "intelligence": _text(detect.intelligence),
        "audio_source_tracing": tracing.label if tracing else None,
    }
    yield common_row(result, kind="verdict", name=detect.label, score=detect.score, begin=0.0,
                     end=detect.duration, **shared)  # fmt: skip
    chunks = detect.metrics.score if detect.metrics else ()
    step = detect.duration / len(chunks) if detect.duration and chunks else None
    for index, score in enumerate(chunks):
        begin = index * step if step is not None else None
        end = begin + step if begin is not None and step is not None else None
        yield common_row(result, kind="chunk", name=detect.label, score=score, begin=begin, end=end,
                         chunk=index, **shared)  # fmt: skip


def _text(intelligence: object) -> str | None:
    if isinstance(intelligence, dict):
        description = intelligence.get("description")
        return str(description) if description is not None else None
    return None if intelligence is None else str(intelligence)


def verdict_of(result: FileResult[Any]) -> Verdict:
    """The detect's label: ``fake`` fake, ``real`` real, any other (``likely fake`` ...) uncertain;
    ``p_fake`` its headline score (higher is more likely synthetic); a failed detect error."""
    detect = result.prediction
    if not isinstance(detect, Detect) or detect.label is None:
        return Verdict("error", None, result.error or f"no detect result ({result.status.name})")
    label = detect.label.strip()
    return Verdict("fake" if label == "fake" else "real" if label == "real" else "uncertain", detect.score,
                   None if label in ("fake", "real") else f"labelled {label!r}")  # fmt: skip
