"""The files ``batchkit enqueue`` is given: paths, folders walked for a ``--glob``, and lists read
from a file or stdin (``--files-from``, one path a line or NUL-separated with ``-0``), so a run of
millions of files needs no shell expansion ("Argument list too long")."""

from __future__ import annotations

import fnmatch
import os
import sys
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import BinaryIO

from batchkit.errors import InputError

BLOCK = 1 << 16


def listed(stream: BinaryIO, nul: bool) -> Iterator[str]:
    """The paths of a list, read a block at a time: one a line (or NUL-separated), empty ones skipped."""
    end, rest = (b"\0" if nul else b"\n"), b""
    while block := stream.read(BLOCK):
        *whole, rest = (rest + block).split(end)
        yield from (name for raw in whole if (name := _name(raw, nul)))
    if name := _name(rest, nul):
        yield name


def _name(raw: bytes, nul: bool) -> str:
    return os.fsdecode(raw if nul else raw.rstrip(b"\r"))


def walked(folder: Path, pattern: str) -> Iterator[str]:
    """The regular files under ``folder`` whose names match ``pattern``: a folder's files in name order,
    then its folders' (so the same folder gives the same run), holding one folder's names at a time."""
    for top, dirs, names in os.walk(folder, onerror=_unreadable):
        dirs.sort()
        for name in sorted(fnmatch.filter(names, pattern)):
            path = os.path.join(top, name)
            if os.path.isfile(path):
                yield path


def _unreadable(error: OSError) -> None:
    raise InputError(f"{error.filename}: cannot be read ({error.strerror})")


def given(paths: Iterable[Path], files_from: str | None, nul: bool, pattern: str | None) -> Iterator[str]:
    """Every file given: each path (a folder walked), then each path of the list."""
    for path in paths:
        if path.is_dir():
            yield from walked(path, pattern or "*")
        else:
            yield str(path)
    if files_from is None:
        return
    if files_from == "-":
        yield from listed(sys.stdin.buffer, nul)
        return
    try:
        with open(files_from, "rb") as stream:
            yield from listed(stream, nul)
    except OSError as exc:
        raise InputError(f"{files_from}: cannot be read ({exc.strerror or exc})") from None
