"""Each provider's summary and tidy rows: the common columns first, then the provider's own."""

from __future__ import annotations

import json
from pathlib import Path

from batchkit.providers import get_provider
from batchkit.providers.base import COMMON_COLUMNS
from batchkit.providers.hume import to_file_result as hume_result
from batchkit.providers.resemble import to_file_result as resemble_result

from .test_resemble_wire import AUDIO, FAILED

PREDICTIONS = json.loads((Path(__file__).parent / "data" / "hume_predictions.json").read_text())


def test_hume_rows_one_per_score_with_model_file_and_time() -> None:
    hume = get_provider("hume")
    result = hume_result(PREDICTIONS[0])
    rows = list(hume.rows(result))
    assert all(tuple(row)[:8] == COMMON_COLUMNS for row in rows)
    first = rows[0]
    assert (first["kind"], first["name"], first["score"], first["model"], first["file"]) == (
        "emotion", "Joy", 0.61, "face", "faces/100.jpg")  # fmt: skip
    assert (first["begin"], first["end"], first["frame"], first["group"]) == (0.0, 0.0, 0, "unknown")
    assert hume.summary(result) == "Joy 0.61"
    for source in PREDICTIONS:
        for row in hume.rows(hume_result(source)):
            assert row["source"]
            assert row["status"] in ("SUCCEEDED", "PARTIALLY_FAILED", "FAILED")


def test_resemble_rows_a_verdict_then_each_chunk_with_its_time() -> None:
    resemble = get_provider("resemble")
    result = resemble_result({"item": AUDIO})
    verdict, *chunks = resemble.rows(result)
    assert tuple(verdict)[:8] == COMMON_COLUMNS
    assert (verdict["kind"], verdict["name"], verdict["score"], verdict["end"]) == ("verdict", "fake", 0.8, 3.2)
    assert (verdict["media_type"], verdict["consistency"], verdict["audio_source_tracing"]) == (
        "audio",
        0.85,
        "elevenlabs",
    )
    assert verdict["intelligence"] == "synthetic voice"
    assert [(c["chunk"], c["score"], c["begin"], c["end"]) for c in chunks] == [(0, 0.9, 0.0, 1.6), (1, 0.8, 1.6, 3.2)]
    assert resemble.summary(result) == "fake 0.80"
    [failed] = resemble.rows(resemble_result({"item": FAILED}))
    assert (failed["status"], failed["error"], failed["kind"]) == ("FAILED", "unsupported codec", "verdict")


def test_batchkit_rows_mixes_providers_and_typed_narrows() -> None:
    import pytest

    import batchkit
    from batchkit.providers.hume.models import SourcePrediction
    from batchkit.providers.resemble.models import Detect

    hume, detect = hume_result(PREDICTIONS[0]), resemble_result({"item": AUDIO})
    unknown = batchkit.FileResult("x.wav", batchkit.JobStatus.FAILED, "no such provider", provider="gone")
    rows = list(batchkit.rows([hume, detect, unknown]))
    assert {r["source"] for r in rows} == {hume.source, detect.source, "x.wav"}
    assert rows[-1] == {"source": "x.wav", "status": "FAILED", "error": "no such provider", "kind": None, "name": None,
                        "score": None, "begin": None, "end": None}  # fmt: skip
    assert batchkit.typed([hume], SourcePrediction) == [hume]
    with pytest.raises(batchkit.InputError, match="not a SourcePrediction"):
        batchkit.typed([hume, detect], SourcePrediction)
    assert batchkit.typed([detect], Detect)[0].prediction.label == "fake"
