"""A per-item provider with a presign step (tests/plugin/acme_presign), added with no edit to batchkit:
it asks for an upload slot, PUTs the bytes to the presigned URL it gets, and each item is polled. The
item's id is journaled before any byte goes, so an interrupted upload is found by it, never sent twice;
the URL's signature is never logged nor journaled."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

import batchkit
from batchkit import JobStatus, providers
from batchkit._kernel.journal import Chunk, ChunkState, Journal
from batchkit.emulator import Emulator, EmulatorConfig, serve
from tests.test_workers import stored_bytes

FAST_POLL = batchkit.PollSchedule(initial=0.01, factor=1.0, maximum=0.01)


class Crash(BaseException):
    """A process dying (not an error anything catches)."""


@pytest.fixture
def emu(monkeypatch: pytest.MonkeyPatch) -> Iterator[Emulator]:
    """The provider registered from the test tree, and an emulator made after it (so it mounts its fake)."""
    monkeypatch.syspath_prepend(str(Path(__file__).parent / "plugin"))
    monkeypatch.setattr(providers, "_registered", dict(providers._registered))
    from acme_presign import PresignProvider

    providers.register(PresignProvider, fake="acme_presign.fake:PresignFake")
    with serve(config=EmulatorConfig(queue_seconds=0.01, run_seconds=0.05)) as served:
        yield served


def test_submit_wait_results_on_both_clients(emu: Emulator, media, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="batchkit")
    caplog.set_level(logging.INFO, logger="httpx")  # httpx logs each request's URL at INFO
    with emu.connect("acme-presign", poll=FAST_POLL) as client:
        job = client.wait(client.submit([media("a.wav")]), timeout=30)
        assert job.status is JobStatus.SUCCEEDED
        [result] = client.results(job)
        assert (result.source, result.prediction) == (str(media("a.wav")), {"verdict": "clean", "score": 0.25})

    async def go() -> list[batchkit.FileResult]:
        async with emu.connect_async("acme-presign", poll=FAST_POLL) as client:
            return await client.results(await client.wait(await client.submit([media("b.wav")]), timeout=30))

    assert [r.source for r in asyncio.run(go())] == [str(media("b.wav"))]
    puts = [r for r in emu.requests if r.method == "PUT"]
    assert len(puts) == 2
    assert all("signature=" in r.query for r in puts)
    assert "signature" not in caplog.text, "a presigned URL's signature was logged"
    assert "HTTP Request: PUT " in caplog.text, "the PUT is still logged"
    assert "/presign/v1/blobs/" in caplog.text, "the PUT is logged with its path"


def test_submit_many_makes_one_item_a_file(emu: Emulator, media, tmp_path: Path) -> None:
    with emu.connect("acme-presign", poll=FAST_POLL) as client:
        group = client.submit_many([media(f"{n}.wav") for n in range(3)], journal=tmp_path / "j.db", wait=True)
        assert group.status is JobStatus.SUCCEEDED
        assert [r.source for r in client.results(group)] == ["0.wav", "1.wav", "2.wav"]
    assert emu.created("acme-presign") == 3


def crash_after_the_bytes_went(client: batchkit.Client, journal: str, run: str, monkeypatch: pytest.MonkeyPatch,
                                before_the_bytes: str = "") -> list[Chunk]:  # fmt: skip
    """Work ``run`` until the process dies once the first chunk's bytes went, before its outcome was
    written (``before_the_bytes``: once the journal's step of that name was done, before a byte went);
    that run's chunks as the journal then holds them."""
    step = before_the_bytes or "sent"
    kept = getattr(Journal, step)

    def crash(self: Journal, *args: object, **kwargs: object) -> None:
        if before_the_bytes:
            kept(self, *args, **kwargs)
        raise Crash

    monkeypatch.setattr(Journal, step, crash)
    with pytest.raises(Crash):
        client.work(journal, until_done=True, concurrency=1)
    monkeypatch.setattr(Journal, step, kept)
    book = Journal(journal)
    try:
        return book.chunks(run)
    finally:
        book.close()


def test_an_interrupted_upload_is_found_by_the_id_journaled_at_intent(emu: Emulator, media, tmp_path: Path,
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:  # fmt: skip
    journal = str(tmp_path / "j.db")
    with emu.connect("acme-presign", poll=FAST_POLL) as client:
        run = client.enqueue([media("a.wav"), media("b.wav")], journal=journal)
        [first, second] = crash_after_the_bytes_went(client, journal, run, monkeypatch)
        assert (first.state, second.state) == (ChunkState.SENDING, ChunkState.PLANNED)
        assert first.job_id, "the item's id was journaled before its bytes went"
        summary = client.work(journal, until_done=True)
    assert (summary.adopted, summary.sent, summary.finished) == (1, 1, 2)
    assert emu.created("acme-presign") == 2, "no second slot for the interrupted upload"
    assert [r.status for r in batchkit.runs.results(journal, run)] == [JobStatus.SUCCEEDED] * 2
    assert b"signature" not in stored_bytes(journal)


def test_an_upload_that_never_arrived_is_sent_again_once_the_settle_window_has_passed(
        emu: Emulator, media, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:  # fmt: skip
    journal = str(tmp_path / "j.db")
    with emu.connect("acme-presign", poll=FAST_POLL) as client:
        run = client.enqueue([media("a.wav"), media("b.wav")], journal=journal)
        # its slot asked for, nothing PUT
        [first, _] = crash_after_the_bytes_went(client, journal, run, monkeypatch, before_the_bytes="identified")
        assert first.state == ChunkState.SENDING
        assert first.job_id
        assert first.intent_ms
        assert puts(emu) == 0
        crashed, since_intent = time.monotonic(), time.time() - first.intent_ms / 1000
        summary = client.work(journal, until_done=True, settle=0.5)
    assert (summary.adopted, summary.sent, summary.finished) == (0, 2, 2)
    assert (emu.created("acme-presign"), puts(emu)) == (3, 2), "a new slot for the upload that never went"
    again = [r for r in emu.requests if r.method == "POST"][-1]
    assert again.at - crashed >= 0.5 - since_intent, "not sent again before the settle window had passed"
    assert [r.status for r in batchkit.runs.results(journal, run)] == [JobStatus.SUCCEEDED] * 2
    assert b"signature" not in stored_bytes(journal)


def puts(emu: Emulator) -> int:
    return len([r for r in emu.requests if r.method == "PUT"])


def test_a_presigned_urls_signature_is_not_in_a_calls_repr_nor_its_target() -> None:
    from batchkit._kernel.steps import Call

    call = Call("PUT", "", "https://bucket.example/blob?X-Amz-Signature=SECRET")
    assert "SECRET" not in repr(call)
    assert call.target == "PUT https://bucket.example/blob"
