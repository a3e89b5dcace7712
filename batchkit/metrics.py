"""Prometheus metrics of a worker (``pip install 'batchkit[metrics]'``): an :class:`~batchkit.observing.Observer`
that counts what happens, and reads each run's progress from the journal when scraped.

>>> from batchkit.metrics import Metrics
>>> metrics = Metrics(journal="journal.db")
>>> metrics.serve(9464)                                             # doctest: +SKIP
>>> batchkit.connect_async("resemble", observer=metrics)           # doctest: +SKIP

``batchkit worker --metrics-port 9464`` does the same. Labels are only provider, operation, status
class, outcome, state and event names: never a key, a URL or an id.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from batchkit.observing import Event, Observer

if TYPE_CHECKING:
    from wsgiref.simple_server import WSGIServer

    from prometheus_client.core import Metric

DURATION_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0)
"""The request duration histogram's buckets (seconds; an upload may take minutes)."""

METRICS = {
    "batchkit_worker_up": "1 while a worker of the provider works (gauge)",
    "batchkit_chunks": "chunks of the journal's runs by state: planned, sent, done, ambiguous, failed (gauge)",
    "batchkit_files": "input files of the journal's runs by state: done, pending (gauge)",
    "batchkit_creates_total": "creates by outcome: accepted, refused, ambiguous",
    "batchkit_retries_total": "requests sent again, by operation",
    "batchkit_rate_limited_total": "429 replies that paused every request of the provider and key",
    "batchkit_rate_limit_wait_seconds_total": "seconds requests waited for the shared rate or a 429's pause",
    "batchkit_upload_bytes_total": "file bytes carried by requests that got a reply",
    "batchkit_request_duration_seconds": "provider request duration by operation and status class (histogram)",
    "batchkit_lease_losses_total": "chunks another worker took over after this one's lease ended",
    "batchkit_chunk_events_total": "chunk steps by event (chunk_claimed, chunk_sent, ...; see batchkit.observing)",
}
"""Every metric and what it counts."""


class Metrics(Observer):
    """Counts events into a registry of its own (``registry``); with ``journal``, each scrape also reads
    the chunks and files of its runs by state."""

    def __init__(self, journal: str | os.PathLike[str] | None = None) -> None:
        from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

        self.registry = CollectorRegistry(auto_describe=True)
        r, p = self.registry, ["provider"]
        self.up = Gauge("batchkit_worker_up", METRICS["batchkit_worker_up"], p, registry=r)
        self.creates = Counter("batchkit_creates", METRICS["batchkit_creates_total"], [*p, "outcome"], registry=r)
        self.retries = Counter("batchkit_retries", METRICS["batchkit_retries_total"], [*p, "operation"], registry=r)
        self.limited = Counter("batchkit_rate_limited", METRICS["batchkit_rate_limited_total"], p, registry=r)
        self.waited = Counter("batchkit_rate_limit_wait_seconds", METRICS["batchkit_rate_limit_wait_seconds_total"],
                              p, registry=r)  # fmt: skip
        self.uploaded = Counter("batchkit_upload_bytes", METRICS["batchkit_upload_bytes_total"], p, registry=r)
        self.duration = Histogram("batchkit_request_duration_seconds", METRICS["batchkit_request_duration_seconds"],
                                  [*p, "operation", "status_class"], buckets=DURATION_BUCKETS, registry=r)  # fmt: skip
        self.lost = Counter("batchkit_lease_losses", METRICS["batchkit_lease_losses_total"], p, registry=r)
        self.steps = Counter("batchkit_chunk_events", METRICS["batchkit_chunk_events_total"], [*p, "event"], registry=r)
        if journal is not None:
            r.register(_Progress(os.fspath(journal)))
        self._server: WSGIServer | None = None

    def event(self, event: Event) -> None:
        """Count ``event``."""
        name, provider = event.name, event.provider
        if name == "request":
            self.duration.labels(provider, event.operation, event.status).observe(event.seconds or 0.0)
            if event.upload_bytes:
                self.uploaded.labels(provider).inc(event.upload_bytes)
        elif name == "create":
            self.creates.labels(provider, event.status).inc()
        elif name == "retry":
            self.retries.labels(provider, event.operation).inc()
        elif name == "rate_limited":
            self.limited.labels(provider).inc()
        elif name == "rate_wait":
            self.waited.labels(provider).inc(event.seconds or 0.0)
        elif name in ("worker_started", "worker_stopped"):
            self.up.labels(provider).set(1 if name == "worker_started" else 0)
            for counter in (self.limited, self.waited, self.uploaded, self.lost):  # shown at 0 from the start
                counter.labels(provider)
        else:
            if name == "lease_lost":
                self.lost.labels(provider).inc()
            self.steps.labels(provider, name).inc()

    def text(self) -> bytes:
        """The metrics now, in Prometheus's text format."""
        from prometheus_client import generate_latest

        return generate_latest(self.registry)

    def serve(self, port: int, host: str = "127.0.0.1") -> int:
        """Serve ``/metrics`` on ``host:port`` from a thread (port 0: any free one); the port."""
        from prometheus_client import start_http_server

        server, _ = start_http_server(port, host, registry=self.registry)
        self._server = server
        return int(server.server_address[1])

    def close(self) -> None:
        """Stop serving."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None


class _Progress:
    """The journal's chunks and files by state, read at each scrape (on the scraping thread)."""

    def __init__(self, journal: str) -> None:
        self.journal = journal

    def collect(self) -> Iterator[Metric]:
        from prometheus_client.core import GaugeMetricFamily

        import batchkit.runs

        chunks = GaugeMetricFamily("batchkit_chunks", METRICS["batchkit_chunks"], labels=["provider", "state"])
        files = GaugeMetricFamily("batchkit_files", METRICS["batchkit_files"], labels=["provider", "state"])
        totals: dict[tuple[str, str], int] = {}
        for p in batchkit.runs.progress(self.journal):
            provider, run = p.run.provider or "", p.run
            sent = max(p.chunks_sent - p.jobs_finished, 0)
            for state, n in (("planned", max(run.chunks - p.jobs_finished - sent - p.ambiguous - p.failed, 0)),
                             ("sent", sent), ("done", p.jobs_finished), ("ambiguous", p.ambiguous),
                             ("failed", p.failed), ("files:done", p.files_done),
                             ("files:pending", run.files - p.files_done)):  # fmt: skip
                totals[provider, state] = totals.get((provider, state), 0) + n
        for (provider, state), n in sorted(totals.items()):
            family, _, name = state.rpartition(":")
            (files if family else chunks).add_metric([provider, name], n)
        yield chunks
        yield files

    def describe(self) -> list[Any]:
        return []  # its names are not checked against the others' (they are its own)
