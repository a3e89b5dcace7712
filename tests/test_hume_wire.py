"""Hume: the exact requests batchkit sends for every endpoint, and how replies are read."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from pytest_httpx import HTTPXMock

import batchkit
from batchkit import JobStatus
from batchkit.providers.hume.options import Face, HumeOptions, Models, Prosody, Transcription, Window

from .conftest import HUME_KEY
from .wire import multipart_parts

DATA = Path(__file__).parent / "data"
JOBS = "https://api.hume.ai/v0/batch/jobs"
LIST_REPLY = json.loads((DATA / "hume_list_jobs.json").read_text())
JOB = LIST_REPLY[0]


def test_start_job_from_urls_sends_json_body(make_client, httpx_mock: HTTPXMock) -> None:
    httpx_mock.add_response(method="POST", url=JOBS, json={"job_id": "j-1"})
    client = make_client("hume")
    options = HumeOptions(
        models=Models(face=Face(fps_pred=2, facs=True), prosody=Prosody(granularity="word", window=Window(4, 1))),
        transcription=Transcription(language="en"),
        notify=False,
    )
    job = client.submit(
        urls=["https://example.com/a.mp4"], text="hello", callback_url="https://cb.example/x", options=options
    )

    assert (job.id, job.status, job.provider) == ("j-1", JobStatus.QUEUED, "hume")
    [request] = httpx_mock.get_requests()
    assert request.headers["x-hume-api-key"] == HUME_KEY
    assert request.headers["content-type"] == "application/json"
    assert json.loads(request.content) == {
        "models": {
            "face": {"fps_pred": 2, "facs": {}},
            "prosody": {"granularity": "word", "window": {"length": 4, "step": 1}},
        },
        "transcription": {"language": "en"},
        "notify": False,
        "urls": ["https://example.com/a.mp4"],
        "text": ["hello"],
        "callback_url": "https://cb.example/x",
    }


def test_start_job_from_local_files_sends_multipart(make_client, httpx_mock: HTTPXMock, media) -> None:
    httpx_mock.add_response(method="POST", url=JOBS, json={"job_id": "j-2"})
    a, b = media("face.jpg", 1000), media("dir/call.wav", 70_000)
    client = make_client("hume")
    job = client.submit([a, str(b)], options={"models": {"language": {"sentiment": True}}})

    assert job.id == "j-2"
    [request] = httpx_mock.get_requests()
    assert request.headers["x-hume-api-key"] == HUME_KEY
    assert int(request.headers["content-length"]) == len(request.read())
    parts = multipart_parts(request)
    assert [(name, filename) for name, filename, _ in parts] == [
        ("json", None),
        ("file", "face.jpg"),
        ("file", "call.wav"),
    ]
    assert json.loads(parts[0][2]) == {"models": {"language": {"sentiment": {}}}}
    assert parts[1][2] == a.read_bytes()
    assert parts[2][2] == b.read_bytes()


def test_local_files_without_config_send_no_json_part(make_client, httpx_mock: HTTPXMock, media) -> None:
    httpx_mock.add_response(method="POST", url=JOBS, json={"job_id": "j-3"})
    make_client("hume").submit(zip=media("batch.zip", 10))
    parts = multipart_parts(httpx_mock.get_requests()[0])
    assert [(n, f) for n, f, _ in parts] == [("file", "batch.zip")]


def test_transcription_none_sends_explicit_null_and_not_given_sends_nothing(make_client, httpx_mock: HTTPXMock) -> None:
    httpx_mock.add_response(method="POST", url=JOBS, json={"job_id": "j"})
    httpx_mock.add_response(json={"job_id": "j2"})
    httpx_mock.add_response(json={"job_id": "j3"})
    client = make_client("hume")
    client.submit(text=["x"], options=HumeOptions(transcription=None))
    client.submit(text=["x"], options={"transcription": None})
    client.submit(text=["x"], options=HumeOptions())
    sent = [json.loads(r.content) for r in httpx_mock.get_requests()]
    assert sent == [{"transcription": None, "text": ["x"]}] * 2 + [{"text": ["x"]}]


def test_list_jobs_sends_filters_and_parses_documented_reply(make_client, httpx_mock: HTTPXMock) -> None:
    httpx_mock.add_response(method="GET", json=LIST_REPLY)
    jobs = list(make_client("hume").list(
        limit=10,
        status=[JobStatus.RUNNING, JobStatus.SUCCEEDED],
        when="created_before",
        timestamp_ms=1712587158717,
        sort_by="created",
        direction="asc",
    ))
    [request] = httpx_mock.get_requests()
    assert request.method == "GET"
    assert request.url.path == "/v0/batch/jobs"
    assert request.url.params.multi_items() == [
        ("limit", "10"),
        ("status", "COMPLETED"),
        ("status", "IN_PROGRESS"),
        ("when", "created_before"),
        ("timestamp_ms", "1712587158717"),
        ("sort_by", "created"),
        ("direction", "asc"),
    ]
    [job] = jobs
    assert job.id == "job_id"
    assert job.status is JobStatus.SUCCEEDED
    assert job.provider_status == "COMPLETED"
    assert (job.total_count, job.succeeded_count, job.failed_count) == (10, 10, 0)
    assert job.created_at is not None
    assert job.created_at.year == 2024
    assert job.raw == JOB


def test_list_default_sends_only_limit(make_client, httpx_mock: HTTPXMock) -> None:
    httpx_mock.add_response(url=f"{JOBS}?limit=50", json=[])
    assert list(make_client("hume").list()) == []


def test_list_keeps_only_the_asked_normalised_status(make_client, httpx_mock: HTTPXMock) -> None:
    partial = {**JOB, "job_id": "p", "state": {**JOB["state"], "num_errors": 2, "num_predictions": 8}}
    httpx_mock.add_response(json=[JOB, partial])
    jobs = list(make_client("hume").list(status=JobStatus.PARTIALLY_FAILED))
    assert [j.id for j in jobs] == ["p"]
    assert httpx_mock.get_requests()[0].url.params.get_list("status") == ["COMPLETED"]


def test_get_job_details(make_client, httpx_mock: HTTPXMock) -> None:
    httpx_mock.add_response(method="GET", url=f"{JOBS}/job_id", json=JOB)
    job = make_client("hume").get("job_id")
    assert job.status is JobStatus.SUCCEEDED
    assert httpx_mock.get_requests()[0].headers["x-hume-api-key"] == HUME_KEY


def test_predictions_become_typed_file_results(make_client, httpx_mock: HTTPXMock) -> None:
    body = json.loads((DATA / "hume_predictions.json").read_text())
    httpx_mock.add_response(method="GET", url=f"{JOBS}/job_id/predictions", json=body)
    request = {"urls": ["https://hume-tutorials.s3.amazonaws.com/faces.zip"], "files": [{"filename": "call.wav"}]}
    state = {"status": "COMPLETED", "num_predictions": 2, "num_errors": 1}
    httpx_mock.add_response(method="GET", url=f"{JOBS}/job_id", json={"job_id": "job_id", "state": state,
                                                                       "request": request})  # fmt: skip
    url_result, file_result, text_result = make_client("hume").results("job_id")

    assert url_result.source == "https://hume-tutorials.s3.amazonaws.com/faces.zip"
    assert url_result.status is JobStatus.PARTIALLY_FAILED
    assert url_result.error == "faces/broken.jpg: unreadable image"
    face = url_result.prediction.results.predictions[0].models.face.grouped_predictions[0].predictions[0]
    assert face.emotions[0].name == "Joy"
    assert face.emotions[0].score == pytest.approx(0.61)
    assert face.box.w == pytest.approx(1401.6)
    assert face.extra == {"new_field": 1}

    assert file_result.source == "call.wav"
    assert file_result.status is JobStatus.SUCCEEDED
    models = file_result.prediction.results.predictions[0].models
    assert models.prosody.grouped_predictions[0].predictions[0].confidence == pytest.approx(0.93)
    assert models.prosody.metadata == {"confidence": 0.9, "detected_language": "en"}
    assert models.burst.grouped_predictions[0].predictions[0].descriptions[0].name == "Haha"
    assert models.language.grouped_predictions[0].predictions[0].sentiment[0].name == "5"
    assert models.ner.grouped_predictions[0].predictions[0].entity == "Paris"
    assert models.facemesh.grouped_predictions == ()
    assert models.extra == {"future_model": {"x": 1}}

    assert (text_result.source, text_result.status) == ("text[0]", JobStatus.FAILED)
    assert text_result.error == "text could not be processed"


def test_artifacts_stream_to_dest_and_extract(make_client, httpx_mock: HTTPXMock, tmp_path: Path) -> None:
    import io
    import zipfile

    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("face/predictions.csv", "a,b\n1,2\n")
    httpx_mock.add_response(method="GET", url=f"{JOBS}/job_id/artifacts", content=buf.getvalue())
    client = make_client("hume")
    out = client.download_artifacts("job_id", tmp_path / "out", extract=True)
    assert out == tmp_path / "out" / "job_id"
    assert (out / "face" / "predictions.csv").read_text() == "a,b\n1,2\n"
    assert (tmp_path / "out" / "job_id-artifacts.zip").read_bytes() == buf.getvalue()
    assert [p.name for p in (tmp_path / "out").iterdir() if p.name.endswith(".part")] == []


@pytest.mark.parametrize(
    ("state", "expected"),
    [
        ({"status": "QUEUED"}, JobStatus.QUEUED),
        ({"status": "IN_PROGRESS"}, JobStatus.RUNNING),
        ({"status": "COMPLETED", "num_predictions": 3, "num_errors": 0}, JobStatus.SUCCEEDED),
        ({"status": "COMPLETED", "num_predictions": 3, "num_errors": 1}, JobStatus.PARTIALLY_FAILED),
        ({"status": "COMPLETED", "num_predictions": 0, "num_errors": 4}, JobStatus.FAILED),
        ({"status": "FAILED", "message": "bad media"}, JobStatus.FAILED),
        ({"status": "PAUSED"}, JobStatus.UNKNOWN),
    ],
)
def test_status_map(make_client, httpx_mock: HTTPXMock, state: dict, expected: JobStatus) -> None:
    httpx_mock.add_response(json={"job_id": "j", "state": {"created_timestamp_ms": 1, **state}})
    job = make_client("hume").get("j")
    assert job.status is expected
    assert job.provider_status == state["status"]
    assert job.message == state.get("message")
    assert job.status.is_terminal is (expected not in (JobStatus.QUEUED, JobStatus.RUNNING, JobStatus.UNKNOWN))


def test_lenient_job_parsing_keeps_unknown_fields(make_client, httpx_mock: HTTPXMock) -> None:
    reply = {"job_id": "j", "user_id": "u", "request": {"urls": None, "models": None}, "state": {"status": "QUEUED"}}
    httpx_mock.add_response(json=reply)
    job = make_client("hume").get("j")
    assert job.status is JobStatus.QUEUED
    assert job.raw["user_id"] == "u"


@pytest.mark.parametrize(
    ("body", "content_type"),
    [(b"<html>oops</html>", "text/html"), (b'{"job_id": 5}', "application/json"), (b"[1]", "application/json")],
)
def test_unreadable_replies_are_response_format_errors(make_client, httpx_mock: HTTPXMock, body, content_type) -> None:
    httpx_mock.add_response(content=body, headers={"content-type": content_type})
    with pytest.raises(batchkit.ResponseFormatError):
        make_client("hume").get("j")


def test_connection_to_hume_uses_base_url_override(make_client, httpx_mock: HTTPXMock) -> None:
    httpx_mock.add_response(
        url="http://127.0.0.1:9/v0/batch/jobs/j", json={"job_id": "j", "state": {"status": "QUEUED"}}
    )
    assert make_client("hume", base_url="http://127.0.0.1:9/").get("j").id == "j"


def test_hume_option_that_does_not_exist_is_input_error(make_client, httpx_mock: HTTPXMock) -> None:
    client = make_client("hume")
    with pytest.raises(batchkit.InputError, match="colour"):
        client.submit(urls=["https://e.x/a.mp4"], options={"models": {"face": {"colour": True}}})
    with pytest.raises(batchkit.InputError, match="granularity"):
        client.submit(urls=["https://e.x/a.mp4"], options={"models": {"prosody": {"granularity": "paragraph"}}})
    assert httpx_mock.get_requests() == []
