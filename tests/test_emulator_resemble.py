"""Resemble behaviour end to end through the emulator, over real sockets, for both clients."""

from __future__ import annotations

import re
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
    results = {Path(r.source).name: r.prediction for r in client.results(done)}
    assert results["a.wav"].metrics is not None
    assert results["b.mp4"].video_metrics is not None
    assert results["c.png"].image_metrics is not None
    for detect in results.values():
        assert detect.label in ("fake", "real")
        assert 0 <= detect.score <= 1
        assert detect.intelligence["detect_uuid"] == detect.uuid
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


DETECT_FIELDS = {"uuid", "media_type", "status", "filename", "url", "audio_url", "duration", "metrics", "image_metrics",
                 "video_metrics", "intelligence", "zero_retention_mode", "media_redacted", "media_deleted",
                 "file_deleted_at", "visualize", "audio_source_tracing_enabled", "use_ood_detector", "extra_params",
                 "created_at", "updated_at"}  # fmt: skip


def raw(emu, method: str, path: str, auth: str = "Bearer k", **kwargs):
    return httpx.request(method, f"{emu.base_url}{path}", headers={"authorization": auth, **kwargs.pop("headers", {})},
                         timeout=10, **kwargs)  # fmt: skip


def test_both_auth_schemes_are_accepted_and_others_refused(emu) -> None:
    assert raw(emu, "GET", "/api/v2/detect?page=1", auth="Token token=k").status_code == 200
    assert raw(emu, "GET", "/api/v2/detect?page=1", auth="Bearer k").status_code == 200
    for auth in ("Basic k", "k", "Token k", "Token token="):
        denied = raw(emu, "GET", "/api/v2/detect?page=1", auth=auth)
        assert (denied.status_code, denied.json()) == (401, {"success": False, "message": "Unauthorized"})


def test_detect_items_carry_every_documented_field(emulated, emu, media) -> None:
    client = emulated("resemble")
    options = {"intelligence": True, "audio_source_tracing_enabled": True}
    job = client.wait(client.submit([media("a.wav"), media("b.mp4"), media("c.png"), media("fail.wav")],
                                    options=options))  # fmt: skip
    items = {Path(r.source).name: r.raw for r in client.results(job)}
    for name, item in items.items():
        assert set(item) >= DETECT_FIELDS, name
    assert items["fail.wav"]["error_message"]
    assert set(items["a.wav"]["intelligence"]) == {"uuid", "description", "created_at", "detect_uuid"}
    assert items["c.png"]["image_metrics"]["label"] in ("Fake", "Real")
    assert all(isinstance(s, str) for s in items["a.wav"]["metrics"]["score"])
    fake_audio = [
        i for i in items.values() if i["media_type"] == "audio" and (i["metrics"] or {}).get("label") == "fake"
    ]
    assert all(i["audio_source_tracing"]["label"] for i in fake_audio)
    real_audio = [
        i for i in items.values() if i["media_type"] == "audio" and (i["metrics"] or {}).get("label") == "real"
    ]
    assert all("audio_source_tracing" not in i for i in real_audio)


def test_zero_retention_redacts_names_and_urls(emulated, emu, media) -> None:
    client = emulated("resemble")
    job = client.wait(client.submit([media("secret.wav")], options={"zero_retention_mode": True}))
    [result] = client.results(job)
    assert re.fullmatch(r"redacted_[0-9a-f]{32}\.wav", result.raw["filename"])
    assert (result.raw["url"], result.raw["audio_url"], result.raw["media_redacted"]) == (None, None, True)


def test_single_detects_and_the_detect_list(emu, media) -> None:
    made = raw(emu, "POST", "/api/v2/detect", files={"file": ("one.wav", b"x" * 100)})
    assert made.status_code == 200
    first = made.json()["item"]["uuid"]
    by_url = raw(emu, "POST", "/api/v2/detect", json={"url": "https://example.com/two.mp4", "visualize": False},
                 headers={"prefer": "wait"})  # fmt: skip
    assert by_url.json()["item"]["status"] == "completed"
    assert by_url.json()["item"]["filename"] == "two.mp4"
    assert raw(emu, "GET", f"/api/v2/detect/{first}").json()["item"]["filename"] == "one.wav"
    for _ in range(10):
        raw(emu, "POST", "/api/v2/detect", files={"file": ("more.wav", b"x")})
    page = raw(emu, "GET", "/api/v2/detect?page=1&page_size=10").json()
    assert (page["page"], page["num_pages"], page["page_size"], page["total_count"]) == (1, 2, 10, 12)
    second = raw(emu, "GET", "/api/v2/detect?page=2&page_size=10").json()["items"]
    assert [i["uuid"] for i in second] == [by_url.json()["item"]["uuid"], first], "newest first"
    assert raw(emu, "GET", "/api/v2/detect").status_code == 400
    assert raw(emu, "GET", "/api/v2/detect?page=1&page_size=5").status_code == 400
    assert raw(emu, "POST", "/api/v2/detect", json={"url": "file:///etc/passwd"}).status_code == 400
    assert emu.created("resemble") == 12
    unknown = raw(emu, "GET", "/api/v3/nothing")
    assert (unknown.status_code, unknown.json()["success"]) == (404, False)


def test_results_of_an_unfinished_batch_are_a_typed_error(emulated, emu, media) -> None:
    emu.config.run_seconds = 60
    client = emulated("resemble")
    job = client.submit([media("a.wav")])
    for ref in (job, job.id):
        with pytest.raises(batchkit.JobNotFinishedError, match="has not finished"):
            client.results(ref)
