"""Hive's task objects read: frames and classes (the current heads and the legacy face boxes), the
per-task error codes (2xxx download errors may succeed when sent again; 3xxx classifier errors never),
acknowledgements of async tasks told from results, and URLs stripped of their queries."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from batchkit.errors import BatchkitError, ResponseFormatError

from .models import ClassScore, Frame, Task

RETRIED = frozenset({1000, 2000, 2100, 2202, 2203, 2208, 2213, 3401})
"""Codes worth sending again: generic, download and HTTP errors, transient connection errors
(EAI_AGAIN, ECONNREFUSED, EHOSTUNREACH, ETIMEDOUT) and the classifier's timeout (our choice: one
more try each); any other (a malformed URL, a certificate, a classifier error) is final."""
NAMES = {1000: "GENERIC_ERROR", 2000: "DOWNLOAD_ERROR", 2100: "HTTP_ERROR", 2101: "HTTP_ERROR_MALFORMED_URL",
         3000: "CLASSIFIER_ERROR", 3100: "CLASSIFIER_ERROR_UNSUPPORTED_MEDIA_TYPE",
         3200: "CLASSIFIER_ERROR_INVALID_INPUT", 3300: "CLASSIFIER_ERROR_CORRUPT_FILE",
         3401: "CLASSIFIER_ERROR_TIMEOUT"}  # fmt: skip
LEGACY = {"yes_deepfake": "deepfake", "no_deepfake": "not_deepfake"}
"""The legacy face model's classes, named as the current bundle's."""


class TaskError(BatchkitError):
    """Hive ran the task and it failed: ``code`` (a number of Hive's table), ``retryable`` where
    sending it again may succeed (2xxx download errors; 3xxx classifier errors are final)."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(f"hive task error {code} {message or NAMES.get(code, '')}".rstrip())
        self.code = code
        self.message = message
        self.retryable = code in RETRIED


def without_queries(value: Any) -> Any:
    """``value`` with each URL's query cut off (a signed media URL, our callback's nonce)."""
    if isinstance(value, str):
        return value.split("?", 1)[0] if value.startswith(("http://", "https://")) else value
    if isinstance(value, Mapping):
        return {str(k): without_queries(v) for k, v in value.items()}
    if isinstance(value, list):
        return [without_queries(v) for v in value]
    return value


def _code(value: Any) -> int | None:
    try:
        return int(str(value))
    except (TypeError, ValueError):
        return None


def failure(task: Mapping[str, Any]) -> TaskError | None:
    """The task's error, where it failed (top-level ``error_code``/``code``, or an entry whose
    ``status.code`` is not ``"0"``); None for a success."""
    top = _code(task.get("error_code", task.get("code")))
    if top:
        return TaskError(top, str(task.get("error") or task.get("message") or ""))
    for entry in task.get("status") or ():
        status = entry.get("status") if isinstance(entry, Mapping) else None
        if isinstance(status, Mapping) and (_code(status.get("code")) or 0) != 0:
            return TaskError(_code(status.get("code")) or 0, str(status.get("message") or ""))
    return None


def is_ack(task: Mapping[str, Any]) -> bool:
    """Whether ``task`` is an async acknowledgement (no entry has a ``response``), not a result."""
    entries = task.get("status")
    return not (isinstance(entries, list) and any(isinstance(e, Mapping) and "response" in e for e in entries))


def task_id(task: Mapping[str, Any]) -> str:
    """An ack's or a task's id: ``task_id``, ``id``, or the first entry's ``task_id``."""
    entries = task.get("status")
    first = entries[0] if isinstance(entries, list) and entries and isinstance(entries[0], Mapping) else {}
    found = task.get("task_id") or task.get("id") or first.get("task_id")
    if not isinstance(found, str) or not found:
        raise ResponseFormatError("a Hive reply names no task id", snippet=str(task)[:200])
    return found


def _number(value: Any) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def _classes(output: Mapping[str, Any]) -> tuple[ClassScore, ...]:
    raw = list(output.get("classes") or ())
    for box in output.get("bounding_poly") or ():  # the legacy face model: classes per face
        raw += list(box.get("classes") or ()) if isinstance(box, Mapping) else []
    best: dict[str, float] = {}
    for item in raw:
        if not isinstance(item, Mapping) or (score := _number(item.get("score"))) is None:
            continue
        name = str(item.get("class"))
        name = LEGACY.get(name, name)
        best[name] = max(score, best.get(name, score))  # a frame's many faces: the highest
    return tuple(ClassScore(name, score) for name, score in best.items())


def to_task(task: Mapping[str, Any]) -> Task:
    """A successful task object as a :class:`Task` (every entry's outputs, in time order)."""
    frames: list[Frame] = []
    model = kind = None
    charge = None
    for entry in task.get("status") or ():
        response = entry.get("response") if isinstance(entry, Mapping) else None
        if not isinstance(response, Mapping):
            continue
        given: Mapping[str, Any] = response["input"] if isinstance(response.get("input"), Mapping) else {}
        media: Mapping[str, Any] = given["media"] if isinstance(given.get("media"), Mapping) else {}
        model = model or (str(given["model"]) if given.get("model") else None)
        kind = kind or (str(media["type"]) if media.get("type") else None)
        charge = _number(given.get("charge")) if charge is None else charge
        for output in response.get("output") or ():
            if isinstance(output, Mapping):
                frames.append(Frame(_number(output.get("time")) or 0.0, _classes(output)))
    frames.sort(key=lambda f: f.time)
    return Task(str(task.get("id") or ""), tuple(frames), model, kind, task.get("from_cache") is True, charge)
