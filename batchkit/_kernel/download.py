"""Streaming a download to disk atomically, and extracting archives safely."""

from __future__ import annotations

import os
import stat
import tempfile
import zipfile
from pathlib import Path, PurePosixPath
from typing import IO, BinaryIO

import attrs

from batchkit.errors import InputError


class AtomicFile:
    """A file that appears at ``target`` only when complete; an aborted one leaves nothing."""

    def __init__(self, target: Path) -> None:
        self.target = target
        self._handle: BinaryIO | None = None
        self._temp: Path | None = None

    def restart(self) -> None:
        """Start (or start again) from an empty temporary file beside the target."""
        if self._handle is None:
            self.target.parent.mkdir(parents=True, exist_ok=True)
            fd, name = tempfile.mkstemp(prefix=f".{self.target.name}.", suffix=".part", dir=self.target.parent)
            self._handle, self._temp = os.fdopen(fd, "wb"), Path(name)
        else:
            self._handle.seek(0)
            self._handle.truncate()

    def write(self, chunk: bytes) -> None:
        assert self._handle is not None, "restart() first"
        self._handle.write(chunk)

    def commit(self) -> Path:
        assert self._handle is not None, "nothing was written"
        assert self._temp is not None
        self._handle.close()
        os.replace(self._temp, self.target)
        self._handle = self._temp = None
        return self.target

    def discard(self) -> None:
        if self._handle is not None and self._temp is not None:
            self._handle.close()
            self._temp.unlink(missing_ok=True)
        self._handle = self._temp = None


@attrs.frozen
class ExtractLimits:
    """Bounds on what an archive may unpack to."""

    max_entries: int = 10_000
    max_total_bytes: int = 4 * 1024**3
    max_ratio: float = 200.0


def _safe_member_path(info: zipfile.ZipInfo) -> PurePosixPath:
    name = info.filename.replace("\\", "/")
    path = PurePosixPath(name)
    if path.is_absolute() or ".." in path.parts or (path.parts and ":" in path.parts[0]):
        raise InputError(f"archive entry {info.filename!r} points outside the destination")
    if stat.S_ISLNK(info.external_attr >> 16):
        raise InputError(f"archive entry {info.filename!r} is a symbolic link")
    return path


def safe_extract(archive: Path, dest: Path, limits: ExtractLimits = ExtractLimits()) -> Path:
    """Extract ``archive`` into ``dest``, refusing traversal, links, too many entries and bombs.

    Everything is checked before the first byte is written, and sizes are counted again
    while writing (declared sizes can lie).
    """
    try:
        zf = zipfile.ZipFile(archive)
    except zipfile.BadZipFile as exc:
        raise InputError(f"{archive}: not a zip archive") from exc
    with zf:
        infos = zf.infolist()
        if len(infos) > limits.max_entries:
            raise InputError(f"{archive}: {len(infos)} entries, more than {limits.max_entries}")
        members = [(info, _safe_member_path(info)) for info in infos]
        declared = sum(info.file_size for info in infos)
        packed = max(1, sum(info.compress_size for info in infos))
        if declared > limits.max_total_bytes or declared / packed > limits.max_ratio:
            raise InputError(
                f"{archive}: would unpack to {declared} bytes (ratio {declared / packed:.0f}), over the limit"
            )
        dest.mkdir(parents=True, exist_ok=True)
        budget = min(limits.max_total_bytes, int(packed * limits.max_ratio))
        for info, rel in members:
            target = dest.joinpath(*rel.parts)
            if info.is_dir():
                target.mkdir(parents=True, exist_ok=True)
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            with zf.open(info) as src, open(target, "wb") as out:
                budget -= _copy_bounded(src, out, budget)
                if budget < 0:
                    out.close()
                    target.unlink()
                    raise InputError(f"{archive}: unpacks to more than it declared; stopped")
    return dest


def _copy_bounded(src: IO[bytes], out: IO[bytes], budget: int) -> int:
    written = 0
    while chunk := src.read(1 << 16):
        written += len(chunk)
        if written > budget:
            return written
        out.write(chunk)
    return written


__all__ = ["AtomicFile", "ExtractLimits", "safe_extract"]
