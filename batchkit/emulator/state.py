"""The emulator's shared state: settings, keys, ids, the clock, creations and the request log."""

from __future__ import annotations

import random
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Mapping
from typing import Any

import attrs

from .faults import FaultPlan


@attrs.define
class EmulatorConfig:
    """How the emulated providers behave; change it at any time (``emu.config.run_seconds = 0``)."""

    seed: int = 0
    queue_seconds: float = 0.05
    """How long a job stays queued."""
    run_seconds: float = 0.3
    """How long a job runs after that (per-file parts of a job finish one after another within it)."""
    run_seconds_max: float | None = None
    """When set, each job runs a seeded random time between ``run_seconds`` and this."""
    fail_marker: str = "fail"
    """An input whose name contains this fails (a per-file error)."""
    api_keys: Mapping[str, frozenset[str]] | None = None
    """Accepted keys per provider; None accepts any non-empty key."""
    wallet_cents: int | None = None
    """Wallet balance of a provider that charges per create; None is unlimited (402 when short)."""
    cost_cents: Mapping[str, int] = attrs.field(factory=lambda: {"audio": 10, "video": 25, "image": 5})
    """What one file of each media type costs, where a fake charges."""
    intelligence_limit: int | None = None
    """Analysis detects a plan allows, where a fake has such a quota; None is unlimited (403 when exceeded)."""
    frames: int = 3
    """Prediction frames (or utterances) per video or audio input."""
    idle_timeout: float | None = 60.0
    """Seconds a request body may go without a byte before the server drops the connection (as real
    servers do); what it had of the body is thrown away, nothing is created. None: no limit."""


@attrs.frozen
class Part:
    """One multipart part: a text field (``filename`` None) or an uploaded file."""

    name: str
    filename: str | None
    size: int
    value: str = ""
    md5: str = ""
    content_type: str | None = None
    file: Any = attrs.field(default=None, repr=False, eq=False)


@attrs.frozen
class Reply:
    """What to answer: JSON (any) or raw bytes, with status and headers."""

    status: int
    body: Any = None
    headers: Mapping[str, str] = attrs.field(factory=dict)


@attrs.frozen
class Recorded:
    """One request as the emulator saw it; no header (so no key) is kept."""

    method: str
    path: str
    query: str
    status: int
    parts: tuple[tuple[str, str | None, int], ...] = ()
    fault: str | None = None
    at: float = attrs.field(default=0.0, eq=False)
    """When it arrived (``time.monotonic()``)."""


class Phase:
    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"


class State:
    """Ids, keys, time, creations and the request log, shared by every fake. Thread-safe."""

    def __init__(self, config: EmulatorConfig | None = None, clock: Callable[[], float] = time.monotonic) -> None:
        self.config = config or EmulatorConfig()
        self.clock = clock
        self.faults = FaultPlan()
        self.lock = threading.RLock()
        self.requests: list[Recorded] = []
        self.creates: Counter[str] = Counter()
        """Jobs created, per provider."""
        self._ids = random.Random(self.config.seed)
        self.generation = 0
        """Bumped by :meth:`reset`, so a request that outlives a reset is not logged into the next test."""
        self.handling = 0
        """Requests that arrived since the last :meth:`reset` and are being handled right now (a client may
        have gone away while the server goes on)."""
        self.providers: tuple[str, ...] = ()
        """The emulated providers' names (how ``fail-<provider>`` in an input's name is read)."""
        self.remote = False
        """Served to other machines (``allow_remote``): callbacks are not POSTed."""

    def reset(self) -> None:
        with self.lock:
            self.generation += 1
            self.handling = 0
            self.requests.clear()
            self.creates.clear()
            self.faults.clear()
            self._ids = random.Random(self.config.seed)

    def new_id(self) -> str:
        with self.lock:
            return str(uuid.UUID(int=self._ids.getrandbits(128), version=4))

    def key_ok(self, provider: str, key: str | None) -> bool:
        if not key:
            return False
        keys = self.config.api_keys
        return keys is None or key in keys.get(provider, frozenset())

    def schedule(self, share: float = 1.0) -> tuple[float, float]:
        """When a job created now starts running and when it is done (``share`` of the run time)."""
        now, cfg = self.clock(), self.config
        run = cfg.run_seconds
        if cfg.run_seconds_max is not None:
            with self.lock:
                run = self._ids.uniform(cfg.run_seconds, cfg.run_seconds_max)
        return now + cfg.queue_seconds, now + cfg.queue_seconds + run * share

    def phase(self, schedule: tuple[float, float]) -> str:
        """Where a job with this ``schedule`` is now."""
        now = self.clock()
        return Phase.QUEUED if now < schedule[0] else Phase.RUNNING if now < schedule[1] else Phase.DONE

    def failing(self, name: str, provider: str) -> bool:
        """Whether an input named ``name`` fails at ``provider``: its name holds ``<marker>-<provider>``
        (``clip-fail-resemble.wav`` fails at Resemble only), or the marker alone, not naming another
        emulated provider (``fail.wav`` fails everywhere)."""
        marker = self.config.fail_marker
        if not marker or marker not in name:
            return False
        rest = name
        for other in sorted(self.providers, key=len, reverse=True):  # "hume-expression" before "hume"
            named = f"{marker}-{other}"
            if named in rest:
                if other == provider:
                    return True
                rest = rest.replace(named, "")
        return marker in rest

    def record(self, entry: Recorded, generation: int) -> None:
        with self.lock:
            if generation == self.generation:
                self.requests.append(entry)
