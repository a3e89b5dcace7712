"""Waits bounded by lack of progress (nothing changed for ``IDLE`` seconds), never by a total that a
loaded machine can exceed."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable
from typing import Any

import pytest

IDLE = 60.0
"""Seconds with nothing changing after which a wait is stuck (a healthy step takes well under 1 s)."""


def wait_until(condition: Callable[[], bool], what: str, progress: Callable[[], Any] = lambda: None,
               idle: float = IDLE) -> None:  # fmt: skip
    """Poll ``condition`` until it holds; fail with ``what`` once ``progress()`` has not changed for ``idle`` s."""
    seen, since = progress(), time.monotonic()
    while not condition():
        now = progress()
        if now != seen:
            seen, since = now, time.monotonic()
        elif time.monotonic() - since > idle:
            pytest.fail(f"{what} (nothing changed for {idle:.0f} s)")
        time.sleep(0.005)


def exited(proc: subprocess.Popen[Any], progress: Callable[[], Any], idle: float = IDLE) -> int:
    """``proc``'s exit code once it has exited by itself, while ``progress()`` keeps changing."""
    wait_until(lambda: proc.poll() is not None, f"process {proc.args!r} is stuck", progress, idle)
    return int(proc.returncode)
