"""One script, two providers: only configuration (provider name and key) changes."""

from __future__ import annotations

import pytest
from pytest_httpx import HTTPXMock

import batchkit


def pipeline(paths: list[str]) -> list[tuple[str, str]]:
    """A user's script: it never names a provider."""
    with batchkit.connect() as client:
        job = client.wait(client.submit(paths), poll_interval=0.001)
        return [(r.source, r.status.name) for r in client.results(job)]


def test_same_script_runs_on_both_providers(
    httpx_mock: HTTPXMock, monkeypatch: pytest.MonkeyPatch, media, tmp_path
) -> None:
    monkeypatch.chdir(tmp_path)
    path = str(media("call.wav"))

    httpx_mock.add_response(method="POST", url="https://api.hume.ai/v0/batch/jobs", json={"job_id": "h1"})
    httpx_mock.add_response(
        url="https://api.hume.ai/v0/batch/jobs/h1",
        json={"job_id": "h1", "state": {"status": "COMPLETED", "num_predictions": 1, "num_errors": 0}},
    )
    httpx_mock.add_response(
        url="https://api.hume.ai/v0/batch/jobs/h1/predictions",
        json=[{"source": {"type": "file", "filename": "call.wav"}, "results": {"predictions": [], "errors": []}}],
    )
    monkeypatch.setenv("BATCHKIT_PROVIDER", "hume")
    monkeypatch.setenv("HUME_API_KEY", "hk")
    assert pipeline([path]) == [("call.wav", "SUCCEEDED")]

    batch = {"uuid": "r1", "status": "completed", "detect_uuids": ["d1"]}
    httpx_mock.add_response(
        method="POST",
        url="https://app.resemble.ai/api/v2/detect/batch",
        json={"success": True, "item": {**batch, "status": "processing"}},
    )
    httpx_mock.add_response(url="https://app.resemble.ai/api/v2/detect/batch/r1", json={"success": True, "item": batch})
    httpx_mock.add_response(
        url="https://app.resemble.ai/api/v2/detect/d1",
        json={"success": True, "item": {"uuid": "d1", "status": "completed", "filename": "call.wav"}},
    )
    monkeypatch.setenv("BATCHKIT_PROVIDER", "resemble")
    monkeypatch.setenv("RESEMBLE_API_KEY", "rk")
    assert pipeline([path]) == [("call.wav", "SUCCEEDED")]
