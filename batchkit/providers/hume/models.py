"""Typed Hume job and prediction models; every model keeps unknown keys in ``extra``."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Generic, NamedTuple, TypeVar

import attrs

from batchkit._kernel.wire import Extra, converter, extra_field, number, text

P = TypeVar("P")


class Score(NamedTuple):
    """A named score: an emotion, a FACS unit, a description, a sentiment level or a toxicity kind.

    A tuple, not an attrs class: a long video has millions of them, and only these two fields.
    """

    name: str
    score: float


def _scores(value: Any, _: Any) -> tuple[Score, ...]:
    """``[{"name", "score"}, ...]`` read in one pass (the hot path of a predictions payload)."""
    if value is None:
        return ()
    out = []
    new = tuple.__new__  # a Score without namedtuple's Python-level __new__: a third of the cost
    for item in value:
        name, score = item["name"], item["score"]
        if type(score) is not float:
            score = number(score, float)
        out.append(new(Score, (name if type(name) is str else text(name, str), score)))
    return tuple(out)


converter.register_structure_hook_func(lambda t: t == tuple[Score, ...], _scores)


@attrs.frozen
class Box:
    """A face's bounding box in pixels."""

    x: float | None = None
    y: float | None = None
    w: float | None = None
    h: float | None = None
    extra: Extra = extra_field()


@attrs.frozen
class Span:
    """A time (seconds) or text position interval."""

    begin: float | None = None
    end: float | None = None
    extra: Extra = extra_field()


@attrs.frozen
class Scored:
    """A prediction's emotion scores; the base of every model's prediction."""

    emotions: tuple[Score, ...] = ()
    extra: Extra = extra_field()


@attrs.frozen
class Spoken(Scored):
    """A prediction over speech or text, located in time where known."""

    time: Span | None = None
    confidence: float | None = None
    speaker_confidence: float | None = None


@attrs.frozen
class FacePrediction(Scored):
    frame: int | None = None
    time: float | None = None
    prob: float | None = None
    box: Box | None = None
    facs: tuple[Score, ...] = ()
    descriptions: tuple[Score, ...] = ()


@attrs.frozen
class BurstPrediction(Scored):
    time: Span | None = None
    descriptions: tuple[Score, ...] = ()


@attrs.frozen
class ProsodyPrediction(Spoken):
    text: str | None = None


@attrs.frozen
class LanguagePrediction(Spoken):
    text: str | None = None
    position: Span | None = None
    sentiment: tuple[Score, ...] = ()
    toxicity: tuple[Score, ...] = ()


@attrs.frozen
class NerPrediction(Spoken):
    entity: str | None = None
    position: Span | None = None
    entity_confidence: float | None = None
    support: float | None = None
    uri: str | None = None
    link_word: str | None = None


@attrs.frozen
class FacemeshPrediction(Scored):
    pass


@attrs.frozen
class Group(Generic[P]):
    """Predictions grouped by speaker, face identity or ``"unknown"``."""

    id: str | None = None
    predictions: tuple[P, ...] = ()
    extra: Extra = extra_field()


@attrs.frozen
class ModelResult(Generic[P]):
    metadata: Mapping[str, Any] | None = None
    grouped_predictions: tuple[Group[P], ...] = ()
    extra: Extra = extra_field()


@attrs.frozen
class Models:
    """One file's predictions per model; a model that did not run is None."""

    face: ModelResult[FacePrediction] | None = None
    burst: ModelResult[BurstPrediction] | None = None
    prosody: ModelResult[ProsodyPrediction] | None = None
    language: ModelResult[LanguagePrediction] | None = None
    ner: ModelResult[NerPrediction] | None = None
    facemesh: ModelResult[FacemeshPrediction] | None = None
    extra: Extra = extra_field()


@attrs.frozen
class FilePrediction:
    """The predictions of one file (a file inside an archive has its path in ``file``)."""

    file: str | None = None
    models: Models = Models()
    extra: Extra = extra_field()


@attrs.frozen
class FileError:
    """A file Hume could not read, and why."""

    file: str | None = None
    message: str | None = None
    extra: Extra = extra_field()


@attrs.frozen
class SourceResults:
    """A source's predictions, one per file, and its errors."""

    predictions: tuple[FilePrediction, ...] = ()
    errors: tuple[FileError, ...] = ()
    extra: Extra = extra_field()


@attrs.frozen
class Source:
    """Where an input came from: ``type`` is ``url``, ``file`` or ``text``."""

    type: str | None = None
    url: str | None = None
    filename: str | None = None
    content_type: str | None = None
    md5sum: str | None = None
    extra: Extra = extra_field()

    @property
    def label(self) -> str:
        return self.url or self.filename or self.type or "unknown"


@attrs.frozen
class SourcePrediction:
    """Everything Hume predicted for one input (``prediction`` of a Hume ``FileResult``)."""

    source: Source = Source()
    results: SourceResults | None = None
    error: str | None = None
    extra: Extra = extra_field()


@attrs.frozen
class JobFile:
    """A local file as a job's request records it (its multipart name and md5 sum)."""

    filename: str | None = None
    md5sum: str | None = None
    content_type: str | None = None
    extra: Extra = extra_field()


@attrs.frozen
class JobRequest:
    """What a job was asked: files, URLs, texts, models and the other options sent."""

    files: tuple[JobFile, ...] = ()
    urls: tuple[str, ...] = ()
    text: tuple[str, ...] = ()
    models: Mapping[str, Any] | None = None
    callback_url: str | None = None
    notify: bool | None = None
    extra: Extra = extra_field()


@attrs.frozen
class JobState:
    """A job's state: its Hume status, times (ms) and counts."""

    status: str
    created_timestamp_ms: int | None = None
    started_timestamp_ms: int | None = None
    ended_timestamp_ms: int | None = None
    num_predictions: int | None = None
    num_errors: int | None = None
    message: str | None = None
    extra: Extra = extra_field()


@attrs.frozen
class Job:
    """A Hume job as the API returns it."""

    job_id: str
    state: JobState
    type: str | None = None
    request: JobRequest | None = None
    extra: Extra = extra_field()
