"""Tidy rows and headlines: one schema for every provider (the same columns, lower-case score names,
null for missing, at least one row per input)."""

from __future__ import annotations

import json
from pathlib import Path

import batchkit
import batchkit.results  # a submodule: an attribute of batchkit only once imported (the suite ran it by luck)
from batchkit.models import FileResult, JobStatus
from batchkit.providers import get_provider
from batchkit.providers.base import COLUMNS
from batchkit.providers.hume import to_file_result as hume_result
from batchkit.providers.hume_expression.models import ExpressionPrediction, Face, Frame, Measurement, Score
from batchkit.providers.resemble import to_file_result as resemble_result

from .test_resemble_wire import AUDIO, FAILED

PREDICTIONS = json.loads((Path(__file__).parent / "data" / "hume_predictions.json").read_text())


def test_hume_rows_one_per_score_with_model_file_and_time() -> None:
    hume = get_provider("hume")
    result = hume_result(PREDICTIONS[0])
    rows = list(hume.rows(result))
    assert all(tuple(row) == COLUMNS for row in rows)
    first = rows[0]
    assert (first["kind"], first["name"], first["score"], first["model"], first["file"]) == (
        "emotion", "joy", 0.61, "face", "faces/100.jpg")  # fmt: skip
    assert (first["begin"], first["end"], first["frame"], first["group"]) == (0.0, 0.0, 0, "unknown")
    assert batchkit.results.headline(result) == {
        "source": result.source, "provider": "hume", "status": "PARTIALLY_FAILED", "kind": "emotion", "name": "joy",
        "score": 0.61, "error": "faces/broken.jpg: unreadable image"}  # fmt: skip
    for source in PREDICTIONS:
        for row in hume.rows(hume_result(source)):
            assert row["source"]
            assert row["status"] in ("SUCCEEDED", "PARTIALLY_FAILED", "FAILED")


def test_resemble_rows_a_verdict_then_each_chunk_with_its_time() -> None:
    resemble = get_provider("resemble")
    result = resemble_result({"item": AUDIO})
    verdict, *chunks = resemble.rows(result)
    assert tuple(verdict) == COLUMNS
    assert (verdict["kind"], verdict["name"], verdict["score"], verdict["end"]) == ("verdict", "fake", 0.8, 3.2)
    assert (verdict["model"], verdict["consistency"], verdict["audio_source_tracing"]) == (
        "audio",
        0.85,
        "elevenlabs",
    )
    assert verdict["intelligence"] == "synthetic voice"
    assert [(c["chunk"], c["score"], c["begin"], c["end"]) for c in chunks] == [(0, 0.9, 0.0, 1.6), (1, 0.8, 1.6, 3.2)]
    assert [batchkit.results.headline(result)[k] for k in ("kind", "name", "score")] == ["verdict", "fake", 0.8]
    [failed] = resemble.rows(resemble_result({"item": FAILED}))
    assert (failed["status"], failed["error"], failed["kind"]) == ("FAILED", "unsupported codec", "verdict")
    headline = batchkit.results.headline(resemble_result({"item": FAILED}))
    assert (headline["name"], headline["score"], headline["error"]) == (None, None, "unsupported codec")


def test_batchkit_rows_mixes_providers_and_typed_narrows() -> None:
    import pytest

    import batchkit
    from batchkit.providers.hume.models import SourcePrediction
    from batchkit.providers.resemble.models import Detect

    hume, detect = hume_result(PREDICTIONS[0]), resemble_result({"item": AUDIO})
    unknown = batchkit.FileResult("x.wav", batchkit.JobStatus.FAILED, "no such provider", provider="gone")
    rows = list(batchkit.rows([hume, detect, unknown]))
    assert {r["source"] for r in rows} == {hume.source, detect.source, "x.wav"}
    assert rows[-1] == {**dict.fromkeys(COLUMNS), "source": "x.wav", "provider": "gone", "status": "FAILED",
                        "error": "no such provider"}  # fmt: skip
    assert {tuple(r) for r in rows} == {COLUMNS}, "every provider's rows have the same columns"
    assert batchkit.typed([hume], SourcePrediction) == [hume]
    with pytest.raises(batchkit.InputError, match="not a SourcePrediction"):
        batchkit.typed([hume, detect], SourcePrediction)
    assert batchkit.typed([detect], Detect)[0].prediction.label == "fake"


def expression(*frames: Frame, measurements: tuple[Measurement, ...] = ()) -> FileResult:
    prediction = ExpressionPrediction("image", measurements=measurements, frames=frames)
    return FileResult("d1/face.jpg", JobStatus.SUCCEEDED, prediction=prediction, provider="hume-expression")


def test_an_image_with_no_face_still_has_its_row() -> None:
    [row] = batchkit.rows([expression(Frame(0, faces=()))])
    assert row == {**dict.fromkeys(COLUMNS), "source": "d1/face.jpg", "provider": "hume-expression",
                   "status": "SUCCEEDED"}  # fmt: skip
    assert batchkit.results.headline(expression(Frame(0)))["score"] is None


def test_hume_expression_rows_say_voice_or_face_and_share_the_columns() -> None:
    face = Face(3, (0, 0, 5, 5), 0.97, expressions=(Score("joy", 0.9),), descriptions=(Score("Smile", 0.4),))
    voice = Measurement(0, 2, 1000, 4000, expressions=(Score("calmness", 0.6),), voice_attributes=(Score("fast", 0.3),))
    rows = list(batchkit.rows([expression(Frame(1, (face,), 500), measurements=(voice,))]))
    assert [tuple(r) for r in rows] == [COLUMNS] * 4
    assert [(r["model"], r["kind"], r["name"], r["group"], r["begin"], r["end"]) for r in rows] == [
        ("voice", "emotion", "calmness", 2, 1.0, 4.0), ("voice", "voice_attribute", "fast", 2, 1.0, 4.0),
        ("face", "emotion", "joy", 3, 0.5, 0.5), ("face", "description", "smile", 3, 0.5, 0.5)]  # fmt: skip
    assert (rows[2]["frame"], rows[2]["confidence"]) == (1, 0.97)
    top = batchkit.results.headline(expression(Frame(1, (face,), 500), measurements=(voice,)))
    assert (top["kind"], top["name"], top["score"]) == ("emotion", "joy", 0.9)
