"""Typed Reality Defender scans: the verdict, its score (0-1), each model's, and why none was given."""

from __future__ import annotations

import attrs


@attrs.frozen
class ModelScore:
    """One model's word: its ``status`` (``FAKE``, ``AUTHENTIC``, ...) and score (0-1, where it gave one)."""

    name: str
    status: str
    score: float | None = None


@attrs.frozen
class Reason:
    """Why a scan was not evaluated (``relevance``: "no faces detected/faces too small", ...)."""

    code: str
    message: str


@attrs.frozen
class Scan:
    """A finished scan. ``status`` is the summary's (``FAKE``, ``SUSPICIOUS``, ``AUTHENTIC``,
    ``NOT_APPLICABLE``, ``UNABLE_TO_EVALUATE``; the SDKs' ``MANIPULATED`` and the old ``ARTIFICIAL``
    read as ``FAKE``); ``score`` is its ``finalScore`` (0-100) over 100; ``reasons`` say why a
    ``NOT_APPLICABLE`` scan has no verdict. Models of other media types (always ``NOT_APPLICABLE``) are
    left out."""

    request_id: str
    status: str
    score: float | None = None
    media_type: str | None = None
    name: str | None = None
    models: tuple[ModelScore, ...] = ()
    reasons: tuple[Reason, ...] = ()
    languages: tuple[str, ...] = ()

    @property
    def verdict(self) -> str | None:
        """``FAKE``, ``SUSPICIOUS`` or ``AUTHENTIC``; None where the scan gave no verdict."""
        return self.status if self.status in ("FAKE", "SUSPICIOUS", "AUTHENTIC") else None
