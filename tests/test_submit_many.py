"""Large submissions: chunking, the journal, resuming after a crash, and never creating a chunk twice."""

from __future__ import annotations

import contextlib
import json
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

import batchkit
from batchkit import JobStatus
from batchkit._kernel.inputs import LocalFile
from batchkit._orchestration.large_submissions import fingerprint, spooled
from batchkit.emulator import FaultKind
from tests.patience import exited, wait_until


def many(tmp_path: Path, count: int, ext: str = ".wav", size: int = 10) -> list[Path]:
    folder = tmp_path / "media"
    folder.mkdir(exist_ok=True)
    paths = []
    for i in range(count):
        path = folder / f"f{i:04d}{ext}"
        path.write_bytes(b"x" * size)
        paths.append(path)
    return paths


class _Takes:
    """A provider that takes anything, counting the chunks it was asked to check."""

    name = "resemble"

    def __init__(self) -> None:
        self.checked: list[int] = []

    def prepare(self, submission) -> None:
        self.checked.append(len(submission.files))


def test_chunks_respect_count_and_bytes_and_keep_the_runs_identity(tmp_path: Path) -> None:
    files = []
    for i, size in enumerate([40, 40, 40, 10, 90, 5]):
        files.append(tmp_path / f"{i}.wav")
        files[-1].write_bytes(b"x" * size)
    provider = _Takes()
    kept = spooled(provider, iter(files), {}, {}, (3, 100))  # any iterable, read once
    assert [row[3] for row in kept.rows()] == [0, 0, 1, 1, 2, 2]  # [40, 40], [40, 10], [90, 5]
    assert (kept.files, kept.chunks, provider.checked) == (6, 3, [2, 2, 2])
    local = [LocalFile(f, f.stat().st_size) for f in files]
    assert kept.identity == fingerprint("resemble", local, (3, 100), {}), "the same run id as when it was held"
    kept.spool.close()
    again = spooled(provider, files, {}, {}, (2, 1000))
    assert [row[3] for row in again.rows()] == [0, 0, 1, 1, 2, 2]
    again.spool.close()
    big = tmp_path / "big.mp4"
    big.write_bytes(b"x" * 101)
    with pytest.raises(batchkit.InputError, match="more than one batch may hold"):
        spooled(provider, [big], {}, {}, (5, 100))
    with pytest.raises(batchkit.InputError, match="no files given"):
        spooled(provider, [], {}, {}, (5, 100))


def test_resemble_chunks_complete_and_resume_is_a_no_op(emulated, emu, tmp_path: Path) -> None:
    client = emulated("resemble")
    files = [*many(tmp_path, 120), tmp_path / "media" / "fail.wav"]
    files[-1].write_bytes(b"x")
    journal = tmp_path / "run.db"
    group = client.submit_many(files, journal=journal, options={"visualize": False})
    assert [len(c.files) for c in group.chunks] == [50, 50, 21]
    assert emu.created("resemble") == 3
    assert group.status is JobStatus.QUEUED  # created, not yet polled (issue 26: it was UNKNOWN)
    group = group.refreshed(client.wait_all(group))
    assert group.status is JobStatus.PARTIALLY_FAILED
    results = client.results(group)
    assert sorted(r.source for r in results) == sorted(p.name for p in files)
    assert [r.status for r in results].count(JobStatus.FAILED) == 1

    again = client.submit_many(files, journal=journal, options={"visualize": False})
    assert [c.job_id for c in again.chunks] == [c.job_id for c in group.chunks]
    assert emu.created("resemble") == 3


def test_a_journal_holds_many_runs_and_the_same_submission_is_one_run(emulated, emu, tmp_path: Path) -> None:
    client = emulated("resemble")
    files = many(tmp_path, 3)
    first = client.submit_many(files, journal=tmp_path / "run.db")
    second = client.submit_many(files[:2], journal=tmp_path / "run.db")
    assert first.run != second.run
    assert emu.created("resemble") == 2
    again = client.submit_many(files, journal=tmp_path / "run.db")
    assert again.run == first.run
    assert [j.id for j in again.jobs] == [j.id for j in first.jobs]
    assert emu.created("resemble") == 2
    assert [p.run.id for p in batchkit.runs.progress(tmp_path / "run.db")] == [first.run, second.run]


def test_a_file_that_is_not_a_journal_is_refused(emulated, emu, tmp_path: Path) -> None:
    journal = tmp_path / "notes.db"
    journal.write_bytes(b"not a database at all" * 100)
    with pytest.raises(batchkit.InputError, match="not a usable batchkit journal"):
        emulated("resemble").submit_many(many(tmp_path, 2), journal=journal)
    with pytest.raises(batchkit.InputError, match="cannot open the journal"):
        emulated("resemble").submit_many(many(tmp_path, 2), journal=tmp_path / "missing" / "dir" / "run.db")
    assert emu.requests == []


def test_every_chunk_is_checked_before_anything_is_sent(emulated, emu, tmp_path: Path) -> None:
    files = many(tmp_path, 60)
    bad = tmp_path / "media" / "zzz.txt"
    bad.write_text("not media")
    with pytest.raises(batchkit.InputError, match=r"zzz\.txt"):
        emulated("resemble").submit_many([*files, bad], journal=tmp_path / "run.db")
    assert emu.requests == []
    with pytest.raises(batchkit.InputError, match="chunk must be 1 to 50"):
        emulated("resemble").submit_many(files, journal=tmp_path / "other.db", chunk=51)


def test_hume_interrupted_send_is_reconciled_by_file_names_and_md5(emulated, emu, tmp_path: Path) -> None:
    files = many(tmp_path, 25)
    emu.faults.add("POST /v0/batch/jobs", FaultKind.DROP_AFTER_BODY, after=1)
    group = emulated("hume").submit_many(files, journal=tmp_path / "run.db", chunk=10)
    assert emu.created("hume") == 3
    assert [c.state for c in group.chunks] == ["sent", "sent", "sent"]
    assert len({c.job_id for c in group.chunks}) == 3
    assert any(r.path == "/v0/batch/jobs" and r.method == "GET" for r in emu.requests)


def test_resemble_interrupted_send_needs_the_explicit_flag(emulated, emu, tmp_path: Path) -> None:
    files = many(tmp_path, 30)
    journal = tmp_path / "run.db"
    client = emulated("resemble")
    emu.faults.add("POST /api/v2/detect/batch", FaultKind.STATUS, status=502, after=1)
    with pytest.raises(batchkit.AmbiguousSubmissionError) as info:
        client.submit_many(files, journal=journal, chunk=10)
    group = info.value.group
    assert [c.state for c in group.chunks] == ["sent", "ambiguous", "sent"]
    assert len(group.jobs) == 2
    assert emu.created("resemble") == 2
    with pytest.raises(batchkit.AmbiguousSubmissionError):
        client.submit_many(files, journal=journal, chunk=10)
    assert emu.created("resemble") == 2
    group = client.submit_many(files, journal=journal, chunk=10, resend_ambiguous=True)
    assert [c.state for c in group.chunks] == ["sent", "sent", "sent"]
    assert emu.created("resemble") == 3


def test_a_refusal_stops_the_run_and_the_next_run_continues(emulated, emu, tmp_path: Path) -> None:
    files = many(tmp_path, 30)
    journal = tmp_path / "run.db"
    client = emulated("resemble")
    emu.config.wallet_cents = 150
    with pytest.raises(batchkit.InsufficientBalanceError):
        client.submit_many(files, journal=journal, chunk=10)
    assert emu.created("resemble") == 1
    emu.config.wallet_cents = None
    group = client.submit_many(files, journal=journal, chunk=10)
    assert [c.state for c in group.chunks] == ["sent", "sent", "sent"]
    assert emu.created("resemble") == 3


@pytest.mark.long
def test_500_files_survive_sigkill_and_resume_with_exactly_10_creates(emu, tmp_path: Path) -> None:
    files = many(tmp_path, 500, size=100)
    journal = tmp_path / "run.db"
    emu.faults.add("POST /api/v2/detect/batch", FaultKind.SLOW, delay=1.0, after=4)
    child = [
        sys.executable,
        str(Path(__file__).parent / "submit_many_child.py"),
        emu.base_url,
        str(journal),
        str(files[0].parent),
        "2",  # a short lease: the resume below waits for the killed child's lease to run out
    ]
    requests = lambda: len(emu.requests)  # noqa: E731
    with subprocess.Popen(child, stdout=subprocess.PIPE, stderr=subprocess.PIPE) as proc:
        wait_until(lambda: emu.faults.injected > 0 or proc.poll() is not None, "the child never reached the fifth create",
                   requests)  # fmt: skip
        assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    emu.faults.clear()
    # the server finishes the killed child's fifth create (it cannot read it)
    wait_until(lambda: len([r for r in emu.requests if r.method == "POST"]) >= 5, "the fifth create was never logged")
    assert emu.created("resemble") == 4
    with contextlib.closing(sqlite3.connect(journal)) as db:
        states = [s for (s,) in db.execute("SELECT state FROM chunks ORDER BY run_id, idx")]
    assert states == ["sent"] * 4 + ["sending"] + ["planned"] * 5

    with batchkit.connect("resemble", api_key="k", base_url=emu.base_url) as client:
        with pytest.raises(batchkit.AmbiguousSubmissionError, match=r"chunks \[4\]"):
            client.submit_many(files, journal=journal)
        assert emu.created("resemble") == 9
        group = client.submit_many(files, journal=journal, resend_ambiguous=True)
        assert emu.created("resemble") == 10
        jobs = client.wait_all(group, poll_interval=0.05)
        names = [r.source for job in jobs for r in client.results(job)]
    assert sorted(names) == sorted(p.name for p in files)
    assert len(set(names)) == 500


def test_two_processes_on_one_journal_create_each_chunk_once(emu, tmp_path: Path) -> None:
    files = many(tmp_path, 200, size=10)
    emu.faults.add("POST /api/v2/detect/batch", FaultKind.SLOW, delay=0.15, times=100)
    child = [sys.executable, str(Path(__file__).parent / "submit_many_child.py"), emu.base_url,
             str(tmp_path / "shared.db"), str(files[0].parent)]  # fmt: skip
    procs = [subprocess.Popen(child, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(2)]
    for proc in procs:  # their output is a line of JSON, well within a pipe's buffer
        exited(proc, lambda: len(emu.requests))
    outputs = [proc.communicate() for proc in procs]
    assert [proc.returncode for proc in procs] == [0, 0], [err for _, err in outputs]
    first, second = (json.loads(out) for out, _ in outputs)
    assert emu.created("resemble") == 4
    assert first == second
    assert len(set(first)) == 4


@pytest.mark.parametrize("lease", [0.1, True, "30"])
def test_a_lease_out_of_range_is_refused_before_anything_is_sent(emulated, emu, tmp_path: Path, lease: object) -> None:
    with pytest.raises(batchkit.InputError, match=r"lease must be 0\.5 to 3600 seconds"):
        emulated("resemble").submit_many(many(tmp_path, 2), journal=tmp_path / "run.db", lease=lease)
    assert emu.requests == []


def test_a_journal_that_cannot_be_trusted_is_a_typed_error(emulated, emu, tmp_path: Path) -> None:
    client = emulated("resemble")
    files = many(tmp_path, 3)
    with pytest.raises(batchkit.InputError, match="must be a file"):
        client.submit_many(files, journal=":memory:")
    journal = tmp_path / "run.db"
    client.submit_many(files, journal=journal)
    with contextlib.closing(sqlite3.connect(journal)) as db, db:
        db.execute("UPDATE chunks SET children = 'not json', state = 'planned'")
    with pytest.raises(batchkit.JournalError, match="did not write"):
        client.submit_many(files, journal=journal)
    assert emu.created("resemble") == 1


def test_hume_reconciliation_needs_the_same_models_and_options(emulated, emu, tmp_path: Path) -> None:
    files = many(tmp_path, 2)
    client = emulated("hume")
    someone_else = client.submit(files, options={"models": {"face": {}}})
    emu.faults.add("POST /v0/batch/jobs", FaultKind.DROP_BEFORE_BODY)
    with pytest.raises(batchkit.AmbiguousSubmissionError) as info:
        client.submit_many(files, journal=tmp_path / "run.db", options={"models": {"prosody": {}}})
    assert [c.job_id for c in info.value.group.chunks] == [None]
    assert someone_else.id not in [j.id for j in info.value.group.jobs]
    emu.faults.add("POST /v0/batch/jobs", FaultKind.DROP_AFTER_BODY)
    group = client.submit_many(files, journal=tmp_path / "run.db", options={"models": {"prosody": {}}},
                               resend_ambiguous=True)  # fmt: skip
    [job] = group.jobs
    assert job.id != someone_else.id
    assert emu.created("hume") == 2


def test_hume_names_with_quotes_and_control_characters_reconcile(emulated, emu, tmp_path: Path) -> None:
    folder = tmp_path / "odd"
    folder.mkdir()
    files = [folder / 'say "hi".wav', folder / "tab\there.wav"]
    for path in files:
        path.write_bytes(b"x" * 10)
    emu.faults.add("POST /v0/batch/jobs", FaultKind.DROP_AFTER_BODY)
    group = emulated("hume").submit_many(files, journal=tmp_path / "run.db")
    assert [c.state for c in group.chunks] == ["sent"]
    assert emu.created("hume") == 1


def test_a_journal_of_the_first_schema_is_migrated(emulated, emu, tmp_path: Path) -> None:
    from batchkit._kernel.journal import SCHEMA_VERSION

    files = many(tmp_path, 4)
    client = emulated("resemble")
    group = client.submit_many(files, journal=tmp_path / "new.db", chunk=2)
    fingerprint = group.run.removeprefix("run-")  # a run's id is its fingerprint's start
    with contextlib.closing(sqlite3.connect(tmp_path / "new.db")) as db:
        [(whole,)] = db.execute("SELECT fingerprint FROM runs").fetchall()
    assert whole.startswith(fingerprint)
    path = tmp_path / "old.db"
    with contextlib.closing(sqlite3.connect(path)) as db, db:
        db.executescript(
            "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);"
            "CREATE TABLE chunks (idx INTEGER PRIMARY KEY, files TEXT NOT NULL, state TEXT NOT NULL,"
            " job_id TEXT, intent_ms INTEGER, error TEXT);"
        )
        db.execute("INSERT INTO meta VALUES ('fingerprint', ?)", (whole,))
        db.execute("INSERT INTO chunks VALUES (0, ?, 'sent', ?, 1, NULL), (1, ?, 'planned', NULL, NULL, NULL)",
                   (json.dumps([str(p) for p in files[:2]]), group.jobs[0].id,
                    json.dumps([str(p) for p in files[2:]])))  # fmt: skip
    [old] = batchkit.runs.progress(path)
    assert (old.run.id, old.run.provider, old.chunks_sent) == (group.run, None, 1)
    resumed = client.submit_many(files, journal=path, chunk=2)
    assert [c.state for c in resumed.chunks] == ["sent", "sent"]
    assert resumed.jobs[0].id == group.jobs[0].id
    assert emu.created("resemble") == 3
    with contextlib.closing(sqlite3.connect(path)) as db:
        assert db.execute("SELECT value FROM meta WHERE key = 'schema'").fetchone() == (str(SCHEMA_VERSION),)


def test_resemble_interrupted_batch_is_found_again_through_the_detect_list(emulated, emu, tmp_path: Path) -> None:
    files = many(tmp_path, 150)
    emu.faults.add("POST /api/v2/detect/batch", FaultKind.DROP_AFTER_BODY, after=1)
    client = emulated("resemble")
    group = client.submit_many(files, journal=tmp_path / "run.db")
    assert emu.created("resemble") == 3
    assert [c.state for c in group.chunks] == ["sent", "sent", "sent"]
    adopted = group.chunks[1]
    assert adopted.job_id.startswith("adopted-")
    assert len(adopted.children) == 50
    group = group.refreshed(client.wait_all(group))
    assert group.status is JobStatus.SUCCEEDED
    assert sorted(r.source for r in client.results(group)) == sorted(p.name for p in files)
    assert client.get(group.jobs[1]).status is JobStatus.SUCCEEDED


def test_resemble_zero_retention_chunks_cannot_be_found_and_say_why(emulated, emu, tmp_path: Path) -> None:
    files = many(tmp_path, 3)
    emu.faults.add("POST /api/v2/detect/batch", FaultKind.DROP_AFTER_BODY)
    with pytest.raises(batchkit.AmbiguousSubmissionError, match="zero retention redacts file names") as info:
        emulated("resemble").submit_many(files, journal=tmp_path / "run.db", options={"zero_retention_mode": True})
    assert "GET /api/v2/detect" in str(info.value)
    assert emu.created("resemble") == 1


def test_wait_all_of_a_group_returns_it_refreshed(emulated, emu, tmp_path: Path) -> None:
    client = emulated("resemble")
    group = client.submit_many(many(tmp_path, 60), journal=tmp_path / "run.db")
    assert group.status is JobStatus.QUEUED
    waited = client.wait_all(group)
    assert isinstance(waited, batchkit.JobGroup)
    assert waited.status is JobStatus.SUCCEEDED
    assert [j.id for j in waited.jobs] == [j.id for j in group.jobs]
