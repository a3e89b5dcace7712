"""Typed Resemble batch and detect replies; scores may arrive as strings or numbers."""

from __future__ import annotations

from typing import Any

import attrs

from batchkit._kernel.wire import Extra, extra_field


@attrs.frozen
class Batch:
    """A Resemble batch: its status, counts and the uuids of its detects."""

    uuid: str
    status: str
    total_files: int | None = None
    completed_count: int | None = None
    failed_count: int | None = None
    created_at: str | None = None
    detect_uuids: tuple[str, ...] = ()
    extra: Extra = extra_field()


@attrs.frozen
class AudioMetrics:
    """An audio detect's metrics: the label, a score per chunk, the aggregated score."""

    label: str | None = None
    score: tuple[float, ...] = ()
    consistency: float | None = None
    aggregated_score: float | None = None
    image: str | None = None
    extra: Extra = extra_field()


@attrs.frozen
class MediaMetrics:
    """``image_metrics`` or ``video_metrics``."""

    label: str | None = None
    score: float | None = None
    certainty: float | None = None
    image: str | None = None
    children: tuple[Any, ...] = ()
    extra: Extra = extra_field()


@attrs.frozen
class SourceTracing:
    """Which generator made audio labelled fake (``label``), where it was traced."""

    label: str | None = None
    error_message: str | None = None
    extra: Extra = extra_field()


@attrs.frozen
class Detect:
    """One file's detection (``prediction`` of a Resemble ``FileResult``)."""

    uuid: str
    status: str | None = None
    media_type: str | None = None
    filename: str | None = None
    duration: float | None = None
    metrics: AudioMetrics | None = None
    image_metrics: MediaMetrics | None = None
    video_metrics: MediaMetrics | None = None
    audio_source_tracing: SourceTracing | None = None
    intelligence: Any = None
    url: str | None = None
    audio_url: str | None = None
    error_message: str | None = None
    created_at: str | None = None
    updated_at: str | None = None
    extra: Extra = extra_field()

    @property
    def _primary(self) -> AudioMetrics | MediaMetrics | None:
        return {"video": self.video_metrics, "image": self.image_metrics}.get(self.media_type or "") or self.metrics

    @property
    def label(self) -> str | None:
        """The verdict, lower-cased (``fake``, ``real``, ``likely fake`` ...)."""
        primary = self._primary
        return primary.label.lower() if primary is not None and primary.label else None

    @property
    def score(self) -> float | None:
        """The headline score: aggregated for audio, the metric's score for image and video."""
        primary = self._primary
        if isinstance(primary, AudioMetrics):
            return (
                primary.aggregated_score if primary.aggregated_score is not None else max(primary.score, default=None)
            )
        return primary.score if primary is not None else None

    @property
    def visualizations(self) -> tuple[str, ...]:
        """Heatmap links or ``data:`` URIs, where present."""
        found = [m.image for m in (self.metrics, self.image_metrics, self.video_metrics) if m is not None and m.image]
        return tuple(found)
