"""Live progress: ``batchkit runs --watch`` (a bar per run on a terminal, plain lines elsewhere) and the
line a worker prints every few seconds."""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from typing import Any, TextIO

from rich.console import Console, Group
from rich.live import Live
from rich.progress_bar import ProgressBar
from rich.table import Table
from rich.text import Text

from batchkit._kernel.journal import Journal, RunProgress
from batchkit.observing import Event, Observer

from .output import literal

WINDOW = 60.0
"""Seconds of history a rate is measured over."""


class Meter:
    """Files done a second and the time left of each run, from the snapshots it is shown (``now``: a
    monotonic clock's seconds)."""

    def __init__(self) -> None:
        self._seen: dict[str, deque[tuple[float, int]]] = {}

    def rate(self, progress: RunProgress, now: float) -> tuple[float | None, float | None]:
        """``(files a second, seconds left)`` of the run, None where not known yet."""
        seen = self._seen.setdefault(progress.run.id, deque())
        seen.append((now, progress.files_done))
        while len(seen) > 2 and now - seen[1][0] >= WINDOW:
            seen.popleft()
        (then, before), left = seen[0], progress.run.files - progress.files_done
        rate = (progress.files_done - before) / (now - then) if now > then else None
        return rate, 0.0 if left <= 0 else left / rate if rate else None


def duration(seconds: float | None) -> str:
    """``h:mm:ss``, or ``-`` when not known."""
    if seconds is None:
        return "-"
    whole = int(seconds + 0.5)
    return f"{whole // 3600}:{whole % 3600 // 60:02d}:{whole % 60:02d}"


def counts(p: RunProgress) -> str:
    """A run's counters in words."""
    run = p.run
    return (f"chunks sent {p.chunks_sent}/{run.chunks}, jobs finished {p.jobs_finished}/{run.chunks},"
            f" files done {p.files_done}/{run.files}, ambiguous {p.ambiguous}, failed {p.failed}")  # fmt: skip


def plain(p: RunProgress, rate: float | None, left: float | None) -> str:
    """One line of a run's progress (where stdout is not a terminal)."""
    speed = "-" if rate is None else f"{rate:.1f}"
    return f"{p.run.id} {literal(p.run.provider or '-')}: {counts(p)}, {speed} files/s, ETA {duration(left)}"


Shown = list[tuple[RunProgress, float | None, float | None]]
"""Each run with its files a second and seconds left."""


def bars(found: Shown) -> Group:
    """A bar per run, its id never cut (the bar is what narrows), its counters on the line below."""
    parts: list[Any] = []
    for p, rate, left in found:
        grid = Table.grid(padding=(0, 1), expand=True)
        grid.add_column(no_wrap=True, min_width=len(p.run.id))
        grid.add_column(no_wrap=True)
        grid.add_column(ratio=1, min_width=5)
        grid.add_column(no_wrap=True, justify="right")
        speed = "-" if rate is None else f"{rate:.1f}"
        share = p.files_done / p.run.files if p.run.files else 1.0
        grid.add_row(Text(p.run.id, style="bold"), Text(literal(p.run.provider or "-")),
                     ProgressBar(total=max(p.run.files, 1), completed=p.files_done),
                     Text(f"{share:4.0%} {speed} files/s ETA {duration(left)}"))  # fmt: skip
        parts += [grid, Text("  " + counts(p), style="dim", overflow="fold")]
    return Group(*parts) if parts else Group(Text("no runs in the journal yet"))


def watch(journal: str, every: float, out: TextIO, clock: Callable[[], float] = time.monotonic,
          sleep: Callable[[float], None] = time.sleep) -> None:  # fmt: skip
    """Show the journal's runs every ``every`` seconds until every run has settled (Ctrl-C stops it
    sooner): bars on a terminal, else a line for each run whose counters changed."""
    book, console = Journal(journal), Console(file=out)
    try:
        if console.is_terminal:
            with Live(console=console, auto_refresh=False) as live:
                _refresh(book, every, clock, sleep, lambda found: live.update(bars(found), refresh=True))
            return
        said: dict[str, tuple[int, ...]] = {}

        def lines(found: Shown) -> None:
            for p, rate, left in found:
                now = (p.chunks_sent, p.jobs_finished, p.files_done, p.ambiguous, p.failed)
                if said.get(p.run.id) != now:
                    said[p.run.id] = now
                    print(plain(p, rate, left), file=out, flush=True)

        _refresh(book, every, clock, sleep, lines)
    finally:
        book.close()


def _refresh(book: Journal, every: float, clock: Callable[[], float], sleep: Callable[[float], None],
             show: Callable[[Shown], None]) -> None:  # fmt: skip
    meter = Meter()
    while True:
        runs, now = book.runs(), clock()
        show([(p, *meter.rate(p, now)) for p in runs])
        if runs and all(p.settled for p in runs):
            return
        sleep(every)


class WorkerProgress(Observer):
    """A worker's progress line every ``every`` seconds of its clock: chunks sent, in flight (held by
    its lanes now), finished, the rates since the last line, and the 429 pauses."""

    def __init__(self, provider: str, every: float, say: Callable[[str], None]) -> None:
        self.provider, self.every, self.say = provider, every, say
        self.sent = self.finished = self.pauses = 0
        self.held: set[tuple[str | None, int | None]] = set()
        self._last: tuple[float, int, int] | None = None

    def event(self, event: Event) -> None:
        """Count ``event``."""
        key, name = (event.run, event.chunk), event.name
        if name == "chunk_claimed":
            self.held.add(key)
        elif name.startswith("chunk_") or name == "lease_lost":  # every other step of a claim ends it
            self.held.discard(key)
        self.sent += name in ("chunk_sent", "chunk_answered", "chunk_adopted")
        self.finished += name in ("chunk_finished", "chunk_answered")
        self.pauses += name == "rate_limited"

    def tick(self, monotonic: float) -> None:
        """Say the line when ``every`` seconds have passed since the last one."""
        if self._last is None:
            self._last = (monotonic, self.sent, self.finished)
        elif (spent := monotonic - self._last[0]) >= self.every:
            self.say(self.line((self.sent - self._last[1]) / spent, (self.finished - self._last[2]) / spent))
            self._last = (monotonic, self.sent, self.finished)

    def line(self, sending: float, finishing: float) -> str:
        """The progress line, with these rates (chunks a second)."""
        return (f"{self.provider}: {self.sent} sent ({sending:.2f}/s), {len(self.held)} in flight,"
                f" {self.finished} finished ({finishing:.2f}/s), {self.pauses} 429 pauses")  # fmt: skip
