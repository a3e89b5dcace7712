"""A local, stateful emulator of the Hume and Resemble batch APIs, served on 127.0.0.1.

>>> with batchkit.emulator.serve() as emu:                       # doctest: +SKIP
...     client = batchkit.connect("resemble", api_key="any", base_url=emu.base_url)
...     job = client.wait(client.submit(["a.wav", "fail.mp4"]))  # "fail" in a name fails that file
...     assert emu.created("resemble") == 1

Needs the ``emulator`` extra (``pip install 'batchkit[emulator]'``) to serve.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import Any

from .faults import Fault, FaultKind, FaultPlan
from .hume import HumeFake
from .resemble import ResembleFake
from .state import EmulatorConfig, Recorded, State

EMULATOR_KEY = "emulator-key"


class Emulator:
    """Both fake providers over one state; ``base_url`` is set while it is served."""

    def __init__(self, config: EmulatorConfig | None = None, *, clock: Callable[[], float] | None = None) -> None:
        self.state = State(config, clock) if clock else State(config)
        self.hume = HumeFake(self.state)
        self.resemble = ResembleFake(self.state)
        self.base_url: str | None = None

    @property
    def config(self) -> EmulatorConfig:
        return self.state.config

    @property
    def faults(self) -> FaultPlan:
        return self.state.faults

    @property
    def requests(self) -> list[Recorded]:
        with self.state.lock:
            return list(self.state.requests)

    def created(self, provider: str) -> int:
        """How many jobs (Hume) or batches (Resemble) were created."""
        return self.state.creates[provider]

    def reset(self, config: EmulatorConfig | None = None) -> None:
        """Forget every job, request and fault; start again from ``config`` (or the defaults)."""
        with self.state.lock:
            self.state.config = config or EmulatorConfig()
            self.state.reset()
            self.hume.reset()
            self.resemble.reset()

    def connect(self, provider: str, **settings: Any) -> Any:
        """A :class:`batchkit.Client` pointed at this emulator."""
        import batchkit

        return batchkit.connect(provider, api_key=EMULATOR_KEY, base_url=self._url(), **settings)

    def connect_async(self, provider: str, **settings: Any) -> Any:
        """A :class:`batchkit.AsyncClient` pointed at this emulator."""
        import batchkit

        return batchkit.connect_async(provider, api_key=EMULATOR_KEY, base_url=self._url(), **settings)

    def _url(self) -> str:
        if self.base_url is None:
            raise RuntimeError("the emulator is not being served; use batchkit.emulator.serve()")
        return self.base_url


@contextlib.contextmanager
def serve(
    emulator: Emulator | None = None, *, config: EmulatorConfig | None = None, host: str = "127.0.0.1", port: int = 0
) -> Iterator[Emulator]:
    """Serve an emulator in a background thread until the block ends (a free port unless ``port``)."""
    try:
        from .server import running
    except ImportError as exc:
        raise ImportError(
            f"serving the emulator needs `pip install 'batchkit[emulator]'` ({exc.name} is missing)"
        ) from exc

    emu = emulator or Emulator(config)
    with running(emu, host, port) as url:
        emu.base_url = url
        try:
            yield emu
        finally:
            emu.base_url = None


@contextlib.contextmanager
def configured_or_emulated(*providers: str) -> Iterator[list[Any]]:
    """Settings for each provider: from configuration where its key is set, else on one served emulator.

    What examples and demos use so that they run anywhere, and against the real API once a key is set.
    """
    from batchkit import config
    from batchkit.errors import ConfigError

    chosen: list[Any] = []
    missing: list[int] = []
    for provider in providers:
        try:
            chosen.append(config.resolve(provider))
        except ConfigError:
            chosen.append(None)
            missing.append(len(chosen) - 1)
    if not missing:
        yield chosen
        return
    with serve() as emu:
        for index in missing:
            chosen[index] = config.resolve(providers[index], api_key=EMULATOR_KEY, base_url=emu.base_url)
        yield chosen


__all__ = [
    "EMULATOR_KEY",
    "Emulator",
    "EmulatorConfig",
    "Fault",
    "FaultKind",
    "FaultPlan",
    "Recorded",
    "configured_or_emulated",
    "serve",
]
