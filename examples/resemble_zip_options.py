"""A Resemble batch from one zip, with typed options (intelligence, frame length, no heatmaps).

python examples/resemble_zip_options.py
"""

from __future__ import annotations

import sys
import tempfile
import zipfile
from pathlib import Path

import batchkit
from batchkit.emulator import configured_or_emulated
from batchkit.providers.resemble.options import ResembleOptions
from batchkit.samples import write_samples


def main() -> int:
    with tempfile.TemporaryDirectory() as tmp, configured_or_emulated("resemble") as [settings]:
        archive = Path(tmp) / "batch.zip"
        with zipfile.ZipFile(archive, "w") as zf:
            for sample in write_samples(Path(tmp)):
                zf.write(sample, f"media/{sample.name}")
        options = ResembleOptions(intelligence=True, frame_length=2, visualize=False)
        with batchkit.connect("resemble", **settings) as client:
            job = client.wait(client.submit(zip=archive, options=options))
            for result in client.results(job):
                detect = result.prediction
                print(f"{result.source}: {detect.label} score={detect.score} intelligence={detect.intelligence}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
