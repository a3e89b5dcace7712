"""The journal's state machine, the same on every store.

A *run* is one large submission: its files (path, size, modification time), its plan of chunks, its
provider and settings. A chunk goes ``planned → sending → sent → done``, or to ``ambiguous`` (a send
that may have landed and could not be matched to a job) or ``failed`` (refused). A worker *claims* a
chunk with a lease and a fencing token; every later write of that chunk names the token and is
refused (:class:`LeaseLostError`) once another worker has claimed the chunk since. The intent is
committed before a send, the outcome after; results are kept per input file.
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any

import attrs

from batchkit.errors import InputError, LeaseLostError, RunKeyConflictError
from batchkit.models import JobStatus

from .schema import keyed_run, migrate, run_id_for
from .stores import UNREADABLE, RowError, Store, Tx, open_store
from .wake_ups import WakeUps


class ChunkState:
    PLANNED = "planned"
    SENDING = "sending"
    """Intent recorded; the send may or may not have reached the provider."""
    SENT = "sent"
    """A job exists; it is checked until it ends."""
    DONE = "done"
    """The job ended and its results are in the journal."""
    AMBIGUOUS = "ambiguous"
    """The send may have reached the provider and could not be matched to a job."""
    FAILED = "failed"
    """The provider refused it, or it failed before anything was sent."""
    CANCELLED = "cancelled"
    """Stopped by ``batchkit cancel``: never claimed again (a job it had is not cancelled at the provider)."""


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
    run: str = ""
    job_status: str | None = None
    """The job's last known :class:`~batchkit.JobStatus` value."""
    attempts: int = 0
    """How many times an ambiguous send was looked for."""
    poll_interval: float | None = None
    reply: Any = attrs.field(default=None, repr=False)
    """The provider's reply to the chunk's send, where it holds the results (kept before the chunk is done)."""


@attrs.frozen
class Claim:
    """A chunk held by one worker: every write of it names ``token``."""

    chunk: Chunk
    token: int

    @property
    def key(self) -> tuple[str, int, int]:
        return self.chunk.run, self.chunk.index, self.token


@attrs.frozen
class FileEntry:
    """One input file of a run, and its result once the job has ended."""

    index: int
    chunk: int
    path: str
    size: int
    mtime_ns: int | None = None
    status: str | None = None
    error: str | None = None
    result: Any = None
    """The provider's raw result (JSON)."""


@attrs.frozen
class Run:
    id: str
    provider: str | None
    fingerprint: str
    spec: Mapping[str, Any] | None
    """What a worker needs to send the chunks: the submission's settings (never a key)."""
    created_ms: int
    files: int
    chunks: int


@attrs.frozen
class RunProgress:
    """How far a run has come."""

    run: Run
    chunks_sent: int
    jobs_finished: int
    files_done: int
    ambiguous: int
    failed: int
    cancelled: int = 0

    @property
    def settled(self) -> bool:
        """No chunk has work left (every one done, failed, ambiguous or cancelled)."""
        return self.jobs_finished + self.ambiguous + self.failed + self.cancelled == self.run.chunks


@attrs.frozen
class Onward:
    """Files a chunk's provider left unanswered, for the next provider of its chain: appended, chunked as
    ``plan`` says (indexes into ``files``), to the run ``fingerprint`` names, recorded with the first."""

    provider: str
    fingerprint: str
    spec: Mapping[str, Any]
    files: Sequence[tuple[str, int, int | None]]
    plan: Sequence[Sequence[int]]


@attrs.frozen
class WorkerEntry:
    """A worker in the journal's registry."""

    id: str
    host: str
    pid: int
    version: str
    started_ms: int
    providers: tuple[str, ...]
    heartbeat_ms: int
    """Its last heartbeat (the database's clock on PostgreSQL)."""
    alive: bool
    """Its heartbeat has not expired."""
    chunks: int
    """Chunks it holds now."""


@attrs.frozen
class Scope:
    """Which chunks a worker takes."""

    provider: str
    run: str | None = None
    """One run, or every run of the provider."""
    poll: bool = True
    """Also check accepted jobs that are due, and collect their results."""
    patient: bool = True
    """Look for an ambiguous send again when it is due, up to :data:`MAX_LOOKS` times (a worker);
    otherwise once for each chunk not in ``skip`` (one ``submit_many`` call)."""
    skip: frozenset[int] = frozenset()


MAX_LOOKS = 5
"""How many times workers look for the job of an ambiguous send before leaving it to a person."""


def _wall_ms() -> int:
    return int(time.time() * 1000)


@functools.cache
def host() -> str:
    import socket

    return socket.gethostname()


FILES_A_STATEMENT = 140
"""Files whose results one statement writes (7 parameters each: within sqlite's oldest limit of 999)."""
PAUSE_LOOK = 1.0
"""Seconds a bucket seen without a pause is taken to have none for requests other than creates (polls,
results: unbilled; a create always asks): another worker's 429 reaches them within this, not a query
before each."""
SWEEPING, PRUNING = 7274120003, 7274120004
"""The advisory locks (PostgreSQL) of the two sweeps one worker at a time does: leases, and pruning."""
CLOCK_READ = 10.0
"""How often (s) a PostgreSQL journal reads the database's clock; between reads it follows it on the host's
monotonic clock (its drift over that time is parts per million of it; leases are seconds long)."""
_TO_SEND = f"c.state IN ('{ChunkState.PLANNED}', '{ChunkState.SENDING}')"
_TO_CHECK = f"c.state IN ('{ChunkState.SENT}', '{ChunkState.AMBIGUOUS}')"
"""The chunks with work left, by kind: each kind has a partial index (the schema's ``chunks_to_send``,
``chunks_to_check``) whose condition is this one, word for word, so that both stores use it."""
_BY_INDEX = "ORDER BY c.run_id, c.idx LIMIT 1 OFFSET 0"
"""Ends a lookup of whether a send is free: it walks ``chunks_to_send`` in its order and stops at the first
(PostgreSQL otherwise may scan the table, where done chunks can lie before any free one; ``OFFSET`` keeps
it a lookup per run, not a join over every chunk)."""
_OF_PROVIDER = "r.provider = ? AND r.spec IS NOT NULL"
"""The runs (``r``) a worker of a provider serves: those enqueued for it (a spec to send them by)."""
_LEASE = "CAST(c.lease_until_ms AS BIGINT)"
_NEXT_POLL = "COALESCE(CAST(c.next_poll_ms AS BIGINT), 0)"
"""A chunk's lease and next poll as numbers: none yet (a migrated journal) is now, and on sqlite, where
a column may hold any text, what is not a number is 0 (an ended lease, a poll due)."""
_FILES = "SELECT idx, chunk_idx, path, size, mtime_ns, status, error, result FROM files WHERE run_id = ?"
_RUN_COLUMNS = "id, provider, fingerprint, spec, created_ms, files, chunks"
_CHUNK_COLUMNS = (
    "c.run_id, c.idx, c.state, c.job_id, c.intent_ms, c.error, c.children, c.job_status, c.attempts,"
    " c.poll_interval, c.reply, c.token"
)

_RETURNING = " RETURNING " + _CHUNK_COLUMNS.replace("c.", "")
_FILE_COLUMNS = ("run_id", "idx", "chunk_idx", "path", "size", "mtime_ns")
"""The columns an enqueue writes of each file."""


class Journal:
    """A journal on a sqlite file or a PostgreSQL database; every change is one committed transaction."""

    def __init__(self, target: str | os.PathLike[str]) -> None:
        self._store: Store = open_store(target)
        self._clock: tuple[float, float] | None = None
        """The database's clock less this host's monotonic one (ms), and when that was read."""
        self._unpaused: dict[str, float] = {}
        """Buckets seen not paused, and until when (monotonic) that is taken to hold for requests that are
        not creates."""
        self._pauses = 0
        try:
            migrate(self._store)
        except InputError:
            self._store.close()
            raise
        except Exception as exc:
            self._store.close()
            raise InputError(f"{self._store.where}: not a usable batchkit journal ({exc})") from None

    @property
    def where(self) -> str:
        """The journal's file, or its URL without the password."""
        return self._store.where

    def close(self) -> None:
        self._store.close()

    def __enter__(self) -> Journal:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def wake_ups(self) -> WakeUps | None:
        """A listener for the wake-ups this journal's writes send when a run is enqueued or a chunk can be
        claimed again (PostgreSQL: ``LISTEN``/``NOTIFY``); None where workers only poll (sqlite)."""
        return self._store.wake_ups()

    # -- runs ---------------------------------------------------------------------------------------

    def record_run(self, provider: str, fingerprint: str, spec: Mapping[str, Any],
                   files: Sequence[tuple[str, int, int | None]], plan: Sequence[Sequence[int]],
                   now_ms: int, key: str | None = None) -> str:  # fmt: skip
        """:meth:`record_files` of ``files`` chunked as ``plan`` says (the files' indexes, chunk by chunk)."""
        where = {i: n for n, indexes in enumerate(plan) for i in indexes}
        rows = [(path, size, mtime, where[i]) for i, (path, size, mtime) in enumerate(files)]
        return self.record_files(provider, fingerprint, spec, rows, len(files), len(plan),
                                 roots([path for path, *_ in files]), now_ms, key)  # fmt: skip

    def record_files(self, provider: str, fingerprint: str, spec: Mapping[str, Any],
                     rows: Iterable[tuple[str, int, int | None, int]], files: int, chunks: int,
                     folders: Sequence[str], now_ms: int, key: str | None = None) -> str:  # fmt: skip
        """The run of this submission: recorded now, or as an earlier call recorded it. With ``key``, the run
        the key names; :class:`RunKeyConflictError` if it names a run of another submission. ``rows``: each
        of its ``files`` files, in order, as ``(path, size, mtime_ns, chunk)``, read as they are written (a
        run of millions is never held); ``folders``: where they are."""
        spec = {**spec, "roots": list(folders)}
        run, fingerprint = (run_id_for(fingerprint), fingerprint) if key is None else keyed_run(fingerprint, key)

        def checked() -> Iterator[tuple[str, int, int | None, int]]:
            for row in rows:
                _storable(row[0])
                yield row

        with self._store.transaction() as tx:
            inserted = tx.execute(  # two enqueues at once: one inserts, the other finds its run (no race)
                "INSERT INTO runs (id, provider, fingerprint, spec, created_ms, files, chunks)"
                " VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
                (run, provider, fingerprint, json.dumps(spec), now_ms, files, chunks),
            ).rowcount
            found = None if inserted == 1 else tx.execute("SELECT spec, fingerprint FROM runs WHERE id = ?",
                                                          (run,)).fetchone()  # fmt: skip
            if found is not None and key is not None and found[1] != fingerprint:
                raise RunKeyConflictError(f"{self.where}: run key {key!r} already names run {run}, of other files or"
                                          " settings; nothing was recorded (use a new key)", run_key=key, run=run)
            if found is None:
                self._store.insert(tx, "chunks", ("run_id", "idx", "state"),
                                   ((run, n, ChunkState.PLANNED) for n in range(chunks)))  # fmt: skip
                self._store.insert(tx, "files", _FILE_COLUMNS,
                                   ((run, i, chunk, path, size, mtime)
                                    for i, (path, size, mtime, chunk) in enumerate(checked())))  # fmt: skip
                self._store.notify(tx, run)
            else:  # files not yet sent are taken as they are now; a run of an older journal learns its settings
                if found[0] is None or "roots" not in json.loads(found[0]):  # an older journal's, or batchkit's
                    tx.execute("UPDATE runs SET provider = ?, spec = ? WHERE id = ?", (provider, json.dumps(spec), run))
                unsent = {int(n) for (n,) in tx.execute("SELECT idx FROM chunks WHERE run_id = ? AND state IN (?, ?)",
                                                        (run, ChunkState.PLANNED, ChunkState.FAILED)).fetchall()}
                rows_of = enumerate(checked())  # a file's chunk is the one recorded: the same files, the same plan
                self._store.update(tx, "files", ("size", "mtime_ns"), run,
                                   ((i, size, mtime) for i, (_, size, mtime, chunk) in rows_of if chunk in unsent))
        return run

    def retry_failed(self, run: str) -> None:
        """Plan again the chunks of ``run`` the provider refused; follow again those whose job could not be
        checked (a failed chunk with a job is never sent again: that job was accepted)."""
        with self._store.transaction() as tx:
            self._store.notify(tx, run)
            tx.execute("UPDATE chunks SET state = ? WHERE run_id = ? AND state = ? AND job_id IS NULL",
                       (ChunkState.PLANNED, run, ChunkState.FAILED))  # fmt: skip
            tx.execute("UPDATE chunks SET state = ?, attempts = 0, next_poll_ms = 0 WHERE run_id = ? AND state = ?"
                       " AND job_id IS NOT NULL", (ChunkState.SENT, run, ChunkState.FAILED))  # fmt: skip

    def recorded(self, run: str) -> bool:
        """Whether a run of exactly this id is in the journal."""
        with self._store.transaction(write=False) as tx:
            return tx.execute("SELECT 1 FROM runs WHERE id = ?", (run,)).fetchone() is not None

    def run(self, run: str) -> Run:
        """The run whose id is ``run``, or begins with it (``run-3f2a``, ``3f2a``: one run, or an error)."""
        with self._store.transaction(write=False) as tx:
            return self._run_of(tx, run)

    def _run_of(self, tx: Tx, run: str) -> Run:
        row = tx.execute(f"SELECT {_RUN_COLUMNS} FROM runs WHERE id = ?", (run,)).fetchone()
        if row is not None:
            return _run(row)
        prefix = run if run.startswith("run-") else f"run-{run}"
        rows = tx.execute(f"SELECT {_RUN_COLUMNS} FROM runs WHERE substr(id, 1, ?) = ? ORDER BY id LIMIT 3",
                          (len(prefix), prefix)).fetchall()  # fmt: skip
        if len(rows) == 1:
            return _run(rows[0])
        if rows:
            raise InputError(f"{self.where}: {run!r} begins more than one run ({', '.join(r[0] for r in rows)}…);"
                             " give more of its id")  # fmt: skip
        raise InputError(f"{self.where} has no run {run!r} (batchkit runs --journal … lists them)")

    def holders(self, run: str) -> dict[int, str]:
        """The worker holding each chunk of ``run`` that is held now, by chunk index."""
        with self._store.transaction(write=False) as tx:
            rows = tx.execute("SELECT idx, owner FROM chunks WHERE run_id = ? AND owner IS NOT NULL", (run,))
            return {int(idx): str(owner) for idx, owner in rows.fetchall()}

    def resend(self, run: str, chunk: int | None = None) -> list[Chunk]:
        """Plan again, knowingly, the ambiguous chunks of ``run`` (or chunk ``chunk`` alone, which must be
        ambiguous): each may have been created already and is then paid for twice. A chunk with a job,
        or done, is never planned again. Their fencing tokens move on; the chunks as they were. One statement
        for them all: it holds every chunk it changes before the run's counters (a lock order no worker's
        write of one chunk can cross)."""
        with self._store.transaction() as tx:
            chosen = [c for c in self._chunks(tx, run) if c.state == ChunkState.AMBIGUOUS and not c.job_id
                      and (chunk is None or c.index == chunk)]  # fmt: skip
            if chunk is not None and not chosen:
                raise InputError(f"chunk {chunk} of {run} is not an ambiguous chunk without a job: nothing to resend")
            one, chosen_one = ("", ()) if chunk is None else (" AND idx = ?", (chunk,))
            tx.execute("UPDATE chunks SET state = ?, error = SUBSTR('resent knowingly (was: '"
                       " || COALESCE(error, 'None') || ')', 1, 2000), attempts = 0, token = token + 1, owner = NULL,"
                       f" lease_until_ms = NULL WHERE run_id = ? AND state = ? AND COALESCE(job_id, '') = ''{one}",
                       (ChunkState.PLANNED, run, ChunkState.AMBIGUOUS, *chosen_one))  # fmt: skip
            if chosen:
                self._store.notify(tx, run)
            return chosen

    def cancel(self, run: str) -> int:
        """Stop every chunk of ``run`` that has work left: none is claimed again, and the fencing token of
        each moves on, so a worker holding one (a takeover in progress too) can write nothing more of it;
        how many. A job already created is not cancelled at the provider."""
        with self._store.transaction() as tx:
            return tx.execute(
                "UPDATE chunks SET state = ?, token = token + 1, owner = NULL, lease_until_ms = NULL"
                " WHERE run_id = ? AND state IN (?, ?, ?, ?)",
                (ChunkState.CANCELLED, run, ChunkState.PLANNED, ChunkState.SENDING, ChunkState.SENT,
                 ChunkState.AMBIGUOUS),
            ).rowcount  # fmt: skip

    def prune(self, created_before_ms: int, dry_run: bool = False, sweep: bool = False) -> list[str]:
        """Delete the runs created before ``created_before_ms`` whose every chunk is done, failed or cancelled,
        with their chunks and files; their ids, oldest first (``dry_run``: only the ids). A run with work
        left, or an ambiguous chunk (whose job may exist), is kept. ``sweep``: a worker's periodic prune,
        done by one worker at a time (none, here, while another prunes)."""
        with self._store.transaction(write=not dry_run) as tx:
            if sweep and not self._store.exclusive(tx, PRUNING):
                return []
            ids = [str(row[0]) for row in tx.execute(
                "SELECT id FROM runs WHERE created_ms < ? AND NOT EXISTS (SELECT 1 FROM chunks WHERE run_id = runs.id"
                " AND state NOT IN (?, ?, ?)) ORDER BY created_ms, id",
                (created_before_ms, ChunkState.DONE, ChunkState.FAILED, ChunkState.CANCELLED)).fetchall()]  # fmt: skip
            if not dry_run:
                for table, column in (("files", "run_id"), ("chunks", "run_id"), ("runs", "id")):
                    tx.executemany(f"DELETE FROM {table} WHERE {column} = ?", [(i,) for i in ids])
            return ids

    def runs(self, run: str | None = None) -> list[RunProgress]:
        """Every run (or ``run`` alone), oldest first, with its progress: the counters its writes keep, so
        that the cost does not grow with the run."""
        only, params = ("", ()) if run is None else (" WHERE id = ?", (run,))
        counters = "chunks_sent, jobs_finished, files_done, chunks_ambiguous, chunks_failed, chunks_cancelled"
        with self._store.transaction(write=False) as tx:
            rows = tx.execute(f"SELECT {_RUN_COLUMNS}, {counters} FROM runs{only} ORDER BY created_ms, id",
                              params).fetchall()  # fmt: skip
        return [RunProgress(_run(row[:7]), *(int(n) for n in row[7:])) for row in rows]

    def chunks(self, run: str, paths: bool = True) -> list[Chunk]:
        """The chunks of ``run`` in order (without ``paths``: their ``files`` left empty, none read)."""
        with self._store.transaction(write=False) as tx:
            return self._chunks(tx, run, paths)

    def _chunks(self, tx: Tx, run: str, paths: bool = True) -> list[Chunk]:
        rows = tx.execute(f"SELECT {_CHUNK_COLUMNS} FROM chunks c WHERE c.run_id = ? ORDER BY c.idx",
                          (run,)).fetchall()  # fmt: skip
        named = self._paths(tx, run) if paths else {}
        return [_chunk(row, named.get(int(row[1]), ())) for row in rows]

    def files(self, run: str, chunk: int | None = None) -> list[FileEntry]:
        """The input files of ``run`` (of one chunk), in the order given, with their results so far."""
        with self._store.transaction(write=False) as tx:
            return self._files(tx, run, chunk)

    @contextlib.contextmanager
    def reading(self, run: str, size: int = 1000) -> Iterator[tuple[Run, list[Chunk], Iterator[list[FileEntry]]]]:
        """A run (or a prefix of its id), its chunks, and its files in order ``size`` at a time, as one
        moment of the journal saw them (one read transaction, open while the block runs): no file is
        counted twice or missed, and a run of millions is never held whole."""
        with self._store.transaction(write=False) as tx:
            if self._store.dialect == "postgresql":  # every statement below reads the same snapshot
                tx.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
            found = self._run_of(tx, run)

            def pages() -> Iterator[list[FileEntry]]:
                after = -1
                query = f"{_FILES} AND idx > ? ORDER BY idx LIMIT ?"
                while rows := tx.execute(query, (found.id, after, size)).fetchall():
                    yield [_file(row) for row in rows]
                    after = int(rows[-1][0])

            yield found, self._chunks(tx, found.id, paths=False), pages()

    @staticmethod
    def _files(tx: Tx, run: str, chunk: int | None = None) -> list[FileEntry]:
        query = _FILES
        params: tuple[Any, ...] = (run,)
        if chunk is not None:
            query, params = query + " AND chunk_idx = ?", (run, chunk)
        return [_file(row) for row in tx.execute(query + " ORDER BY idx", params).fetchall()]

    @staticmethod
    def _paths(tx: Tx, run: str, chunk: int | None = None) -> dict[int, tuple[str, ...]]:
        params: list[Any]
        query, params = "SELECT chunk_idx, path FROM files WHERE run_id = ?", [run]
        if chunk is not None:
            query, params = query + " AND chunk_idx = ?", [run, chunk]
        grouped: dict[int, list[str]] = {}
        for idx, path in tx.execute(query + " ORDER BY idx", params).fetchall():
            grouped.setdefault(int(idx), []).append(str(path))
        return {idx: tuple(paths) for idx, paths in grouped.items()}

    # -- claims and leases ----------------------------------------------------------------------------

    @staticmethod
    def _in_scope(scope: Scope) -> tuple[str, list[Any]]:
        """The SQL condition (after ``AND``) and parameters of chunks (``c``) in ``scope``, but for their
        runs' provider (:data:`_OF_PROVIDER`)."""
        where, params = "", list[Any]()
        if scope.run is not None:
            where += " AND c.run_id = ?"
            params.append(scope.run)
        if scope.skip:
            where += f" AND c.idx NOT IN ({', '.join('?' * len(scope.skip))})"
            params.extend(sorted(scope.skip))
        return where, params

    @staticmethod
    def _checks(scope: Scope, now_ms: int | None) -> tuple[str, list[Any]]:
        """The condition (after ``AND``) and parameters of chunks to check in ``scope``: jobs to poll and
        sends to look for (``now_ms``: those due by then; None: whenever due)."""
        kinds = [f"c.state = '{ChunkState.SENT}'"] if scope.poll else []
        if scope.patient:
            kinds.append(f"(c.state = '{ChunkState.AMBIGUOUS}' AND c.attempts < {MAX_LOOKS})")
        else:  # one ``submit_many`` call: every ambiguous chunk (not in ``skip``) is looked for once, due or not
            kinds.append(f"c.state = '{ChunkState.AMBIGUOUS}'")
        where = f" AND {_TO_CHECK} AND ({' OR '.join(kinds)})"
        if now_ms is None:
            return where, []
        if scope.patient:
            return where + f" AND {_NEXT_POLL} <= ?", [now_ms]
        return where + f" AND (c.state = '{ChunkState.AMBIGUOUS}' OR {_NEXT_POLL} <= ?)", [now_ms]

    def _now(self, tx: Tx | None, given_ms: int) -> int:
        """The time leases are kept in: the database's clock on PostgreSQL (``clock_timestamp()``: hosts'
        clocks may disagree), read every :data:`CLOCK_READ` seconds and followed on this host's monotonic
        clock between reads; ``given_ms`` (the caller's) on sqlite, which is one host."""
        if self._store.dialect != "postgresql":
            return given_ms
        local = time.monotonic()
        if self._clock is not None and local - self._clock[1] < CLOCK_READ:
            return int(local * 1000 + self._clock[0])
        read = "SELECT CAST(EXTRACT(EPOCH FROM clock_timestamp()) * 1000 AS BIGINT)"
        ms = int((self._store.statement(read) if tx is None else tx.execute(read)).fetchone()[0])
        self._clock = (ms - local * 1000, local)
        return ms

    def now_ms(self, given_ms: int) -> int:
        """The time leases and intents are kept in (see :meth:`_now`)."""
        if self._store.dialect != "postgresql":
            return given_ms
        with self._store.transaction(write=False) as tx:
            return self._now(tx, given_ms)

    def claim(self, owner: str, scope: Scope, now_ms: int, lease_ms: int) -> Claim | None:
        """A chunk in ``scope`` with work left that no live worker holds, now held by ``owner`` until
        ``now + lease_ms`` (on the database's clock on PostgreSQL) with a new fencing token; None if
        there is none now. Checks that are due come first (the longest due first), then sends (the
        oldest run's first chunk).

        A claim is one ``UPDATE`` of the chunk its subquery finds (locked, skipping those other workers
        hold, on PostgreSQL), committed on its own. A free chunk another worker was claiming at that moment
        is not waited for: it is due now, for the next look."""
        now_ms = self._now(None, now_ms)
        lookup, params = self._lookup(scope, now_ms)
        take = ("UPDATE chunks SET owner = ?, owner_pid = ?, owner_host = ?, lease_until_ms = ?, token = token + 1"
                " WHERE (run_id, idx) = ({})")  # fmt: skip
        holder = (owner, os.getpid(), host(), now_ms + lease_ms)
        while True:
            row = None
            if self._store.returning:
                row = self._store.statement(take.format(lookup) + _RETURNING, (*holder, *params)).fetchone()
            else:  # an older sqlite (no RETURNING): the lookup, its update and the read in one transaction
                with self._store.transaction() as tx:
                    found = tx.execute(lookup, params).fetchone()
                    if found is not None:
                        tx.execute(take.format("?, ?"), (*holder, *found))
                        row = tx.execute(f"SELECT {_CHUNK_COLUMNS} FROM chunks c WHERE c.run_id = ? AND c.idx = ?",
                                         found).fetchone()  # fmt: skip
            if row is None:
                return None
            try:
                return Claim(_chunk(row, ()), int(row[-1]))  # its files: :meth:`files` (with their sizes)
            except UNREADABLE as exc:  # failed where it stands, and the next one looked for
                self._store.statement("UPDATE chunks SET state = ?, error = ?, owner = NULL, owner_pid = NULL,"
                                      " owner_host = NULL, lease_until_ms = NULL WHERE run_id = ? AND idx = ?",
                                      (ChunkState.FAILED, f"{RowError.what} ({exc})"[:2000], row[0], row[1]))

    def _lookup(self, scope: Scope, now_ms: int) -> tuple[str, tuple[Any, ...]]:
        """The query of the chunk :meth:`claim` takes, and its parameters: the longest due check, else the
        oldest run's first chunk to send (the second is looked at only where there is no first). Each walks
        a partial index of the chunks with that kind of work left (in the order taken), so its cost does not
        grow with the run."""
        locks, (among, params) = self._store.row_locks, self._in_scope(scope)
        free, (checks, due) = f" AND (c.owner IS NULL OR {_LEASE} < ?)", self._checks(scope, now_ms)
        check = (f"SELECT c.run_id, c.idx FROM chunks c JOIN runs r ON r.id = c.run_id WHERE {_OF_PROVIDER}"
                 f"{checks}{free}{among} ORDER BY {_NEXT_POLL} LIMIT 1{locks}")  # fmt: skip
        sends = f" AND {_TO_SEND}{free}{among}"
        oldest = (f"SELECT r.id FROM runs r WHERE {_OF_PROVIDER} AND EXISTS (SELECT 1 FROM chunks c WHERE"
                  f" c.run_id = r.id{sends} {_BY_INDEX}) ORDER BY r.created_ms, r.id LIMIT 1")  # fmt: skip
        send = f"SELECT c.run_id, c.idx FROM chunks c WHERE c.run_id = ({oldest}){sends} ORDER BY c.idx LIMIT 1{locks}"
        either = (f"SELECT run_id, idx FROM (SELECT * FROM ({check}) AS due UNION ALL SELECT * FROM ({send}) AS unsent)"
                  " AS either LIMIT 1")  # fmt: skip
        return either, (scope.provider, *due, now_ms, *params, scope.provider, now_ms, *params, now_ms, *params)

    def _reap(self, tx: Tx, now_ms: int) -> None:
        """The sweep of leases: end those of workers whose heartbeat has expired (a killed worker's chunks
        need not wait for leases its sends extended), forget those workers, and wake idle workers. One
        worker at a time sweeps (on PostgreSQL, whoever takes an advisory lock; the others pass). A worker
        is known dead by its heartbeat alone, never by a process id (containers share host names)."""
        if not self._store.exclusive(tx, SWEEPING):
            return
        dead = [str(w) for (w,) in tx.execute("SELECT id FROM workers WHERE heartbeat_ms + ttl_ms < ?",
                                              (now_ms,)).fetchall()]  # fmt: skip
        for worker in dead:
            tx.execute("UPDATE chunks SET lease_until_ms = 0 WHERE owner = ?", (worker,))
            tx.execute("DELETE FROM workers WHERE id = ?", (worker,))
        if dead:
            self._store.notify(tx, "")

    def register(self, owner: str, providers: Sequence[str], version: str, now_ms: int, ttl_ms: int) -> None:
        """Record a worker in the registry: its host, process, version and providers, and a heartbeat
        (renewed by :meth:`renew`; dead once ``ttl_ms`` have passed without one)."""
        with self._store.transaction() as tx:
            now_ms = self._now(tx, now_ms)
            tx.execute("DELETE FROM workers WHERE id = ?", (owner,))
            tx.execute("INSERT INTO workers (id, host, pid, version, started_ms, providers, heartbeat_ms, ttl_ms)"
                       " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                       (owner, host(), os.getpid(), version, now_ms, json.dumps(list(providers)), now_ms, ttl_ms))

    def workers(self) -> list[WorkerEntry]:
        """The registered workers, oldest first, each with whether its heartbeat is live."""
        with self._store.transaction(write=False) as tx:
            now = self._now(tx, _wall_ms())
            rows = tx.execute("SELECT id, host, pid, version, started_ms, providers, heartbeat_ms, ttl_ms"
                              " FROM workers ORDER BY started_ms, id").fetchall()  # fmt: skip
            held = dict(tx.execute("SELECT owner, COUNT(*) FROM chunks WHERE owner IS NOT NULL GROUP BY owner")
                        .fetchall())  # fmt: skip
        return [WorkerEntry(str(i), str(h), int(p), str(v), int(s), tuple(json.loads(pr)), int(hb),
                            int(hb) + int(t) >= now, int(held.get(i, 0)))
                for i, h, p, v, s, pr, hb, t in rows]  # fmt: skip

    def next_due(self, scope: Scope, now_ms: int) -> int | None:
        """When a chunk in ``scope`` with work left may next be claimed (ms; perhaps now); None when no
        chunk has work left. Each part is read from an index: a free send (due now), the first check
        coming due, and the leases of chunks held now."""
        (among, params), (checks, _) = self._in_scope(scope), self._checks(scope, None)
        chunks = f"FROM chunks c JOIN runs r ON r.id = c.run_id WHERE {_OF_PROVIDER} AND"
        free = f"(c.owner IS NULL OR {_LEASE} < ?)"
        with self._store.transaction(write=False) as tx:
            row = tx.execute(
                f"SELECT (SELECT 0 {chunks} {_TO_SEND} AND {free}{among} {_BY_INDEX}),"
                f" (SELECT {_NEXT_POLL} {chunks} {free}{checks}{among} ORDER BY {_NEXT_POLL} LIMIT 1),"
                f" (SELECT MIN(CASE WHEN {_NEXT_POLL} > {_LEASE} THEN {_NEXT_POLL} ELSE {_LEASE} END) {chunks}"
                f" c.owner IS NOT NULL AND {_LEASE} >= ? AND ({_TO_SEND} OR (1 = 1{checks})){among})",
                [part for _ in range(3) for part in (scope.provider, now_ms, *params)],
            ).fetchone()
        due = [int(n) for n in row or () if n is not None]
        return min(due) if due else None

    def renew(self, owner: str, now_ms: int, lease_ms: int) -> int:
        """Extend every lease ``owner`` still holds, and its heartbeat, and sweep the leases of workers that
        are dead (:meth:`_reap`); how many leases ``owner`` holds."""
        with self._store.transaction() as tx:
            now_ms = self._now(tx, now_ms)
            tx.execute("UPDATE workers SET heartbeat_ms = ? WHERE id = ?", (now_ms, owner))
            held = tx.execute("UPDATE chunks SET lease_until_ms = ? WHERE owner = ?",
                              (now_ms + lease_ms, owner)).rowcount  # (the cursor is reused below)
            self._reap(tx, now_ms)
            return held

    def release(self, owner: str) -> None:
        """Give up every chunk ``owner`` holds, as it stands (a send in progress stays ``sending``), and
        leave the registry."""
        with self._store.transaction() as tx:
            freed = tx.execute("UPDATE chunks SET owner = NULL, owner_pid = NULL, owner_host = NULL, lease_until_ms ="
                               " NULL WHERE owner = ?", (owner,)).rowcount  # fmt: skip
            tx.execute("DELETE FROM workers WHERE id = ?", (owner,))
            if freed:
                self._store.notify(tx, "")

    def let_go(self, claim: Claim) -> None:
        """Give up ``claim``'s chunk as it stands, if this claim still holds it (fenced: a chunk another
        worker has since taken is left alone)."""
        with self._store.transaction() as tx:
            tx.execute("UPDATE chunks SET owner = NULL, owner_pid = NULL, owner_host = NULL, lease_until_ms = NULL"
                       " WHERE run_id = ? AND idx = ? AND token = ?", claim.key)  # fmt: skip
            self._store.notify(tx, claim.chunk.run)

    # -- fenced writes ----------------------------------------------------------------------------------

    @staticmethod
    def _update(claim: Claim, values: Mapping[str, Any], release: bool) -> tuple[str, tuple[Any, ...]]:
        """The fenced ``UPDATE`` of ``claim``'s chunk to ``values`` (``release``: the claim ends)."""
        columns = ", ".join(f"{name} = ?" for name in values)
        if release:
            columns += ", owner = NULL, owner_pid = NULL, owner_host = NULL, lease_until_ms = NULL"
        return f"UPDATE chunks SET {columns} WHERE run_id = ? AND idx = ? AND token = ?", (*values.values(), *claim.key)

    def _held_still(self, claim: Claim, changed: int) -> None:
        if changed != 1:
            raise LeaseLostError(
                f"{self.where}: chunk {claim.chunk.index} of {claim.chunk.run} was taken over by another worker"
                " after this one's lease ended; nothing was written"
            )

    def _write(self, tx: Tx | None, claim: Claim, values: Mapping[str, Any], release: bool = True) -> None:
        """The fenced write of ``claim``'s chunk, in ``tx`` (None: committed on its own): one statement,
        which also wakes idle workers when the claim ends (it may have been the last)."""
        sql, params = self._update(claim, values, release)
        if release:
            changed = self._store.notifying(sql, params, claim.chunk.run, tx)
        else:
            changed = (self._store.statement(sql, params) if tx is None else tx.execute(sql, params)).rowcount
        self._held_still(claim, changed)

    def _fenced(self, claim: Claim, values: Mapping[str, Any], release: bool = True) -> None:
        self._write(None, claim, values, release)

    def intend(self, claim: Claim, now_ms: int, lease_ms: int) -> int:
        """Record that the chunk is about to be sent (and hold it ``lease_ms`` more); the intent's time
        (the database's on PostgreSQL)."""
        with self._store.transaction() as tx:
            now_ms = self._now(tx, now_ms)
            self._write(tx, claim, {"state": ChunkState.SENDING, "intent_ms": now_ms, "error": None,
                                    "lease_until_ms": now_ms + lease_ms}, release=False)  # fmt: skip
        return now_ms

    def identified(self, claim: Claim, job_id: str) -> None:
        """The provider's id of what the chunk's send is creating, known before its bytes go."""
        self._fenced(claim, {"job_id": job_id}, release=False)

    def learned(self, claim: Claim, job_id: str, children: Sequence[str], next_poll_ms: int, interval: float) -> bool:
        """Record a job a worker fenced out created for the chunk, if the chunk has no job yet (fenced on
        "no job id", not on the token: whoever holds the chunk now could not find it, or is looking);
        whether it was recorded. The chunk is followed from then on; its holder, if any, keeps its lease."""
        with self._store.transaction() as tx:
            done = tx.execute(
                "UPDATE chunks SET state = ?, job_id = ?, children = ?, error = NULL, next_poll_ms = ?,"
                " poll_interval = ?, attempts = 0 WHERE run_id = ? AND idx = ? AND job_id IS NULL AND state IN (?, ?)",
                (ChunkState.SENT, job_id, json.dumps(list(children)), next_poll_ms, interval, claim.chunk.run,
                 claim.chunk.index, ChunkState.SENDING, ChunkState.AMBIGUOUS),
            )  # fmt: skip
            if done.rowcount == 1:
                return True
            kept = tx.execute("UPDATE chunks SET job_id = ?, children = ? WHERE run_id = ? AND idx = ? AND"
                              " job_id IS NULL AND state = ?", (job_id, json.dumps(list(children)), claim.chunk.run,
                                                                claim.chunk.index, ChunkState.CANCELLED))  # fmt: skip
            return kept.rowcount == 1  # a cancelled run still knows the job it has (it is not followed)

    def unsend(self, claim: Claim, reason: str) -> None:
        """The send was refused before anything was created (a 429): the chunk is planned again."""
        self._fenced(claim, {"state": ChunkState.PLANNED, "error": reason})

    def sent(self, claim: Claim, job_id: str, children: Sequence[str], next_poll_ms: int, interval: float) -> None:
        self._fenced(claim, _sent(job_id, children, next_poll_ms, interval))

    def held(self, provider: str, run: str, chunk: int) -> frozenset[str]:
        """The job ids and per-file parts the chunks of ``provider`` (and of runs from older journals) hold,
        but chunk ``chunk`` of ``run``: what an interrupted send must never adopt."""
        with self._store.transaction(write=False) as tx:
            return self._held(tx, provider, run, chunk)

    @staticmethod
    def _held(tx: Tx, provider: str, run: str, chunk: int) -> frozenset[str]:
        rows = tx.execute(
            "SELECT c.job_id, c.children FROM chunks c JOIN runs r ON r.id = c.run_id WHERE c.job_id IS NOT NULL"
            " AND (r.provider = ? OR r.provider IS NULL) AND NOT (c.run_id = ? AND c.idx = ?)",
            (provider, run, chunk),
        ).fetchall()
        return frozenset(str(part) for job, children in rows for part in (job, *json.loads(children or "[]")))

    def adopt(self, claim: Claim, provider: str, job_id: str, children: Sequence[str], next_poll_ms: int,
              interval: float) -> bool:  # fmt: skip
        """Record a job found for an interrupted send, unless another chunk holds it or one of its parts by
        now (adoptions take turns); whether it was recorded."""
        with self._store.transaction() as tx:
            if self._store.dialect == "postgresql":
                tx.execute("SELECT pg_advisory_xact_lock(7274120002)")
            if self._held(tx, provider, claim.chunk.run, claim.chunk.index) & {job_id, *children}:
                return False
            self._write(tx, claim, _sent(job_id, children, next_poll_ms, interval))
        return True

    def ambiguous(self, claim: Claim, reason: str, next_look_ms: int, interval: float) -> None:
        self._fenced(claim, {"state": ChunkState.AMBIGUOUS, "error": reason, "attempts": claim.chunk.attempts + 1,
                             "next_poll_ms": next_look_ms, "poll_interval": interval})  # fmt: skip

    def answered(self, claim: Claim, remote_id: str, job_status: str, reply: Any) -> None:
        """The send was answered with its results (``reply``): kept with the chunk's end, in one fenced write."""
        self._fenced(claim, {"state": ChunkState.DONE, "job_id": remote_id, "job_status": job_status, "error": None,
                             "reply": json.dumps(reply)})  # fmt: skip

    def failed(self, claim: Claim, reason: str, onward: Sequence[Onward] = ()) -> None:
        """The chunk failed (``onward``: its files go to the next provider of its chain, in the same
        transaction)."""
        if not onward:
            self._fenced(claim, {"state": ChunkState.FAILED, "error": reason})
            return
        with self._store.transaction() as tx:  # the next run's row first, as ``finished`` takes them
            self._extend(tx, onward)
            self._write(tx, claim, {"state": ChunkState.FAILED, "error": reason})

    def _extend(self, tx: Tx, onward: Sequence[Onward]) -> None:
        """Append each of ``onward``'s files, as its chunks, to the run its fingerprint names (recorded with
        the first); its workers are woken. Concurrent appends to one run take turns on its row."""
        now_ms = self._now(tx, _wall_ms())
        for more in onward:
            for path, *_ in more.files:
                _storable(path)
            run = run_id_for(more.fingerprint)
            tx.execute("INSERT INTO runs (id, provider, fingerprint, spec, created_ms, files, chunks)"
                       " VALUES (?, ?, ?, ?, ?, 0, 0) ON CONFLICT DO NOTHING",
                       (run, more.provider, more.fingerprint, json.dumps(more.spec), now_ms))  # fmt: skip
            grown = "UPDATE runs SET files = files + ?, chunks = chunks + ? WHERE id = ?"
            counts = (len(more.files), len(more.plan), run)
            if self._store.returning:
                files, chunks = tx.execute(grown + " RETURNING files, chunks", counts).fetchone()
            else:  # an older sqlite: its write transaction holds the whole journal
                tx.execute(grown, counts)
                files, chunks = tx.execute("SELECT files, chunks FROM runs WHERE id = ?", (run,)).fetchone()
            first_file, first_chunk = int(files) - len(more.files), int(chunks) - len(more.plan)
            where = {i: first_chunk + n for n, indexes in enumerate(more.plan) for i in indexes}
            self._store.insert(tx, "chunks", ("run_id", "idx", "state"),
                               [(run, first_chunk + n, ChunkState.PLANNED) for n in range(len(more.plan))])  # fmt: skip
            self._store.insert(tx, "files", _FILE_COLUMNS,
                               [(run, first_file + i, where[i], *entry) for i, entry in enumerate(more.files)])
            self._store.notify(tx, run)

    def polled(self, claim: Claim, job_status: str | None, error: str | None, next_poll_ms: int, interval: float,
               failures: int = 0) -> None:  # fmt: skip
        """The job has not ended (or could not be checked: ``error``, the ``failures``-th time in a row);
        check again at ``next_poll_ms``."""
        values: dict[str, Any] = {"error": error, "next_poll_ms": next_poll_ms, "poll_interval": interval,
                                  "attempts": failures}  # fmt: skip
        if job_status is not None:
            values["job_status"] = job_status
        self._fenced(claim, values)

    def finished(self, claim: Claim, job_status: str, outcomes: Sequence[tuple[int, str, str | None, Any]],
                 onward: Sequence[Onward] = ()) -> None:  # fmt: skip
        """The job ended: its status, and each input file's ``(index, status, error, raw result)``, at once
        (and ``onward``'s files to the next provider of its chain)."""
        with self._store.transaction() as tx:
            self._extend(tx, onward)
            self._write(tx, claim, {"state": ChunkState.DONE, "job_status": job_status, "error": None})
            rows = [(i, status, error, json.dumps(raw)) for i, status, error, raw in outcomes]
            for at in range(0, len(rows), FILES_A_STATEMENT):  # one statement a chunk, not one a file
                some = rows[at:at + FILES_A_STATEMENT]
                cases = " ".join("WHEN ? THEN ?" for _ in some)
                tx.execute(f"UPDATE files SET status = CASE idx {cases} END, error = CASE idx {cases} END,"
                           f" result = CASE idx {cases} END WHERE run_id = ? AND idx IN ({', '.join('?' * len(some))})",
                           [*(v for i, st, _, _ in some for v in (i, st)), *(v for i, _, e, _ in some for v in (i, e)),
                            *(v for i, _, _, r in some for v in (i, r)), claim.chunk.run, *(r[0] for r in some)])

    # -- callbacks --------------------------------------------------------------------------------------

    def find_job(self, provider: str, job_id: str) -> tuple[Run, Chunk] | None:
        """The run and chunk of ``provider`` whose job (or answered request) is ``job_id``, if any."""
        with self._store.transaction(write=False) as tx:
            row = tx.execute(f"SELECT {_CHUNK_COLUMNS} FROM chunks c JOIN runs r ON r.id = c.run_id"
                             " WHERE c.job_id = ? AND r.provider = ?", (job_id, provider)).fetchone()  # fmt: skip
            if row is None:
                return None
            found = tx.execute(f"SELECT {_RUN_COLUMNS} FROM runs WHERE id = ?", (row[0],)).fetchone()
            return _run(found), _chunk(row, self._paths(tx, str(row[0]), int(row[1])).get(int(row[1]), ()))

    def called_back(self, chunk: Chunk, reply: Any, now_ms: int) -> bool:
        """A trusted callback of ``chunk``'s job: an answered request's ``reply`` replaced by the result it
        brings (``reply`` not None), or a sent job due to be checked now; False where nothing changed
        (a callback repeated, or one of a chunk that has moved on)."""
        if reply is not None and reply == chunk.reply:
            return False
        with self._store.transaction() as tx:
            where = "WHERE run_id = ? AND idx = ? AND state = ?"
            if reply is not None:
                done = tx.execute(f"UPDATE chunks SET reply = ? {where} AND reply = ?",
                                  (json.dumps(reply), chunk.run, chunk.index, ChunkState.DONE, json.dumps(chunk.reply)))
            else:
                done = tx.execute(f"UPDATE chunks SET next_poll_ms = ? {where} AND next_poll_ms > ?",
                                  (now_ms, chunk.run, chunk.index, ChunkState.SENT, now_ms))
            return done.rowcount == 1

    # -- a rate shared by every worker -----------------------------------------------------------------

    def take(self, bucket: str, rate: float | None, now_ms: int, cached: bool = False) -> float:
        """Take a token from ``bucket`` (``rate`` a second, at most one in hand; None: only see whether
        the bucket is paused); 0 when taken, else the seconds to wait (until a token is due, or a pause
        ends). ``cached`` (a request that is not billed): whether the bucket is paused is asked again
        only :data:`PAUSE_LOOK` seconds after it was last seen not to be, or at once after this journal
        paused it.

        Each statement commits on its own (the token is taken by a compare-and-set, tried again when
        another worker took one in between), so a worker stopped anywhere here holds no lock."""
        store = self._store
        if cached and time.monotonic() < self._unpaused.get(bucket, 0.0):
            return 0.0
        while True:
            pauses = self._pauses  # a pause of this journal's written while we look: what we saw is not kept
            row = store.statement("SELECT tokens, updated_ms, paused_until_ms FROM rates WHERE bucket = ?",
                                  (bucket,)).fetchone()  # fmt: skip
            if cached and (row is None or row[2] <= now_ms) and pauses == self._pauses:
                self._unpaused[bucket] = time.monotonic() + PAUSE_LOOK
            if row is None and rate is not None:
                store.statement("INSERT INTO rates (bucket, tokens, updated_ms, paused_until_ms) VALUES (?, 1, ?, 0)"
                                " ON CONFLICT (bucket) DO NOTHING", (bucket, now_ms))  # fmt: skip
                continue
            if row is None or rate is None or row[2] > now_ms:
                return 0.0 if row is None or row[2] <= now_ms else float(row[2] - now_ms) / 1000
            tokens, updated, paused = float(row[0]), int(row[1]), int(row[2])
            refilled = min(1.0, tokens + max(0, now_ms - updated) / 1000 * rate)
            wait = 0.0 if refilled >= 1 else (1 - refilled) / rate
            swapped = store.statement(
                "UPDATE rates SET tokens = ?, updated_ms = ? WHERE bucket = ? AND tokens = ? AND updated_ms = ?"
                " AND paused_until_ms = ?",
                (refilled - 1 if wait == 0 else refilled, max(now_ms, updated), bucket, row[0], updated, paused),
            )
            if swapped.rowcount == 1:
                return wait

    def pause(self, bucket: str, until_ms: int) -> None:
        """No worker takes a token from ``bucket`` before ``until_ms`` (a 429's Retry-After). What this
        journal remembers of the bucket not being paused is forgotten once the pause is written (and
        counted, so that a look begun before is not remembered either)."""
        self._store.statement("INSERT INTO rates (bucket, tokens, updated_ms, paused_until_ms) VALUES (?, 1, 0, 0)"
                              " ON CONFLICT (bucket) DO NOTHING", (bucket,))  # fmt: skip
        self._store.statement("UPDATE rates SET paused_until_ms = ? WHERE bucket = ? AND paused_until_ms < ?",
                              (until_ms, bucket, until_ms))  # fmt: skip
        self._unpaused.pop(bucket, None)
        self._pauses += 1


def roots(paths: Sequence[str]) -> list[str]:
    """The fewest folders that hold every one of ``paths`` (resolved paths): where a run's files are."""
    return fewest({os.path.dirname(path) for path in paths})


def fewest(folders: Iterable[str]) -> list[str]:
    """The fewest of ``folders`` that hold them all."""
    found: list[str] = []
    for folder in sorted(set(folders)):
        if not found or os.path.commonpath([found[-1], folder]) != found[-1]:
            found.append(folder)
    return found


def within(path: str, folders: Sequence[str]) -> bool:
    """Whether ``path``, resolved, is in one of ``folders``."""
    real = os.path.realpath(path)
    return any(os.path.commonpath([real, folder]) == folder for folder in folders)


def _storable(path: str) -> None:
    """Refuse a path a journal cannot hold as text (a name in a folder that is not UTF-8)."""
    try:
        path.encode("utf-8")
    except UnicodeEncodeError:
        raise InputError(
            f"{path!r}: its name is not valid UTF-8, which a journal (and a provider's file list) cannot hold;"
            " rename it, or send it alone with submit()"
        ) from None


def _sent(job_id: str, children: Sequence[str], next_poll_ms: int, interval: float) -> dict[str, Any]:
    """A chunk's values once its job is known."""
    return {"state": ChunkState.SENT, "job_id": job_id, "children": json.dumps(list(children)), "error": None,
            "next_poll_ms": next_poll_ms, "poll_interval": interval, "attempts": 0}  # fmt: skip


def _run(row: Sequence[Any]) -> Run:
    ident, provider, fingerprint, spec, created, files, chunks = row
    settings = None if spec is None else json.loads(spec)
    if settings is not None and not (isinstance(settings, dict) and isinstance(settings.get("inputs", {}), dict)):
        raise ValueError(f"run {ident}: its settings are not a mapping of inputs")
    return Run(str(ident), provider, str(fingerprint), settings, int(created), int(files), int(chunks))


_STATUSES = frozenset(status.value for status in JobStatus)


def _status(value: Any) -> str | None:
    if value is not None and value not in _STATUSES:
        raise ValueError(f"unknown job status {value!r}")
    return value  # type: ignore[no-any-return]


def _number(value: Any, what: str) -> float | None:
    if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float))):
        raise ValueError(f"{what} {value!r} is not a number")
    return None if value is None else float(value)


def _chunk(row: Sequence[Any], files: tuple[str, ...]) -> Chunk:
    run, idx, state, job, intent, error, children, status, attempts, interval, reply, _ = row
    parts = json.loads(children or "[]")
    if not isinstance(parts, list) or not all(isinstance(part, str) for part in parts):
        raise ValueError(f"chunk {idx} of {run}: its children are not a list of ids")
    return Chunk(int(idx), files, str(state), job, None if intent is None else int(intent), error, tuple(parts),
                 str(run), _status(status), int(attempts), _number(interval, "poll interval"),
                 None if reply is None else json.loads(reply))  # fmt: skip


def _file(row: Sequence[Any]) -> FileEntry:
    i, chunk, path, size, mtime, status, error, result = row
    return FileEntry(int(i), int(chunk), str(path), int(size), None if mtime is None else int(mtime), _status(status),
                     error, None if result is None else json.loads(result))  # fmt: skip
