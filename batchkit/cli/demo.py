"""``batchkit demo``: sample media through each provider, or through the emulator when no key is set."""

from __future__ import annotations

import contextlib
import math
import struct
import sys
import tempfile
import wave
import zlib
from collections.abc import Iterator
from pathlib import Path

import batchkit
from batchkit import config
from batchkit.errors import ConfigError
from batchkit.models import JobStatus

from . import EXIT_OK, EXIT_PARTIAL
from .output import Reporter, render, result_row


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


@contextlib.contextmanager
def targets(provider: str | None, report: Reporter) -> Iterator[list[config.Settings]]:
    """The configured provider when its key is set, else both providers on an embedded emulator."""
    try:
        yield [config.resolve(provider)]
        return
    except ConfigError:
        pass
    try:
        from batchkit.emulator import EMULATOR_KEY, EmulatorConfig, serve
    except ImportError:
        raise ConfigError(
            "no API key configured, and the demo's emulator needs `pip install 'batchkit[emulator]'`"
        ) from None
    with serve(config=EmulatorConfig(run_seconds=1.5)) as emu:
        report.line(f"no API key configured: using the built-in emulator at {emu.base_url}")
        names = [provider] if provider else ["hume", "resemble"]
        yield [config.resolve(name, api_key=EMULATOR_KEY, base_url=emu.base_url) for name in names]


def run_demo(provider: str | None, report: Reporter, timeout: float, as_json: bool) -> int:
    statuses = []
    with tempfile.TemporaryDirectory(prefix="batchkit-demo-") as tmp, targets(provider, report) as chosen:
        samples = write_samples(Path(tmp))
        for settings in chosen:
            name = settings.provider.name
            with batchkit.Client(settings) as client:
                text = ["What a wonderful surprise, thank you so much!"] if name == "hume" else None
                job = client.submit(samples, text=text)
                report.line(f"{name}: submitted {len(samples)} file(s){' and a text' if text else ''} as job {job.id}")
                with report.waiting([job]) as on_update:
                    [job] = client.wait_all([job], timeout=timeout, on_update=on_update)
                rows = [{"provider": name, **result_row(r)} for r in client.results(job)]
            statuses.append(job.status)
            render(rows, "jsonl" if as_json else "table", sys.stdout, f"{name} job {job.id}: {job.status.name}")
    return EXIT_OK if JobStatus.combine(statuses) is JobStatus.SUCCEEDED else EXIT_PARTIAL
