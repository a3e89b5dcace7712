"""One verdict row: each detector maps its own results (Resemble, Reality Defender, Hive); Hume's
providers are not detectors; an input answered by several providers gets a combined row; the CLI's
``results --verdicts`` and the report show them."""

from __future__ import annotations

import json
from typing import Any

import attrs
import pytest

import batchkit
from batchkit import FileResult, JobStatus
from batchkit.providers.capabilities import Verdict
from batchkit.providers.hive import to_result as hive_result
from batchkit.providers.reality_defender.wire import to_result as rd_result
from batchkit.providers.resemble.wire import to_file_result as resemble_result
from batchkit.report import render


def rd(status: str, score: float | None = None, **summary: Any) -> FileResult[Any]:
    result = rd_result({"requestId": "r", "originalFileName": "a.wav",
                        "resultsSummary": {"status": status, "metadata": {"finalScore": score, **summary}}})  # fmt: skip
    return result


def hive(ai: float, deepfake: float | None = None, source: str = "a.wav") -> FileResult[Any]:
    classes = [{"class": "ai_generated", "score": ai}] + ([] if deepfake is None else
                                                          [{"class": "deepfake", "score": deepfake}])  # fmt: skip
    task = {"id": "t", "status": [{"status": {"code": "0", "message": "SUCCESS"},
                                   "response": {"output": [{"time": 0, "classes": classes}]}}]}  # fmt: skip
    return hive_result(source, task)


def resemble(label: str, score: float, status: str = "completed") -> FileResult[Any]:
    return resemble_result({"uuid": "u", "status": status, "media_type": "audio", "filename": "a.wav",
                            "metrics": {"label": label, "score": [score], "aggregated_score": score}})  # fmt: skip


def test_each_detector_maps_its_own_results() -> None:
    given = [
        rd("FAKE", 93.4), rd("SUSPICIOUS", 55), rd("AUTHENTIC", 12),
        rd("NOT_APPLICABLE", reasons=[{"code": "relevance", "message": "no faces detected"}]),
        rd("UNABLE_TO_EVALUATE"),
        hive(0.97, 0.1), hive(0.05, 0.8), hive(0.1, 0.2), hive(0.5),
        resemble("fake", 0.9), resemble("real", 0.1), resemble("Likely Fake", 0.6),
    ]  # fmt: skip
    rows = list(batchkit.verdicts(attrs.evolve(r, source=f"{n}.wav") for n, r in enumerate(given)))
    assert [(r["provider"], r["verdict"], r["p_fake"]) for r in rows] == [
        ("reality-defender", "fake", 0.934), ("reality-defender", "uncertain", 0.55),
        ("reality-defender", "real", 0.12), ("reality-defender", "not_applicable", None),
        ("reality-defender", "error", None),
        ("hive", "fake", 0.97), ("hive", "fake", 0.8), ("hive", "real", 0.2), ("hive", "uncertain", 0.5),
        ("resemble", "fake", 0.9), ("resemble", "real", 0.1), ("resemble", "uncertain", 0.6),
    ]  # fmt: skip
    assert rows[3]["reason"] == "NOT_APPLICABLE: relevance: no faces detected"
    assert rows[4]["reason"].startswith("UNABLE_TO_EVALUATE")
    assert rows[-1]["reason"] == "labelled 'likely fake'"
    assert all(list(r) == ["source", "provider", "verdict", "p_fake", "reason"] for r in rows)


def test_failed_inputs_are_errors_and_hume_is_no_detector() -> None:
    failed = FileResult("b.wav", JobStatus.FAILED, error="decoding failed", provider="resemble")
    hume = FileResult("c.wav", JobStatus.SUCCEEDED, provider="hume-expression")
    unknown = FileResult("d.wav", JobStatus.SUCCEEDED, provider="nobody")
    rows = list(batchkit.verdicts([failed, hume, unknown]))
    assert [(r["verdict"], r["reason"]) for r in rows] == [
        ("error", "decoding failed"),
        ("not_applicable", "hume-expression is not a deepfake detector"),
        ("not_applicable", "nobody is not a deepfake detector"),
    ]
    with pytest.raises(ValueError, match="verdict"):
        Verdict("maybe")


def test_an_input_answered_by_several_providers_gets_a_combined_row() -> None:
    given = [hive(0.1, 0.1, "a.wav"), rd("FAKE", 80), hive(0.1, 0.1, "b.wav"), resemble("real", 0.3)]
    given[3] = batchkit.FileResult("b.wav", given[3].status, prediction=given[3].prediction, provider="resemble")
    rows = list(batchkit.verdicts(given))
    assert [(r["source"], r["provider"], r["verdict"], r["p_fake"]) for r in rows] == [
        ("a.wav", "hive", "real", 0.1), ("a.wav", "reality-defender", "fake", 0.8),
        ("a.wav", "ensemble", "fake", 0.8),
        ("b.wav", "hive", "real", 0.1), ("b.wav", "resemble", "real", 0.3), ("b.wav", "ensemble", "real", 0.3),
    ]  # fmt: skip
    assert rows[2]["reason"] == "real at hive, fake at reality-defender"


def test_the_cli_shows_verdicts_and_the_report_has_them(cli, media) -> None:
    submitted = cli("--json", "-p", "resemble", "submit", str(media("a.wav")), str(media("b-fail.wav")), "--wait")
    job_id = json.loads(submitted.stdout)[0]["id"]
    rows = json.loads(cli("-p", "resemble", "results", job_id, "--verdicts", "--format", "json").stdout)
    assert [(r["source"], r["verdict"]) for r in rows][1] == ("b-fail.wav", "error")
    assert rows[0]["verdict"] in ("fake", "real")
    page = render([rd("FAKE", 93.4), hive(0.1)], "t")
    assert "<h2>Verdicts</h2>" in page
    assert "<td>reality-defender</td><td>fake</td><td>0.934</td>" in page
    assert "<h2>Verdicts</h2>" not in render([FileResult("c.wav", JobStatus.SUCCEEDED, provider="hume")], "t")
