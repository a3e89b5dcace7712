"""A pytest plugin (loaded automatically where batchkit is installed) with emulator fixtures.

``batchkit_emulator`` gives a served, freshly reset :class:`batchkit.emulator.Emulator`::

    def test_pipeline(batchkit_emulator):
        client = batchkit_emulator.connect("resemble")
        job = client.wait(client.submit(["a.wav"]))
        assert batchkit_emulator.created("resemble") == 1

One server runs per test session; each test gets it reset. Needs ``batchkit[emulator]``.

:class:`FakeClock` makes waiting instant: ``batchkit.connect(..., clock=FakeClock())`` polls, backs
off and times out on a clock that moves only when batchkit sleeps on it.

Loading the plugin imports nothing of batchkit: a fixture imports what it needs when first used, so
``pytest --cov=batchkit`` measures every module.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from batchkit._kernel.clock import FakeClock
    from batchkit.emulator import Emulator


@pytest.fixture(scope="session")
def batchkit_emulator_server() -> Iterator[Emulator]:
    """The session's emulator server (not reset between tests; prefer ``batchkit_emulator``)."""
    from batchkit.emulator import serve

    with serve() as emu:
        yield emu


@pytest.fixture
def batchkit_emulator(batchkit_emulator_server: Emulator) -> Emulator:
    """The emulator, reset to its defaults: no jobs, no faults, no recorded requests."""
    batchkit_emulator_server.reset()
    return batchkit_emulator_server


def __getattr__(name: str) -> Any:
    """``FakeClock`` is imported on first use."""
    if name == "FakeClock":
        from batchkit._kernel.clock import FakeClock

        return FakeClock
    raise AttributeError(f"module 'batchkit.testing' has no attribute {name!r}")


__all__ = ["FakeClock", "batchkit_emulator", "batchkit_emulator_server"]
