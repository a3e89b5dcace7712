"""Hume results as tidy rows (one per score)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from batchkit.models import FileResult
from batchkit.providers.base import Row, common_row

from .models import Score, SourcePrediction, Span

KINDS = (("emotions", "emotion"), ("facs", "facs"), ("descriptions", "description"),
         ("sentiment", "sentiment"), ("toxicity", "toxicity"))  # fmt: skip
MODELS = ("face", "burst", "prosody", "language", "ner", "facemesh")


def _scores(prediction: SourcePrediction) -> Iterator[tuple[str, str | None, str | None, Any, str, Score]]:
    """(model, file, group id, the prediction, kind, score) for every score of every model."""
    for file in prediction.results.predictions if prediction.results else ():
        for model in MODELS:
            result = getattr(file.models, model)
            for group in result.grouped_predictions if result else ():
                for p in group.predictions:
                    for field, kind in KINDS:
                        for score in getattr(p, field, ()):
                            yield model, file.file, group.id, p, kind, score


def _span(value: Any) -> tuple[float | None, float | None]:
    if isinstance(value, Span):
        return value.begin, value.end
    return (value, value) if isinstance(value, (int, float)) else (None, None)


def tidy_rows(result: FileResult[Any]) -> Iterator[Row]:
    """One row per score, with ``model, file, group, frame, text, position_begin, position_end``;
    ``begin``/``end`` are seconds (a face's frame time gives both)."""
    prediction = result.prediction
    if not isinstance(prediction, SourcePrediction):
        return
    for model, file, group, p, kind, score in _scores(prediction):
        begin, end = _span(getattr(p, "time", None))
        position = getattr(p, "position", None)
        yield common_row(
            result, kind=kind, name=score.name, score=score.score, begin=begin, end=end,
            model=model, file=file, group=group, frame=getattr(p, "frame", None), text=getattr(p, "text", None),
            position_begin=position.begin if position else None, position_end=position.end if position else None,
        )  # fmt: skip


__all__ = ["tidy_rows"]
