"""Runs named by the caller's key (``run_key``): an engine's retry re-attaches to the run it recorded, and
a key reused for other files is refused before anything is recorded."""

from __future__ import annotations

from pathlib import Path

import pytest

import batchkit
from batchkit import RunKeyConflictError
from tests.test_submit_many import many


def test_the_same_key_and_files_are_the_run_recorded_before(emulated, emu, journal_url: str, tmp_path: Path) -> None:
    client = emulated("resemble")
    files = many(tmp_path, 60)
    run = client.enqueue(files, journal=journal_url, run_key="dag/task/0/2026-12-02")
    assert client.enqueue(files, journal=journal_url, run_key="dag/task/0/2026-12-02", chunk=None) == run
    unkeyed = client.enqueue(files, journal=journal_url)  # named by its files: another run, and no clash
    other_key = client.enqueue(files, journal=journal_url, run_key="dag/task/0/2026-12-03")
    assert len({run, unkeyed, other_key}) == 3
    with pytest.raises(RunKeyConflictError, match="already names run") as info:
        client.enqueue(files[:59], journal=journal_url, run_key="dag/task/0/2026-12-02")
    assert (info.value.run, info.value.run_key) == (run, "dag/task/0/2026-12-02")
    assert isinstance(info.value, batchkit.InputError)
    with pytest.raises(RunKeyConflictError):  # other settings are another submission too
        client.enqueue(files, journal=journal_url, run_key="dag/task/0/2026-12-02", chunk=10)
    assert [p.run.id for p in batchkit.runs.progress(journal_url)] == sorted([run, unkeyed, other_key],
                                                                           key=[run, unkeyed, other_key].index)
    assert [p.run.files for p in batchkit.runs.progress(journal_url)] == [60, 60, 60]
    assert [p.run.id for p in batchkit.runs.progress(journal_url, other_key)] == [other_key]  # its rows alone
    assert batchkit.runs.progress(journal_url, "run-none") == []
    assert emu.requests == []


def test_submit_many_by_key_resumes_its_run(emulated, emu, tmp_path: Path) -> None:
    client, journal, files = emulated("resemble"), tmp_path / "j.db", many(tmp_path, 60)
    group = client.submit_many(files, journal=journal, run_key="nightly", wait=True)
    again = client.submit_many(files, journal=journal, run_key="nightly", wait=True)
    assert again.run == group.run
    assert emu.created("resemble") == 2
    with pytest.raises(RunKeyConflictError):
        client.submit_many(files[1:], journal=journal, run_key="nightly")
    assert emu.created("resemble") == 2


@pytest.mark.parametrize("key", ["", "a\nb", "x" * 513, 7])
def test_a_bad_key_is_refused_before_anything_is_recorded(emu, tmp_path: Path, key: object) -> None:
    with emu.connect("resemble") as client, pytest.raises(batchkit.InputError, match="run_key must be"):
        client.enqueue(many(tmp_path, 2), journal=tmp_path / "j.db", run_key=key)
    assert batchkit.runs.progress(tmp_path / "j.db") == []


def test_a_synchronous_providers_run_by_key(emulated, emu, tmp_path: Path) -> None:
    pytest.importorskip("av", reason="PyAV (batchkit[media]) makes the test media")
    from tests import media_files

    client, journal = emulated("hume-expression"), tmp_path / "j.db"
    files = [media_files.wav(tmp_path / f"{n}.wav", 1) for n in range(2)]
    run = client.enqueue(files, journal=journal, run_key="k")
    assert client.enqueue(files, journal=journal, run_key="k") == run
    with pytest.raises(RunKeyConflictError):
        client.enqueue(files[:1], journal=journal, run_key="k")
    client.work(journal, until_done=True)
    assert {r.status for r in batchkit.runs.results(journal, run)} == {batchkit.JobStatus.SUCCEEDED}
    assert [r.source for r in batchkit.runs.results(journal, run)] == [str(f.resolve()) for f in files]


def test_cli_enqueue_run_key(cli, media, tmp_path: Path) -> None:
    from batchkit.cli import EXIT_INPUT, EXIT_OK

    journal, paths = str(tmp_path / "j.db"), [str(media(f"c{i}.wav")) for i in range(3)]
    first = cli("-p", "resemble", "enqueue", *paths, "--journal", journal, "--run-key", "k1")
    assert first.returncode == EXIT_OK, first.stderr
    run = first.stdout.strip().splitlines()[-1]
    again = cli("-p", "resemble", "enqueue", *paths, "--journal", journal, "--run-key", "k1")
    assert again.stdout.strip().splitlines()[-1] == run
    clash = cli("-p", "resemble", "enqueue", *paths[:2], "--journal", journal, "--run-key", "k1")
    assert clash.returncode == EXIT_INPUT
    assert f"already names run {run}" in clash.stderr
