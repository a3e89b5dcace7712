"""What every fake needs of inputs: their media type, and a seeded random source per input."""

from __future__ import annotations

import random

AUDIO = frozenset({".wav", ".mp3", ".m4a", ".ogg", ".aac", ".flac"})
VIDEO = frozenset({".mp4", ".mov", ".avi", ".mkv", ".webm"})
IMAGE = frozenset({".jpg", ".jpeg", ".png", ".gif", ".webp"})


def media_type(name: str) -> str | None:
    suffix = name[name.rfind(".") :].lower() if "." in name else ""
    return "audio" if suffix in AUDIO else "video" if suffix in VIDEO else "image" if suffix in IMAGE else None


def rng_for(seed: int, *parts: str) -> random.Random:
    return random.Random(":".join((str(seed), *parts)))
