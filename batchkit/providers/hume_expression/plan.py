"""A submission as the requests it takes: each input file checked (and converted where it must be),
then packed into uploads within every limit, all before anything is sent."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from collections.abc import Sequence
from pathlib import Path

import attrs

from batchkit._kernel.inputs import LocalFile
from batchkit._kernel.journal.schema import run_id_for
from batchkit.errors import InputError

from . import convert
from .media import MAX_BODY, PART_OVERHEAD, image_problem, jpeg_size, kind, picture_problem, wav_format
from .options import HumeExpressionOptions


@attrs.frozen
class Part:
    """One uploaded file: an input as it is, or a piece converted from it."""

    path: str
    size: int
    file: int
    """The input it comes from (its index)."""
    start_ms: int = 0
    """Where it starts in the input: an audio segment's offset, a video frame's time."""
    frame: bool = False
    """A frame of a video (its time counts), not a still image."""
    converted: bool = False
    """Made by batchkit (removed once its reply is kept), not the input itself."""


@attrs.frozen
class Item:
    """One upload request: one audio part, or images."""

    endpoint: str
    parts: tuple[Part, ...]

    @property
    def body(self) -> int:
        return sum(p.size + PART_OVERHEAD for p in self.parts) + PART_OVERHEAD


@attrs.frozen
class Plan:
    """What ``create`` sends: the files, their requests, the options, and the job's identity."""

    files: tuple[LocalFile, ...]
    items: tuple[Item, ...]
    options: HumeExpressionOptions
    fingerprint: str


def fingerprint(files: Sequence[LocalFile], options: HumeExpressionOptions) -> str:
    described = [[str(f.path.resolve()), f.size, os.stat(f.path).st_mtime_ns] for f in files]
    chosen = attrs.asdict(attrs.evolve(options, resend_ambiguous=False))
    return hashlib.sha256(json.dumps([described, chosen], sort_keys=True).encode()).hexdigest()


MAX_CONVERTED_BYTES = 4 << 30
"""The most one submission's conversions may take on disk (less where the disk has less than twice that free)."""


def plan(files: Sequence[LocalFile], options: HumeExpressionOptions, media_root: Path) -> Plan:
    """Every input checked and, where it must be, converted into ``media_root/<job>/`` within a
    :class:`~convert.Budget`; the requests."""
    identity = fingerprint(files, options)
    folder = media_root / run_id_for(identity)
    budget = convert.Budget(min(MAX_CONVERTED_BYTES, _free(media_root) // 2))
    audio: list[Part] = []
    images: list[Part] = []
    try:
        for index, local in enumerate(files):
            a, i = _parts(index, local, options, folder, budget)
            audio += a
            images += i
    except BaseException:  # a refused submission leaves nothing it converted (M16)
        shutil.rmtree(folder, ignore_errors=True)
        raise
    items = [Item("audio", (p,)) for p in audio]
    batch: list[Part] = []
    for part in images:
        if batch and Item("video", (*batch, part)).body > MAX_BODY - PART_OVERHEAD:
            items.append(Item("video", tuple(batch)))
            batch = []
        batch.append(part)
    if batch:
        items.append(Item("video", tuple(batch)))
    return Plan(tuple(files), tuple(items), options, identity)


def _free(folder: Path) -> int:
    """The bytes free on the disk ``folder`` is (or will be) on."""
    while not folder.exists() and folder.parent != folder:
        folder = folder.parent
    return shutil.disk_usage(folder).free


def _folder(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _parts(index: int, local: LocalFile, options: HumeExpressionOptions, folder: Path,
           budget: convert.Budget) -> tuple[list[Part], list[Part]]:  # fmt: skip
    """(audio parts, image parts) of one input."""
    path, stem = local.path, f"{index:06d}"
    with open(path, "rb") as fh:
        found = kind(fh.read(16))
        if found == "wav":
            fmt = wav_format(fh)
            if fmt is not None and fmt.acceptable:
                if Item("audio", (Part(str(path), local.size, index),)).body <= MAX_BODY:
                    return [Part(str(path), local.size, index)], []
                pieces = convert.cut_wav(path, fmt, _folder(folder), stem, budget)
                return [Part(str(p.path), p.size, index, p.start_ms, converted=True) for p in pieces], []
        if found == "jpeg":
            problem = image_problem(local.size, jpeg_size(fh))
            if problem:
                raise InputError(f"{path}: {problem}")
            return [], [Part(str(path), local.size, index)]
        if found in ("png", "webp") and (problem := picture_problem(fh)):
            raise InputError(f"{path}: {problem}")
    if local.size == 0:
        raise InputError(f"{path}: empty file")
    if found in ("png", "webp"):
        piece = convert.image(path, _folder(folder), stem, budget)
        return [], [Part(str(piece.path), piece.size, index, converted=True)]
    if found == "wav" or not convert.has_video(path):
        pieces = convert.audio(path, _folder(folder), stem, budget)
        if not pieces:
            raise InputError(f"{path}: no audio or video in it")
        return [Part(str(p.path), p.size, index, p.start_ms, converted=True) for p in pieces], []
    frames = convert.frames(path, _folder(folder), stem, options.frames_per_second, budget)
    sound = convert.audio(path, folder, f"{stem}.audio", budget)
    return ([Part(str(p.path), p.size, index, p.start_ms, converted=True) for p in sound],
            [Part(str(p.path), p.size, index, p.start_ms, frame=True, converted=True) for p in frames])  # fmt: skip
