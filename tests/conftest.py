"""Shared fixtures: keys, clients of both kinds behind one calling convention, media files."""

from __future__ import annotations

import asyncio
import inspect
import os
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, NamedTuple

import pytest

# The suite starts a hundred Pythons (xdist workers, CLIs, killed workers), each importing batchkit: its
# bytecode is kept (in __pycache__, ignored by git, as Python does by default) even where the environment
# says not to, so that they compile it once between them, not once each.
sys.dont_write_bytecode = False
os.environ.pop("PYTHONDONTWRITEBYTECODE", None)

import batchkit  # noqa: E402
from tests.patience import IDLE  # noqa: E402

HUME_KEY = "hume-test-key-SECRET-9f8e7d"
RESEMBLE_KEY = "resemble-test-key-SECRET-1a2b3c"
KEYS = {"hume": HUME_KEY, "resemble": RESEMBLE_KEY, "hume-expression": HUME_KEY, "reality-defender": "rd-test-key",
        "hive": "hive-test-key"}
BASES = {"hume": "https://api.hume.ai", "resemble": "https://app.resemble.ai"}
FAST = batchkit.RetryPolicy(max_retries=3, backoff_base=0.0)
FAST_POLL = batchkit.PollSchedule(initial=0.001, factor=1.0, maximum=0.001)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Tests marked ``long`` first, and in a parallel run first on every worker: xdist hands each worker a
    block of the tests in order (and steals from their ends), so with the long ones together at the front
    one worker ran them all in turn, and the run waited for it."""
    long = [item for item in items if item.get_closest_marker("long")]
    rest = [item for item in items if not item.get_closest_marker("long")]
    workers = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))
    ordered, left = [], len(items)
    for worker in range(workers):  # the blocks xdist's worksteal makes: what is left, split evenly
        size = left // (workers - worker)
        first = long[worker::workers]
        ordered += first + rest[: max(size - len(first), 0)]
        rest = rest[max(size - len(first), 0) :]
        left -= size
    items[:] = ordered + rest


class Blocking:
    """Calls an AsyncClient's coroutine methods to completion, so one test drives both clients."""

    def __init__(self, client: Any, loop: asyncio.AbstractEventLoop | None) -> None:
        self._client = client
        self._loop = loop

    def close(self) -> None:
        """Close either client (``aclose`` on the async one)."""
        if self._loop is None:
            self._client.close()
        else:
            self._loop.run_until_complete(self._client.aclose())

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._client, name)
        loop = self._loop
        if loop is None:
            return attr
        if inspect.isasyncgenfunction(attr):

            async def collect(*a: Any, **kw: Any) -> list[Any]:
                return [item async for item in attr(*a, **kw)]

            return lambda *a, **kw: loop.run_until_complete(collect(*a, **kw))
        if inspect.iscoroutinefunction(attr):
            return lambda *a, **kw: loop.run_until_complete(attr(*a, **kw))
        return attr


ClientFactory = Callable[..., Blocking]


@pytest.fixture(params=["sync", "async"])
def make_client(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[ClientFactory]:
    """``make_client(provider, **settings)`` gives a Client or a (blocking-wrapped) AsyncClient."""
    for var in ("BATCHKIT_PROVIDER", "BATCHKIT_BASE_URL", "HUME_API_KEY", "RESEMBLE_API_KEY"):
        monkeypatch.delenv(var, raising=False)
    loop = asyncio.new_event_loop() if request.param == "async" else None
    made: list[Any] = []

    def factory(
        provider: str = "hume",
        *,
        retry: batchkit.RetryPolicy = FAST,
        poll: batchkit.PollSchedule = FAST_POLL,
        **kwargs: Any,
    ) -> Blocking:
        kwargs.setdefault("api_key", KEYS[provider])
        connect = batchkit.connect_async if loop else batchkit.connect
        client = connect(provider, retry=retry, poll=poll, **kwargs)
        made.append(client)
        return Blocking(client, loop)

    factory.kind = request.param  # type: ignore[attr-defined]
    yield factory
    for client in made:
        if loop:
            loop.run_until_complete(client.aclose())
        else:
            client.close()
    if loop:
        loop.close()


@pytest.fixture
def media(tmp_path: Path) -> Callable[..., Path]:
    """``media("a.wav", size=10)`` writes a small file and returns its path."""

    def write(name: str, size: int = 64, content: bytes | None = None) -> Path:
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content if content is not None else bytes(range(256)) * (size // 256) + b"x" * (size % 256))
        return path

    return write


@pytest.fixture
def emu(batchkit_emulator: Any) -> Any:
    """The emulator, with jobs that finish in a few tens of milliseconds."""
    from batchkit.emulator import EmulatorConfig

    batchkit_emulator.reset(EmulatorConfig(queue_seconds=0.01, run_seconds=0.05))
    return batchkit_emulator


@pytest.fixture
def emulated(make_client: ClientFactory, emu: Any) -> ClientFactory:
    """``emulated(provider, **settings)``: a client of each kind talking to the emulator over a socket."""
    from batchkit.emulator import EMULATOR_KEY

    def factory(provider: str = "hume", **kwargs: Any) -> Blocking:
        return make_client(provider, api_key=EMULATOR_KEY, base_url=emu.base_url, **kwargs)

    return factory


def readline_within(stream: Any, seconds: float = IDLE) -> str:
    """A line from a subprocess pipe, or a test failure after ``seconds`` with no output (never a hang)."""
    import selectors

    with selectors.DefaultSelector() as selector:
        selector.register(stream, selectors.EVENT_READ)
        if not selector.select(seconds):
            pytest.fail(f"no output within {seconds}s")
    line: str = stream.readline()
    return line


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[str]:
    """A real PostgreSQL server for this test process (skipped where its binaries are absent)."""
    from tests import postgres

    if postgres.binaries() is None:
        pytest.skip("PostgreSQL is not installed here (no initdb/pg_ctl); CI runs these tests")
    with postgres.server() as url:
        yield url


@pytest.fixture
def postgres_url(postgres_server: str) -> str:
    """A fresh database on the test server: its ``postgresql://`` URL (with a password)."""
    from tests import postgres

    return postgres.new_database(postgres_server)


@pytest.fixture(params=["sqlite", "postgres"])
def journal_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A journal of each kind: a sqlite file, and a database on a real PostgreSQL server."""
    if request.param == "sqlite":
        return str(tmp_path / "journal.db")
    url: str = request.getfixturevalue("postgres_url")
    return url


@pytest.fixture(autouse=True)
def _data_dir(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """batchkit's data directory (a default journal, converted media) in a temporary folder, never ~."""
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path_factory.mktemp("data")))
    monkeypatch.delenv("BATCHKIT_JOURNAL", raising=False)
    monkeypatch.delenv("BATCHKIT_MEDIA_DIR", raising=False)


CLI_KEY = "cli-test-key-SECRET-77"
"""The key the ``cli`` fixture configures: it must never be printed."""


class Ran(NamedTuple):
    returncode: int
    stdout: str
    stderr: str


@pytest.fixture
def cli(emu: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Callable[..., Ran]:
    """``cli(*args)`` runs ``batchkit`` in this process (click's CliRunner isolation), configured for
    the emulator; the result has ``returncode``, ``stdout`` and ``stderr``."""
    monkeypatch.chdir(tmp_path)
    cleared = {k: None for k in os.environ if k.startswith(("BATCHKIT_", "HUME_", "RESEMBLE_"))}
    env: dict[str, str | None] = {**cleared, "BATCHKIT_BASE_URL": emu.base_url, "HUME_API_KEY": CLI_KEY,
                                  "RESEMBLE_API_KEY": CLI_KEY, "XDG_DATA_HOME": str(tmp_path / "data")}  # fmt: skip

    from click.testing import CliRunner

    from batchkit.cli.commands import run as cli_run

    def invoke(*args: str, env_update: dict[str, str] | None = None, unset: tuple[str, ...] = ()) -> Ran:
        final = {**env, **(env_update or {}), **dict.fromkeys(unset)}
        with CliRunner().isolation(env=final) as (out, err, _):
            code = cli_run(list(args))
            sys.stdout.flush()
            sys.stderr.flush()
        result = Ran(code, out.getvalue().decode(), err.getvalue().decode())
        assert CLI_KEY not in result.stdout + result.stderr
        return result

    return invoke
