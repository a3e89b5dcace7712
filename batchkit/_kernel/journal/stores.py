"""Where a journal lives: a sqlite file (one host, any number of processes) or a PostgreSQL database
(any number of hosts, through psycopg 3 from the ``postgres`` extra). Both run the same SQL, written
with ``?`` placeholders; a store only opens transactions and types its database's failures."""

from __future__ import annotations

import contextlib
import logging
import os
import re
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any, ClassVar, Protocol, TypeVar, cast

from batchkit.errors import InputError, JournalError

from .wake_ups import CHANNEL, WakeUps

T = TypeVar("T")

POSTGRES_SCHEMES = ("postgresql://", "postgres://")
BUSY_SECONDS = 5.0
"""How long one wait for another process's sqlite write lock lasts; it is logged and waited for again
(a writer stopped inside its transaction delays the others, and fails none)."""

log = logging.getLogger("batchkit")


class Unavailable(JournalError):
    """The database could not be reached, or dropped the connection (a restart): what was under way was
    not done, or done once (every journal write is the same when made twice); the next transaction opens
    a new connection."""


class RowError(JournalError):
    """The journal holds a row batchkit did not write (the run or chunk it belongs to fails, alone)."""

    what = "the journal holds a row batchkit did not write"


UNREADABLE = (ValueError, TypeError, IndexError, KeyError, RecursionError)
"""What reading a row batchkit did not write raises (a JSON too deep to read is a RecursionError)."""


class Cursor(Protocol):
    rowcount: int

    def fetchone(self) -> Any: ...

    def fetchall(self) -> list[Any]: ...


class Tx(Protocol):
    """One transaction: statements with ``?`` placeholders."""

    def execute(self, sql: str, params: Sequence[Any] = ()) -> Cursor: ...

    def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None: ...


class Store(Protocol):
    dialect: str
    """``sqlite`` or ``postgresql``."""
    where: str
    """The journal's location for messages (a URL without its password)."""
    row_locks: str
    """What ends a ``SELECT`` that claims rows: ``FOR UPDATE … SKIP LOCKED`` on PostgreSQL; nothing on
    sqlite, whose write transactions (``BEGIN IMMEDIATE``) already exclude each other."""
    types: ClassVar[dict[str, str]]
    """Column types by role (``int``: 64-bit, ``real``)."""
    read_only: bool
    """Opened for reading only (a journal this process may not write, as in a read-only folder)."""
    returning: bool
    """``UPDATE … RETURNING`` is understood (sqlite from 3.35)."""

    def transaction(self, write: bool = True) -> contextlib.AbstractContextManager[Tx]: ...

    def insert(self, tx: Tx, table: str, columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> None:
        """``rows`` into ``table`` in ``tx``, read as they are written (``COPY`` on PostgreSQL; batches of
        :data:`BATCH` rows on sqlite): an enqueue of millions holds one batch."""

    def update(self, tx: Tx, table: str, columns: Sequence[str], run: str, rows: Iterable[Sequence[Any]]) -> None:
        """Set ``columns`` of the rows of ``table`` of run ``run``, each ``(idx, *values)`` of ``rows``, read as
        they are written (on PostgreSQL ``COPY`` to a temporary table, then one ``UPDATE``)."""

    def statement(self, sql: str, params: Sequence[Any] = ()) -> Cursor:
        """One statement, committed on its own: no lock outlives it, whatever happens to this process
        between two of them."""

    def wake_ups(self) -> WakeUps | None:
        """A listener for the wake-ups :meth:`notify` sends (PostgreSQL); None where there are none."""

    def notify(self, tx: Tx, run: str) -> None:
        """Wake idle workers once ``tx`` commits: ``run`` has a chunk to claim."""

    def exclusive(self, tx: Tx, lock: int) -> bool:
        """Whether ``tx`` holds ``lock`` until it ends, taken now unless another transaction holds it (an
        advisory lock on PostgreSQL; always on sqlite, whose write transactions exclude each other)."""

    def notifying(self, sql: str, params: Sequence[Any], run: str, tx: Tx | None = None) -> int:
        """The ``UPDATE`` ``sql`` in ``tx`` (None: committed on its own), waking idle workers (as
        :meth:`notify`) if it changed a row, in one statement; the rows it changed."""

    def close(self) -> None: ...


LIBPQ_KEYWORDS = frozenset({
    "host", "hostaddr", "port", "dbname", "user", "password", "passfile", "require_auth", "channel_binding",
    "connect_timeout", "client_encoding", "options", "application_name", "fallback_application_name",
    "keepalives", "keepalives_idle", "keepalives_interval", "keepalives_count", "tcp_user_timeout", "replication",
    "gssencmode", "sslmode", "requiressl", "sslnegotiation", "sslcompression", "sslcert", "sslkey", "sslpassword",
    "sslcertmode", "sslrootcert", "sslcrl", "sslcrldir", "sslsni", "requirepeer", "ssl_min_protocol_version",
    "ssl_max_protocol_version", "krbsrvname", "gsslib", "gssdelegation", "service", "target_session_attrs",
    "load_balance_hosts",
})  # fmt: skip
"""The keywords of a libpq connection string (``host=db dbname=batchkit user=u password=…``)."""
_KEYWORD_PAIR = re.compile(r"\s*([A-Za-z_]+)\s*=\s*('(?:[^'\\]|\\.)*'|[^\s']*)\s*")
_SECRET_KEYS = ("password", "sslpassword")


def _keyword_pairs(text: str) -> list[re.Match[str]] | None:
    """The ``key=value`` pairs of a libpq keyword connection string, or None when ``text`` is not one."""
    pairs, at = [], 0
    while at < len(text):
        found = _KEYWORD_PAIR.match(text, at)
        if found is None or found.end() == at or found.group(1).lower() not in LIBPQ_KEYWORDS:
            return None
        pairs.append(found)
        at = found.end()
    return pairs or None


def is_postgres(target: str | os.PathLike[str]) -> bool:
    """Whether ``target`` names a PostgreSQL database: a ``postgresql://`` URL or a libpq keyword
    connection string; anything else is a sqlite file."""
    text = os.fspath(target)
    return isinstance(text, str) and (text.startswith(POSTGRES_SCHEMES) or _keyword_pairs(text) is not None)


def redacted(target: str) -> str:
    """``target`` with every password shown as ``***``: a URL's (``postgresql://user:***@host/db``,
    ``?password=***``) and a keyword string's (``password=***``)."""
    return _without_secrets(target, "***")


def without_password(target: str) -> str:
    """``target`` with its passwords left out, as a command to paste (libpq then reads ``PGPASSWORD``)."""
    return _without_secrets(target, None)


def _url(target: str) -> tuple[str, str, str | None, str, list[tuple[str, str]]]:
    """A PostgreSQL URL's scheme, user, password (None without one), host part and query pairs."""
    scheme, _, rest = target.partition("://")
    location, _, query = rest.partition("?")
    credentials, at, host = location.rpartition("@")
    user, colon, password = credentials.partition(":")
    if not at:
        user, host = "", location
    pairs = [(key, value) for key, _, value in (pair.partition("=") for pair in query.split("&") if pair)]
    return scheme, user, password if colon else None, host, pairs


def _without_secrets(target: str, mask: str | None) -> str:
    if target.startswith(POSTGRES_SCHEMES):
        scheme, user, password, host, pairs = _url(target)
        if password is not None:
            user = f"{user}:{mask}" if mask is not None else user
        who = f"{user}@" if user else ""
        kept = [f"{key}={value if key.lower() not in _SECRET_KEYS else mask}" for key, value in pairs
                if mask is not None or key.lower() not in _SECRET_KEYS]  # fmt: skip
        return f"{scheme}://{who}{host}" + (f"?{'&'.join(kept)}" if kept else "")
    words = _keyword_pairs(target)
    if words is None:
        return target
    return " ".join(f"{m.group(1)}={m.group(2) if m.group(1).lower() not in _SECRET_KEYS else mask}" for m in words
                    if mask is not None or m.group(1).lower() not in _SECRET_KEYS)  # fmt: skip


def passwords(target: str) -> list[str]:
    """Every password ``target`` holds, as written and percent-decoded (to scrub from messages)."""
    from urllib.parse import unquote

    if target.startswith(POSTGRES_SCHEMES):
        _, _, password, _, pairs = _url(target)
        found = [password or "", *(value for key, value in pairs if key.lower() in _SECRET_KEYS)]
    else:
        found = [m.group(2).strip("'") for m in _keyword_pairs(target) or () if m.group(1).lower() in _SECRET_KEYS]
    return sorted({form for value in found if value for form in (value, unquote(value))}, key=len, reverse=True)


def data_dir() -> Path:
    """batchkit's data directory: ``$XDG_DATA_HOME/batchkit``, else ``~/.local/share/batchkit``."""
    base = os.environ.get("XDG_DATA_HOME") or os.path.join(os.path.expanduser("~"), ".local", "share")
    return Path(base) / "batchkit"


def default_journal() -> str:
    """``BATCHKIT_JOURNAL``, else ``journal.db`` in :func:`data_dir` (not created until used)."""
    return os.environ.get("BATCHKIT_JOURNAL") or str(data_dir() / "journal.db")


def open_store(target: str | os.PathLike[str]) -> Store:
    """A store for ``target``: a ``postgresql://`` URL, or a sqlite file path."""
    text = os.fspath(target)
    if isinstance(text, str) and is_postgres(text):
        return PostgresStore(text)
    if text == ":memory:" or str(text).startswith("file:"):
        raise InputError(f"journal {str(text)!r} must be a file: it is what lets a run resume")
    return SqliteStore(Path(text))


class SqliteStore:
    """sqlite in WAL mode, every commit synced; a write transaction is ``BEGIN IMMEDIATE``."""

    dialect = "sqlite"
    row_locks = ""
    types: ClassVar[dict[str, str]] = {"int": "INTEGER", "real": "REAL"}

    def __init__(self, path: Path) -> None:
        import sqlite3

        self.where = str(path)
        self._lock = threading.Lock()
        self.returning = sqlite3.sqlite_version_info >= (3, 35)
        self.read_only = path.exists() and not (os.access(path, os.W_OK) and os.access(path.parent, os.W_OK))
        try:
            self._db = self._read_only(path) if self.read_only else sqlite3.connect(
                path, isolation_level=None, check_same_thread=False, timeout=BUSY_SECONDS)  # fmt: skip
        except sqlite3.Error as exc:
            raise InputError(f"{path}: cannot open the journal ({exc})") from None
        try:
            if not self.read_only:
                _while_locked(lambda: self._db.execute("PRAGMA journal_mode=WAL"))
                self._db.execute("PRAGMA synchronous=FULL")
        except sqlite3.DatabaseError as exc:
            self._db.close()
            raise InputError(f"{path}: not a usable batchkit journal ({exc})") from None

    @staticmethod
    def _read_only(path: Path) -> Any:
        """A connection that only reads: shared with its writers while one runs (its -shm file exists);
        else, where the folder has no room for that file (so no writer can run), as the file stands."""
        import sqlite3

        def connect(mode: str) -> sqlite3.Connection:
            return sqlite3.connect(f"{path.resolve().as_uri()}?{mode}", uri=True, isolation_level=None,
                                   check_same_thread=False, timeout=BUSY_SECONDS)  # fmt: skip

        db = connect("mode=ro")
        try:
            db.execute("SELECT count(*) FROM sqlite_master").fetchone()
            return db
        except sqlite3.OperationalError:
            db.close()
        return connect("immutable=1")

    @contextlib.contextmanager
    def transaction(self, write: bool = True) -> Iterator[Tx]:
        import sqlite3

        with self._lock, _typed(self.where, sqlite3.Error):
            begin = "BEGIN IMMEDIATE" if write else "BEGIN"
            _while_locked(lambda: self._db.execute(begin), None, self.where)
            try:
                yield cast(Tx, self._db)
            except BaseException:
                if self._db.in_transaction:
                    self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    def insert(self, tx: Tx, table: str, columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> None:
        sql = f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})"
        for batch in batches(rows):
            tx.executemany(sql, batch)

    def update(self, tx: Tx, table: str, columns: Sequence[str], run: str, rows: Iterable[Sequence[Any]]) -> None:
        sql = f"UPDATE {table} SET {', '.join(f'{c} = ?' for c in columns)} WHERE run_id = ? AND idx = ?"
        for batch in batches((*values, run, idx) for idx, *values in rows):
            tx.executemany(sql, batch)

    def statement(self, sql: str, params: Sequence[Any] = ()) -> Cursor:
        import sqlite3

        with self._lock, _typed(self.where, sqlite3.Error):
            return _Done(_while_locked(lambda: self._db.execute(sql, params), None, self.where))

    def wake_ups(self) -> None:
        return None  # one host: workers poll its file, which costs no server

    def notify(self, tx: Tx, run: str) -> None:
        pass

    def exclusive(self, tx: Tx, lock: int) -> bool:
        return True

    def notifying(self, sql: str, params: Sequence[Any], run: str, tx: Tx | None = None) -> int:
        return (self.statement(sql, params) if tx is None else tx.execute(sql, params)).rowcount

    def close(self) -> None:
        self._db.close()


class _Done:
    """A statement's outcome, read while the store was held."""

    def __init__(self, cursor: Any, rows: bool | None = None) -> None:
        """``rows``: whether the statement gave rows (None: asked of ``cursor.description``)."""
        self.rowcount: int = cursor.rowcount
        self._rows: list[Any] = cursor.fetchall() if (cursor.description if rows is None else rows) else []

    def fetchone(self) -> Any:
        return self._rows[0] if self._rows else None

    def fetchall(self) -> list[Any]:
        return self._rows


class _PostgresTx:
    """psycopg's cursor speaking ``?`` placeholders."""

    def __init__(self, cursor: Any) -> None:
        self.cursor = cursor

    def execute(self, sql: str, params: Sequence[Any] = ()) -> Cursor:
        self.cursor.execute(sql.replace("?", "%s"), params)
        return self.cursor  # type: ignore[no-any-return]

    def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        self.cursor.executemany(sql.replace("?", "%s"), rows)


BATCH = 5_000
"""Rows a statement of a batched write carries."""


def batches(rows: Iterable[Sequence[Any]]) -> Iterator[list[Sequence[Any]]]:
    """``rows`` in lists of :data:`BATCH`."""
    batch: list[Sequence[Any]] = []
    for row in rows:
        batch.append(row)
        if len(batch) == BATCH:
            yield batch
            batch = []
    if batch:
        yield batch


UNREACHED = ("Connection refused", "the database system is starting up", "the database system is shutting down",
             "the database system is in recovery mode", "server closed the connection unexpectedly",
             "timeout expired", "Network is unreachable", "No route to host")  # fmt: skip
"""What libpq says when a first connection fails because the server is out of reach (down, starting up,
shutting down), not because the URL, the password or the database is wrong."""
CHECKED_FOR = 1.0
"""Seconds after a transaction in which the connection is used again unchecked."""
POOL_WAIT = 60.0
"""How long a transaction waits for a connection (the pool reconnects meanwhile: a server restarting)."""


class PostgresStore:
    """PostgreSQL through psycopg 3 and a pool of connections (``psycopg_pool``), each checked before it
    is used, so a connection dropped or a server restarted costs one transaction, not the store; claims
    lock rows with ``FOR UPDATE … SKIP LOCKED``."""

    dialect = "postgresql"
    read_only = False
    returning = True
    row_locks = " FOR UPDATE OF c SKIP LOCKED"
    types: ClassVar[dict[str, str]] = {"int": "BIGINT", "real": "DOUBLE PRECISION"}

    def __init__(self, url: str) -> None:
        try:
            import psycopg
            from psycopg_pool import ConnectionPool
        except ImportError:
            raise ImportError("a PostgreSQL journal needs psycopg: pip install 'batchkit[postgres]'") from None
        self.where = redacted(url)
        self._url, self._secrets = url, passwords(url)
        self._lock = threading.Lock()
        self._used = 0.0
        """When the connection last served a transaction without failing (monotonic)."""
        self._pool = ConnectionPool(url, min_size=1, max_size=1, open=False, timeout=POOL_WAIT,
                                    check=self._check, name="batchkit-journal",
                                    kwargs={"autocommit": True, "connect_timeout": 30})  # fmt: skip
        try:  # the first connection says what is wrong, as libpq gives it
            psycopg.connect(url, autocommit=True, connect_timeout=30).close()
        except psycopg.Error as exc:
            said = f"{self.where}: cannot open the journal ({self._scrub(exc)})"
            if isinstance(exc, psycopg.OperationalError) and any(m in str(exc) for m in UNREACHED):
                raise Unavailable(said) from None  # a server down or restarting: a worker waits for it
            raise InputError(said) from None
        self._pool.open()

    def _scrub(self, exc: BaseException) -> str:
        text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        for secret in self._secrets:
            text = text.replace(secret, "***")
        return text

    def _check(self, db: Any) -> None:
        """Check a connection before it is used, unless it served a transaction in the last
        :data:`CHECKED_FOR`: a busy worker pays no round trip for it, and a connection dropped since
        costs one transaction (out of reach), as one dropped after its check does."""
        from psycopg_pool import ConnectionPool

        if time.monotonic() - self._used >= CHECKED_FOR:
            ConnectionPool.check_connection(db)

    @contextlib.contextmanager
    def _connection(self) -> Iterator[Any]:
        """A checked connection of the pool, as a typed failure when the database is out of reach."""
        import psycopg
        from psycopg_pool import PoolTimeout

        with self._lock, _typed(self.where, psycopg.Error, self._scrub):
            try:
                with self._pool.connection() as db:
                    yield db
                self._used = time.monotonic()
            except (psycopg.OperationalError, psycopg.InterfaceError, PoolTimeout) as exc:
                self._used = 0.0
                raise Unavailable(f"{self.where}: the journal could not be reached ({self._scrub(exc)})") from None

    @contextlib.contextmanager
    def transaction(self, write: bool = True) -> Iterator[Tx]:
        with self._connection() as db, db.transaction(), db.cursor() as c:
            yield _PostgresTx(c)

    def insert(self, tx: Tx, table: str, columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> None:
        assert isinstance(tx, _PostgresTx)
        with tx.cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)

    def update(self, tx: Tx, table: str, columns: Sequence[str], run: str, rows: Iterable[Sequence[Any]]) -> None:
        tx.execute(f"CREATE TEMPORARY TABLE batchkit_changed ON COMMIT DROP AS SELECT idx, {', '.join(columns)}"
                   f" FROM {table} WITH NO DATA")  # fmt: skip
        self.insert(tx, "batchkit_changed", ("idx", *columns), rows)
        tx.execute(f"UPDATE {table} t SET {', '.join(f'{c} = n.{c}' for c in columns)} FROM batchkit_changed n"
                   " WHERE t.run_id = ? AND t.idx = n.idx", (run,))  # fmt: skip

    def statement(self, sql: str, params: Sequence[Any] = ()) -> Cursor:
        with self._connection() as db:
            cursor = db.execute(sql.replace("?", "%s"), params)  # autocommit: no BEGIN
            return _Done(cursor, cursor.rownumber is not None)  # (a description costs a claim 100 µs)

    def wake_ups(self) -> WakeUps:
        import psycopg

        return WakeUps(lambda: psycopg.connect(self._url, autocommit=True, connect_timeout=30), self._scrub)

    def notify(self, tx: Tx, run: str) -> None:
        tx.execute("SELECT pg_notify(?, ?)", (CHANNEL, run))

    def exclusive(self, tx: Tx, lock: int) -> bool:
        return bool(tx.execute("SELECT pg_try_advisory_xact_lock(?)", (lock,)).fetchone()[0])

    def notifying(self, sql: str, params: Sequence[Any], run: str, tx: Tx | None = None) -> int:
        woken = f"WITH changed AS ({sql} RETURNING 1) SELECT pg_notify(?, ?) FROM changed"
        given = (*params, CHANNEL, run)
        return len((self.statement(woken, given) if tx is None else tx.execute(woken, given)).fetchall())

    def close(self) -> None:
        self._pool.close()


@contextlib.contextmanager
def _typed(where: str, errors: type[BaseException], describe: Callable[[BaseException], str] = str) -> Iterator[None]:
    """A database's failures (locked, full disk, gone, a tampered row) as a :class:`JournalError`."""
    try:
        yield
    except JournalError:
        raise
    except errors as exc:
        raise JournalError(f"{where}: the journal could not be used ({describe(exc)})") from None
    except UNREADABLE as exc:
        if isinstance(exc, InputError):
            raise
        raise RowError(f"{where}: {RowError.what} ({exc})") from None


def _while_locked(step: Callable[[], T], seconds: float | None = 60.0, where: str = "") -> T:
    """``step()``, again while another process holds a lock: one sqlite's busy handler cannot wait for
    (switching to WAL, two processes creating the same journal) for up to ``seconds``; with None, any
    lock, for as long as it is held (each wait :data:`BUSY_SECONDS`, then logged)."""
    import sqlite3

    deadline = None if seconds is None else time.monotonic() + seconds
    while True:
        try:
            return step()
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or (deadline is not None and time.monotonic() > deadline):
                raise
            if deadline is None:
                log.warning("%s: the journal is locked by another process (a writer stopped?); waiting", where)
            time.sleep(0.02)
