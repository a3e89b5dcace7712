"""Callbacks into the journal: a Hive async task's result lands in its journaled chunk and the job
ends without polling; a Resemble run's chunk is due at once; forged (unknown id, wrong or missing
nonce), repeated and oversized callbacks change nothing."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

import batchkit
from batchkit import JobStatus
from batchkit._kernel.journal import Journal
from batchkit.callbacks import CallbackReceiver
from batchkit.cli import receiving
from tests.patience import wait_until
from tests.test_hive import receiver  # noqa: F401 - the fixture

HIVE, RESEMBLE = "hive", "resemble"


def nonce(path: str) -> str | None:
    return (parse_qs(urlsplit(path).query).get("batchkit_nonce") or [None])[-1]


def post(app: CallbackReceiver, path: str, body: bytes) -> httpx.Response:
    async def go() -> httpx.Response:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://receiver") as client:
            return await client.post(path, content=body)

    return asyncio.run(go())


@pytest.fixture
def hive_callback(emu, media, receiver, tmp_path: Path) -> tuple[str, Any, str, bytes]:  # noqa: F811
    """A Hive async task journaled in ``j.db``: the journal, the job, the callback's path and body."""
    url, got = receiver
    journal = str(tmp_path / "j.db")
    with emu.connect(HIVE, journal=journal) as client:
        job = client.submit([media("deep-fake.mp4")], callback_url=f"{url}/{HIVE}")
    wait_until(lambda: got, "the emulator never called back")
    path, body = got[0]
    return journal, job, path, json.dumps(body).encode()


def test_a_hive_result_lands_in_the_journal_and_the_job_ends(emu, hive_callback) -> None:
    journal, job, path, body = hive_callback
    app = CallbackReceiver(journal)
    assert app.receive(HIVE, nonce(path), body) == (200, "recorded")
    assert app.receive(HIVE, nonce(path), body) == (200, "already recorded"), "the same callback twice"
    with emu.connect(HIVE, journal=journal) as client:
        done = client.wait(job, timeout=30)
        [result] = client.results(done)
    assert done.status is JobStatus.SUCCEEDED
    assert result.prediction.deepfake == 0.91
    [chunk] = Journal(journal).chunks(done.id)
    assert "batchkit_nonce" not in json.dumps(chunk.reply), "the result is kept without the nonce"


def test_forged_callbacks_are_refused_and_change_nothing(hive_callback, caplog) -> None:
    journal, _, path, body = hive_callback
    app = CallbackReceiver(journal)
    before = Journal(journal)
    [chunk] = before.chunks(before.runs()[0].run.id)
    before.close()
    forged = json.loads(body)
    forged["id"] = "not-a-task-of-ours"
    assert app.receive(HIVE, nonce(path), json.dumps(forged).encode())[0] == 403
    assert app.receive(HIVE, "0" * 32, body)[0] == 403, "the right id with another nonce"
    assert app.receive(HIVE, None, body)[0] == 403
    assert app.receive(RESEMBLE, nonce(path), body)[0] in (400, 403), "another provider's"
    assert app.receive("nobody", nonce(path), body)[0] == 404
    assert app.receive(HIVE, nonce(path), b"{not json")[0] == 400
    after = Journal(journal)
    assert after.chunks(chunk.run) == [chunk]
    assert after.chunks(chunk.run)[0].reply == chunk.reply
    after.close()
    assert "refused" in caplog.text
    assert nonce(path) not in caplog.text


def test_bodies_are_bounded_and_only_posts_are_taken(tmp_path: Path) -> None:
    app = CallbackReceiver(str(tmp_path / "j.db"), max_body=1000)
    assert post(app, "/hive?batchkit_nonce=x", b"x" * 1001).status_code == 413

    async def streamed() -> int:
        async def pieces() -> Any:
            for _ in range(20):
                yield b"x" * 100

        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://r") as client:
            return (await client.post("/hive", content=pieces())).status_code

    assert asyncio.run(streamed()) == 413, "a body without a length is bounded as it is read"

    async def get() -> int:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://r") as client:
            return (await client.get("/hive")).status_code

    assert asyncio.run(get()) == 405
    Journal(str(tmp_path / "j.db")).close()
    refused = post(app, "/callbacks/hive?batchkit_nonce=x", json.dumps({"id": "t", "status": []}).encode())
    assert (refused.status_code, refused.json()["ok"]) == (403, False)


def test_a_resemble_runs_chunk_is_due_at_once(emu, media, tmp_path: Path) -> None:
    journal = str(tmp_path / "j.db")
    slow = batchkit.PollSchedule(initial=3600, factor=1.0, maximum=3600)
    with emu.connect(RESEMBLE, poll=slow) as client:
        group = client.submit_many([media("a.wav")], journal=journal, callback_url="https://hooks.example/resemble")
        run = group.run  # sent; its first check is an hour away
        book = Journal(journal)
        hook = book.run(run).spec["inputs"]["callback_url"]
        assert nonce(hook), "the run's callback_url carries a nonce of its own"
        [chunk] = book.chunks(run)
        assert chunk.state == "sent"
        wait_until(lambda: client.get(chunk.job_id).status.is_terminal, "the emulated batch never ended")
        body = json.dumps({"uuid": chunk.job_id, "status": "completed"}).encode()
        app = CallbackReceiver(journal)
        assert app.receive(RESEMBLE, nonce(hook), body) == (200, "recorded")
        assert app.receive(RESEMBLE, nonce(hook), body) == (200, "already recorded")
        summary = client.work(journal, run=run, until_done=True)
        book.close()
    assert summary.finished == 1, "collected at once, not an hour later"


def test_the_cli_serves_the_receiver(cli, tmp_path: Path, monkeypatch) -> None:
    served: list[Any] = []
    import uvicorn

    monkeypatch.setattr(uvicorn, "run", lambda app, **kw: served.append((app, kw)))
    ran = cli("callbacks", "--journal", str(tmp_path / "j.db"), "--listen", "127.0.0.1:9999")
    assert ran.returncode == 0, ran.stderr
    [(app, settings)] = served
    assert isinstance(app, CallbackReceiver)
    assert settings["port"] == 9999
    assert cli("callbacks", "--journal", "j.db", "--listen", "nowhere").returncode != 0
    assert receiving.callbacks.name == "callbacks"
