"""Resemble behaviour end to end through the emulator, over real sockets, for both clients."""

from __future__ import annotations

import zipfile
from pathlib import Path

import httpx
import pytest

import batchkit
from batchkit import JobStatus
from batchkit.emulator import EMULATOR_KEY


def test_files_batch_completes_with_typed_detects(emulated, emu, media) -> None:
    client = emulated("resemble")
    job = client.submit([media("a.wav"), media("b.mp4"), media("c.png")], options={"intelligence": True})
    assert (job.status, job.total_count, len(job.children)) == (JobStatus.RUNNING, 3, 3)
    done = client.wait(job)
    assert (done.status, done.succeeded_count, done.failed_count) == (JobStatus.SUCCEEDED, 3, 0)
    results = {r.source: r.prediction for r in client.results(done)}
    assert results["a.wav"].metrics is not None
    assert results["b.mp4"].video_metrics is not None
    assert results["c.png"].image_metrics is not None
    for detect in results.values():
        assert detect.label in ("fake", "real")
        assert 0 <= detect.score <= 1
        assert detect.intelligence["status"] == "completed"
        assert detect.visualizations
    assert emu.created("resemble") == 1


def test_predictions_are_deterministic(emulated, emu, media) -> None:
    client = emulated("resemble")
    first = client.results(client.wait(client.submit([media("same.wav")])))
    second = client.results(client.wait(client.submit([media("same.wav")])))
    assert first[0].prediction.score == second[0].prediction.score


def test_zip_batch_flattens_and_skips_non_media(emulated, tmp_path: Path) -> None:
    archive = tmp_path / "batch.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("x/one.wav", b"1")
        zf.writestr("y/z/two.jpg", b"2")
        zf.writestr("readme.txt", b"3")
    client = emulated("resemble")
    job = client.wait(client.submit(zip=archive))
    assert job.total_count == 2
    assert sorted(r.source for r in client.results(job)) == ["one.wav", "two.jpg"]


def test_partially_failed_and_failed(emulated, media) -> None:
    client = emulated("resemble")
    partial = client.wait(client.submit([media("ok.wav"), media("fail.wav")]))
    assert partial.status is JobStatus.PARTIALLY_FAILED
    statuses = sorted(r.status.name for r in client.results(partial))
    assert statuses == ["FAILED", "SUCCEEDED"]
    failed = client.wait(client.submit([media("fail.mp3")]))
    assert failed.status is JobStatus.FAILED


def test_wallet_402_carries_estimates_and_creates_nothing(emulated, emu, media) -> None:
    emu.config.wallet_cents = 30
    client = emulated("resemble")
    with pytest.raises(batchkit.InsufficientBalanceError) as info:
        client.submit([media("a.wav"), media("b.mp4")])
    assert info.value.total_estimated_cost_cents == 35
    assert [e["filename"] for e in info.value.per_file_estimates] == ["a.wav", "b.mp4"]
    assert emu.created("resemble") == 0
    client.submit([media("a.wav")])
    assert emu.config.wallet_cents == 20


def test_intelligence_quota_403(emulated, emu, media) -> None:
    emu.config.intelligence_limit = 2
    client = emulated("resemble")
    client.submit([media("a.wav")], options={"intelligence": True})
    with pytest.raises(batchkit.PermissionDeniedError) as info:
        client.submit([media("b.wav"), media("c.wav")], options={"intelligence": True})
    assert (info.value.limit, info.value.used, info.value.requested) == (2, 1, 2)


def test_unknown_batch_is_not_found(emulated) -> None:
    with pytest.raises(batchkit.NotFoundError, match="Batch not found"):
        emulated("resemble").get("nope")


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (lambda p: {"files": [("files[]", ("a.wav", b"1"))], "headers": {"Prefer": "wait"}}, "Prefer: wait"),
        (lambda p: {"data": {"visualize": "true"}, "files": {}}, "Missing files"),
        (lambda p: {"files": [("files[]", ("a.wav", b"1")), ("file", ("b.zip", b"PK"))]}, "not both"),
        (lambda p: {"files": [("files[]", (f"{i}.wav", b"1")) for i in range(51)]}, "exceeds 50"),
        (lambda p: {"files": [("files[]", ("a.txt", b"1"))]}, "Unsupported file type"),
        (lambda p: {"files": [("files[]", ("a.wav", b"1"))], "data": {"frame_length": "9"}}, "frame_length"),
        (lambda p: {"files": [("file", ("b.zip", b"not a zip"))]}, "not a valid zip"),
    ],
)
def test_server_side_400_rules(emu, build, message) -> None:
    kwargs = build(None)
    headers = {"Authorization": f"Bearer {EMULATOR_KEY}", **kwargs.pop("headers", {})}
    if not kwargs.get("files"):
        kwargs["files"] = None
        kwargs["headers"] = {**headers, "content-type": "multipart/form-data; boundary=x"}
        kwargs["content"] = b'--x\r\nContent-Disposition: form-data; name="visualize"\r\n\r\ntrue\r\n--x--\r\n'
        kwargs.pop("data", None)
    else:
        kwargs["headers"] = headers
    reply = httpx.post(f"{emu.base_url}/api/v2/detect/batch", **kwargs)
    assert reply.status_code == 400
    assert message in reply.json()["message"]
    assert emu.created("resemble") == 0


def test_zero_retention_redacts(emulated, media) -> None:
    client = emulated("resemble")
    [result] = client.results(client.wait(client.submit([media("secret.wav")], options={"zero_retention_mode": True})))
    assert result.source.startswith("redacted_")
    assert result.prediction.url is None
