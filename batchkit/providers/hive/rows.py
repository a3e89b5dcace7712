"""Hive results as tidy rows and as one verdict (Hive gives scores, no verdict of its own)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from batchkit.models import FileResult
from batchkit.providers.base import Row, common_row
from batchkit.providers.capabilities import Verdict

from .models import Task

HEADS = ("ai_generated", "deepfake")
"""The classes a verdict reads: the generation head's and the deepfake model's."""
FAKE_AT = 0.7
"""``p_fake`` from which a task is fake (our rule; Hive publishes none)."""
REAL_BELOW = 0.3
"""``p_fake`` under which a task is real; between the two it is uncertain."""


def tidy_rows(result: FileResult[Any]) -> Iterator[Row]:
    """A ``verdict`` row per head present (``ai_generated``, ``deepfake``: the highest score over the
    frames), then a ``class`` row per frame and class (``begin`` its time in seconds); ``model`` is the
    task's model."""
    task = result.prediction
    if not isinstance(task, Task):
        return
    for head in HEADS:
        if (score := task.highest(head)) is not None:
            yield common_row(result, kind="verdict", name=head, score=score, model=task.model)
    for index, frame in enumerate(task.frames):
        for c in frame.classes:
            yield common_row(result, kind="class", name=c.name, score=c.score, begin=frame.time, frame=index,
                             model=task.model)  # fmt: skip


def verdict_of(result: FileResult[Any]) -> Verdict:
    """``p_fake`` is the higher of the task's ``ai_generated`` and ``deepfake`` scores (each the
    highest over its frames): fake from :data:`FAKE_AT`, real under :data:`REAL_BELOW`, uncertain
    between; a task with neither class is not_applicable; a failed one error."""
    task = result.prediction
    if not isinstance(task, Task):
        return Verdict("error", None, result.error or f"no task result ({result.status.name})")
    scores = [s for head in HEADS if (s := task.highest(head)) is not None]
    if not scores:
        return Verdict("not_applicable", None, "the model gave no ai_generated or deepfake score")
    p_fake = max(scores)
    verdict = "fake" if p_fake >= FAKE_AT else "real" if p_fake < REAL_BELOW else "uncertain"
    return Verdict(verdict, p_fake)
