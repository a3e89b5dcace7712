"""Media made acceptable before upload: audio to 16 kHz mono 16-bit WAV segments that fit a request,
video to JPEG frames, PNG and WebP to JPEG. Decoding is PyAV (``batchkit[media]``, FFmpeg in its
wheels), streamed frame by frame; a WAV that is already acceptable is only cut, with the standard library."""

from __future__ import annotations

import math
import wave
from collections.abc import Callable, Iterator
from fractions import Fraction
from pathlib import Path
from typing import Any

import attrs

from batchkit.errors import InputError

from .media import BYTES_PER_SECOND, MAX_BODY, MAX_IMAGE_BYTES, MAX_PIXELS, PART_OVERHEAD, SAMPLE_RATE, WavFormat

SEGMENT_BYTES = (MAX_BODY - 4 * PART_OVERHEAD - 44) // 2 * 2
"""The most PCM data one audio request carries (about 13 minutes)."""


@attrs.define
class Budget:
    """The bytes a submission's conversions may take on disk: all are made before anything is sent, so
    a long video (an hour of frames is gigabytes) is refused while it is converted, not after (M15)."""

    limit: int
    used: int = 0

    def spend(self, source: Path, size: int) -> None:
        """Count ``size`` more bytes converted from ``source``; an ``InputError`` past the limit."""
        self.used += size
        if self.used > self.limit:
            raise InputError(
                f"{source}: the submission's conversions would take more than {self.limit:,} bytes on disk (all are"
                " made before anything is sent); send fewer or shorter files at once, or fewer frames_per_second"
            )


@attrs.frozen
class Piece:
    """A file to upload, cut or converted from an input: where its media starts in the input."""

    path: Path
    size: int
    start_ms: int


def require_av(path: Path, what: str) -> Any:
    """PyAV, or an ``InputError`` naming the extra that brings it."""
    try:
        import av
    except ImportError:
        raise InputError(
            f"{path}: {what} must be converted before Hume's successor API takes it; "
            "install PyAV with `pip install 'batchkit[media]'`"
        ) from None
    return av


def _writer(folder: Path, stem: str) -> Callable[[int], tuple[wave.Wave_write, Path]]:
    def open_segment(n: int) -> tuple[wave.Wave_write, Path]:
        path = folder / f"{stem}.{n:04d}.wav"
        out = wave.open(str(path), "wb")  # noqa: SIM115 - closed by the caller
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(SAMPLE_RATE)
        return out, path

    return open_segment


def segments(chunks: Iterator[bytes], folder: Path, stem: str, source: Path, budget: Budget) -> list[Piece]:
    """PCM ``chunks`` of ``source`` written as WAV files of at most :data:`SEGMENT_BYTES` of data each."""
    open_segment = _writer(folder, stem)
    pieces: list[Piece] = []
    out: wave.Wave_write | None = None
    path, written, total = Path(), 0, 0
    for chunk in chunks:
        while chunk:
            if out is None:
                out, path = open_segment(len(pieces))
                written = 0
            take = chunk[: SEGMENT_BYTES - written]
            budget.spend(source, len(take))
            out.writeframes(take)
            written += len(take)
            chunk = chunk[len(take) :]
            if written == SEGMENT_BYTES:
                out.close()
                pieces.append(Piece(path, path.stat().st_size, total * 1000 // BYTES_PER_SECOND))
                total += written
                out = None
    if out is not None:
        out.close()
        pieces.append(Piece(path, path.stat().st_size, total * 1000 // BYTES_PER_SECOND))
    return pieces


def cut_wav(source: Path, fmt: WavFormat, folder: Path, stem: str, budget: Budget) -> list[Piece]:
    """An acceptable WAV too long for one request, cut into segments (no conversion)."""

    def read() -> Iterator[bytes]:
        with open(source, "rb") as fh:
            fh.seek(fmt.data_offset)
            left = fmt.data_size - fmt.data_size % 2
            while left > 0:
                block = fh.read(min(1 << 20, left))
                if not block:
                    return
                left -= len(block)
                yield block

    return segments(read(), folder, stem, source, budget)


def audio(source: Path, folder: Path, stem: str, budget: Budget) -> list[Piece]:
    """The first audio stream of ``source`` (any format FFmpeg reads, a video's soundtrack too) as
    16 kHz mono 16-bit WAV segments; none when it has no audio."""
    av = require_av(source, "this audio")

    def pcm() -> Iterator[bytes]:
        with av.open(str(source)) as container:
            if not container.streams.audio:
                return
            resampler = av.AudioResampler(format="s16", layout="mono", rate=SAMPLE_RATE)
            for frame in container.decode(container.streams.audio[0]):
                for out in resampler.resample(frame):
                    yield bytes(out.planes[0])[: out.samples * 2]
            for out in resampler.resample(None):
                yield bytes(out.planes[0])[: out.samples * 2]

    try:
        return segments(pcm(), folder, stem, source, budget)
    except (OSError, ValueError) as exc:  # av.FFmpegError is an OSError or ValueError
        raise InputError(f"{source}: cannot be read as audio ({exc})") from None


def _jpeg(av: Any, frame: Any) -> bytes:
    """``frame`` as a JPEG within the image limits (scaled down where it is too large)."""
    width, height = frame.width, frame.height
    scale = min(1.0, math.sqrt(MAX_PIXELS / (width * height)))
    while True:
        w, h = max(2, int(width * scale) // 2 * 2), max(2, int(height * scale) // 2 * 2)
        encoder = av.CodecContext.create("mjpeg", "w")
        encoder.width, encoder.height, encoder.pix_fmt = w, h, "yuvj420p"
        encoder.time_base = Fraction(1, 25)
        image = frame.reformat(width=w, height=h, format="yuvj420p")
        data = b"".join(bytes(p) for p in [*encoder.encode(image), *encoder.encode(None)])
        if len(data) <= MAX_IMAGE_BYTES:
            return data
        scale *= 0.7


def frames(source: Path, folder: Path, stem: str, per_second: float, budget: Budget) -> list[Piece]:
    """JPEG frames of ``source``'s first video stream, at most ``per_second`` a second (the first at 0)."""
    av = require_av(source, "video")
    pieces: list[Piece] = []
    try:
        with av.open(str(source)) as container:
            if not container.streams.video:
                return []
            stream = container.streams.video[0]
            due = 0.0
            for n, frame in enumerate(container.decode(stream)):
                at = float(frame.time) if frame.time is not None else n / float(stream.average_rate or 25)
                if at + 1e-6 < due:
                    continue
                while due <= at + 1e-6:
                    due += 1 / per_second
                path, data = folder / f"{stem}.{len(pieces):06d}.jpg", _jpeg(av, frame)
                budget.spend(source, len(data))
                path.write_bytes(data)
                pieces.append(Piece(path, path.stat().st_size, round(at * 1000)))
    except (OSError, ValueError) as exc:
        raise InputError(f"{source}: cannot be read as video ({exc})") from None
    return pieces


def image(source: Path, folder: Path, stem: str, budget: Budget) -> Piece:
    """A PNG or WebP image as a JPEG."""
    av = require_av(source, "a PNG or WebP image")
    try:
        with av.open(str(source)) as container:
            frame = next(container.decode(video=0))
            path, data = folder / f"{stem}.jpg", _jpeg(av, frame)
            budget.spend(source, len(data))
            path.write_bytes(data)
    except (OSError, ValueError, StopIteration) as exc:
        raise InputError(f"{source}: cannot be read as an image ({exc or 'no picture'})") from None
    return Piece(path, path.stat().st_size, 0)


def has_video(source: Path) -> bool:
    """Whether ``source`` has a video stream, not counting an MP3's or M4A's cover picture."""
    av = require_av(source, "this file")
    try:
        with av.open(str(source)) as container:
            cover = getattr(getattr(av.stream, "Disposition", None), "attached_pic", 0)
            return any(not (stream.disposition & cover) for stream in container.streams.video)
    except (OSError, ValueError) as exc:
        raise InputError(f"{source}: not media FFmpeg can read ({exc})") from None
