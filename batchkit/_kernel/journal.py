"""The local journal of a large submission (sqlite3, WAL): intent before each send, job id after."""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path

import attrs

from batchkit.errors import InputError


class ChunkState:
    PLANNED = "planned"
    SENDING = "sending"
    """Intent recorded; the send may or may not have reached the provider."""
    SENT = "sent"
    AMBIGUOUS = "ambiguous"
    """The send may have reached the provider and could not be matched to a job."""
    FAILED = "failed"
    """The provider refused it (nothing was created); it is sent again on the next run."""


@attrs.frozen
class Chunk:
    """One provider-sized part of a large submission."""

    index: int
    files: tuple[str, ...]
    state: str
    job_id: str | None = None
    intent_ms: int | None = None
    error: str | None = None


_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS chunks (
    idx INTEGER PRIMARY KEY, files TEXT NOT NULL, state TEXT NOT NULL,
    job_id TEXT, intent_ms INTEGER, error TEXT
);
"""


class Journal:
    """Every state change is committed (and synced) before the next network step."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        import sqlite3

        self.path = Path(path)
        try:
            self._db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        except sqlite3.Error as exc:
            raise InputError(f"{self.path}: cannot open the journal ({exc})") from None
        try:
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=FULL")
            self._db.executescript(_SCHEMA)
        except sqlite3.DatabaseError as exc:
            self._db.close()
            raise InputError(f"{self.path}: not a usable batchkit journal ({exc})") from None

    def close(self) -> None:
        self._db.close()

    def open(self, fingerprint: str, plan: Sequence[Sequence[str]]) -> list[Chunk]:
        """The chunks of this submission: planned now, or as recorded by an earlier run of it."""
        row = self._db.execute("SELECT value FROM meta WHERE key = 'fingerprint'").fetchone()
        if row is None:
            with self._db:
                self._db.execute("BEGIN IMMEDIATE")
                self._db.execute("INSERT INTO meta VALUES ('fingerprint', ?)", (fingerprint,))
                self._db.executemany(
                    "INSERT INTO chunks (idx, files, state) VALUES (?, ?, ?)",
                    [(i, json.dumps(list(files)), ChunkState.PLANNED) for i, files in enumerate(plan)],
                )
        elif row[0] != fingerprint:
            raise InputError(
                f"{self.path} journals a different submission (other files, provider or options); use a new journal"
            )
        return self.chunks()

    def chunks(self) -> list[Chunk]:
        rows = self._db.execute("SELECT idx, files, state, job_id, intent_ms, error FROM chunks ORDER BY idx")
        return [Chunk(i, tuple(json.loads(f)), s, j, t, e) for i, f, s, j, t, e in rows]

    def _set(self, index: int, state: str, **values: object) -> None:
        columns = "".join(f", {name} = ?" for name in values)
        self._db.execute(f"UPDATE chunks SET state = ?{columns} WHERE idx = ?", (state, *values.values(), index))

    def intend(self, index: int, now: float) -> int:
        """Record that chunk ``index`` is about to be sent (``now`` in seconds); return the intent in ms."""
        intent_ms = int(now * 1000)
        self._set(index, ChunkState.SENDING, intent_ms=intent_ms, error=None)
        return intent_ms

    def sent(self, index: int, job_id: str) -> None:
        self._set(index, ChunkState.SENT, job_id=job_id)

    def ambiguous(self, index: int, reason: str) -> None:
        self._set(index, ChunkState.AMBIGUOUS, error=reason)

    def failed(self, index: int, reason: str) -> None:
        self._set(index, ChunkState.FAILED, error=reason)
