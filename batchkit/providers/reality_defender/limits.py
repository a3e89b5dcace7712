"""What Reality Defender takes, checked before anything is sent: file types, sizes and names.

The official SDKs' table (all five agree; the docs' presign page names lower image and video limits,
and a maintainer says sizes are not enforced server-side, so the SDKs' are used). The presign step
rewrites special characters of ``fileName`` to underscores and caps it at 200 characters: the name is
sent already rewritten, so what the scan list shows is what batchkit sent.
"""

from __future__ import annotations

import re

from batchkit._kernel.inputs import LocalFile
from batchkit.errors import InputError

MEDIA_TYPES = {
    **dict.fromkeys((".mp4", ".mov"), "video"),
    **dict.fromkeys((".jpg", ".jpeg", ".png", ".gif", ".webp"), "image"),
    **dict.fromkeys((".flac", ".wav", ".mp3", ".m4a", ".aac", ".alac", ".ogg"), "audio"),
    ".txt": "text",
}
"""Each accepted extension (lower case) and its media type."""
MAX_BYTES = {"video": 262_144_000, "image": 52_428_800, "audio": 20_971_520, "text": 5_242_880}
"""The largest file of each media type."""
MAX_NAME = 200
"""The longest ``fileName`` the presign step takes."""
_SPECIAL = re.compile(r"[^A-Za-z0-9._-]")


def sent_name(name: str) -> str:
    """``name`` as Reality Defender keeps it: each special character an underscore."""
    return _SPECIAL.sub("_", name)


def checked(file: LocalFile) -> str:
    """The media type of ``file``, which must be of an accepted type, size and name (:class:`InputError`)."""
    kind = MEDIA_TYPES.get(file.suffix)
    if kind is None:
        allowed = " ".join(sorted(MEDIA_TYPES))
        raise InputError(f"reality-defender: {file.path}: extension {file.suffix!r} is not accepted;"
                         f" allowed: {allowed}")  # fmt: skip
    if file.size == 0:
        raise InputError(f"reality-defender: {file.path}: the file is empty")
    if file.size > MAX_BYTES[kind]:
        raise InputError(f"reality-defender: {file.path}: {file.size} bytes, over the {MAX_BYTES[kind]}-byte limit"
                         f" of {kind} files")  # fmt: skip
    if len(file.name) > MAX_NAME:
        raise InputError(f"reality-defender: {file.path}: a file name of {len(file.name)} characters, over the"
                         f" {MAX_NAME} a scan's name may have; rename it")  # fmt: skip
    return kind
