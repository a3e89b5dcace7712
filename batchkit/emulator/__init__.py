"""A local, stateful emulator of every registered provider that has a fake, served on 127.0.0.1.

>>> with batchkit.emulator.serve() as emu:                       # doctest: +SKIP
...     client = emu.connect("resemble")
...     job = client.wait(client.submit(["a.wav", "fail.mp4"]))  # "fail" in a name fails that file
...     assert emu.created("resemble") == 1

A client connected with ``clock=FakeClock()`` (``batchkit.testing.FakeClock``) moves the emulator's
jobs on that clock too, so waiting for them takes no real time.

Needs the ``emulator`` extra (``pip install 'batchkit[emulator]'``) to serve.
"""

from __future__ import annotations

import contextlib
import importlib
import time
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any, cast

from batchkit._kernel.clock import Clock
from batchkit.errors import InputError
from batchkit.providers import available, fake_of

from .faults import Fault, FaultKind, FaultPlan
from .state import EmulatorConfig, Recorded, State

if TYPE_CHECKING:
    from batchkit.async_client import AsyncClient
    from batchkit.client import Client

    from .fake import Fake

EMULATOR_KEY = "emulator-key"
"""A key the emulator takes (it takes any non-empty key)."""


def emulated_providers() -> list[str]:
    """The registered providers that have an emulator fake."""
    return [name for name in available() if fake_of(name)]


TimeSource = Clock | Callable[[], float]
"""What moves the emulator's jobs: a batchkit :class:`~batchkit._kernel.clock.Clock` (a ``FakeClock``)
or a function giving monotonic seconds."""


def _seconds(clock: TimeSource | None) -> Callable[[], float]:
    if clock is None:
        return time.monotonic
    monotonic = getattr(clock, "monotonic", None)
    return monotonic if callable(monotonic) else cast(Callable[[], float], clock)


class Emulator:
    """Every emulated provider over one state; ``base_url`` is set while it is served. Its jobs move on
    ``clock`` (the real one by default)."""

    def __init__(self, config: EmulatorConfig | None = None, *, clock: TimeSource | None = None) -> None:
        self.state = State(config, _seconds(clock))
        self.fakes: dict[str, Fake] = {}
        for name in emulated_providers():
            module, _, attr = (fake_of(name) or "").partition(":")
            self.fakes[name] = getattr(importlib.import_module(module), attr)(self.state, name)
        self.state.providers = tuple(self.fakes)
        self.base_url: str | None = None

    @property
    def config(self) -> EmulatorConfig:
        return self.state.config

    @property
    def faults(self) -> FaultPlan:
        return self.state.faults

    @property
    def handling(self) -> int:
        """Requests the server is handling now; 0 once every request that reached it since the last
        :meth:`reset` is logged (one an earlier test left running is not counted)."""
        return self.state.handling

    @property
    def requests(self) -> list[Recorded]:
        with self.state.lock:
            return list(self.state.requests)

    def created(self, provider: str) -> int:
        """How many jobs of ``provider`` were created."""
        return self.state.creates[provider]

    def reset(self, config: EmulatorConfig | None = None, *, clock: TimeSource | None = None) -> None:
        """Forget every job, request and fault; start again from ``config`` (or the defaults), jobs moving
        on ``clock`` (or the real one)."""
        with self.state.lock:
            self.state.clock = _seconds(clock)
            self.state.config = config or EmulatorConfig()
            self.state.reset()
            for fake in self.fakes.values():
                fake.reset()

    def connect(self, provider: str, **settings: Any) -> Client:
        """A :class:`batchkit.Client` pointed at this emulator (settings as :func:`batchkit.connect`).
        With ``clock=`` (a ``FakeClock``), the emulator's jobs move on that clock too, until :meth:`reset`."""
        import batchkit

        return batchkit.connect(provider, api_key=EMULATOR_KEY, base_url=self._url(), **self._clocked(settings))

    def connect_async(self, provider: str, **settings: Any) -> AsyncClient:
        """A :class:`batchkit.AsyncClient` pointed at this emulator (``clock=`` as in :meth:`connect`)."""
        import batchkit

        return batchkit.connect_async(provider, api_key=EMULATOR_KEY, base_url=self._url(), **self._clocked(settings))

    def _clocked(self, settings: dict[str, Any]) -> dict[str, Any]:
        if settings.get("clock") is not None:
            self.state.clock = _seconds(settings["clock"])
        return settings

    def _url(self) -> str:
        if self.base_url is None:
            raise RuntimeError("the emulator is not being served; use batchkit.emulator.serve()")
        return self.base_url


@contextlib.contextmanager
def serve(emulator: Emulator | None = None, *, config: EmulatorConfig | None = None, host: str = "127.0.0.1",
          port: int = 0, allow_remote: bool = False) -> Iterator[Emulator]:  # fmt: skip
    """Serve an emulator in a background thread until the block ends (a free port unless ``port``).

    It takes any key, so a ``host`` other machines reach is refused unless ``allow_remote``; served so,
    it POSTs no callbacks (they would be anyone's requests from this machine)."""
    try:
        from .limits import is_loopback
        from .server import running
    except ImportError as exc:
        raise ImportError(
            f"serving the emulator needs `pip install 'batchkit[emulator]'` ({exc.name} is missing)"
        ) from exc
    if not is_loopback(host) and not allow_remote:
        raise InputError(f"the emulator takes any key: serving {host!r} opens it to every machine that reaches it;"
                         " pass allow_remote=True (batchkit emulator --allow-remote) to mean it")  # fmt: skip

    emu = emulator or Emulator(config)
    emu.state.remote = not is_loopback(host)
    with running(emu, host, port) as url:
        emu.base_url = url
        try:
            yield emu
        finally:
            emu.base_url = None


@contextlib.contextmanager
def configured_or_emulated(*providers: str) -> Iterator[list[dict[str, Any]]]:
    """``connect()`` settings for each provider: ``{}`` (its configuration) where its key is set, else
    an emulator's address and key, all on one served emulator.

    What examples and demos use so that they run anywhere, and against the real API once a key is set.
    """
    from batchkit import config
    from batchkit.errors import ConfigError

    chosen: list[dict[str, Any]] = []
    missing: list[int] = []
    for index, provider in enumerate(providers):
        try:
            config.resolve(provider)
            chosen.append({})
        except ConfigError:
            chosen.append({})
            missing.append(index)
    if not missing:
        yield chosen
        return
    with serve() as emu:
        for index in missing:
            chosen[index] = {"api_key": EMULATOR_KEY, "base_url": emu.base_url}
        yield chosen


__all__ = [
    "EMULATOR_KEY",
    "Emulator",
    "EmulatorConfig",
    "Fault",
    "FaultKind",
    "FaultPlan",
    "Recorded",
    "TimeSource",
    "configured_or_emulated",
    "emulated_providers",
    "serve",
]
