"""The successor API's replies, and what batchkit makes of them per input file."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import attrs

from batchkit._kernel.wire import Extra, extra_field


@attrs.frozen
class Score:
    """One expression (or voice attribute, or description) judged present, and how probable."""

    name: str
    probability: float


@attrs.frozen
class Utterance:
    """A stretch of speech, ``audio_start_ms`` to ``audio_end_ms`` on the file's timeline."""

    utterance_id: int
    audio_start_ms: int
    audio_end_ms: int


@attrs.frozen
class Measurement:
    """One audio measurement: expressions and voice attributes judged present in its window."""

    measurement_id: int
    utterance_id: int
    audio_start_ms: int
    audio_end_ms: int
    trigger: str | None = None
    expressions: tuple[Score, ...] = ()
    voice_attributes: tuple[Score, ...] = ()
    extra: Extra = extra_field()


@attrs.frozen
class Face:
    """A face found in an image or frame: its id, box, detection confidence and scores."""

    face_id: int | None
    bbox: tuple[float, ...]
    confidence: float
    expressions: tuple[Score, ...] = ()
    descriptions: tuple[Score, ...] = ()
    extra: Extra = extra_field()


@attrs.frozen
class Frame:
    """One image's faces; ``time_ms`` is batchkit's: where a video frame was taken (None for an image)."""

    frame_id: int
    faces: tuple[Face, ...] = ()
    time_ms: int | None = None


@attrs.frozen
class AudioReply:
    """One audio request's reply, as Hume sent it."""

    request_id: str
    run_id: str
    received: Mapping[str, Any]
    utterances: tuple[Utterance, ...] = ()
    measurements: tuple[Measurement, ...] = ()
    extra: Extra = extra_field()


@attrs.frozen
class VideoReply:
    """One image or frames request's reply, as Hume sent it."""

    request_id: str
    run_id: str
    received: Mapping[str, Any]
    measurements: tuple[Frame, ...] = ()
    face_state: str | None = None
    extra: Extra = extra_field()


@attrs.frozen
class ExpressionPrediction:
    """One input file's measurements, gathered from every request it took, times on its own timeline:
    audio (``utterances``, ``measurements``), images and video frames (``frames``), or both (a video
    with a soundtrack)."""

    kind: str
    """``audio``, ``image`` or ``video``."""
    utterances: tuple[Utterance, ...] = ()
    measurements: tuple[Measurement, ...] = ()
    frames: tuple[Frame, ...] = ()
    face_state: str | None = None
    request_ids: tuple[str, ...] = ()
    """Hume's ids of the requests (quote them to Hume's support)."""
    run_ids: tuple[str, ...] = ()
