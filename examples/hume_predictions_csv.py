"""Hume predictions flattened to CSV: one row per model, prediction and emotion.

python examples/hume_predictions_csv.py out.csv
"""

from __future__ import annotations

import csv
import sys
import tempfile
from pathlib import Path

import batchkit
from batchkit.emulator import configured_or_emulated
from batchkit.providers.hume.options import HumeOptions, Models, Prosody
from batchkit.samples import write_samples

MODELS = ("face", "burst", "prosody", "language", "ner", "facemesh")


def main(out: str) -> int:
    with tempfile.TemporaryDirectory() as tmp, configured_or_emulated("hume") as [settings]:
        options = HumeOptions(models=Models(prosody=Prosody(granularity="utterance")))
        with batchkit.connect("hume", **settings) as client:
            job = client.wait(client.submit(write_samples(Path(tmp))[:1], text=["I love this!"], options=options))
            results = client.results(job)
    with open(out, "w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["source", "file", "model", "group", "index", "emotion", "score"])
        for result in results:
            for file in result.prediction.results.predictions if result.prediction.results else ():
                for model in MODELS:
                    block = getattr(file.models, model)
                    for group in block.grouped_predictions if block else ():
                        for index, prediction in enumerate(group.predictions):
                            where = [result.source, file.file, model, group.id, index]
                            writer.writerows([*where, e.name, e.score] for e in prediction.emotions)
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else "predictions.csv"))
