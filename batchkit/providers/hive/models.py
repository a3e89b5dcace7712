"""Typed Hive tasks: the class scores of each frame (or image, or audio chunk) a model returned."""

from __future__ import annotations

import attrs


@attrs.frozen
class ClassScore:
    """One class and its score (0-1): ``ai_generated``, ``not_ai_generated``, ``deepfake``, a source
    (``midjourney``, ``sora``, ... a growing list), ``none``, ``inconclusive``."""

    name: str
    score: float


@attrs.frozen
class Frame:
    """One output: an image, a sampled video frame or a 20-second audio chunk, ``time`` seconds in."""

    time: float
    classes: tuple[ClassScore, ...] = ()

    def score(self, name: str) -> float | None:
        """This frame's score of class ``name``; None where it has none."""
        return next((c.score for c in self.classes if c.name == name), None)


@attrs.frozen
class Task:
    """A finished Hive task (``prediction`` of a Hive ``FileResult``). ``ai_generated`` and
    ``deepfake`` are each class's highest score over the frames (Hive gives no verdict of its own)."""

    id: str
    frames: tuple[Frame, ...] = ()
    model: str | None = None
    media_type: str | None = None
    from_cache: bool = False
    charge: float | None = None

    def highest(self, name: str) -> float | None:
        """Class ``name``'s highest score over the frames; None where no frame has it."""
        found = [s for f in self.frames if (s := f.score(name)) is not None]
        return max(found, default=None)

    @property
    def ai_generated(self) -> float | None:
        return self.highest("ai_generated")

    @property
    def deepfake(self) -> float | None:
        return self.highest("deepfake")
