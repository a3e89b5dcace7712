"""A real PostgreSQL server for the tests: initdb in a temporary directory, listening on 127.0.0.1 on a
free port with a password, stopped at the end. As root, the server runs as the ``postgres`` user."""

from __future__ import annotations

import contextlib
import glob
import os
import shutil
import socket
import subprocess
import tempfile
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

PASSWORD = "pg-secret-7f3a"
"""The server's password: tests check it never shows in an error, a log line or CLI output."""


def binaries() -> Path | None:
    """Where ``initdb`` and ``pg_ctl`` are (PATH, then Debian's /usr/lib/postgresql/*/bin)."""
    found = shutil.which("initdb")
    if found and shutil.which("pg_ctl"):
        return Path(found).parent
    for folder in sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True):
        if (Path(folder) / "initdb").exists() and (Path(folder) / "pg_ctl").exists():
            return Path(folder)
    return None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


restarts: dict[str, Callable[[], None]] = {}
"""How to restart each running server (``pg_ctl restart -m fast``), by its URL."""


def restart(url: str) -> None:
    """Restart the server of ``url`` (a database on it): every connection to it is dropped."""
    restarts[url.rsplit("/", 1)[0]]()


@contextlib.contextmanager
def server() -> Iterator[str]:
    """A running server's URL (``postgresql://postgres:…@127.0.0.1:PORT``), stopped on exit."""
    bindir = binaries()
    assert bindir is not None
    as_root = os.geteuid() == 0
    prefix = ["runuser", "-u", "postgres", "--"] if as_root else []
    home = Path(tempfile.mkdtemp(prefix="batchkit-pg-"))
    data, pwfile = home / "data", home / "pw"
    pwfile.write_text(PASSWORD)
    if as_root:
        shutil.chown(home, "postgres")
        shutil.chown(pwfile, "postgres")
    port = _free_port()

    def run(*args: str) -> None:
        subprocess.run([*prefix, *args], check=True, capture_output=True, timeout=120)

    restarts[f"postgresql://postgres:{PASSWORD}@127.0.0.1:{port}"] = lambda: run(
        str(bindir / "pg_ctl"), "-D", str(data), "-l", str(home / "log"), "-m", "fast", "-w", "restart")
    try:
        run(str(bindir / "initdb"), "-D", str(data), "-U", "postgres", f"--pwfile={pwfile}", "--auth=scram-sha-256",
            "-E", "UTF8", "--no-sync")  # fmt: skip
        options = f"-p {port} -k {home} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200"
        run(str(bindir / "pg_ctl"), "-D", str(data), "-o", options, "-l", str(home / "log"), "-w", "start")
        try:
            yield f"postgresql://postgres:{PASSWORD}@127.0.0.1:{port}"
        finally:
            run(str(bindir / "pg_ctl"), "-D", str(data), "-m", "immediate", "-w", "stop")
    finally:
        shutil.rmtree(home, ignore_errors=True)


def new_database(server_url: str) -> str:
    """A fresh, empty database on the server; its URL."""
    import psycopg

    name = f"t_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(f"{server_url}/postgres", autocommit=True) as db:
        db.execute(f"CREATE DATABASE {name}")
    return f"{server_url}/{name}"
