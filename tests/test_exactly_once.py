"""Exactly once with nobody in the loop (issue 22) and the defects of issue 23 it overlaps (H4, M1, M2,
M4, M5, M6, M7): what a worker leaves in the journal when it is stopped, refused or fenced out."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

import batchkit
from batchkit._kernel.journal import ChunkState, Journal
from batchkit.emulator import EMULATOR_KEY
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
