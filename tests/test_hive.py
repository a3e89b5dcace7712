"""The hive provider against its emulator fake: sync tasks of files (streamed as ``media``), urls and
text; per-task errors (2xxx sent again, 3xxx final); the project's 429 honoured; async tasks whose
results arrive by callback (with batchkit's nonce); inputs checked before anything is sent."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

import batchkit
from batchkit import AmbiguousSubmissionError, InputError, JobStatus, webhooks
from batchkit.emulator import FaultKind
from batchkit.providers.hive import HiveProvider, Task
from batchkit.providers.hive.wire import failure, is_ack, task_id, to_task
from tests.patience import wait_until

HIVE = "hive"


@pytest.fixture(autouse=True)
def _quick_resends(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("batchkit.providers.hive.RETRY_SECONDS", 0.0)


def test_files_urls_and_text_are_one_task_each(emulated, emu, media) -> None:
    client = emulated(HIVE)
    fake, plain = media("ai-fake.png", size=3000), media("clip.mp4", size=500)
    job = client.submit([fake, plain], urls=["https://media.example/v/cat.jpg?X-Amz-Signature=s"], text="a caption")
    assert job.status is JobStatus.SUCCEEDED
    results = client.results(job)
    assert [r.source for r in results] == [str(fake), str(plain), "https://media.example/v/cat.jpg", "text[0]"]
    assert all(r.status is JobStatus.SUCCEEDED and isinstance(r.prediction, Task) for r in results)
    first, video = results[0].prediction, results[1].prediction
    assert (first.ai_generated, first.deepfake, first.media_type, len(first.frames)) == (0.97, 0.91, "PHOTO", 1)
    assert video.media_type == "VIDEO"
    assert len(video.frames) == emu.config.frames
    assert video.ai_generated < 0.2
    posts = [r for r in emu.requests if r.path == "/api/v2/task/sync"]
    assert len(posts) == 4
    assert emu.created(HIVE) == 4
    parts = sorted(sorted(p[0] for p in r.parts) for r in posts)
    assert parts == [["media", "metadata"], ["media", "metadata"], ["metadata", "text_data"], ["metadata", "url"]]
    assert any(("media", "ai-fake.png", 3000) in r.parts for r in posts), "the file went as the multipart media part"
    assert "X-Amz-Signature" not in json.dumps([dict(r.raw) for r in results])
    rows = list(batchkit.rows(results[:1]))
    assert [(r["kind"], r["name"], r["score"]) for r in rows[:2]] == [("verdict", "ai_generated", 0.97),
                                                                      ("verdict", "deepfake", 0.91)]  # fmt: skip


def test_a_download_error_is_sent_again_and_a_classifier_error_is_final(emulated, emu, media) -> None:
    client = emulated(HIVE)
    job = client.submit([media("flaky.png"), media("broken-fail.png")])
    [flaky, broken] = client.results(job)
    assert job.status is JobStatus.PARTIALLY_FAILED
    assert flaky.status is JobStatus.SUCCEEDED
    assert (broken.status, broken.error) == (JobStatus.FAILED, "hive task error 3000 CLASSIFIER_ERROR")
    assert emu.created(HIVE) == 3, "the download error was sent once more, the classifier error never"


def test_fail_names_one_provider_or_every_provider(emu) -> None:
    state = emu.state
    assert state.failing("clip-fail-hive.png", "hive")
    assert not state.failing("clip-fail-hive.png", "resemble")
    assert not state.failing("clip-fail-reality-defender.wav", "hive")
    assert state.failing("clip-fail-reality-defender.wav", "reality-defender")
    assert state.failing("clip-fail-hume-expression.wav", "hume-expression")
    assert not state.failing("clip-fail-hume-expression.wav", "hume")
    assert state.failing("fail.wav", "hive")
    assert state.failing("fail.wav", "resemble")
    assert state.failing("fail-resemble-fail.wav", "hive"), "a marker of its own fails everywhere"


def test_the_projects_rate_limit_is_honoured(emulated, emu, media) -> None:
    emu.fakes[HIVE].rate_limited = 2
    client = emulated(HIVE)
    job = client.submit([media("a.png")])
    assert job.status is JobStatus.SUCCEEDED
    statuses = [r.status for r in emu.requests if r.path == "/api/v2/task/sync"]
    assert statuses == [429, 429, 200]
    assert emu.created(HIVE) == 1


def test_a_server_error_to_a_task_is_never_sent_again(emulated, emu, media) -> None:
    emu.faults.add("POST /api/v2/task/sync", FaultKind.STATUS, status=503)
    client = emulated(HIVE)
    with pytest.raises(AmbiguousSubmissionError, match="the task may have run"):
        client.submit([media("a.png")])
    assert len([r for r in emu.requests if r.path == "/api/v2/task/sync"]) == 1


@pytest.fixture
def receiver() -> Iterator[tuple[str, list[tuple[str, Any]]]]:
    """A callback receiver on 127.0.0.1: the base URL, and each POST's path and JSON body."""
    got: list[tuple[str, Any]] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("content-length") or 0))
            got.append((self.path, json.loads(body)))
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", got
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def test_async_tasks_are_running_until_their_callback_brings_the_result(emu, media, receiver, tmp_path) -> None:
    url, got = receiver
    with emu.connect(HIVE, journal=str(tmp_path / "j.db")) as client:
        job = client.submit([media("deep-fake.mp4")], callback_url=f"{url}/hooks/hive?team=7")
        assert job.status is JobStatus.RUNNING, "acknowledged, not answered"
        with pytest.raises(batchkit.JobNotFinishedError):
            client.results(job)
        wait_until(lambda: got, "the emulator never called back")
    assert [r.path for r in emu.requests if r.method == "POST"] == ["/api/v2/task/async"]
    path, body = got[0]
    assert path.startswith("/hooks/hive?team=7&batchkit_nonce=")
    assert len(path.rsplit("=", 1)[1]) == 32
    callback = webhooks.parse(HIVE, body)
    [result] = callback.results
    assert callback.job.status is JobStatus.SUCCEEDED
    assert result.prediction.deepfake == 0.91
    assert "batchkit_nonce" not in json.dumps(dict(result.raw)), "the nonce is not kept with the result"


def test_inputs_are_checked_before_anything_is_sent(emu, media) -> None:
    cases = {
        "extension '.pdf' is not accepted": {"files": [media("a.pdf")]},
        "the file is empty": {"files": [media("a.png", content=b"")]},
        "each url must be an http": {"urls": ["ftp://example.com/a.png"]},
        "each text must be 1 to": {"text": ["  "]},
        "nothing to submit": {},
        "no zip or options": {"zip": media("a.zip")},
        "callback_url must be an http": {"files": [media("b.png")], "callback_url": "nope"},
    }
    with emu.connect(HIVE) as client:
        for says, given in cases.items():
            with pytest.raises(InputError, match=says):
                client.submit(given.pop("files", None), **given)
    assert emu.requests == []


def test_the_wire_reads_every_known_shape() -> None:
    assert HiveProvider.auth_headers("k") == {"Authorization": "token k"}
    for ack in ({"task_id": "t"}, {"id": "t", "status": []}, {"status": [{"task_id": "t"}]}):
        assert is_ack(ack)
        assert task_id(ack) == "t"
    legacy = {"id": "t", "status": [{"status": {"code": "0", "message": "SUCCESS"}, "response": {"output": [
        {"time": 0, "bounding_poly": [{"classes": [{"class": "yes_deepfake", "score": 0.8}]},
                                      {"classes": [{"class": "yes_deepfake", "score": 0.95}]}]}]}}]}  # fmt: skip
    assert not is_ack(legacy)
    assert failure(legacy) is None
    assert to_task(legacy).deepfake == 0.95, "the legacy face model's highest face"
    failed = {"id": "t", "status": [{"status": {"code": "2100", "message": "HTTP_ERROR"}, "response": {}}]}
    assert (failure(failed).code, failure(failed).retryable) == (2100, True)
    assert failure({"id": "t", "error_code": 3100, "status": []}).retryable is False


def test_a_url_on_this_machine_is_downloaded_and_its_errors_are_download_errors(emulated, emu, receiver) -> None:
    url, _got = receiver  # answers a POST only: a GET is an HTTP error
    client = emulated(HIVE)
    job = client.submit(urls=[f"{url}/clip.mp4", "http://127.0.0.1:9/gone.png"])
    [http_error, refused] = client.results(job)
    assert (http_error.status, http_error.error) == (JobStatus.FAILED, "hive task error 2100 HTTP_ERROR")
    assert refused.error == "hive task error 2203 HTTP_CONNECTION_ERROR_ECONNREFUSED"
    assert emu.created(HIVE) == 6, "each download error was sent three times in all"
