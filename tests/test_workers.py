"""Runs worked by workers on one journal (sqlite and a real PostgreSQL): enqueue, work, leases and
fencing, per-file results, the shared rate, and both stores behaving as one state machine."""

from __future__ import annotations

import contextlib
import logging
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import batchkit
from batchkit import JobStatus
from batchkit._kernel.journal import ChunkState, Journal, Scope
from batchkit.emulator import EMULATOR_KEY, FaultKind
from tests.test_submit_many import many


def test_enqueue_then_work_collects_every_file_once(emulated, emu, journal_url: str, tmp_path: Path) -> None:
    client = emulated("resemble")
    files = [*many(tmp_path, 120), tmp_path / "media" / "fail.wav"]
    files[-1].write_bytes(b"x")
    run = client.enqueue(files, journal=journal_url, options={"visualize": False})
    assert client.enqueue(files, journal=journal_url, options={"visualize": False}) == run
    assert emu.requests == []
    summary = client.work(journal_url, until_done=True, concurrency=3)
    assert (summary.sent, summary.finished, summary.lost) == (3, 3, 0)
    assert emu.created("resemble") == 3
    [progress] = batchkit.runs.progress(journal_url)
    assert (progress.run.id, progress.chunks_sent, progress.jobs_finished, progress.files_done) == (run, 3, 3, 121)
    assert progress.settled
    results = batchkit.runs.results(journal_url, run)
    assert [r.source for r in results] == [str(p.resolve()) for p in files]
    assert [r.status for r in results].count(JobStatus.FAILED) == 1
    assert all(r.prediction is not None for r in results)  # typed again from the raw result kept
    requests = len(emu.requests)
    assert client.work(journal_url, until_done=True).sent == 0
    assert len(emu.requests) == requests
    assert EMULATOR_KEY.encode() not in stored_bytes(journal_url)  # keys never enter the journal


def stored_bytes(journal: str) -> bytes:
    """Everything a journal holds: the sqlite file and its WAL, or every row of every table."""
    if not journal.startswith("postgresql"):
        return b"".join(p.read_bytes() for p in Path(journal).parent.glob(Path(journal).name + "*"))
    import psycopg

    with psycopg.connect(journal) as db:
        tables = [t for (t,) in db.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")]
        return repr([db.execute(f"SELECT * FROM {t}").fetchall() for t in tables]).encode()


def test_submit_many_waits_and_collects_into_the_journal(emulated, emu, journal_url: str, tmp_path: Path) -> None:
    group = emulated("resemble").submit_many(many(tmp_path, 60), journal=journal_url, wait=True)
    assert [c.state for c in group.chunks] == [ChunkState.DONE, ChunkState.DONE]
    assert group.status is JobStatus.SUCCEEDED
    assert len(batchkit.runs.results(journal_url, group.run)) == 60


def test_a_lease_taken_over_fences_the_first_worker(tmp_path: Path) -> None:
    """On sqlite (one host) leases are kept on the callers' clock, given here; on PostgreSQL on the
    database's (tests/test_exactly_once.py)."""
    from batchkit._orchestration.large_submissions import fingerprint

    journal_url = str(tmp_path / "journal.db")

    first, second = Journal(journal_url), Journal(journal_url)
    try:
        run = first.record_run("resemble", fingerprint("resemble", [], (1, 1), {}), {"inputs": {}},
                               [("/a.wav", 1, None)], [[0]], now_ms=0)  # fmt: skip
        scope = Scope("resemble", run)
        held = first.claim("A", scope, now_ms=1_000, lease_ms=1_000)
        assert held is not None
        assert second.claim("B", scope, now_ms=1_500, lease_ms=1_000) is None  # A's lease holds
        first.intend(held, now_ms=1_600, lease_ms=1_000)  # renews it to 2_600
        assert second.claim("B", scope, now_ms=2_500, lease_ms=1_000) is None
        taken = second.claim("B", scope, now_ms=2_700, lease_ms=1_000)
        assert taken is not None
        assert taken.token == held.token + 1
        assert taken.chunk.state == ChunkState.SENDING
        assert first.renew("A", now_ms=2_800, lease_ms=1_000) == 0
        with pytest.raises(batchkit.LeaseLostError, match="taken over"):
            first.sent(held, "job-A", (), next_poll_ms=0, interval=1.0)
        second.sent(taken, "job-B", (), next_poll_ms=0, interval=1.0)
        assert [c.job_id for c in first.chunks(run)] == ["job-B"]
    finally:
        first.close()
        second.close()


def test_the_shared_rate_spaces_creates_and_a_pause_holds_everyone(journal_url: str) -> None:
    one, other = Journal(journal_url), Journal(journal_url)
    try:
        assert one.take("b", rate=2.0, now_ms=10_000) == 0
        assert other.take("b", rate=2.0, now_ms=10_000) == pytest.approx(0.5)
        assert other.take("b", rate=2.0, now_ms=10_500) == 0
        one.pause("b", until_ms=13_000)
        assert other.take("b", rate=None, now_ms=12_000) == pytest.approx(1.0)
        assert one.take("b", rate=2.0, now_ms=12_000) == pytest.approx(1.0)
        assert one.take("b", rate=None, now_ms=13_000) == 0
        assert one.take("other-key", rate=2.0, now_ms=12_000) == 0
    finally:
        one.close()
        other.close()


@settings(max_examples=60, deadline=None)
@given(
    rate=st.sampled_from([0.5, 2.0, 4.0, 10.0]),
    tries=st.lists(st.tuples(st.integers(0, 2), st.integers(0, 400)), min_size=1, max_size=60),
)
def test_the_shared_rate_never_grants_more_than_its_schedule(tmp_path_factory, rate: float, tries) -> None:
    """Three workers ask for tokens with clock readings that arrive out of order (each up to 0.4 s old):
    in any window of w seconds of the bucket's own clock (the latest reading it has seen), at most
    1 + w * rate tokens are granted."""
    url = str(tmp_path_factory.mktemp("rate") / "journal.db")
    journals = [Journal(url) for _ in range(3)]
    now, latest, granted = 100_000, 0, []
    try:
        for who, lag in tries:
            now += 37
            latest = max(latest, now - lag)
            if journals[who].take("b", rate=rate, now_ms=now - lag) == 0:
                granted.append(latest)
    finally:
        for journal in journals:
            journal.close()
    assert granted, "the first take always gets the token in hand"
    for i, start in enumerate(granted):
        for j in range(i, len(granted)):
            window = (granted[j] - start) / 1000
            assert j - i + 1 <= 1 + window * rate + 1e-9, (granted, rate)


def test_a_429_on_a_create_pauses_and_the_chunk_is_sent_once(emulated, emu, journal_url: str, tmp_path: Path) -> None:
    emu.faults.add("POST /api/v2/detect/batch", FaultKind.RATE_LIMIT, retry_after=1)
    client = emulated("resemble")
    run = client.enqueue(many(tmp_path, 20), journal=journal_url, chunk=10)
    summary = client.work(journal_url, until_done=True, concurrency=2)
    assert summary.sent == 2
    assert emu.created("resemble") == 2
    creates = [r for r in emu.requests if r.method == "POST"]
    assert [r.status for r in creates].count(429) == 1
    refused = next(r.at for r in creates if r.status == 429)
    # The refused lane waits out Retry-After (1 s) from when it read the 429, which the server sent
    # after `refused`; so a create arriving sooner can only be one already in flight: with 2 lanes, at
    # most the other lane's one. (10 ms: the pause is kept in whole milliseconds of another clock.)
    paused = [r.at - refused for r in creates if refused < r.at < refused + 1 - 0.01]
    assert len(paused) <= 1, paused
    assert max(r.at for r in creates) >= refused + 1 - 0.01  # the refused chunk, sent again after the pause
    assert len(batchkit.runs.results(journal_url, run)) == 20


def test_a_refused_chunk_is_recorded_and_the_worker_goes_on(emulated, emu, journal_url: str, tmp_path: Path,
                                                            caplog) -> None:  # fmt: skip
    emu.config.wallet_cents = 150  # room for one chunk of 10
    client = emulated("resemble")
    run = client.enqueue(many(tmp_path, 20), journal=journal_url, chunk=10)
    with caplog.at_level(logging.WARNING, logger="batchkit"):
        summary = client.work(journal_url, until_done=True, concurrency=1)
    assert (summary.sent, summary.failed) == (1, 1)
    results = batchkit.runs.results(journal_url, run)
    assert [r.status for r in results].count(JobStatus.FAILED) == 10
    assert "402" in next(r.error for r in results if r.status is JobStatus.FAILED)
    assert "chunk 1 of" in caplog.text


def test_an_interrupted_send_is_found_through_the_provider(emulated, emu, journal_url: str, tmp_path: Path) -> None:
    emu.faults.add("POST /api/v2/detect/batch", FaultKind.DROP_AFTER_BODY)
    client = emulated("resemble")
    run = client.enqueue(many(tmp_path, 10), journal=journal_url)
    summary = client.work(journal_url, until_done=True)
    assert (summary.adopted, summary.finished, summary.ambiguous) == (1, 1, 0)
    assert emu.created("resemble") == 1
    assert all(r.status is JobStatus.SUCCEEDED for r in batchkit.runs.results(journal_url, run))


def test_typed_options_survive_the_journal(emulated, emu, tmp_path: Path) -> None:
    from batchkit._kernel.options import coerce_options
    from batchkit._orchestration.large_submissions import portable
    from batchkit.providers.hume.options import HumeOptions

    given = {"models": {"face": {"fps_pred": 2, "facs": True}, "prosody": {}}, "transcription": None}
    options = coerce_options(given, HumeOptions, "hume")
    back = portable({"options": options})["options"]
    assert coerce_options(back, HumeOptions, "hume") == options
    assert coerce_options(portable({"options": HumeOptions()})["options"], HumeOptions, "hume") == HumeOptions()
    client = emulated("hume")
    run = client.enqueue(many(tmp_path, 2), journal=tmp_path / "j.db", options=options)
    client.work(tmp_path / "j.db", until_done=True)
    [job] = [r for r in emu.requests if r.method == "POST"]
    assert job.status == 200
    assert len(batchkit.runs.results(tmp_path / "j.db", run)) == 2


def test_a_worker_refuses_a_run_of_another_provider_and_bad_settings(emulated, tmp_path: Path) -> None:
    run = emulated("resemble").enqueue(many(tmp_path, 2), journal=tmp_path / "j.db")
    hume = emulated("hume")
    with pytest.raises(batchkit.InputError, match="is for resemble"):
        hume.work(tmp_path / "j.db", run=run)
    with pytest.raises(batchkit.InputError, match="no run 'run-nope'"):
        hume.work(tmp_path / "j.db", run="run-nope")
    with pytest.raises(batchkit.InputError, match="lease"):
        hume.work(tmp_path / "j.db", lease=0.1)
    with pytest.raises(batchkit.InputError, match="unknown argument 'forever'"):
        hume.work(tmp_path / "j.db", forever=True)
    assert hume.work(tmp_path / "j.db", until_done=True).sent == 0  # no hume runs


def test_a_postgres_password_never_shows(emulated, emu, postgres_url: str, tmp_path: Path, caplog,
                                         capsys) -> None:  # fmt: skip
    from tests.postgres import PASSWORD

    caplog.set_level(logging.DEBUG, logger="batchkit")
    group = emulated("resemble").submit_many(many(tmp_path, 3), journal=postgres_url)
    assert PASSWORD not in repr(group)
    assert "***" in group.journal
    wrong = postgres_url.replace(PASSWORD, PASSWORD + "x")
    with pytest.raises(batchkit.InputError, match="cannot open the journal") as info:
        batchkit.runs.progress(wrong)
    assert PASSWORD not in str(info.value)
    from batchkit.cli import main

    with contextlib.suppress(SystemExit):
        main(["runs", "--journal", wrong])
        main(["worker", "-p", "resemble", "--journal", wrong, "--until-done"])
    out = capsys.readouterr()
    assert PASSWORD not in out.out + out.err + caplog.text
    assert "***" in out.err
