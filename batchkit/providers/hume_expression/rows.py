"""Hume successor results for people: a one-line summary and tidy rows."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from batchkit.models import FileResult
from batchkit.providers.base import Row, common_row

from .models import ExpressionPrediction, Score

_NONE: dict[str, Any] = dict.fromkeys(("utterance_id", "measurement_id", "frame_id", "face_id", "confidence"))
"""Every provider column, so that every row has the same columns."""


def _top(scores: list[Score]) -> str:
    best = max(scores, key=lambda s: s.probability, default=None)
    return f"{best.name} {best.probability:.2f}" if best else ""


def summary(result: FileResult[Any]) -> str:
    """The most probable expression overall, and how much was measured."""
    p = result.prediction
    if not isinstance(p, ExpressionPrediction):
        return ""
    scores = [s for m in p.measurements for s in m.expressions] + [
        s for f in p.frames for face in f.faces for s in face.expressions
    ]
    measured = f"{len(p.measurements)} measurements" if p.measurements else f"{len(p.frames)} frames"
    top = _top(scores)
    return f"{top} ({measured})" if top else measured


def tidy_rows(result: FileResult[Any]) -> Iterator[Row]:
    """One row per score: ``kind`` expression / voice_attribute (audio, ``begin``/``end`` the window in
    seconds) or expression / description (a face; ``begin`` the frame's time in a video).

    Provider columns: ``utterance_id, measurement_id, frame_id, face_id, confidence``."""
    p = result.prediction
    if not isinstance(p, ExpressionPrediction):
        yield common_row(result)
        return
    for m in p.measurements:
        begin, end = m.audio_start_ms / 1000, m.audio_end_ms / 1000
        ids: dict[str, Any] = {**_NONE, "utterance_id": m.utterance_id, "measurement_id": m.measurement_id}
        for kind, scores in (("expression", m.expressions), ("voice_attribute", m.voice_attributes)):
            for s in scores:
                yield common_row(result, kind=kind, name=s.name, score=s.probability, begin=begin, end=end, **ids)
    for frame in p.frames:
        at = None if frame.time_ms is None else frame.time_ms / 1000
        for face in frame.faces:
            ids = {**_NONE, "frame_id": frame.frame_id, "face_id": face.face_id, "confidence": face.confidence}
            for kind, scores in (("expression", face.expressions), ("description", face.descriptions)):
                for s in scores:
                    yield common_row(result, kind=kind, name=s.name, score=s.probability, begin=at, end=at, **ids)
