"""Replies into results: each input file's measurements gathered from the replies of the requests it
went in, shifted onto the file's own timeline."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import attrs
import cattrs

from batchkit._kernel.journal import ChunkState
from batchkit._kernel.wire import structure
from batchkit.models import FileResult, JobStatus
from batchkit.providers.base import Answer, Request

from .models import AudioReply, ExpressionPrediction, Frame, Utterance, VideoReply
from .plan import Item


def file_results(name: str, names: Sequence[str], requests: Sequence[Request],
                 answers: Sequence[Answer]) -> list[FileResult[Any]]:  # fmt: skip
    """One result per input file, assembled from its requests' replies (times on the file's own timeline)."""
    items = [cattrs.structure(dict(r.spec), Item) for r in requests]
    gathered: list[dict[str, Any]] = [{"utterances": [], "measurements": [], "frames": [], "errors": [],
                                       "pending": 0, "answered": 0, "requests": [], "runs": [],
                                       "kinds": set()} for _ in names]  # fmt: skip
    for answer, item in zip(answers, items, strict=True):
        for part in item.parts:
            gathered[part.file]["kinds"].add(
                "audio" if item.endpoint == "audio" else "video" if part.frame else "image"
            )
        for f in {p.file for p in item.parts}:
            g = gathered[f]
            if answer.state == ChunkState.DONE:
                g["answered"] += 1
            elif answer.state in (ChunkState.FAILED, ChunkState.AMBIGUOUS):
                g["errors"].append(answer.error or answer.state)
            else:
                g["pending"] += 1
        if answer.state != ChunkState.DONE or not isinstance(answer.reply, dict):
            continue
        _spread(answer.reply, item, gathered)
    return [_result(name, n, g) for n, g in zip(names, gathered, strict=True)]


def _spread(reply: dict[str, Any], item: Item, gathered: list[dict[str, Any]]) -> None:
    """An item's reply, shifted onto each input file's timeline."""
    if item.endpoint == "audio":
        part = item.parts[0]
        g, shift = gathered[part.file], part.start_ms
        audio = structure(reply, AudioReply, "Hume audio reply")
        base = len(g["utterances"])
        for u in audio.utterances:
            g["utterances"].append(Utterance(u.utterance_id + base, u.audio_start_ms + shift, u.audio_end_ms + shift))
        for m in audio.measurements:
            g["measurements"].append(attrs.evolve(m, measurement_id=len(g["measurements"]),
                                                  utterance_id=m.utterance_id + base,
                                                  audio_start_ms=m.audio_start_ms + shift,
                                                  audio_end_ms=m.audio_end_ms + shift))  # fmt: skip
    else:
        video = structure(reply, VideoReply, "Hume video reply")
        for position, frame in enumerate(video.measurements):  # one per image, in part order
            if position < len(item.parts):
                part = item.parts[position]
                g = gathered[part.file]
                g["frames"].append(Frame(len(g["frames"]), frame.faces, part.start_ms if part.frame else None))
                g["face_state"] = video.face_state
    for part in item.parts:
        g = gathered[part.file]
        g["requests"].append(str(reply.get("request_id", "")))
        g["runs"].append(str(reply.get("run_id", "")))


def _result(name: str, source: str, g: dict[str, Any]) -> FileResult[Any]:
    if g["pending"]:
        status = JobStatus.RUNNING if g["answered"] else JobStatus.QUEUED
    elif g["errors"]:
        status = JobStatus.PARTIALLY_FAILED if g["answered"] else JobStatus.FAILED
    else:
        status = JobStatus.SUCCEEDED
    kinds = g["kinds"]
    prediction = ExpressionPrediction(
        "video" if "video" in kinds else "image" if "image" in kinds else "audio",
        tuple(g["utterances"]), tuple(g["measurements"]), tuple(g["frames"]), g.get("face_state"),
        tuple(dict.fromkeys(g["requests"])), tuple(dict.fromkeys(g["runs"])),
    )  # fmt: skip
    raw = {"source": source, **cattrs.unstructure(prediction)}
    error = "; ".join(dict.fromkeys(g["errors"])) or None
    return FileResult(source, status, error, prediction if g["answered"] else None, raw, name)


def restore(name: str, raw: Any) -> FileResult[Any]:
    """A result again from the raw form :func:`file_results` gave it."""
    data = dict(raw) if isinstance(raw, dict) else {}
    source = str(data.pop("source", ""))
    prediction = structure(data, ExpressionPrediction, "kept hume-expression result")
    return FileResult(source, JobStatus.UNKNOWN, prediction=prediction, raw=raw, provider=name)


__all__ = ["file_results", "restore"]
