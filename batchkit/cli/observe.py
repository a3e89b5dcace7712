"""What a ``batchkit worker`` tells besides its summary: its progress line, JSON logs
(``--log-format json``) and Prometheus metrics (``--metrics-port``)."""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable
from types import TracebackType
from typing import TYPE_CHECKING

from batchkit.observing import JsonLines, LogEvents, Observer, Observers

from .output import Reporter
from .watch import WorkerProgress

if TYPE_CHECKING:
    from batchkit.metrics import Metrics


def configure_logs(log_format: str) -> Callable[[], None]:
    """With ``json``: batchkit's log records (and its events, at INFO) as JSON lines on stderr, until the
    callable returned is called (which puts the ``batchkit`` logger back as it was)."""
    logger = logging.getLogger("batchkit")
    before = logger.handlers, logger.level, logger.propagate
    if log_format == "json":
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(JsonLines())
        logger.handlers, logger.propagate = [handler], False
        logger.setLevel(logging.INFO)

    def restore() -> None:
        logger.handlers, logger.propagate = before[0], before[2]
        logger.setLevel(before[1])

    return restore


class Observing:
    """The observers of one worker command, and its metrics server while it is entered."""

    def __init__(self, report: Reporter, journal: str, progress_every: float, metrics_port: int | None,
                 metrics_host: str, json_logs: bool) -> None:  # fmt: skip
        self.report, self.every, self.logs = report, progress_every, json_logs
        self.metrics: Metrics | None = None
        self.port, self.host = metrics_port, metrics_host
        if metrics_port is not None:
            from batchkit.metrics import Metrics

            try:
                self.metrics = Metrics(journal)
            except ImportError:
                raise ImportError("--metrics-port needs `pip install 'batchkit[metrics]'`") from None

    def observer(self, provider: str) -> Observer:
        """What one provider's worker tells."""
        observers: list[Observer] = []
        if self.every > 0:
            observers.append(WorkerProgress(provider, self.every, self.report.line))
        if self.logs:
            observers.append(LogEvents())
        if self.metrics is not None:
            observers.append(self.metrics)
        return Observers(observers)

    def __enter__(self) -> Observing:
        if self.metrics is not None and self.port is not None:
            port = self.metrics.serve(self.port, self.host)
            self.report.line(f"metrics on http://{self.host}:{port}/metrics")
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, tb: TracebackType | None) -> None:
        if self.metrics is not None:
            self.metrics.close()
