"""What an async request must not cost: a module lookup for each request (httpcore 1.0 runs ``import
sniffio`` per request, and Python does not cache a failed import, so each walks ``sys.path`` again)."""

from __future__ import annotations

import asyncio
import importlib.abc
import sys
from collections.abc import Sequence
from types import ModuleType
from typing import Any

import pytest

import batchkit
from batchkit.emulator import EMULATOR_KEY


class Lookups(importlib.abc.MetaPathFinder):
    """Records every module name the import system had to look for."""

    def __init__(self) -> None:
        self.names: list[str] = []

    def find_spec(self, fullname: str, path: Sequence[str] | None, target: ModuleType | None = None) -> None:
        self.names.append(fullname)


def test_async_requests_look_for_no_module(emu: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    lookups = Lookups()

    async def twenty_lists() -> None:
        async with batchkit.connect_async("hume", api_key=EMULATOR_KEY, base_url=emu.base_url) as client:
            [_ async for _ in client.list()]  # the first request imports what requests need
            monkeypatch.setattr(sys, "meta_path", [lookups, *sys.meta_path])
            for _ in range(20):
                [_ async for _ in client.list()]

    asyncio.run(twenty_lists())
    assert lookups.names == []
