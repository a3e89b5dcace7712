"""Hume predictions as tidy rows in a CSV (one row per score), and the same predictions typed for mypy.

python examples/hume_predictions_csv.py out.csv

``batchkit.rows`` flattens any provider's results into one shape; ``batchkit.typed`` tells mypy (this
file is checked with ``mypy --strict``) that these results hold Hume's ``SourcePrediction``.
"""

from __future__ import annotations

import csv
import sys
import tempfile
from pathlib import Path

import batchkit
from batchkit.emulator import configured_or_emulated
from batchkit.providers.hume.models import SourcePrediction
from batchkit.providers.hume.options import HumeOptions, Models, Prosody
from batchkit.samples import write_samples


def strongest(result: batchkit.FileResult[SourcePrediction]) -> str:
    """The typed way down to one score: every level is known to mypy."""
    prediction = result.prediction
    if prediction is None or prediction.results is None:
        return "-"
    scores = [
        score
        for file in prediction.results.predictions
        if file.models.prosody is not None
        for group in file.models.prosody.grouped_predictions
        for moment in group.predictions
        for score in moment.emotions
    ]
    top = max(scores, key=lambda s: s.score, default=None)
    return f"{top.name} {top.score:.2f}" if top else "-"


def main(out: str) -> int:
    with tempfile.TemporaryDirectory() as tmp, configured_or_emulated("hume") as [settings]:
        options = HumeOptions(models=Models(prosody=Prosody(granularity="utterance")))
        with batchkit.connect("hume", **settings) as client:
            job = client.wait(client.submit(write_samples(Path(tmp))[:1], options=options))
            results = batchkit.typed(client.results(job), SourcePrediction)
    rows = list(batchkit.rows(results))
    with open(out, "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    for result in results:
        print(f"{result.source}: strongest {strongest(result)}")
    print(f"wrote {len(rows)} rows to {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else "predictions.csv"))
