"""Hardening II, the rest: L1 (a failure while a sibling is in disk work leaves no unretrieved
exception behind), M3 (a 503 burst on results leaves a succeeded job to be fetched later)."""

from __future__ import annotations

import asyncio
import gc
import logging
import threading
import time
from typing import Any

import pytest

import batchkit
from batchkit._kernel.steps import Blocking, Operation, Parallel, Sleep


def test_a_failure_beside_failing_disk_work_leaves_nothing_unretrieved(caplog: pytest.LogCaptureFixture) -> None:
    """L1: one branch fails while its sibling's disk work is still running (and then fails too): the
    first failure is raised, and asyncio has no exception left that nobody retrieved."""
    caplog.set_level(logging.ERROR, logger="asyncio")
    started = threading.Event()

    def disk_work() -> None:
        started.set()
        time.sleep(0.05)  # still at work when the sibling fails
        raise OSError("the disk failed too")

    def busy() -> Operation[None]:
        yield Blocking(disk_work)

    def fails() -> Operation[None]:
        while not started.is_set():
            yield Sleep(0.005)
        raise batchkit.InputError("refused")

    def both() -> Operation[Any]:
        found: Any = yield Parallel([busy(), fails()])
        return found

    async def go() -> None:
        async with batchkit.AsyncClient("resemble", api_key="k") as client:
            with pytest.raises(batchkit.InputError):
                await client._run(client._ops, both())

    asyncio.run(go())
    gc.collect()
    assert "never retrieved" not in caplog.text


@pytest.mark.long
def test_a_503_burst_on_results_leaves_the_job_to_be_fetched_later(emulated, emu, media, tmp_path,
                                                                    monkeypatch) -> None:  # fmt: skip
    """M3: the job succeeded, but its results answer 503 for longer than the retries last: the chunk
    is left to be fetched again at a later poll, not its files marked FAILED for good."""
    from batchkit._orchestration.workers import Worker
    from batchkit.emulator import FaultKind

    monkeypatch.setattr(Worker, "PAUSE", (0.05, 0.1))  # the worker's pause once the provider fails: short here

    client = emulated("hume", retry=batchkit.RetryPolicy(backoff_base=0.01, backoff_max=0.05))  # 3 retries, quick
    journal = str(tmp_path / "j.db")
    run = client.enqueue([media("a.wav")], journal=journal)
    emu.faults.add("GET /v0/batch/jobs/*/predictions", FaultKind.STATUS, status=503, times=6)  # > 1 + 3 retries
    summary = client.work(journal, until_done=True)
    assert summary.finished == 1
    assert [r.status for r in batchkit.runs.results(journal, run)] == [batchkit.JobStatus.SUCCEEDED]


def test_conversions_of_a_refused_submission_and_of_a_finished_job_are_removed(emulated, tmp_path,
                                                                               monkeypatch) -> None:  # fmt: skip
    """M16: an MP3 converted, then the next input refused: nothing converted stays; a job that finished
    leaves no empty folder behind."""
    pytest.importorskip("av", reason="PyAV (batchkit[media]) converts the media")
    from tests import media_files

    media = tmp_path / "media"
    monkeypatch.setenv("BATCHKIT_MEDIA_DIR", str(media))
    client = emulated("hume-expression", journal=str(tmp_path / "j.db"))
    song = media_files.audio(tmp_path / "song.mp3", 2)
    junk = tmp_path / "junk.bin"
    junk.write_bytes(b"not media at all" * 64)
    with pytest.raises(batchkit.InputError):
        client.submit([song, junk])
    assert not media.exists() or not any(media.rglob("*")), "a refused submission left its conversions"
    job = client.submit([song])
    assert job.status is batchkit.JobStatus.SUCCEEDED
    assert not media.exists() or not any(media.rglob("*")), "a finished job left files or an empty folder"


def test_m15_conversions_are_bounded_on_disk_and_refused_while_they_are_made(emulated, emu, tmp_path,
                                                                            monkeypatch) -> None:  # fmt: skip
    """M15: a video whose frames would pass the bound is refused as soon as they pass it (not once all
    are written), before anything is sent, and leaves nothing on disk."""
    pytest.importorskip("av", reason="PyAV (batchkit[media]) converts the media")
    import importlib

    from batchkit.providers.hume_expression import convert
    from tests import media_files

    plan = importlib.import_module("batchkit.providers.hume_expression.plan")  # the package names its function so

    media = tmp_path / "media"
    monkeypatch.setenv("BATCHKIT_MEDIA_DIR", str(media))
    monkeypatch.setattr(plan, "MAX_CONVERTED_BYTES", 40_000)
    encoded, jpeg = [], convert._jpeg
    monkeypatch.setattr(convert, "_jpeg", lambda av, frame: encoded.append(1) or jpeg(av, frame))
    clip = media_files.video(tmp_path / "clip.mp4", 20, sound=False)  # 60 frames at 3 a second
    client = emulated("hume-expression", journal=str(tmp_path / "j.db"))
    with pytest.raises(batchkit.InputError, match=r"clip\.mp4: the submission's conversions would take more than"):
        client.submit([clip])
    assert 0 < len(encoded) < 30, "the frames were all made before the bound was checked"
    assert emu.requests == []
    assert not media.exists() or not any(media.rglob("*")), "a refused submission left its conversions"
    monkeypatch.setattr(plan, "MAX_CONVERTED_BYTES", 4 << 30)
    assert client.submit([clip]).status is batchkit.JobStatus.SUCCEEDED
