"""Callbacks: parsing both providers' payloads, and the example receiver fed by the emulator."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

import batchkit
from batchkit import JobStatus, webhooks
from batchkit.emulator import EMULATOR_KEY

from .conftest import readline_within

DATA = Path(__file__).parent / "data"
EXAMPLES = Path(__file__).parent.parent / "examples"


def test_hume_completed_callback_carries_results() -> None:
    predictions = json.loads((DATA / "hume_predictions.json").read_text())
    callback = webhooks.parse("hume", json.dumps({"job_id": "j", "status": "COMPLETED", "predictions": predictions}))
    assert callback.job.id == "j"
    assert callback.job.status is JobStatus.PARTIALLY_FAILED
    assert callback.results is not None
    assert [r.status for r in callback.results] == [JobStatus.PARTIALLY_FAILED, JobStatus.SUCCEEDED, JobStatus.FAILED]


def test_hume_failed_callback() -> None:
    callback = webhooks.parse("hume", b'{"job_id": "j", "status": "FAILED", "message": "bad media"}')
    assert (callback.job.status, callback.job.message, callback.results) == (JobStatus.FAILED, "bad media", None)


def test_resemble_callback_mirrors_the_batch_get() -> None:
    body = {"success": True, "item": {"uuid": "b", "status": "partially_failed", "total_files": 2, "completed_count": 1,
                                      "failed_count": 1, "detect_uuids": ["d1", "d2"]}}  # fmt: skip
    callback = webhooks.parse("resemble", body)
    assert (callback.job.status, callback.job.children) == (JobStatus.PARTIALLY_FAILED, ("d1", "d2"))


@pytest.mark.parametrize(
    ("provider", "body", "error"),
    [
        ("hume", b"<html>", batchkit.ResponseFormatError),
        ("hume", b"[1, 2]", batchkit.ResponseFormatError),
        ("hume", b'{"status": "COMPLETED"}', batchkit.ResponseFormatError),
        ("resemble", b'{"success": true}', batchkit.ResponseFormatError),
        ("resemble", b'{"item": {"uuid": 5}}', batchkit.ResponseFormatError),
        ("acme", b"{}", batchkit.InputError),
    ],
)
def test_bad_callbacks_are_typed_errors(provider: str, body: bytes, error: type[Exception]) -> None:
    with pytest.raises(error):
        webhooks.parse(provider, body)


@pytest.mark.parametrize("provider", ["hume", "resemble"])
def test_example_receiver_gets_the_emulator_callback(emu, media, provider: str) -> None:
    env = {
        **os.environ,
        "BATCHKIT_BASE_URL": emu.base_url,
        "HUME_API_KEY": EMULATOR_KEY,
        "RESEMBLE_API_KEY": EMULATOR_KEY,
    }
    command = [sys.executable, str(EXAMPLES / "webhook_receiver.py"), "--port", "0"]
    with subprocess.Popen(command, stdout=subprocess.PIPE, text=True, env=env) as receiver:
        try:
            assert receiver.stdout is not None
            url = readline_within(receiver.stdout).split()[-1]
            with emu.connect(provider) as client:
                job = client.submit([media("a.wav")], callback_url=f"{url}/{provider}")
            line = json.loads(readline_within(receiver.stdout))
            assert line == {"provider": provider, "job": job.id, "status": "SUCCEEDED", "confirmed": True}
        finally:
            receiver.terminate()
            receiver.wait(timeout=10)


def test_example_receiver_survives_hostile_posts_and_a_missing_key(emu) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("BATCHKIT_", "HUME_", "RESEMBLE_"))}
    command = [sys.executable, str(EXAMPLES / "webhook_receiver.py"), "--port", "0"]
    with subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=env) as receiver:
        try:
            assert receiver.stdout is not None
            url = readline_within(receiver.stdout).split()[-1]
            deep = b"[" * 100_000 + b"]" * 100_000
            assert httpx.post(f"{url}/hume", content=deep, timeout=10).status_code == 400
            raw = b"POST /hume HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n"
            with socket.create_connection(("127.0.0.1", int(url.rsplit(":", 1)[1])), timeout=10) as sock:
                sock.sendall(raw)
                answer = b""
                while chunk := sock.recv(4096):
                    answer += chunk
                assert answer.startswith(b"HTTP/1.0 411")
            body = {"job_id": "j1", "status": "FAILED", "message": "x"}
            for _ in range(2):
                assert httpx.post(f"{url}/hume", json=body, timeout=10).status_code == 204
        finally:
            receiver.terminate()
            out, _ = receiver.communicate(timeout=10)
    lines = out.splitlines()
    assert lines[0].startswith("cannot confirm hume callbacks")
    assert [json.loads(line)["confirmed"] for line in lines[1:]] == [False, False]
