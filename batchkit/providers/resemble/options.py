"""Resemble batch settings: applied to every file of the batch, sent as form fields."""

from __future__ import annotations

from typing import Any

import attrs

from batchkit._kernel.options import flag, number
from batchkit.errors import InputError

DEFAULT_MAX_TOTAL_BYTES = 500 * 10**6
"""The most bytes one batch takes, its files together."""


def _flag(default: bool | None = None) -> Any:
    return attrs.field(default=default, validator=flag)


def _seconds() -> Any:
    return attrs.field(default=None, validator=number(minimum=0.0))


@attrs.frozen(kw_only=True)
class ResembleOptions:
    """Options for a Resemble detect batch.

    ``max_total_bytes`` is a client-side check (the documented 500 MB), not sent.
    """

    intelligence: bool | None = _flag()
    search_identity: bool | None = _flag()
    visualize: bool | None = _flag(True)
    audio_source_tracing_enabled: bool | None = _flag()
    frame_length: int | None = attrs.field(default=None, validator=number(minimum=1, maximum=4, whole=True))
    start_region: float | None = _seconds()
    end_region: float | None = _seconds()
    max_video_secs: float | None = attrs.field(default=None, validator=number(above=0.0))
    use_llm: bool | None = _flag()
    zero_retention_mode: bool | None = _flag()
    max_total_bytes: int = attrs.field(default=DEFAULT_MAX_TOTAL_BYTES, validator=number(above=0, whole=True))

    def __attrs_post_init__(self) -> None:
        if self.start_region is not None and self.end_region is not None and self.end_region <= self.start_region:
            raise InputError(f"end_region ({self.end_region}) must be after start_region ({self.start_region})")

    def form_fields(self) -> dict[str, str]:
        """The set options as multipart form fields (booleans as ``true``/``false``)."""
        fields: dict[str, str] = {}
        for field in attrs.fields(ResembleOptions):
            value = getattr(self, field.name)
            if field.name == "max_total_bytes" or value is None:
                continue
            fields[field.name] = ("true" if value else "false") if isinstance(value, bool) else str(value)
        return fields
