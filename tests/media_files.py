"""Real media for the tests, made on the spot: WAV with the standard library; MP3, FLAC, MP4 video,
JPEG and PNG encoded with PyAV (``batchkit[media]``)."""

from __future__ import annotations

import math
import struct
import wave
from fractions import Fraction
from pathlib import Path
from typing import Any


def wav(path: Path, seconds: float, rate: int = 16_000, channels: int = 1) -> Path:
    frames = int(seconds * rate)
    with wave.open(str(path), "wb") as out:
        out.setnchannels(channels)
        out.setsampwidth(2)
        out.setframerate(rate)
        block = b"".join(struct.pack("<h", int(6000 * math.sin(2 * math.pi * 220 * t / rate))) * channels
                         for t in range(rate))  # fmt: skip
        for start in range(0, frames, rate):
            out.writeframes(block[: (min(rate, frames - start)) * 2 * channels])
    return path


def _picture(av: Any, width: int, height: int, shade: int) -> Any:
    frame = av.VideoFrame(width, height, "rgb24")
    line = b"".join(bytes((x * 255 // max(1, width - 1), shade % 256, 128)) for x in range(width))
    frame.planes[0].update((line + b"\x00" * (frame.planes[0].line_size - len(line))) * height)
    return frame


def image(path: Path, width: int = 320, height: int = 240, codec: str = "mjpeg", shade: int = 90) -> Path:
    """A JPEG (``mjpeg``), PNG (``png``) or WebP (``libwebp``) picture."""
    import av

    encoder = av.CodecContext.create(codec, "w")
    encoder.width, encoder.height = width, height
    encoder.pix_fmt = {"mjpeg": "yuvj420p", "png": "rgb24", "libwebp": "yuv420p"}[codec]
    encoder.time_base = Fraction(1, 25)
    frame = _picture(av, width, height, shade).reformat(format=encoder.pix_fmt)
    path.write_bytes(b"".join(bytes(p) for p in [*encoder.encode(frame), *encoder.encode(None)]))
    return path


def _tone(av: Any, stream: Any, seconds: float, rate: int) -> list[Any]:
    packets, done, size = [], 0, 1152
    total = int(seconds * rate)
    while done < total:
        n = min(size, total - done)
        frame = av.AudioFrame(format="s16", layout="mono", samples=n)
        frame.planes[0].update(b"".join(struct.pack("<h", int(6000 * math.sin(2 * math.pi * 330 * (done + t) / rate)))
                                        for t in range(n)) + b"\x00" * (frame.planes[0].buffer_size - 2 * n))  # fmt: skip
        frame.sample_rate, frame.pts = rate, done
        packets += stream.encode(frame)
        done += n
    return packets + stream.encode(None)


def audio(path: Path, seconds: float, codec: str = "mp3", rate: int = 44_100) -> Path:
    """Compressed audio: ``mp3`` or ``flac`` (the container from ``path``'s suffix)."""
    import av

    with av.open(str(path), "w") as out:
        stream = out.add_stream(codec, rate=rate, layout="mono")
        for packet in _tone(av, stream, seconds, rate):
            out.mux(packet)
    return path


def video(path: Path, seconds: float, fps: int = 10, sound: bool = True) -> Path:
    """An MP4 of moving colour (MPEG-4 part 2), with an AAC tone when ``sound``."""
    import av

    with av.open(str(path), "w") as out:
        picture = out.add_stream("mpeg4", rate=fps)
        picture.width, picture.height, picture.pix_fmt = 320, 240, "yuv420p"
        tone = out.add_stream("aac", rate=44_100, layout="mono") if sound else None
        for n in range(int(seconds * fps)):
            frame = _picture(av, 320, 240, n * 7).reformat(format="yuv420p")
            frame.pts = n
            for packet in picture.encode(frame):
                out.mux(packet)
        for packet in picture.encode(None):
            out.mux(packet)
        if tone is not None:
            for packet in _tone(av, tone, seconds, 44_100):
                out.mux(packet)
    return path
