"""A run's progress is counted as its chunks and files change (triggers on both stores), never by a scan:
the counters agree with a count of the rows after every kind of change, a journal from before them is
counted when it is opened, and reading them reads no chunk or file."""

from __future__ import annotations

import contextlib
import re

from batchkit._kernel.journal import ChunkState, Journal, RunProgress, Scope

from .statements import statements

HOUR = 3_600_000


def _scanned(journal: Journal) -> list[tuple[int, ...]]:
    """Each run's progress counted from its rows, as ``runs`` did before the counters."""
    with journal._store.transaction(write=False) as tx:
        return [tuple(int(n) for n in row) for row in tx.execute(
            "SELECT (SELECT COUNT(job_id) FROM chunks c WHERE c.run_id = r.id),"
            + ",".join(f" (SELECT COUNT(*) FROM chunks c WHERE c.run_id = r.id AND c.state = '{state}')"
                       for state in ("done", "ambiguous", "failed", "cancelled"))
            + ", (SELECT COUNT(status) FROM files f WHERE f.run_id = r.id) FROM runs r ORDER BY created_ms, id"
        ).fetchall()]  # fmt: skip


def _counted(journal: Journal) -> list[tuple[int, ...]]:
    def row(p: RunProgress) -> tuple[int, ...]:
        return p.chunks_sent, p.jobs_finished, p.ambiguous, p.failed, p.cancelled, p.files_done

    return [row(p) for p in journal.runs()]


def _record(journal: Journal, name: str, chunks: int, created_ms: int) -> str:
    files = [(f"/data/{name}/{i:04d}.wav", 10, None) for i in range(2 * chunks)]
    return journal.record_run("resemble", name, {"inputs": {}}, files, [[2 * i, 2 * i + 1] for i in range(chunks)],
                              created_ms)  # fmt: skip


def test_the_counters_agree_with_the_rows_after_every_kind_of_change(journal_url: str) -> None:
    with contextlib.closing(Journal(journal_url)) as journal:
        run = _record(journal, "mixed", 12, 1_000)
        other = _record(journal, "other", 3, 2_000)
        assert _counted(journal) == _scanned(journal) == [(0,) * 6, (0,) * 6]
        now = journal.now_ms(10_000_000)  # PostgreSQL's clock, or this one
        for n in range(10):
            taken = journal.claim("w", Scope("resemble", run), now, 60_000)
            assert taken is not None
            journal.intend(taken, now, 60_000)
            if n % 5 == 0:
                journal.failed(taken, "refused")
            elif n % 5 == 1:
                journal.ambiguous(taken, "timed out", now + HOUR, 1.0)
            else:
                followed = n % 5 != 4  # its job ends now; the others' is checked in an hour
                journal.sent(taken, f"job-{n}", (), now if followed else now + HOUR, 1.0)
                if followed:
                    others = frozenset(range(12)) - {taken.chunk.index}
                    done = journal.claim("w", Scope("resemble", run, skip=others), now, 60_000)
                    assert done is not None
                    assert done.chunk.index == taken.chunk.index
                    first = 2 * taken.chunk.index
                    journal.finished(done, "succeeded", [(first, "succeeded", None, {}), (first + 1, "failed", "x",
                                                                                          None)])  # fmt: skip
            assert _counted(journal) == _scanned(journal)
        assert _counted(journal)[0] == (6, 4, 2, 2, 0, 8)
        journal.retry_failed(run)  # the two refused chunks are planned again
        assert _counted(journal) == _scanned(journal)
        journal.resend(run)  # the ambiguous ones too
        assert _counted(journal) == _scanned(journal)
        assert journal.cancel(run) > 0
        assert _counted(journal) == _scanned(journal)
        assert _counted(journal)[0] == (6, 4, 0, 0, 8, 8)  # every chunk not done
        assert _counted(journal)[1] == (0,) * 6  # the other run's counters never moved
        assert journal.prune(now + 3 * HOUR) == [run]  # the other has work left
        assert [p.run.id for p in journal.runs()] == [other]
        assert _counted(journal) == _scanned(journal)


def test_a_journal_from_before_the_counters_is_counted_when_it_opens(journal_url: str) -> None:
    with contextlib.closing(Journal(journal_url)) as journal:
        run = _record(journal, "old", 4, 1_000)
        now = journal.now_ms(10_000_000)
        taken = journal.claim("w", Scope("resemble", run), now, 60_000)
        assert taken is not None
        journal.sent(taken, "job-0", (), now, 1.0)
        again = journal.claim("w", Scope("resemble", run, skip=frozenset({1, 2, 3})), now, 60_000)
        assert again is not None
        journal.finished(again, "succeeded", [(0, "succeeded", None, {}), (1, "succeeded", None, {})])
        with journal._store.transaction() as tx:  # as schema 9 left it: no counters kept
            tx.execute("UPDATE runs SET chunks_sent = 0, jobs_finished = 0, files_done = 0")
            tx.execute("UPDATE meta SET value = '9' WHERE key = 'schema'")
    with contextlib.closing(Journal(journal_url)) as journal:
        assert _counted(journal) == _scanned(journal) == [(1, 1, 0, 0, 0, 2)]


def test_reading_progress_reads_no_chunk_or_file(journal_url: str) -> None:
    with contextlib.closing(Journal(journal_url)) as journal:
        _record(journal, "big", 2_000, 1_000)
        with journal._store.transaction() as tx:
            tx.execute("UPDATE chunks SET state = ? WHERE idx < 500", (ChunkState.DONE,))
        with statements(journal) as seen:
            [progress] = journal.runs()
        assert progress.jobs_finished == 500
        read = [sql for sql, _ in seen if sql.startswith("SELECT")]
        assert read
        assert not any(re.search(r"\b(FROM|JOIN)\s+(chunks|files)\b", sql) for sql in read)


def test_a_statement_moves_a_runs_counters_once_on_postgresql(postgres_url: str) -> None:
    """A row trigger updated the run's row once for each chunk a statement changed: a cancel of 40,000
    chunks walked ever longer chains of that row's versions (16 s; the update alone takes 0.3 s)."""
    with contextlib.closing(Journal(postgres_url)) as journal:
        run = _record(journal, "many", 500, 1_000)
        with journal._store.transaction() as tx:
            tx.execute("UPDATE chunks SET state = ? WHERE run_id = ?", (ChunkState.CANCELLED, run))
            tx.execute("UPDATE chunks SET error = 'a note' WHERE run_id = ?", (run,))  # moves no counter
            [(updates,)] = tx.execute("SELECT n_tup_upd FROM pg_stat_xact_user_tables WHERE relname = 'runs'"
                                      ).fetchall()  # fmt: skip
        assert updates == 1
        assert _counted(journal) == _scanned(journal) == [(0, 0, 0, 0, 500, 0)]


def test_a_resend_beside_a_workers_write_cannot_deadlock_on_postgresql(postgres_url: str) -> None:
    """``resend`` changed its chunks one statement at a time, each moving the run's counters: after the
    first it held the run's row, then waited for a chunk a worker held, while that worker's write of the
    chunk waited for the run's row (``deadlock detected``). One statement holds its chunks first."""
    import threading

    import psycopg

    from .patience import wait_until

    with contextlib.closing(Journal(postgres_url)) as journal:
        run = _record(journal, "both", 2, 1_000)
        with journal._store.transaction() as tx:
            tx.execute("UPDATE chunks SET state = ? WHERE run_id = ?", (ChunkState.AMBIGUOUS, run))
        with psycopg.connect(postgres_url) as worker:
            worker.execute("UPDATE chunks SET error = 'looking' WHERE run_id = %s AND idx = 1", (run,))  # holds it
            outcome: list[object] = []
            resending = threading.Thread(target=lambda: outcome.append(_resent(journal, run)))
            resending.start()
            wait_until(lambda: worker.execute("SELECT COUNT(*) FROM pg_locks WHERE NOT granted").fetchone() == (1,),
                       "the resend to wait for the worker's chunk")  # fmt: skip
            worker.execute("UPDATE chunks SET state = 'sent', job_id = 'found' WHERE run_id = %s AND idx = 1", (run,))
            worker.commit()
            resending.join()
        assert isinstance(outcome[0], list)  # not a deadlock's error
        states = {c.index: c.state for c in journal.chunks(run)}
        assert states == {0: ChunkState.PLANNED, 1: ChunkState.SENT}  # the chunk whose job was found stays sent
        assert _counted(journal) == _scanned(journal) == [(1, 0, 0, 0, 0, 0)]


def _resent(journal: Journal, run: str) -> object:
    try:
        return [c.index for c in journal.resend(run)]
    except Exception as exc:
        return exc
