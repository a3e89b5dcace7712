"""Hume successor results as tidy rows (one per score)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from batchkit.models import FileResult
from batchkit.providers.base import Row, common_row

from .models import ExpressionPrediction


def tidy_rows(result: FileResult[Any]) -> Iterator[Row]:
    """One row per score. Audio: ``model`` voice, ``kind`` emotion (the API's expressions) or
    voice_attribute, ``begin``/``end`` the measurement window in seconds, ``group`` the utterance.
    Faces: ``model`` face, ``kind`` emotion or description, ``begin`` = ``end`` the frame's time in a
    video, ``frame`` and ``group`` (the face id), ``confidence``."""
    p = result.prediction
    if not isinstance(p, ExpressionPrediction):
        return
    for m in p.measurements:
        window = {"model": "voice", "begin": m.audio_start_ms / 1000, "end": m.audio_end_ms / 1000,
                  "group": m.utterance_id}  # fmt: skip
        for kind, scores in (("emotion", m.expressions), ("voice_attribute", m.voice_attributes)):
            for s in scores:
                yield common_row(result, kind=kind, name=s.name, score=s.probability, **window)
    for frame in p.frames:
        at = None if frame.time_ms is None else frame.time_ms / 1000
        for face in frame.faces:
            seen = {"model": "face", "begin": at, "end": at, "frame": frame.frame_id, "group": face.face_id,
                    "confidence": face.confidence}  # fmt: skip
            for kind, scores in (("emotion", face.expressions), ("description", face.descriptions)):
                for s in scores:
                    yield common_row(result, kind=kind, name=s.name, score=s.probability, **seen)
