"""The local journal of a large submission (sqlite3, WAL): who holds each chunk, the intent before
each send, the outcome after. Several processes on one host may share one journal: a chunk is
claimed (``BEGIN IMMEDIATE``) before it is sent, so each is created once whatever their number."""

from __future__ import annotations

import functools
import json
import os
from collections.abc import Callable, Collection, Sequence
from pathlib import Path
from typing import Any, TypeVar

import attrs

from batchkit.errors import BatchkitError, InputError, JournalError

F = TypeVar("F", bound=Callable[..., Any])
SCHEMA_VERSION = 3


class ChunkState:
    PLANNED = "planned"
    SENDING = "sending"
    """Intent recorded; the send may or may not have reached the provider."""
    SENT = "sent"
    AMBIGUOUS = "ambiguous"
    """The send may have reached the provider and could not be matched to a job."""
    FAILED = "failed"
    """The provider refused it, or it failed before anything was sent; it is sent again on the next run."""


@attrs.frozen
class Chunk:
    """One provider-sized part of a large submission."""

    index: int
    files: tuple[str, ...]
    state: str
    job_id: str | None = None
    intent_ms: int | None = None
    error: str | None = None
    children: tuple[str, ...] = ()
    """The job's per-file parts, where they identify it (a job adopted through a provider's detect list)."""


_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS chunks (
    idx INTEGER PRIMARY KEY, files TEXT NOT NULL, state TEXT NOT NULL,
    job_id TEXT, intent_ms INTEGER, error TEXT
);
"""
_MIGRATIONS = {
    2: (
        "ALTER TABLE chunks ADD COLUMN owner TEXT",
        "ALTER TABLE chunks ADD COLUMN owner_pid INTEGER",
        "ALTER TABLE chunks ADD COLUMN owner_host TEXT",
    ),
    3: ("ALTER TABLE chunks ADD COLUMN children TEXT",),
}
"""Statements that bring a journal of the version before to each version."""


@functools.cache
def _host() -> str:
    import socket

    return socket.gethostname()


def _typed(method: F) -> F:
    """sqlite's failures (locked, full disk, a tampered row) as a :class:`JournalError`."""

    @functools.wraps(method)
    def wrapper(self: Journal, *args: Any, **kwargs: Any) -> Any:
        import sqlite3

        try:
            return method(self, *args, **kwargs)
        except BatchkitError:
            raise
        except sqlite3.Error as exc:
            raise JournalError(f"{self.path}: the journal could not be used ({exc})") from None
        except (ValueError, TypeError, IndexError) as exc:
            raise JournalError(f"{self.path}: the journal holds a row batchkit did not write ({exc})") from None

    return wrapper  # type: ignore[return-value]


def _alive(pid: int | None, host: str | None) -> bool:
    """Whether the process holding a claim still runs (one on another host is assumed to)."""
    if pid is None:
        return False
    if host != _host():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class Journal:
    """Every state change is committed (and synced) before the next network step."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        import sqlite3

        self.path = Path(path)
        if str(path) == ":memory:" or str(path).startswith("file:"):
            raise InputError(f"journal {str(path)!r} must be a file: it is what lets a run resume")
        try:
            self._db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False, timeout=60)
        except sqlite3.Error as exc:
            raise InputError(f"{self.path}: cannot open the journal ({exc})") from None
        try:
            self._while_locked(lambda: self._db.execute("PRAGMA journal_mode=WAL"))
            self._db.execute("PRAGMA synchronous=FULL")
            self._while_locked(self._migrate)
        except sqlite3.DatabaseError as exc:
            self._db.close()
            raise InputError(f"{self.path}: not a usable batchkit journal ({exc})") from None

    @staticmethod
    def _while_locked(step: Callable[[], object], seconds: float = 60.0) -> None:
        """Run ``step``, again while another process holds the lock sqlite's busy handler cannot wait
        for (switching to WAL, or two processes creating the same journal at once)."""
        import sqlite3
        import time

        deadline = time.monotonic() + seconds
        while True:
            try:
                step()
                return
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc) or time.monotonic() > deadline:
                    raise
                time.sleep(0.02)

    def _migrate(self) -> None:
        self._db.execute("BEGIN IMMEDIATE")
        try:
            for statement in filter(str.strip, _SCHEMA.split(";")):
                self._db.execute(statement)
            row = self._db.execute("SELECT value FROM meta WHERE key = 'schema'").fetchone()
            version = int(row[0]) if row else 1
            for target in range(version + 1, SCHEMA_VERSION + 1):
                for statement in _MIGRATIONS[target]:
                    self._db.execute(statement)
            self._db.execute("INSERT OR REPLACE INTO meta VALUES ('schema', ?)", (str(SCHEMA_VERSION),))
            self._db.execute("COMMIT")
        except BaseException:
            self._db.execute("ROLLBACK")
            raise

    def close(self) -> None:
        self._db.close()

    @_typed
    def open(self, fingerprint: str, plan: Sequence[Sequence[str]]) -> list[Chunk]:
        """The chunks of this submission: planned now, or as recorded by an earlier (or a concurrent) run."""
        with self._db:
            self._db.execute("BEGIN IMMEDIATE")
            row = self._db.execute("SELECT value FROM meta WHERE key = 'fingerprint'").fetchone()
            if row is None:
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

    @_typed
    def chunks(self) -> list[Chunk]:
        rows = self._db.execute("SELECT idx, files, state, job_id, intent_ms, error, children FROM chunks ORDER BY idx")
        return [
            Chunk(int(i), tuple(str(f) for f in json.loads(fs)), str(s), j, t, e, tuple(json.loads(c or "[]")))
            for i, fs, s, j, t, e, c in rows
        ]

    @_typed
    def claim(self, owner: str, skip: Collection[int]) -> Chunk | None:
        """The first chunk with work left that no live process holds, now held by ``owner``; None if none."""
        unsettled = (ChunkState.PLANNED, ChunkState.FAILED, ChunkState.SENDING, ChunkState.AMBIGUOUS)
        with self._db:
            self._db.execute("BEGIN IMMEDIATE")
            rows = self._db.execute(
                "SELECT idx, owner_pid, owner_host FROM chunks WHERE state IN (?, ?, ?, ?) ORDER BY idx", unsettled
            ).fetchall()
            for index, pid, host in rows:
                if index not in skip and not _alive(pid, host):
                    self._db.execute(
                        "UPDATE chunks SET owner = ?, owner_pid = ?, owner_host = ? WHERE idx = ?",
                        (owner, os.getpid(), _host(), index),
                    )
                    break
            else:
                return None
        chunk: Chunk = self.chunks()[index]
        return chunk

    @_typed
    def held_elsewhere(self, owner: str) -> bool:
        """Whether a live process other than ``owner`` holds a chunk (so the submission is not settled)."""
        rows = self._db.execute(
            "SELECT owner_pid, owner_host FROM chunks WHERE owner IS NOT NULL AND owner != ?", (owner,)
        ).fetchall()
        return any(_alive(pid, host) for pid, host in rows)

    @_typed
    def release(self, owner: str) -> None:
        """Give up every chunk ``owner`` holds, as it stands (a send in progress stays 'sending')."""
        self._db.execute("UPDATE chunks SET owner = NULL, owner_pid = NULL, owner_host = NULL WHERE owner = ?",
                         (owner,))  # fmt: skip

    def _set(self, owner: str, index: int, state: str, release: bool, **values: object) -> None:
        columns = "".join(f", {name} = ?" for name in values)
        if release:
            columns += ", owner = NULL, owner_pid = NULL, owner_host = NULL"
        done = self._db.execute(
            f"UPDATE chunks SET state = ?{columns} WHERE idx = ? AND owner = ?", (state, *values.values(), index, owner)
        )
        if done.rowcount != 1:
            raise JournalError(f"{self.path}: chunk {index} is no longer held by this run; nothing was written")

    @_typed
    def intend(self, owner: str, index: int, now: float) -> int:
        """Record that chunk ``index`` is about to be sent (``now`` in seconds); return the intent in ms."""
        intent_ms = int(now * 1000)
        self._set(owner, index, ChunkState.SENDING, False, intent_ms=intent_ms, error=None)
        return intent_ms

    @_typed
    def sent(self, owner: str, index: int, job_id: str, children: Sequence[str] = ()) -> None:
        self._set(owner, index, ChunkState.SENT, True, job_id=job_id, children=json.dumps(list(children)))

    @_typed
    def ambiguous(self, owner: str, index: int, reason: str) -> None:
        self._set(owner, index, ChunkState.AMBIGUOUS, True, error=reason)

    @_typed
    def failed(self, owner: str, index: int, reason: str) -> None:
        self._set(owner, index, ChunkState.FAILED, True, error=reason)
