"""Tiny, real sample media for demos and examples, written on demand (nothing binary is shipped)."""

from __future__ import annotations

import math
import struct
import wave
import zlib
from pathlib import Path


def write_samples(folder: Path) -> list[Path]:
    """A one-second spoken-band tone (WAV) and a small gradient image (PNG): real, tiny media."""
    speech = folder / "sample-speech.wav"
    with wave.open(str(speech), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(16_000)
        frames = (
            int(8000 * math.sin(2 * math.pi * 220 * t / 16_000) * math.sin(math.pi * t / 16_000)) for t in range(16_000)
        )
        out.writeframes(b"".join(struct.pack("<h", f) for f in frames))
    image = folder / "sample-face.png"
    rows = b"".join(b"\x00" + b"".join(bytes((x * 4, y * 4, 128)) for x in range(64)) for y in range(64))

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", 64, 64, 8, 2, 0, 0, 0)
    image.write_bytes(
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b"")
    )
    return [speech, image]
