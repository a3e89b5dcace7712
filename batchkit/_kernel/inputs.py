"""Local files as inputs: checked before anything is sent, streamed from disk at their checked size."""

from __future__ import annotations

import hashlib
import mimetypes
import os
import re
import stat
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path, PurePosixPath
from typing import BinaryIO

import attrs

from batchkit.errors import BatchkitError, InputError

PathLike = str | os.PathLike[str]
Paths = PathLike | Iterable[PathLike]

_JOB_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:@-]{0,199}")

_FORM_ESCAPES = {'"': "%22", "\\": "\\\\", **{chr(c): f"%{c:02X}" for c in range(0x20) if c != 0x1B}}


@attrs.frozen
class LocalFile:
    """A readable regular file and its size at the time it was checked."""

    path: Path
    size: int

    @property
    def name(self) -> str:
        return self.path.name

    @property
    def sent_name(self) -> str:
        """The name as a multipart header carries it (httpx escapes quotes and control characters), so as
        a server records it."""
        return "".join(_FORM_ESCAPES.get(c, c) for c in self.name)

    @property
    def suffix(self) -> str:
        return self.path.suffix.lower()

    @property
    def content_type(self) -> str:
        return mimetypes.guess_type(self.name)[0] or "application/octet-stream"


def is_job_id(ident: str) -> bool:
    """Whether ``ident`` may be a job id: one path segment of plain characters (never ``..``)."""
    return bool(_JOB_ID.fullmatch(ident)) and ".." not in ident


def as_path_list(paths: Paths | LocalFile | Iterable[LocalFile] | None, what: str) -> list[Path | LocalFile]:
    """Accept one path or an iterable of paths (already checked :class:`LocalFile` s pass through)."""
    return list(each_path(paths, what))


def each_path(paths: Paths | LocalFile | Iterable[LocalFile] | None, what: str) -> Iterator[Path | LocalFile]:
    """:func:`as_path_list`, one path at a time (what is not a path raises where it is met)."""
    if paths is None:
        return
    if isinstance(paths, (str, os.PathLike, LocalFile)):
        yield paths if isinstance(paths, LocalFile) else Path(paths)
        return
    if isinstance(paths, (bytes, bytearray)):
        raise InputError(f"{what}: give paths, not bytes")
    try:
        items = iter(paths)
    except TypeError:
        raise InputError(f"{what}: expected a path or a list of paths, got {type(paths).__name__}") from None
    for item in items:
        if not isinstance(item, (str, os.PathLike, LocalFile)):
            raise InputError(f"{what}: expected paths, got {type(item).__name__} {item!r}")
        yield item if isinstance(item, LocalFile) else Path(item)


def split_hint(limit: int, unit: str) -> str:
    """How to send more files than one job takes: in Python, and on the command line."""
    return (f"client.submit_many(files, journal=...) sends any number in {unit} of {limit}; on the command line, "
            "batchkit enqueue FILES... --journal J, then batchkit worker --journal J --until-done")


def one_path(value: PathLike | None, what: str) -> Path | None:
    """A single path (``zip=``): a list, even of one, is refused rather than cut short."""
    if value is None:
        return None
    if not isinstance(value, (str, os.PathLike)) or not str(value):
        raise InputError(f"{what} takes one path, got {type(value).__name__} {value!r:.80}")
    return Path(value)


def strings(value: object, what: str) -> list[str]:
    """One string or a list (or tuple) of non-empty strings."""
    if value is None:
        return []
    items = [value] if isinstance(value, str) else value if isinstance(value, (list, tuple)) else None
    if items is None:
        raise InputError(f"{what} must be a string or a list of strings, got {type(value).__name__}")
    for item in items:
        if not isinstance(item, str) or not item:
            raise InputError(f"{what} must be non-empty strings, got {item!r:.80}")
    return list(items)


def callback_url(value: object) -> str | None:
    """A ``callback_url``: an http(s) URL, or None."""
    if value is None:
        return None
    if not isinstance(value, str) or not value.startswith(("http://", "https://")) or len(value) < 10:
        raise InputError(f"callback_url must be an http(s) URL, got {value!r:.80}")
    return value


def check_file(path: Path | LocalFile) -> LocalFile:
    """``path`` as a :class:`LocalFile`: it must be an existing, readable regular file (checked with
    ``stat`` before it is opened, so a FIFO or a device is refused without blocking)."""
    if isinstance(path, LocalFile):
        return path
    try:
        path.name.encode("utf-8")
    except UnicodeEncodeError:
        raise InputError(f"{path!s:.200}: the file name is not valid UTF-8; a request cannot carry it") from None
    try:
        st = path.stat()
    except FileNotFoundError:
        raise InputError(f"{path}: no such file") from None
    except (OSError, ValueError) as exc:
        raise InputError(f"{path}: cannot be read ({getattr(exc, 'strerror', None) or exc})") from None
    if stat.S_ISDIR(st.st_mode):
        raise InputError(f"{path}: is a directory, not a file")
    if not stat.S_ISREG(st.st_mode):
        raise InputError(f"{path}: is not a regular file (a FIFO, socket or device cannot be uploaded)")
    try:
        with open(path, "rb"):
            pass
    except OSError as exc:
        raise InputError(f"{path}: cannot be read ({exc.strerror or exc})") from None
    return LocalFile(path, st.st_size)


def check_files(paths: Sequence[Path | LocalFile]) -> list[LocalFile]:
    """Each path checked (:func:`check_file`): readable regular files, with their sizes now."""
    return [check_file(p) for p in paths]


Progress = Callable[[int], None]
"""Told how many bytes were just read for upload (negative when a retry starts a file again)."""


UPLOAD_CHUNK = 1 << 20
"""Bytes read from disk per write to the socket: httpx asks for 64 KiB; larger chunks cost fewer
trips through h11 and the socket (about a fifth faster on loopback) and memory stays constant."""


def _ignore(sent: int) -> None:
    pass


class FileChangedError(InputError):
    """A file's size changed between its check and its upload; nothing more of it is sent."""


class UploadTooSlow(BatchkitError):
    """An upload passed its total bound; nothing more of it is sent (the server never has the whole body)."""


class UploadFile:
    """A file as httpx's multipart encoder sees it: read in ``UPLOAD_CHUNK`` pieces, reporting
    progress, and exactly the size that was checked (a file that changes size fails the upload); past
    ``deadline`` (``time.monotonic()``), no piece more is read."""

    def __init__(self, handle: BinaryIO, checked: LocalFile, report: Progress | None,
                 deadline: float | None = None) -> None:  # fmt: skip
        self._handle = handle
        self._checked = checked
        self._report = report or _ignore
        self._deadline = deadline
        now = os.fstat(handle.fileno()).st_size
        if now != checked.size:
            raise FileChangedError(f"{checked.path}: was {checked.size} bytes when checked, now {now}; not sent")

    def read(self, size: int = -1) -> bytes:
        if self._deadline is not None and time.monotonic() > self._deadline:
            raise UploadTooSlow(f"{self._checked.path}: the upload took longer than its bound; the rest is not sent")
        left = self._checked.size - self._handle.tell()
        data = self._handle.read(min(left, max(size, UPLOAD_CHUNK)) if size >= 0 else left)
        if len(data) < min(left, max(size, 1)) or (left == 0 and self._handle.read(1)):
            raise FileChangedError(f"{self._checked.path}: changed size while it was being sent")
        self._report(len(data))
        return data

    def seek(self, offset: int, whence: int = 0) -> int:
        before = self._handle.tell()
        after = self._handle.seek(offset, whence)
        self._report(after - before)
        return after

    def tell(self) -> int:
        return self._handle.tell()

    def fileno(self) -> int:
        return self._handle.fileno()


def zip_file_names(archive: LocalFile) -> list[str]:
    """Base names of the regular files in a zip, as a server that flattens folders sees them."""
    import zipfile

    try:
        with zipfile.ZipFile(archive.path) as zf:
            return [PurePosixPath(i.filename).name for i in zf.infolist() if not i.is_dir()]
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        raise InputError(f"{archive.path}: not a readable zip archive ({exc})") from None


def md5_of(path: Path) -> str:
    """The file's md5 hex digest, read in 1 MiB chunks."""
    digest = hashlib.md5(usedforsecurity=False)
    with open(path, "rb") as fh:
        while chunk := fh.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()
