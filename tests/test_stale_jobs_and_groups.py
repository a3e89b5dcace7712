"""What a user holds stays usable: a job object from ``submit`` after ``wait`` (results refresh a job that
had not ended), and a group from ``submit_many`` (its status is known at once; a synchronous provider's
group is waited on and read from its own journal). Both clients, the providers of each shape."""

from __future__ import annotations

from pathlib import Path

import pytest

from batchkit import JobStatus
from tests import media_files


@pytest.mark.parametrize("provider", ["hume", "resemble"])
def test_results_of_the_job_object_submit_returned(emulated, media, provider: str) -> None:
    client = emulated(provider)
    job = client.submit([media("a.wav")])
    assert not job.status.is_terminal
    done = client.wait(job, timeout=60)
    assert done.status is JobStatus.SUCCEEDED
    assert [r.status for r in client.results(job)] == [JobStatus.SUCCEEDED]  # the stale object is refreshed
    assert [r.status for r in client.iter_results(job)] == [JobStatus.SUCCEEDED]


@pytest.mark.parametrize("provider", ["hume", "resemble"])
def test_a_groups_status_is_known_right_after_submit_many(emulated, media, tmp_path: Path, provider: str) -> None:
    client = emulated(provider)
    group = client.submit_many([media(f"{n}.wav") for n in range(3)], journal=str(tmp_path / "j.db"), chunk=2)
    assert len(group) == 2
    assert group.status is JobStatus.QUEUED, "a group just created is queued, not unknown"
    assert client.wait_all(group, timeout=60).status is JobStatus.SUCCEEDED


def test_a_group_of_the_synchronous_shape(emulated, tmp_path: Path) -> None:
    pytest.importorskip("av", reason="PyAV (batchkit[media]) makes the test media")
    client = emulated("hume-expression", journal=str(tmp_path / "own.db"))  # not where the group's run is
    files = [media_files.wav(tmp_path / f"{n}.wav", 2) for n in range(3)]
    group = client.submit_many(files, journal=str(tmp_path / "many.db"), chunk=1)
    assert len(group) == 1, "the run is the group's one job"
    assert group.status is JobStatus.SUCCEEDED
    assert client.wait_all(group).status is JobStatus.SUCCEEDED
    assert [Path(r.source).name for r in client.results(group)] == ["0.wav", "1.wav", "2.wav"]


def test_a_timeout_chosen_for_a_call_is_its_uploads_timeout_too(emulated, emu, media) -> None:
    """Issue 26 item 4: ``submit(..., timeout=0.3)`` was stretched to 300 s for the upload. Now the reply
    to the upload is held far longer than 0.3 s and the call gives up on it (and says the job may exist)."""
    import batchkit
    from batchkit.emulator import FaultKind

    emu.faults.add("POST /api/v2/detect/batch", FaultKind.SLOW_REPLY, delay=60, times=2)  # held until released
    client = emulated("resemble")
    copy = type(client)(client._client.with_options(timeout=0.3), client._loop)
    try:
        with pytest.raises(batchkit.AmbiguousSubmissionError, match="ReadTimeout"):
            client.submit([media("a.wav")], timeout=0.3)
        with pytest.raises(batchkit.AmbiguousSubmissionError, match="ReadTimeout"):
            copy.submit([media("b.wav")])
    finally:
        emu.faults.release()
