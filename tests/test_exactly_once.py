"""Exactly once with nobody in the loop (issue 22) and the defects of issue 23 it overlaps (H4, M1, M2,
M4, M5, M6, M7): what a worker leaves in the journal when it is stopped, refused or fenced out."""

from __future__ import annotations

import asyncio
import json
import logging
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest

import batchkit
from batchkit._kernel.clock import FakeClock, SystemClock
from batchkit._kernel.journal import MAX_LOOKS, ChunkState, Journal, Scope
from batchkit._orchestration.workers import Worker
from batchkit.emulator import EMULATOR_KEY, FaultKind
from tests.conftest import readline_within
from tests.patience import wait_until
from tests.test_submit_many import many


def _chunk(journal: str, run: str, index: int = 0) -> Any:
    book = Journal(journal)
    try:
        return book.chunks(run)[index]
    finally:
        book.close()


def _owned(journal: str, run: str) -> bool:
    book = Journal(journal)
    try:
        with book._store.transaction(write=False) as tx:
            return tx.execute("SELECT owner FROM chunks WHERE run_id = ?", (run,)).fetchone()[0] is not None
    finally:
        book.close()


@pytest.mark.parametrize("wait", ["rate", "pause"])
def test_m2_a_worker_stopped_while_waiting_for_the_shared_rate_leaves_its_chunk_planned(
        emu, journal_url: str, tmp_path: Path, wait: str) -> None:  # fmt: skip
    """The intent is journaled only once the rate token is held and a 429's pause is over: a worker
    cancelled (or killed) while it waits leaves a chunk that was never sent ``planned``, not ambiguous."""
    client = batchkit.connect_async("resemble", api_key=EMULATOR_KEY, base_url=emu.base_url)
    bucket = client._ops.auth.bucket("resemble")
    book = Journal(journal_url)
    now = int(client._ops.clock.time() * 1000)
    if wait == "rate":  # one token at a time, taken by someone else a moment ago: the next in 1000 s
        assert book.take(bucket, 0.001, now) == 0
    else:  # another worker's 429 paused everyone for an hour
        book.pause(bucket, now + 3_600_000)
    book.close()

    async def stopped_while_waiting() -> str:
        run = await client.enqueue(many(tmp_path, 3), journal=journal_url)
        work = asyncio.ensure_future(client.work(journal_url, until_done=True, rate=0.001))
        while not await asyncio.to_thread(_owned, journal_url, run):
            assert not work.done()
            await asyncio.sleep(0.01)
        await asyncio.sleep(0.2)  # well inside the wait (a create would have been journaled by now)
        work.cancel()
        with pytest.raises(asyncio.CancelledError):
            await work
        await client.aclose()
        return run

    run = asyncio.run(stopped_while_waiting())
    chunk = _chunk(journal_url, run)
    assert (chunk.state, chunk.intent_ms, chunk.job_id) == (ChunkState.PLANNED, None, None)
    assert emu.created("resemble") == 0
    wait_until(lambda: not _owned(journal_url, run), "the cancelled worker released its chunk")


LONG_LEASE = 3600.0
"""A lease on a FakeClock that the test's pauses and backoffs (fake seconds that pass at once, while a
renewal takes real time on a busy machine) cannot outrun: these tests are not about leases."""


# -- following errors have a bound; a worker's own trouble fails no chunk (22.6, M1, M4) ---------------


def test_m4_a_job_the_provider_no_longer_has_is_recorded_lost_and_the_worker_ends(emulated, emu, tmp_path: Path,
                                                                                  caplog) -> None:  # fmt: skip
    client = emulated("resemble", clock=FakeClock())
    journal = str(tmp_path / "run.db")
    run = client.enqueue(many(tmp_path, 2), journal=journal)
    emu.faults.add("GET /api/v2/detect/batch/*", FaultKind.STATUS, status=404, times=1000)
    summary = client.work(journal, until_done=True, lease=LONG_LEASE)
    chunk = _chunk(journal, run)
    assert (summary.sent, summary.failed, chunk.state) == (1, 1, ChunkState.FAILED)
    assert chunk.job_id
    assert chunk.error.startswith(f"lost job: the provider has no job {chunk.job_id}")
    assert f"lost job: the provider has no job {chunk.job_id}" in caplog.text
    book = Journal(journal)
    book.retry_failed(run)  # a failed chunk with a job is followed again, never sent again
    assert book.chunks(run)[0].state == ChunkState.SENT
    book.close()
    assert emu.created("resemble") == 1


def test_m4_other_errors_following_a_job_back_off_then_the_chunk_keeps_the_error(emulated, emu,
                                                                                 tmp_path: Path) -> None:  # fmt: skip
    clock = FakeClock()
    client = emulated("resemble", clock=clock, poll=batchkit.PollSchedule(initial=1, factor=2, maximum=8, jitter=0))
    journal = str(tmp_path / "run.db")
    run = client.enqueue(many(tmp_path, 2), journal=journal)
    emu.faults.add("GET /api/v2/detect/batch/*", FaultKind.STATUS, status=418, times=1000)
    summary = client.work(journal, until_done=True, lease=LONG_LEASE)
    chunk = _chunk(journal, run)
    assert (summary.failed, chunk.state) == (1, ChunkState.FAILED)
    assert f"could not be checked {Worker.FOLLOW_ERRORS} times in a row" in chunk.error
    assert "HTTP 418" in chunk.error
    assert chunk.poll_interval == 8  # the waits grew 1, 2, 4, 8, then stayed at the schedule's maximum
    assert emu.created("resemble") == 1


@pytest.mark.parametrize("status", [401, 403])
def test_m4_a_refused_key_while_following_pauses_the_worker_and_says_so(emulated, emu, tmp_path: Path, caplog,
                                                                        status: int) -> None:  # fmt: skip
    clock = FakeClock()
    client = emulated("resemble", clock=clock)
    journal = str(tmp_path / "run.db")
    run = client.enqueue(many(tmp_path, 2), journal=journal)
    emu.faults.add("GET /api/v2/detect/batch/*", FaultKind.STATUS, status=status, times=2)
    summary = client.work(journal, until_done=True, lease=LONG_LEASE)
    assert (summary.sent, summary.finished, summary.failed) == (1, 1, 0)
    assert _chunk(journal, run).state == ChunkState.DONE
    assert f"HTTP {status}" in caplog.text
    assert "this worker stops claiming resemble chunks for 5 s" in caplog.text
    assert "for 10 s" in caplog.text  # the second time in a row, longer


def test_m1_a_refused_key_or_an_unreachable_provider_on_create_leaves_the_chunk_planned(emulated, emu,
                                                                                        tmp_path: Path) -> None:  # fmt: skip
    clock = FakeClock()
    client = emulated("resemble", clock=clock)
    journal = str(tmp_path / "run.db")
    run = client.enqueue(many(tmp_path, 2), journal=journal)
    emu.faults.add("POST /api/v2/detect/batch", FaultKind.STATUS, status=401, times=1)
    emu.faults.add("POST /api/v2/detect/batch", FaultKind.DROP_BEFORE_BODY, times=4, after=1)  # retries spent
    summary = client.work(journal, until_done=True, lease=LONG_LEASE)
    assert (summary.sent, summary.failed, summary.ambiguous) == (1, 0, 0)
    assert emu.created("resemble") == 1
    assert _chunk(journal, run).state == ChunkState.DONE


def test_m1_a_misconfigured_submit_many_raises_and_leaves_its_chunks_planned(emulated, emu, tmp_path: Path) -> None:
    emu.faults.add("POST /api/v2/detect/batch", FaultKind.STATUS, status=401, times=1)
    client = emulated("resemble")
    with pytest.raises(batchkit.AuthenticationError):
        client.submit_many(many(tmp_path, 2), journal=tmp_path / "run.db")
    [progress] = batchkit.runs.progress(tmp_path / "run.db")
    assert (progress.failed, progress.chunks_sent) == (0, 0)
    assert client.submit_many(many(tmp_path, 2), journal=tmp_path / "run.db", wait=True).status.value == "succeeded"


def test_m1_a_volume_not_mounted_on_this_host_fails_no_chunk(emu, tmp_path: Path, caplog) -> None:
    """The worker stops claiming (longer each time) while the run's folder is missing here, and sends the
    chunk once the folder is back: nothing was failed, nothing sent twice."""
    clock = FakeClock()
    client = batchkit.connect_async("resemble", api_key=EMULATOR_KEY, base_url=emu.base_url, clock=clock,
                                    poll=batchkit.PollSchedule(initial=0.001, factor=1, maximum=0.001))  # fmt: skip
    journal = str(tmp_path / "run.db")
    files = many(tmp_path, 2)
    folder = files[0].parent

    async def mounted_later() -> batchkit.WorkSummary:
        run = await client.enqueue(files, journal=journal)
        folder.rename(tmp_path / "elsewhere")
        work = asyncio.ensure_future(client.work(journal, until_done=True))
        while "for 20 s" not in caplog.text:  # paused 5, 10, then 20 s (on the injected clock)
            assert not work.done()
            await asyncio.sleep(0.01)
        assert _chunk(journal, run).state == ChunkState.PLANNED
        (tmp_path / "elsewhere").rename(folder)
        summary = await work
        await client.aclose()
        return summary

    summary = asyncio.run(mounted_later())
    assert (summary.sent, summary.finished, summary.failed) == (1, 1, 0)
    assert "are not on this host (a volume not mounted?)" in caplog.text
    assert emu.created("resemble") == 1


# -- a fenced-out worker keeps the job it created (H4) --------------------------------------------------


def test_h4_a_job_created_by_a_worker_fenced_out_is_recorded_where_the_chunk_has_none(emulated, emu,
                                                                                      tmp_path: Path, caplog) -> None:  # fmt: skip
    """A's create lands, A is paused past its lease, B takes the chunk over and cannot tell (it leaves it
    ambiguous); A wakes holding the job's id: it is recorded (the chunk had none), logged with its chunk,
    and followed to its end. Nothing is created twice."""
    caplog.set_level(logging.INFO, "batchkit")
    journal = str(tmp_path / "run.db")
    client = emulated("resemble")
    run = client.enqueue(many(tmp_path, 2), journal=journal)
    emu.faults.add("POST /api/v2/detect/batch", FaultKind.SLOW_REPLY, delay=600)  # created, then held
    done: list[Any] = []
    worker = threading.Thread(target=lambda: done.append(client.work(journal, until_done=True)))
    worker.start()
    wait_until(lambda: emu.created("resemble") == 1, "A's create landed")
    other = Journal(journal)
    later = int(time.time() * 1000) + 3_600_000  # A's lease has long ended by B's reckoning
    taken = other.claim("B", Scope("resemble", run), now_ms=later, lease_ms=1_000)
    assert taken is not None
    assert taken.chunk.state == ChunkState.SENDING
    other.ambiguous(taken, "B: cannot tell whether it landed", next_look_ms=later, interval=1.0)
    other.close()
    emu.faults.release()
    worker.join()
    chunk = _chunk(journal, run)
    assert (chunk.state, emu.created("resemble")) == (ChunkState.DONE, 1)
    assert f"chunk 0 of {run}: job {chunk.job_id}, created by this worker after its lease ended, is recorded" in caplog.text
    assert f"chunk 0 of {run}: created job {chunk.job_id}" in caplog.text
    assert done[0].finished == 1


def test_h4_a_fenced_out_job_is_never_written_over_another_and_is_logged(journal_url: str) -> None:
    from batchkit._orchestration.large_submissions import fingerprint

    book = Journal(journal_url)
    try:
        run = book.record_run("resemble", fingerprint("resemble", [], (1, 1), {}), {"inputs": {}},
                              [("/a.wav", 1, None)], [[0]], now_ms=0)  # fmt: skip
        first = book.claim("A", Scope("resemble", run), now_ms=1_000, lease_ms=1_000)
        assert first is not None
        book.intend(first, now_ms=1_000, lease_ms=1_000)
        with book._store.transaction() as tx:  # A's lease ends (on either clock)
            tx.execute("UPDATE chunks SET lease_until_ms = 0")
        second = book.claim("B", Scope("resemble", run), now_ms=5_000, lease_ms=1_000)
        assert second is not None
        book.sent(second, "job-B", (), next_poll_ms=0, interval=1.0)
        assert not book.learned(first, "job-A", (), next_poll_ms=0, interval=1.0)  # it has a job: never replaced
        assert book.chunks(run)[0].job_id == "job-B"
    finally:
        book.close()


# -- a send that never landed is sent again, by itself, after the settle window (22.1) -----------------


def test_a_send_that_never_landed_is_sent_again_once_the_settle_window_has_passed(emulated, emu,
                                                                                  tmp_path: Path) -> None:  # fmt: skip
    """Resemble's detect list is authoritative: a chunk whose body never arrived is first left ambiguous
    (the window has not passed), then looked for again after it, found certainly not there, and sent."""
    clock = FakeClock()
    client = emulated("resemble", clock=clock)
    journal = str(tmp_path / "run.db")
    run = client.enqueue(many(tmp_path, 2), journal=journal)
    emu.faults.add("POST /api/v2/detect/batch", FaultKind.DROP_BEFORE_BODY, times=1)
    start = clock.now
    summary = client.work(journal, until_done=True, lease=LONG_LEASE, settle=120)
    chunk = _chunk(journal, run)
    assert (chunk.state, emu.created("resemble")) == (ChunkState.DONE, 1)
    assert (summary.sent, summary.ambiguous, summary.finished) == (1, 0, 1)
    assert clock.now - start >= 120  # never sent again before the window had passed


def test_a_lookup_that_cannot_tell_stays_ambiguous_and_is_counted_once(emulated, emu, tmp_path: Path) -> None:
    """Under zero retention the detect list cannot tell: the chunk is left for a person, whatever the
    window; looked for up to MAX_LOOKS times, it counts as one ambiguous chunk, its reason said once."""
    client = emulated("resemble", clock=FakeClock())
    journal = str(tmp_path / "run.db")
    run = client.enqueue(many(tmp_path, 2), journal=journal, options={"zero_retention_mode": True})
    emu.faults.add("POST /api/v2/detect/batch", FaultKind.DROP_BEFORE_BODY, times=1)
    summary = client.work(journal, until_done=True, lease=LONG_LEASE, settle=1)
    chunk = _chunk(journal, run)
    assert (chunk.state, chunk.attempts, emu.created("resemble")) == (ChunkState.AMBIGUOUS, MAX_LOOKS, 0)
    assert summary.ambiguous == 1
    assert chunk.error.count("zero retention redacts file names") == 1
    assert chunk.error.count(";") == 1  # what interrupted it; what the lookup said


def test_settle_is_checked(emulated, tmp_path: Path) -> None:
    client = emulated("resemble")
    for bad in (0, -1, True, "10", 10**6):
        with pytest.raises(batchkit.InputError, match="settle must be"):
            client.work(tmp_path / "run.db", settle=bad)


def test_an_upload_resumed_after_the_servers_idle_timeout_cannot_create(emu, tmp_path: Path) -> None:
    """A worker SIGSTOPped mid-upload: the server drops the stalled body after its idle timeout, so when
    the process wakes (after any settle window) and sends the rest, nothing is created."""
    emu.config.idle_timeout = 0.3
    big = tmp_path / "media" / "long.wav"
    big.parent.mkdir()
    big.write_bytes(b"\0" * (4 << 20))
    with subprocess.Popen([sys.executable, "-c", _STALLED_UPLOAD, emu.base_url, str(big)], stdin=subprocess.PIPE,
                          stdout=subprocess.PIPE, text=True) as child:  # fmt: skip
        assert child.stdout is not None
        assert child.stdin is not None
        try:
            assert readline_within(child.stdout) == "half\n"
            child.send_signal(signal.SIGSTOP)
            # the request is logged once the server is done with it: here, once it dropped the stalled body
            # (a loaded server may not have begun it when the child stopped, so "handling" alone says nothing)
            wait_until(lambda: any(r.method == "POST" for r in emu.requests) and emu.handling == 0,
                       "the server dropped the stalled upload")  # fmt: skip
            child.send_signal(signal.SIGCONT)
            child.stdin.write("go\n")
            child.stdin.flush()
            outcome = readline_within(child.stdout)
        finally:
            child.kill()
    assert outcome.startswith(("ambiguous", "refused")), outcome  # a 408, or the connection gone mid-body
    assert emu.created("resemble") == 0


_STALLED_UPLOAD = """
import sys, batchkit
sent = [0]
def progress(n):
    sent[0] += n
    if sent[0] >= 2 << 20 and sent[0] - n < 2 << 20:
        print("half", flush=True)
        sys.stdin.readline()
client = batchkit.connect("resemble", api_key="k", base_url=sys.argv[1], on_upload=progress, max_retries=0)
try:
    client.submit([sys.argv[2]])
    print("created", flush=True)
except batchkit.AmbiguousSubmissionError as exc:
    print("ambiguous", exc, flush=True)
except batchkit.BatchkitError as exc:
    print("refused", exc, flush=True)
"""


# -- leases on one clock; a registry of workers (22.2, 22.3, M7) ----------------------------------------


def _one_chunk_run(book: Journal) -> str:
    from batchkit._orchestration.large_submissions import fingerprint

    return book.record_run("resemble", fingerprint("resemble", [], (1, 1), {}), {"inputs": {}},
                           [("/a.wav", 1, None)], [[0]], now_ms=0)  # fmt: skip


def test_a_worker_whose_clock_runs_40_s_fast_cannot_take_a_live_chunk_on_postgres(postgres_url: str) -> None:
    book, fast = Journal(postgres_url), Journal(postgres_url)
    try:
        run = _one_chunk_run(book)
        now = int(time.time() * 1000)
        book.register("A", ["resemble"], "test", now, 30_000)
        held = book.claim("A", Scope("resemble", run), now_ms=now, lease_ms=30_000)
        assert held is not None
        book.intend(held, now_ms=now, lease_ms=30_000)
        assert fast.claim("B", Scope("resemble", run), now_ms=now + 40_000, lease_ms=30_000) is None
        assert fast.renew("B", now_ms=now + 40_000, lease_ms=30_000) == 0
        assert book.renew("A", now_ms=now - 3_600_000, lease_ms=30_000) == 1  # A's clock, slow: the lease still holds
        assert fast.claim("B", Scope("resemble", run), now_ms=now + 40_000, lease_ms=30_000) is None
        intent = book.chunks(run)[0].intent_ms
        assert abs(intent - fast.now_ms(0)) < 30_000  # the intent is on the database's clock too
    finally:
        book.close()
        fast.close()


def test_m7_a_live_worker_on_a_host_of_the_same_name_is_never_reaped_by_its_process_id(journal_url: str) -> None:
    """A lease is ended early only when its worker's heartbeat has expired: a process id that does not
    run here (another container's PID namespace, the same host name) says nothing."""
    book = Journal(journal_url)
    try:
        run = _one_chunk_run(book)
        now = book.now_ms(int(time.time() * 1000))
        book.register("A", ["resemble"], "test", now, 30_000)
        held = book.claim("A", Scope("resemble", run), now_ms=now, lease_ms=30_000)
        assert held is not None
        with book._store.transaction() as tx:  # as another container's process would appear here
            tx.execute("UPDATE chunks SET owner_pid = 4194303")
            tx.execute("UPDATE workers SET pid = 4194303")
        assert book.claim("B", Scope("resemble", run), now_ms=now + 1_000, lease_ms=30_000) is None
        [entry] = book.workers()
        assert (entry.id, entry.alive, entry.chunks, entry.providers) == ("A", True, 1, ("resemble",))
        book.renew("B", now + 1_000, 30_000)  # B's heartbeat sweeps: A lives
        assert book.claim("B", Scope("resemble", run), now_ms=now + 1_000, lease_ms=30_000) is None
        with book._store.transaction() as tx:  # A stops beating; its lease would still run for a long time
            tx.execute("UPDATE workers SET heartbeat_ms = heartbeat_ms - 60000")
            tx.execute("UPDATE chunks SET lease_until_ms = lease_until_ms + 3600000")
        assert book.claim("B", Scope("resemble", run), now_ms=now + 1_000, lease_ms=30_000) is None  # not swept yet
        book.renew("B", now + 1_000, 30_000)
        taken = book.claim("B", Scope("resemble", run), now_ms=now + 1_000, lease_ms=30_000)
        assert taken is not None
        assert taken.token == held.token + 1
        assert [w.id for w in book.workers()] == []  # forgotten once dead
    finally:
        book.close()


def test_batchkit_workers_lists_the_registry(cli, emu, tmp_path: Path) -> None:
    journal = str(tmp_path / "run.db")
    book = Journal(journal)
    now = int(time.time() * 1000)
    book.register("worker-1", ["resemble"], "0.1.0", now, 30_000)
    book.register("worker-2", ["hume"], "0.1.0", now - 120_000, 30_000)
    book.close()
    done = cli("--json", "workers", "--journal", journal)
    assert done.returncode == 0, done.stderr
    rows = json.loads(done.stdout)
    assert [(r["worker"], r["alive"], r["providers"]) for r in rows] == [("worker-2", False, "hume"),
                                                                         ("worker-1", True, "resemble")]  # fmt: skip


# -- one run identity (22.5, M5) --------------------------------------------------------------------------


def test_the_cli_and_python_make_the_same_run_of_the_same_files(cli, emulated, emu, tmp_path: Path) -> None:
    files = many(tmp_path, 3)
    journal = str(tmp_path / "run.db")
    done = cli("-p", "resemble", "enqueue", *map(str, files), "--journal", journal)
    assert done.returncode == 0, done.stderr
    from_cli = done.stdout.strip().splitlines()[-1]
    assert emulated("resemble").enqueue(files, journal=journal) == from_cli
    assert emulated("resemble").enqueue(files, journal=journal, options=None, callback_url=None) == from_cli
    [progress] = batchkit.runs.progress(journal)
    assert progress.run.spec["inputs"] == {}


def test_m5_identical_enqueues_at_once_return_the_same_run(journal_url: str) -> None:
    from batchkit._orchestration.large_submissions import fingerprint

    barrier, found, failed = threading.Barrier(4), [], []

    def enqueue() -> None:
        book = Journal(journal_url)
        try:
            barrier.wait()
            found.append(book.record_run("resemble", fingerprint("resemble", [], (1, 1), {}), {"inputs": {}},
                                         [("/a.wav", 1, None)], [[0]], now_ms=0))  # fmt: skip
        except batchkit.BatchkitError as exc:
            failed.append(exc)
        finally:
            book.close()

    threads = [threading.Thread(target=enqueue) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failed == []
    assert len(found) == 4
    assert len(set(found)) == 1
    [progress] = batchkit.runs.progress(journal_url)
    assert (progress.run.files, progress.run.chunks) == (1, 1)


def _ambiguous_and_done(emulated: Any, emu: Any, tmp_path: Path) -> tuple[str, str]:
    """A run of two chunks: chunk 0 done, chunk 1 ambiguous (zero retention: the lookup cannot tell)."""
    client = emulated("resemble", clock=FakeClock())
    journal = str(tmp_path / "run.db")
    run = client.enqueue(many(tmp_path, 4), journal=journal, chunk=2, options={"zero_retention_mode": True})
    emu.faults.add("POST /api/v2/detect/batch", FaultKind.DROP_BEFORE_BODY, after=1)
    client.work(journal, until_done=True, lease=LONG_LEASE, settle=1, concurrency=1)  # chunk 0, then chunk 1
    return journal, run


def test_runs_resend_and_cancel_of_a_run_named_by_a_prefix(cli, emulated, emu, tmp_path: Path) -> None:
    journal, run = _ambiguous_and_done(emulated, emu, tmp_path)
    prefix = run.removeprefix("run-")[:6]
    shown = json.loads(cli("--json", "runs", "--journal", journal, "--run", prefix).stdout)
    assert [(c["chunk"], c["state"]) for c in shown] == [(0, "done"), (1, "ambiguous")]
    assert shown[0]["job"]
    assert "zero retention" in shown[1]["error"]
    said = cli("resend", "--journal", journal, "--run", prefix)
    assert said.returncode == 0, said.stderr
    assert "chunk 1 (2 files) may already have been created and would then be paid for twice" in said.stderr
    assert [c["state"] for c in json.loads(cli("--json", "runs", "--journal", journal, "--run", run).stdout)] == [
        "done", "planned"]  # fmt: skip
    assert len(batchkit.runs.progress(journal)) == 1  # never a new run
    again = cli("resend", "--journal", journal, "--run", prefix, "--chunk", "0")
    assert again.returncode != 0  # a done chunk is never sent again
    assert "not an ambiguous chunk" in again.stderr
    before = _chunk(journal, run, 1)
    assert cli("cancel", "--journal", journal, "--run", prefix).returncode == 0
    [progress] = batchkit.runs.progress(journal)
    assert (progress.cancelled, progress.settled) == (1, True)
    book = Journal(journal)
    try:
        with book._store.transaction(write=False) as tx:
            [(token,)] = tx.execute("SELECT token FROM chunks WHERE idx = 1").fetchall()
        assert book.claim("W", Scope("resemble", run), now_ms=0, lease_ms=1_000) is None  # never claimed again
    finally:
        book.close()
    assert before.state == "planned"
    assert token >= 1
    assert emulated("resemble").work(journal, until_done=True).sent == 0
    assert cli("runs", "--journal", journal, "--run", "run-nothing").returncode != 0


# -- a sturdy store (22.7, M6) -----------------------------------------------------------------------------


def _drop_connections(url: str) -> int:
    import psycopg

    with psycopg.connect(url, autocommit=True) as db:
        return len(db.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname ="
                              " current_database() AND pid <> pg_backend_pid()").fetchall())  # fmt: skip


def test_m6_dropped_connections_cost_no_worker_and_no_job_id(emulated, emu, postgres_url: str, tmp_path: Path,
                                                             caplog) -> None:  # fmt: skip
    """Every connection of a worker is dropped while a create is on its way: the pool opens new ones,
    the job's id is recorded once the database answers again, and the run ends with each chunk sent once."""
    client = emulated("resemble")
    run = client.enqueue(many(tmp_path, 6), journal=postgres_url, chunk=2)
    emu.faults.add("POST /api/v2/detect/batch", FaultKind.SLOW_REPLY, delay=600, after=1)  # the second is held
    done: list[Any] = []
    worker = threading.Thread(target=lambda: done.append(client.work(postgres_url, until_done=True, concurrency=1)))
    worker.start()
    wait_until(lambda: emu.created("resemble") == 2, "the second create landed")
    assert _drop_connections(postgres_url) >= 1
    emu.faults.release()
    worker.join()
    assert done, "the worker ended with an error"
    assert (done[0].sent, done[0].finished) == (3, 3)
    assert emu.created("resemble") == 3
    book = Journal(postgres_url)
    assert {c.state for c in book.chunks(run)} == {ChunkState.DONE}
    book.close()


def test_a_run_an_earlier_batchkit_recorded_under_its_older_id_is_resumed(emulated, emu, tmp_path: Path) -> None:
    """Before one canonical spec, the CLI's ``callback_url=None, options=None`` made another id: that run
    is found and resumed, never recorded (and paid for) again."""
    from batchkit._orchestration.large_submissions import fingerprint

    files = many(tmp_path, 3)
    journal = str(tmp_path / "run.db")
    client = emulated("resemble")
    run = client.enqueue(files, journal=journal)
    book = Journal(journal)
    local = [batchkit._kernel.inputs.check_file(f) for f in files]
    limits = tuple(book.run(run).spec["limits"])
    older = fingerprint("resemble", local, limits, {"callback_url": None, "options": None})
    with book._store.transaction() as tx:  # as an earlier CLI recorded it
        tx.execute("UPDATE runs SET id = ?, fingerprint = ? WHERE id = ?", (f"run-{older[:16]}", older, run))
        for table in ("chunks", "files"):
            tx.execute(f"UPDATE {table} SET run_id = ? WHERE run_id = ?", (f"run-{older[:16]}", run))
    book.close()
    assert client.enqueue(files, journal=journal, options=None, callback_url=None) == f"run-{older[:16]}"
    assert len(batchkit.runs.progress(journal)) == 1


class _Fast(SystemClock):
    """The real clock, 40 s fast (as a host whose clock drifted)."""

    def time(self) -> float:
        return super().time() + 40


def test_a_worker_process_whose_clock_runs_40_s_fast_leaves_a_live_chunk_alone(emu, postgres_url: str,
                                                                               tmp_path: Path) -> None:  # fmt: skip
    client = batchkit.connect_async("resemble", api_key=EMULATOR_KEY, base_url=emu.base_url, clock=_Fast())
    book = Journal(postgres_url)

    async def fast_worker_tries() -> None:
        run = await client.enqueue(many(tmp_path, 2), journal=postgres_url)
        now = int(time.time() * 1000)
        book.register("A", ["resemble"], "test", now, 30_000)
        held = book.claim("A", Scope("resemble", run), now_ms=now, lease_ms=30_000)  # A, live, on a true clock
        assert held is not None
        work = asyncio.ensure_future(client.work(postgres_url, until_done=True, lease=1.5))

        def tried() -> bool:  # its heartbeat has beaten a second after it started: it looked more than once
            return any(w.id != "A" and w.heartbeat_ms > w.started_ms + 1_000 for w in book.workers())

        while not await asyncio.to_thread(tried):
            assert not work.done()
            await asyncio.sleep(0.05)
        work.cancel()
        with pytest.raises(asyncio.CancelledError):
            await work
        await client.aclose()
        with book._store.transaction(write=False) as tx:
            assert tx.execute("SELECT owner, token FROM chunks").fetchone() == ("A", held.token)

    try:
        asyncio.run(fast_worker_tries())
    finally:
        book.close()
    assert emu.created("resemble") == 0


def test_a_chunk_whose_step_met_an_unreachable_journal_is_given_back_not_kept_alive(emulated, emu, tmp_path: Path,
                                                                                    monkeypatch) -> None:  # fmt: skip
    """A lane that meets an unreachable journal mid-step gives its chunk back once the journal answers:
    the heartbeat renews every lease the worker holds, so a chunk merely left there would never lapse."""
    from batchkit._kernel.journal.stores import Unavailable

    read_run, refused = Journal.run, []

    def run_once_unreachable(self: Journal, run: str) -> Any:
        if not refused:
            refused.append(run)
            raise Unavailable(f"{self.where}: the database restarted")
        return read_run(self, run)

    class Bounded(FakeClock):  # the worker's time is bounded: a chunk kept alive would idle forever
        def sleep(self, seconds: float) -> None:
            if sum(self.slept) > 3 * LONG_LEASE:
                pytest.fail("the chunk was never given back")
            super().sleep(seconds)

    monkeypatch.setattr(Journal, "run", run_once_unreachable)
    client = emulated("resemble", clock=Bounded())
    journal = str(tmp_path / "run.db")
    run = client.enqueue(many(tmp_path, 2), journal=journal)
    summary = client.work(journal, until_done=True, lease=LONG_LEASE)
    assert refused == [run]
    assert (summary.sent, summary.finished, _chunk(journal, run).state) == (1, 1, ChunkState.DONE)
    assert not _owned(journal, run)
    assert emu.created("resemble") == 1


def test_a_journal_outage_while_results_are_collected_fails_no_file(emulated, emu, tmp_path: Path,
                                                                     monkeypatch) -> None:  # fmt: skip
    """Collecting results asks the journal too (the shared rate, before each request): its outage then is
    the journal's, and the results are asked again; seen as 50 files FAILED "the journal could not be
    reached" in a loaded PostgreSQL chaos run (pg_ctl restart)."""
    from batchkit._kernel.journal.stores import Unavailable
    from batchkit.providers.resemble import ResembleProvider

    collect, refused = ResembleProvider.results, []

    def results_once_unreachable(self: ResembleProvider, job: Any) -> Any:
        if not refused:
            refused.append(job.id)
            raise Unavailable("the journal could not be reached (server closed the connection unexpectedly)")
        return (yield from collect(self, job))

    monkeypatch.setattr(ResembleProvider, "results", results_once_unreachable)
    client = emulated("resemble", clock=FakeClock())
    journal = str(tmp_path / "run.db")
    run = client.enqueue(many(tmp_path, 2), journal=journal)
    summary = client.work(journal, until_done=True, lease=LONG_LEASE)
    assert len(refused) == 1
    assert (summary.finished, summary.failed) == (1, 0)
    assert [r.status for r in batchkit.runs.results(journal, run)] == [batchkit.JobStatus.SUCCEEDED] * 2


def test_a_worker_stopped_between_its_intent_and_its_upload_sends_nothing_late(emulated, emu, tmp_path: Path,
                                                                              monkeypatch, caplog) -> None:  # fmt: skip
    """The upload's bound counts from the intent, not from when the request is built: a process stopped
    (SIGSTOP, a frozen VM) just after journaling its intent cannot send a whole body once the settle window
    may have let another worker send the chunk again. Here the pause is a sleep longer than the bound."""
    journal_intent, paused = Journal.intend, []

    def intend_then_pause(self: Journal, *args: Any) -> int:
        at = journal_intent(self, *args)
        if not paused:
            paused.append(at)
            time.sleep(0.5 + 0.3)  # past the upload's bound: half the settle window of 1 s
        return at

    monkeypatch.setattr(Journal, "intend", intend_then_pause)
    caplog.set_level(logging.INFO, logger="batchkit")
    client = emulated("resemble")
    journal = str(tmp_path / "run.db")
    run = client.enqueue(many(tmp_path, 2), journal=journal)
    summary = client.work(journal, until_done=True, settle=1)
    assert paused
    assert "no job with these files was found, 1 s after its intent: sending it again" in caplog.text  # not late
    assert (summary.finished, _chunk(journal, run).state, emu.created("resemble")) == (1, ChunkState.DONE, 1)
