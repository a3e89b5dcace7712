"""Options of Hume's successor API: the ``config`` of audio and image uploads, and how video is sampled."""

from __future__ import annotations

from typing import Any

import attrs

from batchkit._kernel.options import flag, number, text


@attrs.frozen(kw_only=True)
class Face:
    """Face detection settings: ``threshold`` (0 to 1) and ``min_size`` (pixels)."""

    threshold: float | None = attrs.field(default=None, validator=number(minimum=0, maximum=1))
    """Least detection confidence (Hume's default 0.9)."""
    min_size: int | None = attrs.field(default=None, validator=number(minimum=1, whole=True))
    """Least shorter side of a face's box, in pixels (Hume's default 60)."""


@attrs.frozen(kw_only=True)
class HumeExpressionOptions:
    """``submit(files, options=...)`` of ``hume-expression``; unknown keys are an ``InputError``."""

    measurement_timer_ms: int | None = attrs.field(default=None, validator=number(minimum=3000, maximum=10000,
                                                                                   whole=True))  # fmt: skip
    """Audio: milliseconds of speech between measurements (3000 to 10000; Hume's default 3000)."""
    face: Face | None = None
    """Images and video frames: which faces are measured."""
    face_state: str | None = attrs.field(default=None, validator=text)
    """A ``face_state`` token from an earlier reply: ``face_id`` numbering continues from it (24 h)."""
    frames_per_second: float = attrs.field(default=3.0, validator=number(above=0, maximum=3))
    """Video: JPEG frames taken a second (at most 3, the realtime API's rate)."""
    resend_ambiguous: bool = attrs.field(default=False, validator=flag)
    """Send again an upload whose reply was lost after it was sent (it may be billed twice)."""

    def audio_config(self) -> dict[str, Any]:
        """The ``config`` part of an audio request."""
        return {} if self.measurement_timer_ms is None else {"measurement_timer_ms": self.measurement_timer_ms}

    def video_config(self) -> dict[str, Any]:
        """The ``config`` part of an image or frames request."""
        config: dict[str, Any] = {}
        if self.face is not None:
            face = {k: v for k, v in attrs.asdict(self.face).items() if v is not None}
            if face:
                config["face"] = face
        if self.face_state is not None:
            config["face_state"] = self.face_state
        return config
