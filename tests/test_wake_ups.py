"""Wake-ups instead of polling: on PostgreSQL an idle worker rests up to 30 s between looks at the
journal, and a run enqueued (or a chunk freed) wakes it through ``LISTEN``/``NOTIFY``; a lost listening
connection is opened again, and polling stays the fallback. Real PostgreSQL; timing only as a lower bound
that load cannot break (woken long before its 60 s poll)."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import pytest

import batchkit
from batchkit._kernel.journal import Journal
from batchkit._kernel.journal.wake_ups import WakeUps
from batchkit._orchestration.workers import Worker
from batchkit.emulator import EMULATOR_KEY
from tests.patience import wait_until
from tests.test_submit_many import many


def test_an_enqueue_wakes_a_worker_resting_for_a_minute(emu, postgres_url: str, tmp_path: Path, monkeypatch) -> None:
    rests: list[float] = []
    resting = Worker._rest

    def rest(self: Worker, seconds: float, seen: int) -> Any:
        rests.append(seconds)
        return resting(self, seconds, seen)

    monkeypatch.setattr(Worker, "_rest", rest)

    async def scenario() -> tuple[float, float]:
        async with batchkit.connect_async("resemble", api_key=EMULATOR_KEY, base_url=emu.base_url) as client:
            working = asyncio.create_task(client.work(postgres_url, idle=60))
            try:
                while not rests:  # it looked, found nothing, and rests: only a wake-up ends that before 60 s
                    assert not working.done(), working.result()
                    await asyncio.sleep(0.01)
                enqueued = time.monotonic()
                await client.enqueue(many(tmp_path, 3), journal=postgres_url)
                while emu.created("resemble") == 0:
                    assert not working.done(), working.result()
                    await asyncio.sleep(0.01)
                return rests[0], time.monotonic() - enqueued
            finally:
                working.cancel()
                with pytest.raises(asyncio.CancelledError):
                    await working

    first_rest, woke_after = asyncio.run(scenario())
    assert first_rest == 60
    assert woke_after < 30, f"sent {woke_after:.1f} s after the enqueue: it waited for its poll, not a wake-up"
    print(f"an idle worker resting 60 s sent {woke_after:.2f} s after the enqueue")


def test_a_wake_up_sent_while_the_worker_looks_at_the_journal_is_not_missed(emu, postgres_url: str, tmp_path: Path,
                                                                            monkeypatch) -> None:  # fmt: skip
    listeners: list[WakeUps] = []
    listening = WakeUps.__init__

    def listen(self: WakeUps, *args: Any) -> None:
        listening(self, *args)
        listeners.append(self)

    looking, looked = Journal.next_due, []

    def next_due(self: Journal, scope: Any, now_ms: int) -> int | None:
        """The journal as it was (nothing due), while a run is enqueued and its wake-up arrives."""
        due = looking(self, scope, now_ms)
        if not looked:
            looked.append(time.monotonic())
            [listener] = listeners
            wait_until(lambda: listener.count >= 1, "it never listened", lambda: listener.count)
            before = listener.count
            with batchkit.connect("resemble", api_key=EMULATOR_KEY, base_url=emu.base_url) as other:
                other.enqueue(many(tmp_path, 3), journal=postgres_url)
            wait_until(lambda: listener.count > before, "the wake-up never came", lambda: listener.count)
        return due

    monkeypatch.setattr(WakeUps, "__init__", listen)
    monkeypatch.setattr(Journal, "next_due", next_due)

    async def scenario() -> float:
        async with batchkit.connect_async("resemble", api_key=EMULATOR_KEY, base_url=emu.base_url) as client:
            working = asyncio.create_task(client.work(postgres_url, idle=60, concurrency=1))
            try:
                while emu.created("resemble") == 0:
                    assert not working.done(), working.result()
                    await asyncio.sleep(0.01)
                return time.monotonic() - looked[0]
            finally:
                working.cancel()
                with pytest.raises(asyncio.CancelledError):
                    await working

    woke_after = asyncio.run(scenario())
    assert woke_after < 30, f"sent {woke_after:.1f} s after the enqueue: the wake-up was missed"


def test_wake_ups_come_back_after_their_connection_is_dropped(postgres_url: str) -> None:
    import psycopg

    book = Journal(postgres_url)
    wake_ups = book.wake_ups()
    assert wake_ups is not None
    try:
        wait_until(lambda: wake_ups.count >= 1, "it never listened", lambda: wake_ups.count)
        with psycopg.connect(postgres_url, autocommit=True) as db:
            assert db.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE query LIKE 'LISTEN%'"
                              " AND pid <> pg_backend_pid()").fetchall()  # fmt: skip
            wait_until(lambda: wake_ups.count >= 2, "it never listened again", lambda: wake_ups.count)
            before = wake_ups.count
            db.execute("SELECT pg_notify('batchkit', 'run-x')")
            wait_until(lambda: wake_ups.count > before, "a notification after the drop was missed",
                       lambda: wake_ups.count)  # fmt: skip
    finally:
        wake_ups.close()
        book.close()


def test_a_sqlite_journal_has_no_wake_ups_and_a_worker_polls_each_second(tmp_path: Path) -> None:
    book = Journal(tmp_path / "journal.db")
    try:
        assert book.wake_ups() is None
    finally:
        book.close()
    assert (Worker.IDLE, Worker.WOKEN_IDLE) == (1.0, 30.0)
    with pytest.raises(batchkit.InputError, match=r"idle must be 0\.05 to 3600 seconds"):
        batchkit.connect("resemble", api_key="k").work(tmp_path / "journal.db", idle=0)


def test_a_worker_that_starts_while_its_journal_is_out_of_reach_waits_for_it(emulated, emu, tmp_path: Path,
                                                                            monkeypatch, caplog) -> None:  # fmt: skip
    from batchkit._kernel.journal.stores import Unavailable
    from batchkit._orchestration import operations

    journal = str(tmp_path / "journal.db")
    client = emulated("resemble")
    client.enqueue(many(tmp_path, 3), journal=journal)
    refused = []

    def restarting(target: Any) -> Journal:
        if len(refused) < 2:  # a database restarting as the worker starts (seen in a chaos run: it exited 3)
            refused.append(target)
            raise Unavailable(f"{target}: cannot open the journal (Connection refused)")
        return Journal(target)

    monkeypatch.setattr(operations, "Journal", restarting)
    assert client.work(journal, until_done=True).finished == 1
    assert len(refused) == 2
    assert caplog.text.count("trying again") == 2


def test_a_server_out_of_reach_is_told_from_a_wrong_url(postgres_url: str) -> None:
    from batchkit._kernel.journal.stores import Unavailable

    with pytest.raises(Unavailable, match="Connection refused"):
        Journal("postgresql://postgres:pw@127.0.0.1:1/none")
    with pytest.raises(batchkit.InputError, match="password authentication failed"):
        Journal(postgres_url.replace("@", "x@", 1))
