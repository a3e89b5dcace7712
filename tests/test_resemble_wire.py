"""Resemble: the exact batch requests, error mapping, status mapping and per-file results."""

from __future__ import annotations

import zipfile
from pathlib import Path

import pytest
from pytest_httpx import HTTPXMock

import batchkit
from batchkit import JobStatus
from batchkit.providers.resemble import to_batch_job
from batchkit.providers.resemble.options import ResembleOptions

from .conftest import RESEMBLE_KEY
from .wire import multipart_parts

BATCH = "https://app.resemble.ai/api/v2/detect/batch"
DETECT = "https://app.resemble.ai/api/v2/detect"


def batch_item(status: str = "processing", **counts: int) -> dict:
    item = {
        "uuid": "BATCH_UUID",
        "status": status,
        "total_files": 3,
        "completed_count": 0,
        "failed_count": 0,
        "created_at": "2024-01-15T10:30:00Z",
        "detect_uuids": ["DETECT_UUID_1", "DETECT_UUID_2", "DETECT_UUID_3"],
    }
    return {"success": True, "item": {**item, **counts}}


def test_create_with_files_sends_repeated_files_parts(make_client, httpx_mock: HTTPXMock, media) -> None:
    httpx_mock.add_response(method="POST", url=BATCH, status_code=202, json=batch_item())
    paths = [media("clip1.mp3", 3000), media("clip2.MP4", 5000), media("clip3.jpg", 700)]
    options = ResembleOptions(intelligence=True, frame_length=2, start_region=1.5, end_region=4)
    job = make_client("resemble").submit(
        paths, callback_url="https://example.com/webhooks/detect-batch", options=options
    )

    assert (job.id, job.status, job.provider_status) == ("BATCH_UUID", JobStatus.RUNNING, "processing")
    assert job.children == ("DETECT_UUID_1", "DETECT_UUID_2", "DETECT_UUID_3")
    assert (job.total_count, job.succeeded_count, job.failed_count) == (3, 0, 0)
    [request] = httpx_mock.get_requests()
    assert request.headers["authorization"] == f"Bearer {RESEMBLE_KEY}"
    assert "prefer" not in request.headers
    parts = multipart_parts(request)
    fields = {name: body.decode() for name, filename, body in parts if filename is None}
    assert fields == {
        "intelligence": "true",
        "visualize": "true",
        "frame_length": "2",
        "start_region": "1.5",
        "end_region": "4",
        "callback_url": "https://example.com/webhooks/detect-batch",
    }
    uploads = [(name, filename, body) for name, filename, body in parts if filename is not None]
    assert [(n, f) for n, f, _ in uploads] == [
        ("files[]", "clip1.mp3"),
        ("files[]", "clip2.MP4"),
        ("files[]", "clip3.jpg"),
    ]
    assert [body for _, _, body in uploads] == [p.read_bytes() for p in paths]


def test_create_with_zip_sends_one_file_part(make_client, httpx_mock: HTTPXMock, tmp_path: Path) -> None:
    httpx_mock.add_response(method="POST", url=BATCH, status_code=202, json=batch_item())
    archive = tmp_path / "batch.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("a/one.wav", b"1")
        zf.writestr("b/two.png", b"2")
        zf.writestr("notes.txt", b"skipped by the server")
    make_client("resemble").submit(zip=archive, options={"visualize": False, "zero_retention_mode": True})
    parts = multipart_parts(httpx_mock.get_requests()[0])
    assert [(n, f) for n, f, _ in parts] == [("visualize", None), ("zero_retention_mode", None), ("file", "batch.zip")]
    assert [b for _, _, b in parts[:2]] == [b"false", b"true"]
    assert parts[2][2] == archive.read_bytes()


def test_get_batch_status(make_client, httpx_mock: HTTPXMock) -> None:
    httpx_mock.add_response(method="GET", url=f"{BATCH}/BATCH_UUID", json=batch_item("completed", completed_count=3))
    job = make_client("resemble").get("BATCH_UUID")
    assert job.status is JobStatus.SUCCEEDED
    assert job.succeeded_count == 3
    assert job.created_at is not None
    assert job.created_at.isoformat() == "2024-01-15T10:30:00+00:00"
    assert httpx_mock.get_requests()[0].headers["authorization"] == f"Bearer {RESEMBLE_KEY}"


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        ("processing", JobStatus.RUNNING),
        ("completed", JobStatus.SUCCEEDED),
        ("partially_failed", JobStatus.PARTIALLY_FAILED),
        ("failed", JobStatus.FAILED),
        ("archived", JobStatus.UNKNOWN),
    ],
)
def test_status_map(make_client, httpx_mock: HTTPXMock, status: str, expected: JobStatus) -> None:
    httpx_mock.add_response(json=batch_item(status))
    job = make_client("resemble").get("BATCH_UUID")
    assert (job.status, job.provider_status) == (expected, status)


def test_callback_payload_parses_like_the_get(httpx_mock: HTTPXMock) -> None:
    payload = batch_item("partially_failed", completed_count=2, failed_count=1)
    job = to_batch_job(payload)
    assert job.status is JobStatus.PARTIALLY_FAILED
    assert (job.succeeded_count, job.failed_count) == (2, 1)
    assert to_batch_job(payload["item"]) == job


AUDIO = {
    "uuid": "DETECT_UUID_1",
    "media_type": "audio",
    "status": "completed",
    "filename": "clip1.mp3",
    "duration": "3.2",
    "metrics": {
        "label": "fake",
        "score": ["0.9", "0.8"],
        "consistency": "0.85",
        "aggregated_score": "0.80",
        "image": "https://x/heat.png",
    },
    "audio_source_tracing": {"label": "elevenlabs", "error_message": None},
    "intelligence": {"uuid": "i", "status": "completed", "description": "synthetic voice"},
    "new_field": [1],
}
VIDEO = {
    "uuid": "DETECT_UUID_2",
    "media_type": "video",
    "status": "completed",
    "filename": "clip2.mp4",
    "metrics": {"label": "real", "score": [0.1]},
    "video_metrics": {"label": "Likely Fake", "score": 0.95, "certainty": 0.93, "children": [{"t": 1}]},
}
FAILED = {"uuid": "DETECT_UUID_3", "status": "failed", "filename": "clip3.jpg", "error_message": "unsupported codec"}


def test_results_fetch_every_detect(make_client, httpx_mock: HTTPXMock) -> None:
    for item in (AUDIO, VIDEO, FAILED):
        httpx_mock.add_response(method="GET", url=f"{DETECT}/{item['uuid']}", json={"success": True, "item": item})
    job = to_batch_job(batch_item("partially_failed"))
    audio, video, failed = make_client("resemble").results(job)

    assert (audio.source, audio.status, audio.error) == ("clip1.mp3", JobStatus.SUCCEEDED, None)
    d = audio.prediction
    assert (d.label, d.score, d.duration, d.metrics.score) == ("fake", 0.8, 3.2, (0.9, 0.8))
    assert d.audio_source_tracing.label == "elevenlabs"
    assert d.intelligence["description"] == "synthetic voice"
    assert d.visualizations == ("https://x/heat.png",)
    assert d.extra == {"new_field": [1]}
    assert (video.prediction.label, video.prediction.score) == ("likely fake", 0.95)
    assert (failed.status, failed.error) == (JobStatus.FAILED, "unsupported codec")
    assert len(httpx_mock.get_requests()) == 3


def test_results_by_id_fetch_the_batch_first(make_client, httpx_mock: HTTPXMock) -> None:
    item = batch_item("completed")
    item["item"]["detect_uuids"] = ["DETECT_UUID_1"]
    httpx_mock.add_response(url=f"{BATCH}/BATCH_UUID", json=item)
    httpx_mock.add_response(url=f"{DETECT}/DETECT_UUID_1", json={"success": True, "item": AUDIO})
    [result] = make_client("resemble").results("BATCH_UUID")
    assert result.prediction.uuid == "DETECT_UUID_1"


def test_a_detect_that_cannot_be_fetched_is_reported_not_fatal(make_client, httpx_mock: HTTPXMock) -> None:
    httpx_mock.add_response(url=f"{DETECT}/DETECT_UUID_1", json={"success": True, "item": AUDIO})
    httpx_mock.add_response(
        url=f"{DETECT}/DETECT_UUID_2", status_code=404, json={"success": False, "message": "Not found"}
    )
    httpx_mock.add_response(url=f"{DETECT}/DETECT_UUID_3", json={"success": True, "item": FAILED})
    results = make_client("resemble").results(to_batch_job(batch_item("partially_failed")))
    assert [r.status for r in results] == [JobStatus.SUCCEEDED, JobStatus.UNKNOWN, JobStatus.FAILED]
    assert "404" in results[1].error


def test_list_is_unsupported(make_client, httpx_mock: HTTPXMock) -> None:
    with pytest.raises(batchkit.UnsupportedError, match="no list of jobs"):
        make_client("resemble").list()


def test_artifacts_are_unsupported(make_client, httpx_mock: HTTPXMock, tmp_path: Path) -> None:
    with pytest.raises(batchkit.UnsupportedError):
        make_client("resemble").download_artifacts("BATCH_UUID", tmp_path)
    assert list(tmp_path.iterdir()) == []


ESTIMATES = {"per_file_estimates": [{"filename": "a.wav", "cost_cents": 12}], "total_estimated_cost_cents": 12}


@pytest.mark.parametrize(
    ("status", "body", "error", "attrs"),
    [
        (400, {"success": False, "message": "Batch exceeds 50 files"}, batchkit.BadRequestError, {}),
        (401, {"success": False, "message": "Unauthorized"}, batchkit.AuthenticationError, {}),
        (
            402,
            {"success": False, "message": "Insufficient balance", "details": ESTIMATES},
            batchkit.InsufficientBalanceError,
            {"per_file_estimates": ESTIMATES["per_file_estimates"], "total_estimated_cost_cents": 12},
        ),
        (
            403,
            {"success": False, "message": "Intelligence limit", "details": {"limit": 10, "used": 9, "requested": 3}},
            batchkit.PermissionDeniedError,
            {"limit": 10, "used": 9, "requested": 3},
        ),
        (404, {"success": False, "message": "Not found"}, batchkit.NotFoundError, {}),
        (422, {"success": False, "error": "bad", "errors": {"file": ["missing"]}}, batchkit.BadRequestError, {}),
    ],
)
def test_create_errors_are_typed(make_client, httpx_mock: HTTPXMock, media, status, body, error, attrs) -> None:
    httpx_mock.add_response(status_code=status, json=body, headers={"x-request-id": "req-7"})
    with pytest.raises(error) as info:
        make_client("resemble").submit([media("a.wav")])
    exc = info.value
    assert exc.status_code == status
    assert exc.message == body.get("message", "bad")
    assert exc.request_id == "req-7"
    for name, value in attrs.items():
        assert getattr(exc, name) == value
    assert len(httpx_mock.get_requests()) == 1


def test_bad_request_is_also_an_input_error(make_client, httpx_mock: HTTPXMock, media) -> None:
    httpx_mock.add_response(status_code=400, json={"success": False, "message": "unsupported file type"})
    with pytest.raises(batchkit.InputError, match="unsupported file type"):
        make_client("resemble").submit([media("a.wav")])


def test_non_json_error_keeps_status_and_snippet(make_client, httpx_mock: HTTPXMock) -> None:
    httpx_mock.add_response(status_code=404, text="<html>Nothing here</html>")
    with pytest.raises(batchkit.NotFoundError, match="Nothing here") as info:
        make_client("resemble").get("x")
    assert info.value.status_code == 404
