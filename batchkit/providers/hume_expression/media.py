"""What Hume's successor API takes, read from the bytes: 16 kHz mono 16-bit PCM WAV, and JPEG images
of at most 2 MB and 8,294,400 pixels. The emulator checks uploads with the same functions."""

from __future__ import annotations

import struct
from typing import BinaryIO

import attrs

MAX_BODY = 25 * 10**6
"""An upload request's whole multipart body."""
MAX_IMAGE_BYTES = 2 * 10**6
MAX_PIXELS = 8_294_400
SAMPLE_RATE = 16_000
BYTES_PER_SECOND = SAMPLE_RATE * 2
PART_OVERHEAD = 512
"""Bytes a multipart part adds besides its content (boundary, headers), with room to spare."""
MAX_DECODED_BYTES = 256 * 2**20
"""The most memory a PNG or WebP may take decoded (it is decoded whole, then made a JPEG)."""
_PNG_CHANNELS = {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}


def kind(head: bytes) -> str:
    """``wav``, ``riff`` (another RIFF), ``jpeg``, ``png``, ``webp``, ``mp3``, ``flac``, ``ogg``, ``mp4``
    or ``other``, from a file's first 16 bytes."""
    if head[:4] == b"RIFF" and head[8:12] == b"WAVE":
        return "wav"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "webp"
    if head[:4] == b"RIFF":
        return "riff"
    if head[:3] == b"\xff\xd8\xff":
        return "jpeg"
    if head[:8] == b"\x89PNG\r\n\x1a\n":
        return "png"
    if head[:3] == b"ID3" or (len(head) > 1 and head[0] == 0xFF and head[1] & 0xE0 == 0xE0):
        return "mp3"
    if head[:4] == b"fLaC":
        return "flac"
    if head[:4] == b"OggS":
        return "ogg"
    if head[4:8] == b"ftyp":
        return "mp4"
    return "other"


@attrs.frozen
class WavFormat:
    format_tag: int
    channels: int
    rate: int
    bits: int
    data_offset: int
    data_size: int

    @property
    def acceptable(self) -> bool:
        """16-bit PCM (not WAVE_FORMAT_EXTENSIBLE), 16 kHz, mono."""
        return (self.format_tag, self.channels, self.rate, self.bits) == (1, 1, SAMPLE_RATE, 16)


def wav_format(fh: BinaryIO) -> WavFormat | None:
    """The format and data chunk of a RIFF/WAVE file; None if it cannot be read as one."""
    fh.seek(12)
    fmt: tuple[int, int, int, int] | None = None
    while True:
        header = fh.read(8)
        if len(header) < 8:
            return None
        name, size = header[:4], struct.unpack("<I", header[4:])[0]
        if name == b"fmt ":
            body = fh.read(min(size, 16))  # what it claims to hold past that is skipped, never read
            if len(body) < 16:
                return None
            tag, channels, rate, _, _, bits = struct.unpack("<HHIIHH", body)
            fmt = (tag, channels, rate, bits)
            fh.seek(size - 16 + (size & 1), 1)
        elif name == b"data":
            if fmt is None:
                return None
            return WavFormat(*fmt, fh.tell(), size)
        else:
            fh.seek(size + (size & 1), 1)


def jpeg_size(fh: BinaryIO) -> tuple[int, int] | None:
    """A JPEG's width and height from its first start-of-frame marker; None if there is none."""
    fh.seek(2)
    while True:
        marker = fh.read(2)
        if len(marker) < 2 or marker[0] != 0xFF:
            return None
        code = marker[1]
        if code in (0xD8, 0x01) or 0xD0 <= code <= 0xD7:
            continue
        length_bytes = fh.read(2)
        if len(length_bytes) < 2:
            return None
        length = struct.unpack(">H", length_bytes)[0]
        if 0xC0 <= code <= 0xCF and code not in (0xC4, 0xC8, 0xCC):
            body = fh.read(5)
            if len(body) < 5:
                return None
            height, width = struct.unpack(">HH", body[1:5])
            return width, height
        fh.seek(length - 2, 1)


def picture_size(fh: BinaryIO) -> tuple[int, int, int] | None:
    """A PNG's or WebP's width, height and bytes a decoded pixel takes (3 at least: it is decoded as
    colour), from its header alone; None if the header cannot be read."""
    fh.seek(0)
    head = fh.read(30)
    if head[:8] == b"\x89PNG\r\n\x1a\n" and head[12:16] == b"IHDR" and len(head) >= 26:
        width, height, depth, color = struct.unpack(">IIBB", head[16:26])
        channels = _PNG_CHANNELS.get(color)
        return None if channels is None else (width, height, max(3, channels * depth // 8))
    if head[:4] != b"RIFF" or head[8:12] != b"WEBP" or len(head) < 30:
        return None
    chunk = head[12:16]
    if chunk == b"VP8X":
        return 1 + int.from_bytes(head[24:27], "little"), 1 + int.from_bytes(head[27:30], "little"), 4
    if chunk == b"VP8 " and head[23:26] == b"\x9d\x01\x2a":
        width, height = struct.unpack("<HH", head[26:30])
        return width & 0x3FFF, height & 0x3FFF, 4
    if chunk == b"VP8L" and head[20] == 0x2F:
        bits = int.from_bytes(head[21:25], "little")
        return (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1, 4
    return None


def picture_problem(fh: BinaryIO) -> str | None:
    """Why a PNG or WebP is not decoded (its header unreadable, too large decoded), or None."""
    found = picture_size(fh)
    if found is None:
        return "not a readable PNG or WebP"
    width, height, per_pixel = found
    if width * height * per_pixel > MAX_DECODED_BYTES:
        return (f"{width}x{height} pixels, {width * height * per_pixel // 2**20} MiB decoded, more than batchkit"
                f" decodes ({MAX_DECODED_BYTES // 2**20} MiB); scale it down first")  # fmt: skip
    return None


def image_problem(size: int, dimensions: tuple[int, int] | None) -> str | None:
    """Why a JPEG cannot be measured (too large, no readable size), or None."""
    if dimensions is None:
        return "not a readable JPEG"
    if size > MAX_IMAGE_BYTES:
        return f"{size} bytes, more than an image may have ({MAX_IMAGE_BYTES})"
    if dimensions[0] * dimensions[1] > MAX_PIXELS:
        return f"{dimensions[0]}x{dimensions[1]} pixels, more than an image may have ({MAX_PIXELS})"
    return None
