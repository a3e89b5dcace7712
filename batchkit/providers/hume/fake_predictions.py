"""Deterministic fake Hume predictions in the documented shapes, seeded by input name."""

from __future__ import annotations

import random
import re
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

FACS = ("AU1 Inner Brow Raiser", "AU2 Outer Brow Raiser", "AU4 Brow Lowerer", "AU6 Cheek Raiser",
        "AU12 Lip Corner Puller", "AU15 Lip Corner Depressor", "AU25 Lips Part", "AU26 Jaw Drop")  # fmt: skip
DESCRIPTIONS = ("Amused", "Calm", "Confused", "Excited", "Serious", "Surprised")
SENTIMENT = tuple(str(i) for i in range(1, 10))
TOXICITY = ("identity_hate", "insult", "obscene", "severe_toxic", "threat", "toxic")
MODEL_DEFAULTS: dict[str, dict[str, Any]] = {
    "face": {"fps_pred": 3, "prob_threshold": 0.99, "identify_faces": False, "min_face_size": 60,
             "save_faces": False, "facs": None, "descriptions": None},
    "burst": {},
    "prosody": {"granularity": "utterance", "identify_speakers": False, "window": None},
    "language": {"granularity": "word", "identify_speakers": False, "sentiment": None, "toxicity": None},
    "ner": {"identify_speakers": False},
    "facemesh": {},
}  # fmt: skip
"""What the service fills in for each requested model (seed 001's job list shows them)."""


def with_defaults(models: dict[str, Any] | None) -> dict[str, dict[str, Any]]:
    """The ``request.models`` the service echoes: every requested model (all when none) with its defaults."""
    asked = models if models is not None else {name: {} for name in MODEL_DEFAULTS}
    return {name: {**MODEL_DEFAULTS[name], **(config or {})} for name, config in asked.items()}


def _scores(rng: random.Random, names: tuple[str, ...] | list[str] = EMOTIONS) -> list[dict[str, Any]]:
    return [{"name": n, "score": round(rng.random(), 6)} for n in names]


def _grouped(groups: dict[str, list[dict[str, Any]]], metadata: Any = None) -> dict[str, Any]:
    return {"metadata": metadata, "grouped_predictions": [{"id": k, "predictions": v} for k, v in groups.items()]}


def _pieces(text: str, granularity: str) -> list[tuple[str, int, int]]:
    """(piece, begin, end) of ``text`` at a granularity: words, sentences, or the whole (utterance, turn)."""
    if granularity == "word":
        pattern = r"\S+"
    elif granularity == "sentence":
        pattern = r"[^.!?]+[.!?]*"
    else:
        pattern = r".+"
    return [(m.group().strip(), m.start(), m.end()) for m in re.finditer(pattern, text, re.S) if m.group().strip()]


def _face(rng: random.Random, config: dict[str, Any], kind: str, frames: int) -> dict[str, Any]:
    groups: dict[str, list[dict[str, Any]]] = {}
    for i in range(frames if kind == "video" else 1):
        face = f"face_{i % 2}" if config.get("identify_faces") else "unknown"
        groups.setdefault(face, []).append({
            "frame": i,
            "time": i / (config.get("fps_pred") or 3),
            "prob": round(0.9 + rng.random() / 10, 6),
            "box": {"x": rng.uniform(0, 500), "y": rng.uniform(0, 500), "w": 120.0, "h": 160.0},
            "emotions": _scores(rng),
            "facs": _scores(rng, FACS) if config.get("facs") is not None else None,
            "descriptions": _scores(rng, DESCRIPTIONS) if config.get("descriptions") is not None else None,
        })  # fmt: skip
    return _grouped(groups)


def _language(rng: random.Random, config: dict[str, Any], text: str) -> dict[str, Any]:
    predictions = [
        {
            "text": piece,
            "position": {"begin": begin, "end": end},
            "time": None,
            "confidence": None,
            "speaker_confidence": None,
            "emotions": _scores(rng),
            "sentiment": _scores(rng, SENTIMENT) if config.get("sentiment") is not None else None,
            "toxicity": _scores(rng, TOXICITY) if config.get("toxicity") is not None else None,
        }
        for piece, begin, end in _pieces(text, config.get("granularity") or "word")
    ]
    return _grouped({"unknown": predictions})


def _ner(rng: random.Random, text: str) -> dict[str, Any]:
    entities = [
        {"entity": word, "position": {"begin": begin, "end": end}, "entity_confidence": round(rng.random(), 6),
         "support": round(rng.random(), 6), "uri": f"https://en.wikipedia.org/wiki/{word}", "link_word": word,
         "time": None, "confidence": None, "speaker_confidence": None, "emotions": _scores(rng)}
        for word, begin, end in _pieces(text, "word") if word[:1].isupper()
    ]  # fmt: skip
    return _grouped({"unknown": entities})


def _prosody(rng: random.Random, config: dict[str, Any], frames: int) -> dict[str, Any]:
    spoken = " ".join(f"utterance {i}." for i in range(frames))
    step = 2.0 if config.get("granularity") in (None, "utterance", "conversational_turn", "sentence") else 0.4
    pieces = _pieces(spoken, "sentence" if step == 2.0 else "word")
    predictions = [
        {"text": piece, "time": {"begin": i * step, "end": i * step + step * 0.9}, "confidence": 0.9,
         "speaker_confidence": None, "emotions": _scores(rng)}
        for i, (piece, _, _) in enumerate(pieces)
    ]  # fmt: skip
    return _grouped({"unknown": predictions}, {"confidence": 0.9, "detected_language": "en"})


def hume_models(
    rng: random.Random, kind: str, models: dict[str, dict[str, Any]], frames: int, text: str = ""
) -> dict[str, Any]:
    """Predictions per model for one input of ``kind`` (``image``, ``audio``, ``video``, ``text``),
    shaped by each model's configuration; language and NER read ``text`` (or a transcript)."""
    out: dict[str, Any] = {}
    visual, spoken = kind in ("image", "video"), kind in ("audio", "video")
    words = text if kind == "text" else " ".join(f"utterance {i}." for i in range(frames))
    if "face" in models and visual:
        out["face"] = _face(rng, models["face"], kind, frames)
    if "facemesh" in models and visual:
        out["facemesh"] = _grouped({"unknown": [{"emotions": _scores(rng)}]})
    if "prosody" in models and spoken:
        out["prosody"] = _prosody(rng, models["prosody"], frames)
    if "burst" in models and spoken:
        burst = {"time": {"begin": 0.5, "end": 1.0}, "emotions": _scores(rng),
                 "descriptions": _scores(rng, DESCRIPTIONS)}  # fmt: skip
        out["burst"] = _grouped({"unknown": [burst]})
    if "language" in models and kind != "image":
        out["language"] = _language(rng, models["language"], words)
    if "ner" in models and kind != "image":
        out["ner"] = _ner(rng, words)
    return out
