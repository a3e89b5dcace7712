"""Streaming a download to disk atomically, and extracting archives safely.

Nothing is written outside the folder the caller named: an archive is unpacked into a fresh
folder beside its destination (so no link already in the destination is ever followed) that
then takes the destination's place; a failure removes what was unpacked.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Callable
from pathlib import Path, PurePosixPath
from typing import IO, TYPE_CHECKING, BinaryIO

import attrs

from batchkit.errors import BatchkitError, InputError, ResponseFormatError

if TYPE_CHECKING:
    import zipfile


class AtomicFile:
    """A file that appears at ``target`` only when complete; an aborted one leaves nothing."""

    def __init__(self, target: Path) -> None:
        self.target = target
        self._handle: BinaryIO | None = None
        self._temp: Path | None = None

    def restart(self) -> None:
        """Start (or start again) from an empty temporary file beside the target."""
        if self._handle is None:
            import tempfile

            self.target.parent.mkdir(parents=True, exist_ok=True)
            fd, name = tempfile.mkstemp(prefix=f".{self.target.name}.", suffix=".part", dir=self.target.parent)
            self._handle, self._temp = os.fdopen(fd, "wb"), Path(name)
        else:
            self._handle.seek(0)
            self._handle.truncate()

    def write(self, chunk: bytes) -> None:
        """Append ``chunk`` to the temporary file."""
        assert self._handle is not None, "restart() first"
        self._handle.write(chunk)

    def commit(self, check: Callable[[Path], None] | None = None) -> Path:
        """Put the file in place, after ``check`` (which raises) accepts it; else nothing is left."""
        if self._handle is None or self._temp is None:
            raise ResponseFormatError(f"{self.target.name}: the download had no body")
        self._handle.close()
        try:
            if check is not None:
                check(self._temp)
            if self.target.is_symlink() or self.target.is_dir():
                raise InputError(f"{self.target}: exists and is a link or a folder; not replaced")
            os.replace(self._temp, self.target)
        except BaseException:
            self._temp.unlink(missing_ok=True)
            raise
        finally:
            self._handle = self._temp = None
        return self.target

    def discard(self) -> None:
        """Remove the temporary file; ``path`` is left as it was."""
        if self._handle is not None and self._temp is not None:
            self._handle.close()
            self._temp.unlink(missing_ok=True)
        self._handle = self._temp = None


def complete_zip(path: Path) -> None:
    """Raise :class:`ResponseFormatError` unless ``path`` is a whole zip (a cut-short one has no directory)."""
    import zipfile

    if not zipfile.is_zipfile(path):
        raise ResponseFormatError(f"{path.name}: the download is not a complete zip archive (cut short?)")


@attrs.frozen
class ExtractLimits:
    """Bounds on what an archive may unpack to."""

    max_entries: int = 10_000
    max_total_bytes: int = 4 * 1024**3
    max_ratio: float = 200.0
    max_depth: int = 64
    """Folders within folders."""


def _safe_member_path(info: zipfile.ZipInfo, limits: ExtractLimits) -> PurePosixPath:
    name = info.filename.replace("\\", "/")
    path = PurePosixPath(name)
    if path.is_absolute() or ".." in path.parts or (path.parts and ":" in path.parts[0]):
        raise InputError(f"archive entry {info.filename!r} points outside the destination")
    if stat.S_ISLNK(info.external_attr >> 16):
        raise InputError(f"archive entry {info.filename!r} is a symbolic link")
    if len(path.parts) > limits.max_depth:
        raise InputError(f"archive entry {info.filename[:80]!r}... is nested deeper than {limits.max_depth} folders")
    if info.flag_bits & 0x1:
        raise InputError(f"archive entry {info.filename!r} is encrypted")
    return path


def safe_extract(archive: Path, dest: Path, limits: ExtractLimits = ExtractLimits()) -> Path:
    """Extract ``archive`` into ``dest`` (replacing it), refusing traversal, links, too many entries,
    depth, encryption and bombs. Everything is checked before the first byte is written, and sizes
    are counted again while writing (declared sizes can lie)."""
    import shutil
    import tempfile
    import zipfile

    try:
        zf = zipfile.ZipFile(archive)
    except (zipfile.BadZipFile, OSError) as exc:
        raise InputError(f"{archive}: not a zip archive ({exc})") from None
    with zf:
        infos = zf.infolist()
        if len(infos) > limits.max_entries:
            raise InputError(f"{archive}: {len(infos)} entries, more than {limits.max_entries}")
        members = [(info, _safe_member_path(info, limits)) for info in infos]
        declared = sum(info.file_size for info in infos)
        packed = max(1, sum(info.compress_size for info in infos))
        if declared > limits.max_total_bytes or declared / packed > limits.max_ratio:
            raise InputError(
                f"{archive}: would unpack to {declared} bytes (ratio {declared / packed:.0f}), over the limit"
            )
        if dest.is_symlink() or (dest.exists() and not dest.is_dir()):
            raise InputError(f"{dest}: exists and is not a folder; not replaced")
        dest.parent.mkdir(parents=True, exist_ok=True)
        fresh = Path(tempfile.mkdtemp(prefix=f".{dest.name}.", suffix=".partial", dir=dest.parent))
        try:
            _unpack(zf, members, fresh, min(limits.max_total_bytes, int(packed * limits.max_ratio)), archive)
            _replace(dest, fresh)
        except BaseException:
            shutil.rmtree(fresh, ignore_errors=True)
            raise
    return dest


def _unpack(zf: zipfile.ZipFile, members: list[tuple[zipfile.ZipInfo, PurePosixPath]], into: Path, budget: int,
            archive: Path) -> None:  # fmt: skip
    import zipfile
    import zlib

    try:
        for info, rel in members:
            target = into.joinpath(*rel.parts)
            if info.is_dir():
                target.mkdir(parents=True, exist_ok=True)
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
            with zf.open(info) as src, os.fdopen(os.open(target, flags, 0o644), "wb") as out:
                budget -= _copy_bounded(src, out, budget)
            if budget < 0:
                raise InputError(f"{archive}: unpacks to more than it declared; stopped")
    except BatchkitError:
        raise
    except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, zlib.error) as exc:
        raise ResponseFormatError(f"{archive}: a damaged archive ({exc})") from None
    except (OSError, RuntimeError, NotImplementedError, RecursionError, ValueError) as exc:
        raise InputError(f"{archive}: cannot be unpacked ({type(exc).__name__}: {exc})") from None


def _replace(dest: Path, fresh: Path) -> None:
    """Put ``fresh`` where ``dest`` is; an earlier ``dest`` is removed (its links are not followed)."""
    import shutil
    import tempfile

    if dest.exists():
        old = Path(tempfile.mkdtemp(prefix=f".{dest.name}.", suffix=".old", dir=dest.parent))
        os.replace(dest, old / "previous")
        os.replace(fresh, dest)
        shutil.rmtree(old, ignore_errors=True)
    else:
        os.replace(fresh, dest)


def _copy_bounded(src: IO[bytes], out: IO[bytes], budget: int) -> int:
    written = 0
    while chunk := src.read(1 << 16):
        written += len(chunk)
        if written > budget:
            return written
        out.write(chunk)
    return written


__all__ = ["AtomicFile", "ExtractLimits", "complete_zip", "safe_extract"]
