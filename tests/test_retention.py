"""Retention: ``batchkit prune`` deletes runs that are over and old, and keeps every run whose jobs may
still matter (work left, or an ambiguous chunk whose job may exist), on both stores."""

from __future__ import annotations

import contextlib
import json
from pathlib import Path

import pytest

import batchkit
from batchkit._kernel.journal import Journal

DAY = 86_400


def _set(journal: str, sql: str, params: tuple[object, ...]) -> None:
    with contextlib.closing(Journal(journal)) as book, book._store.transaction() as tx:
        tx.execute(sql, params)


def _count(journal: str, table: str) -> int:
    with contextlib.closing(Journal(journal)) as book, book._store.transaction(write=False) as tx:
        return int(tx.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0])


def _runs(emulated, tmp_path: Path, journal: str) -> dict[str, str]:
    """Four runs of two files each: one worked to its end, and three whose chunks are set as named."""
    client = emulated("resemble")
    made = {}
    for name in ("done", "ambiguous", "planned", "recent"):
        files = []
        for i in range(2):
            path = tmp_path / name / f"{i}.wav"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(b"x" * 10)
            files.append(path)
        made[name] = client.enqueue(files, journal=journal)
    assert client.work(journal, run=made["done"], until_done=True).finished == 1
    assert client.work(journal, run=made["recent"], until_done=True).finished == 1
    _set(journal, "UPDATE chunks SET state = 'ambiguous', error = 'cannot tell' WHERE run_id = ?", (made["ambiguous"],))
    _set(journal, "UPDATE runs SET created_ms = created_ms - ? WHERE id <> ?", (40 * DAY * 1000, made["recent"]))
    return made


def test_prune_deletes_only_runs_that_are_over_and_old(emulated, journal_url: str, tmp_path: Path) -> None:
    made = _runs(emulated, tmp_path, journal_url)
    assert batchkit.runs.prune(journal_url, 30 * DAY, dry_run=True) == [made["done"]]
    assert _count(journal_url, "runs") == 4, "a dry run deletes nothing"
    assert batchkit.runs.prune(journal_url, 30 * DAY) == [made["done"]]
    assert [p.run.id for p in batchkit.runs.progress(journal_url)] == [made["ambiguous"], made["planned"], made["recent"]]
    assert (_count(journal_url, "chunks"), _count(journal_url, "files")) == (3, 6), "its chunks and files went too"
    with pytest.raises(batchkit.InputError, match="has no run"):
        batchkit.runs.results(journal_url, made["done"])
    assert batchkit.runs.prune(journal_url, 30 * DAY) == [], "nothing more is over and old"
    assert batchkit.runs.prune(journal_url, 0) == [made["recent"]]
    with pytest.raises(batchkit.InputError, match="older_than must be seconds"):
        batchkit.runs.prune(journal_url, -1)


def test_the_prune_command(cli, emulated, tmp_path: Path) -> None:
    journal = str(tmp_path / "journal.db")
    made = _runs(emulated, tmp_path, journal)
    said = cli("prune", "--journal", journal, "--older-than", "30d", "--dry-run")
    assert said.returncode == 0, said.stderr
    assert f"would delete 1 run(s) created more than 30d ago\n  {made['done']}" in said.stderr
    assert _count(journal, "runs") == 4
    done = cli("--json", "prune", "--journal", journal, "--older-than", "4w")
    assert json.loads(done.stdout) == {"dry_run": False, "pruned": [made["done"]]}
    assert _count(journal, "runs") == 3
    for bad in ("30x", "-2d", "soon"):
        refused = cli("prune", "--journal", journal, "--older-than", bad)
        assert refused.returncode == 3  # bad input or usage
        assert "is not an age" in refused.stderr


def test_a_worker_prunes_when_told_to_one_worker_at_a_time(emulated, journal_url: str, tmp_path: Path,
                                                          caplog) -> None:  # fmt: skip
    """``work(prune=…)``: the worker deletes the runs that are over and old as it starts (and every ten
    minutes); while another worker of the fleet is pruning (its advisory lock held, on PostgreSQL) it
    leaves pruning to that one."""
    caplog.set_level("INFO", "batchkit")
    made = _runs(emulated, tmp_path, journal_url)
    client = emulated("resemble")
    if journal_url.startswith("postgresql"):
        import psycopg

        from batchkit._kernel.journal.book import PRUNING

        with psycopg.connect(journal_url, autocommit=True) as other:
            other.execute("SELECT pg_advisory_lock(%s)", (PRUNING,))  # another worker, pruning now
            client.work(journal_url, until_done=True, prune=30 * DAY, run=made["recent"])
            assert _count(journal_url, "runs") == 4
    client.work(journal_url, until_done=True, prune=30 * DAY, run=made["recent"])  # a run with nothing left
    assert [p.run.id for p in batchkit.runs.progress(journal_url)] == [made["ambiguous"], made["planned"],
                                                                        made["recent"]]  # fmt: skip
    assert f"pruned 1 run(s) over and created more than {30 * DAY} s ago: {made['done']}" in caplog.text
    with pytest.raises(batchkit.InputError, match="prune must be seconds"):
        client.work(journal_url, prune=-1)


def test_the_worker_command_prunes(cli, emulated, tmp_path: Path) -> None:
    journal = str(tmp_path / "journal.db")
    made = _runs(emulated, tmp_path, journal)
    said = cli("worker", "--journal", journal, "--until-done", "--prune-older-than", "30d")
    assert said.returncode == 0, said.stderr
    assert [p.run.id for p in batchkit.runs.progress(journal)] == [made["ambiguous"], made["planned"], made["recent"]]
    refused = cli("worker", "--journal", journal, "--until-done", "--prune-older-than", "soon")
    assert refused.returncode == 3
    assert "is not an age" in refused.stderr
