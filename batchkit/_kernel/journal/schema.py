"""The journal's tables, their version, and how older journals are brought up to it."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from typing import Any

from batchkit.errors import InputError, JournalError

from .stores import Store, Tx

SCHEMA_VERSION = 11
"""1 to 3: one submission per sqlite file (its chunks, then owners, then children); 4: runs, files and
their results, leases with fencing tokens, shared rate limits; sqlite or PostgreSQL; 5: a chunk's
reply (the measurements of a provider whose results exist only in the reply); 6: runs that are such a
provider's own jobs (``local``: sent by the process that submits them, never by workers); 7: no run is
a provider's own: a run of schema 6's ``local`` kind becomes an ordinary run of requests any worker
serves (the column is left, unread); 8: a registry of workers with heartbeats (a worker is dead when its
heartbeat has expired), and indexes for renewing, releasing and reaping leases; 9: partial indexes of
the chunks with work left, one of sends (in the order they are taken) and one of checks (by when each is
due), so that a claim's cost does not grow with the run; 10: each run's progress counted as its chunks and files
change (by triggers), so that reading it does not grow with the run either; 11: on PostgreSQL, those
counters moved once a statement (its triggers made anew), not once a row."""

TABLES = """
CREATE TABLE IF NOT EXISTS runs (
    id TEXT PRIMARY KEY, provider TEXT, fingerprint TEXT NOT NULL UNIQUE, spec TEXT,
    created_ms {int} NOT NULL, files {int} NOT NULL, chunks {int} NOT NULL,
    chunks_sent {int} NOT NULL DEFAULT 0, jobs_finished {int} NOT NULL DEFAULT 0, files_done {int} NOT NULL DEFAULT 0,
    chunks_ambiguous {int} NOT NULL DEFAULT 0, chunks_failed {int} NOT NULL DEFAULT 0,
    chunks_cancelled {int} NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS chunks (
    run_id TEXT NOT NULL, idx {int} NOT NULL, state TEXT NOT NULL, job_id TEXT, job_status TEXT,
    intent_ms {int}, error TEXT, children TEXT, attempts {int} NOT NULL DEFAULT 0,
    next_poll_ms {int}, poll_interval {real},
    owner TEXT, owner_pid {int}, owner_host TEXT, lease_until_ms {int}, token {int} NOT NULL DEFAULT 0,
    reply TEXT, PRIMARY KEY (run_id, idx)
);
CREATE INDEX IF NOT EXISTS chunks_to_send ON chunks (run_id, idx) WHERE state IN ('planned', 'sending');
CREATE INDEX IF NOT EXISTS chunks_to_check ON chunks ((COALESCE(CAST(next_poll_ms AS BIGINT), 0)))
    WHERE state IN ('sent', 'ambiguous');
CREATE TABLE IF NOT EXISTS files (
    run_id TEXT NOT NULL, idx {int} NOT NULL, chunk_idx {int} NOT NULL, path TEXT NOT NULL,
    size {int} NOT NULL, mtime_ns {int}, status TEXT, error TEXT, result TEXT,
    PRIMARY KEY (run_id, idx)
);
CREATE INDEX IF NOT EXISTS files_by_chunk ON files (run_id, chunk_idx);
CREATE INDEX IF NOT EXISTS chunks_by_owner ON chunks (owner);
CREATE TABLE IF NOT EXISTS workers (
    id TEXT PRIMARY KEY, host TEXT NOT NULL, pid {int} NOT NULL, version TEXT NOT NULL, started_ms {int} NOT NULL,
    providers TEXT NOT NULL, heartbeat_ms {int} NOT NULL, ttl_ms {int} NOT NULL
);
CREATE INDEX IF NOT EXISTS workers_by_heartbeat ON workers (heartbeat_ms);
CREATE TABLE IF NOT EXISTS rates (
    bucket TEXT PRIMARY KEY, tokens {real} NOT NULL, updated_ms {int} NOT NULL, paused_until_ms {int} NOT NULL
);
"""


COUNTED = {
    "chunks_sent": ("chunks", "{row}.job_id IS NOT NULL"), "jobs_finished": ("chunks", "{row}.state = 'done'"),
    "chunks_ambiguous": ("chunks", "{row}.state = 'ambiguous'"), "chunks_failed": ("chunks", "{row}.state = 'failed'"),
    "chunks_cancelled": ("chunks", "{row}.state = 'cancelled'"), "files_done": ("files", "{row}.status IS NOT NULL"),
}
"""Each counter of a run's progress: the table whose rows it counts, and which rows (``{row}`` names one)."""

_CHANGED = {"chunks": ("state, job_id", "OLD.state <> NEW.state OR (OLD.job_id IS NULL) <> (NEW.job_id IS NULL)"),
            "files": ("status", "(OLD.status IS NULL) <> (NEW.status IS NULL)")}  # fmt: skip
"""For each counted table, the columns the counters read and when a change of them moves a counter."""


def _counting(table: str) -> str:
    """The statement that moves the counters of ``table``'s changed row (``OLD`` to ``NEW``); its rows are only
    inserted uncounted (planned chunks, files with no status) and deleted with their run."""
    moved = [f"{k} = {k} + CAST({c.format(row='NEW')} AS INTEGER) - CAST({c.format(row='OLD')} AS INTEGER)"
             for k, (counted, c) in COUNTED.items() if counted == table]  # fmt: skip
    return f"UPDATE runs SET {', '.join(moved)} WHERE id = NEW.run_id"


def _counting_statement(table: str) -> str:
    """PostgreSQL's: the counters moved once a run for a whole statement, from its transition tables. A row
    trigger updated the run's row once for each changed row: a statement changing a run's 40,000 chunks (a
    cancel) walked ever longer chains of that row's versions (16 s, where the update alone takes 0.3 s),
    and took the run's row after its first chunk, before the rest (a lock order that can deadlock)."""
    counters = [(k, c) for k, (counted, c) in COUNTED.items() if counted == table]
    sums = ", ".join(f"SUM(CAST({c.format(row='n')} AS INTEGER) - CAST({c.format(row='o')} AS INTEGER)) AS {k}"
                     for k, c in counters)  # fmt: skip
    moved = ", ".join(f"{k} = runs.{k} + d.{k}" for k, _ in counters)
    any_moved = " OR ".join(f"d.{k} <> 0" for k, _ in counters)
    return (f"UPDATE runs SET {moved} FROM (SELECT n.run_id, {sums} FROM new_rows n JOIN old_rows o"
            f" ON o.run_id = n.run_id AND o.idx = n.idx GROUP BY n.run_id) d"
            f" WHERE runs.id = d.run_id AND ({any_moved})")


def triggers(dialect: str) -> list[str]:
    """The statements that (re)create the triggers keeping each run's counters, on ``dialect``."""
    made = []
    for table, (columns, changed) in _CHANGED.items():
        name = f"batchkit_{table}_counted"
        if dialect == "sqlite":  # one writer at a time: a row trigger takes no lock of its own
            made.append(f"CREATE TRIGGER IF NOT EXISTS {name} AFTER UPDATE OF {columns} ON {table} WHEN {changed}"
                        f" BEGIN {_counting(table)}; END")  # fmt: skip
        else:
            made += [f"CREATE OR REPLACE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS"
                     f" $$ BEGIN {_counting_statement(table)}; RETURN NULL; END $$",
                     f"DROP TRIGGER IF EXISTS {name} ON {table}",
                     f"CREATE TRIGGER {name} AFTER UPDATE ON {table} REFERENCING OLD TABLE AS old_rows"
                     f" NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE PROCEDURE {name}()"]  # fmt: skip
    return made


def _recount(tx: Tx) -> None:
    """Give every run its counters, set from its chunks and files (a journal from before they were kept)."""
    kept = _columns(tx, "runs")
    for name in COUNTED:
        if name not in kept:
            tx.execute(f"ALTER TABLE runs ADD COLUMN {name} BIGINT NOT NULL DEFAULT 0")
    counts = ", ".join(f"{k} = (SELECT COALESCE(SUM(CAST({c.format(row='t')} AS INTEGER)), 0) FROM {table} t"
                       " WHERE t.run_id = runs.id)" for k, (table, c) in COUNTED.items())  # fmt: skip
    tx.execute(f"UPDATE runs SET {counts}")


def _ordinary_runs(tx: Tx) -> None:
    """Schema 7: a provider's own run (schema 6, ``local``) as a run of requests: each chunk one request
    (its input files, the request as the provider wrote it, the files made for it), its options as inputs."""
    if "local" not in _columns(tx, "runs"):
        return
    for ident, spec in tx.execute("SELECT id, spec FROM runs WHERE local = 1").fetchall():
        old = json.loads(spec) if spec else {}
        requests = [{"files": sorted({int(p["file"]) for p in item.get("parts", [])}), "spec": item,
                     "made": [p["path"] for p in item.get("parts", []) if p.get("converted")]}
                    for item in old.get("items", [])]  # fmt: skip
        new = {"inputs": {"options": old.get("options")}, "names": old.get("names", []), "requests": requests}
        tx.execute("UPDATE runs SET spec = ?, local = 0 WHERE id = ?", (json.dumps(new), ident))


MIGRATIONS: dict[int, tuple[str | Callable[[Tx], None], ...]] = {
    5: ("ALTER TABLE chunks ADD COLUMN reply TEXT",),
    6: ("ALTER TABLE runs ADD COLUMN local {int} NOT NULL DEFAULT 0",),
    7: (_ordinary_runs,),
    9: ("DROP INDEX IF EXISTS chunks_by_state",),
    10: (_recount,),
    11: (),  # the triggers, made anew as at every migration
}
"""Statements (or steps) that bring a journal of the version before (4 or later) to each version."""


def run_id_for(fingerprint: str) -> str:
    """A run's id: the same submission gets the same id, in any journal."""
    return f"run-{fingerprint[:16]}"


def keyed_run(fingerprint: str, key: str) -> tuple[str, str]:
    """The id and recorded fingerprint of the run a caller's ``key`` names: the id from the key alone (one
    key is one run, in any journal), the fingerprint from the key and the submission (so the same key
    with other files or settings is told apart, and the same files under two keys are two runs)."""
    named = hashlib.sha256(b"run key\0" + key.encode()).hexdigest()
    return run_id_for(named), hashlib.sha256(f"{key}\0{fingerprint}".encode()).hexdigest()


def migrate(store: Store) -> None:
    """Create the tables, or bring an older journal to :data:`SCHEMA_VERSION` (one transaction); nothing
    is written to a journal already at it."""
    try:
        with store.transaction(write=False) as tx:
            row = tx.execute("SELECT value FROM meta WHERE key = 'schema'").fetchone()
    except JournalError:  # no meta table yet
        row = None
    if row is not None and row[0] == str(SCHEMA_VERSION):
        return
    if store.read_only:
        found = f"schema {row[0]}" if row is not None else "no batchkit schema"
        raise InputError(f"{store.where}: this journal is read-only here and has {found}, not {SCHEMA_VERSION};"
                         " open it once where it may be written, to bring it up to date")  # fmt: skip
    with store.transaction() as tx:
        if store.dialect == "postgresql":  # two workers creating one journal at once take turns
            tx.execute("SELECT pg_advisory_xact_lock(7274120001)")
        tx.execute("CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
        row = tx.execute("SELECT value FROM meta WHERE key = 'schema'").fetchone()
        legacy = (
            store.dialect == "sqlite"
            and _sqlite_columns(tx, "chunks")
            and "run_id" not in _sqlite_columns(tx, "chunks")
        )
        version = int(row[0]) if row else (1 if legacy else SCHEMA_VERSION)
        if version > SCHEMA_VERSION:
            raise ValueError(f"schema {version} is newer than this batchkit's ({SCHEMA_VERSION}); upgrade batchkit")
        if legacy:
            tx.execute("ALTER TABLE chunks RENAME TO legacy_chunks")
        for statement in filter(str.strip, TABLES.format(**store.types).split(";")):
            tx.execute(statement)
        if legacy:
            _from_one_submission(tx)
            _recount(tx)
        else:
            for target in range(version + 1, SCHEMA_VERSION + 1):
                for step in MIGRATIONS.get(target, ()):
                    if isinstance(step, str):
                        tx.execute(step.format(**store.types))
                    else:
                        step(tx)
        for statement in triggers(store.dialect):
            tx.execute(statement)
        tx.execute("DELETE FROM meta WHERE key = 'schema'")
        tx.execute("INSERT INTO meta (key, value) VALUES ('schema', ?)", (str(SCHEMA_VERSION),))


def _columns(tx: Tx, table: str) -> list[str]:
    """The columns of ``table``, on either store."""
    found = tx.execute("SELECT * FROM " + table + " WHERE 1 = 0")
    return [str(d[0]) for d in getattr(found, "description", None) or ()]


def _sqlite_columns(tx: Tx, table: str) -> list[str]:
    return [str(row[1]) for row in tx.execute(f"PRAGMA table_info({table})").fetchall()]


def _from_one_submission(tx: Tx) -> None:
    """A journal of schema 1 to 3 (one submission, no runs) as one run; it resumes when ``submit_many``
    is called with the same files and options, which gives it back its provider and settings."""
    columns = _sqlite_columns(tx, "legacy_chunks")
    children = "children" if "children" in columns else "NULL"
    rows: list[Any] = tx.execute(
        f"SELECT idx, files, state, job_id, intent_ms, error, {children} FROM legacy_chunks ORDER BY idx"
    ).fetchall()
    found = tx.execute("SELECT value FROM meta WHERE key = 'fingerprint'").fetchone()
    if found is not None:
        fingerprint = str(found[0])
        run = run_id_for(fingerprint)
        files = [(idx, path) for idx, paths, *_ in rows for path in json.loads(paths)]
        tx.execute(
            "INSERT INTO runs (id, provider, fingerprint, spec, created_ms, files, chunks)"
            " VALUES (?, NULL, ?, NULL, 0, ?, ?)",
            (run, fingerprint, len(files), len(rows)),
        )
        tx.executemany(
            "INSERT INTO chunks (run_id, idx, state, job_id, intent_ms, error, children) VALUES (?, ?, ?, ?, ?, ?, ?)",
            [(run, idx, state, job, intent, error, kids) for idx, _, state, job, intent, error, kids in rows],
        )
        tx.executemany(
            "INSERT INTO files (run_id, idx, chunk_idx, path, size) VALUES (?, ?, ?, ?, -1)",
            [(run, n, idx, str(path)) for n, (idx, path) in enumerate(files)],
        )
    tx.execute("DROP TABLE legacy_chunks")
    tx.execute("DELETE FROM meta WHERE key = 'fingerprint'")
