"""Many results of every provider, made without a server: for the report's tests and its benchmark."""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

import attrs

from batchkit.models import FileResult, JobStatus
from batchkit.providers.hume import to_file_result as hume_result
from batchkit.providers.hume_expression.models import ExpressionPrediction, Face, Frame, Measurement, Score
from batchkit.providers.resemble.wire import to_file_result as resemble_result

HUME = json.loads((Path(__file__).parent / "data" / "hume_predictions.json").read_text())
NAMES = ("joy", "calmness", "interest", "boredom", "confusion")


def detect(rng: random.Random, name: str) -> dict[str, Any]:
    score = rng.random()
    if name.endswith("fail.wav"):
        return {"uuid": name, "status": "failed", "filename": name, "error_message": "unsupported codec"}
    chunks = [round(min(1.0, max(0.0, score + rng.uniform(-0.2, 0.2))), 3) for _ in range(rng.randint(1, 8))]
    return {"uuid": name, "media_type": "audio", "status": "completed", "filename": name, "duration": 8.0,
            "metrics": {"label": "fake" if score >= 0.5 else "real", "score": chunks, "aggregated_score": score}}


def expression(rng: random.Random, source: str) -> FileResult[Any]:
    def scores() -> tuple[Score, ...]:
        return tuple(Score(n, round(rng.random(), 4)) for n in NAMES)

    measurements = tuple(Measurement(i, 0, i * 3000, i * 3000 + 3000, expressions=scores()) for i in range(4))
    frames = tuple(Frame(i, (Face(0, (0, 0, 10, 10), 0.99, scores()),), i * 500) for i in range(3))
    prediction = ExpressionPrediction("video", measurements=measurements, frames=frames)
    return FileResult(source, JobStatus.SUCCEEDED, prediction=prediction, provider="hume-expression")


def mixed(count: int, seed: int = 7) -> list[FileResult[Any]]:
    """``count`` results: Resemble detects (a few failed), hume-expression videos (voice and faces) and
    Hume v0 predictions, in folders whose files share names (``d0/call-1.wav``, ``d1/call-1.wav`` …)."""
    rng = random.Random(seed)
    made: list[FileResult[Any]] = []
    for i in range(count):
        source = f"/data/d{i % 3}/call-{i // 3}{'-fail' if i % 97 == 5 else ''}.wav"
        if i % 10 < 7:
            made.append(attrs.evolve(resemble_result({"item": detect(rng, source)}), source=source))
        elif i % 10 < 9:
            made.append(expression(rng, source.replace(".wav", ".mp4")))
        else:
            made.append(attrs.evolve(hume_result(HUME[i % len(HUME)]), source=source))
    return made
