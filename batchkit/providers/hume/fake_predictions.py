"""Deterministic fake Hume predictions in the documented shapes, seeded by input name."""

from __future__ import annotations

import random
from typing import Any

EMOTIONS = (
    "Admiration",
    "Adoration",
    "Aesthetic Appreciation",
    "Amusement",
    "Anger",
    "Anxiety",
    "Awe",
    "Awkwardness",
    "Boredom",
    "Calmness",
    "Concentration",
    "Confusion",
    "Contemplation",
    "Contempt",
    "Contentment",
    "Craving",
    "Desire",
    "Determination",
    "Disappointment",
    "Disgust",
    "Distress",
    "Doubt",
    "Ecstasy",
    "Embarrassment",
    "Empathic Pain",
    "Entrancement",
    "Envy",
    "Excitement",
    "Fear",
    "Guilt",
    "Horror",
    "Interest",
    "Joy",
    "Love",
    "Nostalgia",
    "Pain",
    "Pride",
    "Realization",
    "Relief",
    "Romance",
    "Sadness",
    "Satisfaction",
    "Shame",
    "Surprise (negative)",
    "Surprise (positive)",
    "Sympathy",
    "Tiredness",
    "Triumph",
)

def _scores(rng: random.Random, names: tuple[str, ...] | list[str] = EMOTIONS) -> list[dict[str, Any]]:
    return [{"name": n, "score": round(rng.random(), 6)} for n in names]


def _grouped(predictions: list[dict[str, Any]], metadata: Any = None) -> dict[str, Any]:
    return {"metadata": metadata, "grouped_predictions": [{"id": "unknown", "predictions": predictions}]}


def hume_models(rng: random.Random, kind: str, models: list[str], frames: int) -> dict[str, Any]:
    """Predictions per model for one input of ``kind`` (``image``, ``audio``, ``video``, ``text``)."""
    out: dict[str, Any] = {}
    visual, spoken = kind in ("image", "video"), kind in ("audio", "video")
    if "face" in models and visual:
        out["face"] = _grouped(
            [
                {
                    "frame": i,
                    "time": i / 3,
                    "prob": round(0.9 + rng.random() / 10, 6),
                    "box": {"x": rng.uniform(0, 500), "y": rng.uniform(0, 500), "w": 120.0, "h": 160.0},
                    "emotions": _scores(rng),
                    "facs": None,
                    "descriptions": None,
                }
                for i in range(frames if kind == "video" else 1)
            ]
        )
    if "facemesh" in models and visual:
        out["facemesh"] = _grouped([{"emotions": _scores(rng)}])
    if "prosody" in models and spoken:
        out["prosody"] = _grouped(
            [
                {
                    "text": f"utterance {i}",
                    "time": {"begin": i * 2.0, "end": i * 2.0 + 1.8},
                    "confidence": 0.9,
                    "speaker_confidence": None,
                    "emotions": _scores(rng),
                }
                for i in range(frames)
            ],
            {"confidence": 0.9, "detected_language": "en"},
        )
    if "burst" in models and spoken:
        out["burst"] = _grouped([{"time": {"begin": 0.5, "end": 1.0}, "emotions": _scores(rng), "descriptions": []}])
    if "language" in models and kind != "image":
        out["language"] = _grouped(
            [
                {
                    "text": "hello",
                    "position": {"begin": 0, "end": 5},
                    "time": None,
                    "confidence": None,
                    "speaker_confidence": None,
                    "emotions": _scores(rng),
                    "sentiment": None,
                    "toxicity": None,
                }
            ]
        )
    if "ner" in models and kind != "image":
        out["ner"] = _grouped([])
    return out
