"""Prometheus metrics of a worker, scraped over HTTP on 127.0.0.1: every metric changes as work happens
(a 429, a retried read, the shared rate, a held create whose lease is taken over, an ambiguous create
adopted), and no secret is in any of them."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import httpx
import pytest

import batchkit
from batchkit._kernel.journal import Journal, Scope
from batchkit.emulator import EMULATOR_KEY, FaultKind
from batchkit.observing import Event
from tests.patience import wait_until
from tests.test_scaling_out import held_replies
from tests.test_submit_many import many

pytest.importorskip("prometheus_client", reason="the metrics extra (batchkit[metrics]) is not installed")
from prometheus_client.parser import text_string_to_metric_families

from batchkit.metrics import METRICS, Metrics

CREATE = "POST /api/v2/detect/batch"


def scrape(port: int) -> tuple[str, dict[tuple[str, tuple[tuple[str, str], ...]], float]]:
    """The metrics text served now, and each sample's value by name and labels."""
    text = httpx.get(f"http://127.0.0.1:{port}/metrics").raise_for_status().text
    values = {(s.name, tuple(sorted(s.labels.items()))): s.value
              for family in text_string_to_metric_families(text) for s in family.samples}  # fmt: skip
    return text, values


def total(values: dict[Any, float], metric: str, **labels: str) -> float:
    """The sum of ``metric``'s samples (a histogram's: its count) with ``labels``."""
    name = f"{metric}_count" if metric.endswith("_seconds") and "duration" in metric else metric
    return sum(v for (n, ls), v in values.items() if n == name and set(labels.items()) <= set(ls))


def samples(values: dict[Any, float], metric: str) -> dict[Any, float]:
    """Every sample of ``metric`` (a histogram's buckets, sum and count too), but when each was made."""
    stem = metric.removesuffix("_total")
    return {key: v for key, v in values.items()
            if (key[0] == metric or key[0].startswith(f"{stem}_")) and not key[0].endswith("_created")}  # fmt: skip


def test_every_metric_changes_as_work_happens_and_none_holds_a_secret(emu, tmp_path: Path) -> None:
    journal = str(tmp_path / "journal.db")
    metrics = Metrics(journal)
    port = metrics.serve(0)
    emu.faults.add(CREATE, FaultKind.RATE_LIMIT, retry_after=0)  # refused: every request pauses
    emu.faults.add(CREATE, FaultKind.SLOW_REPLY, delay=600)  # created, its reply held until released
    emu.faults.add("GET /api/v2/detect/batch/*", FaultKind.STATUS, status=503)  # a read retried
    client = batchkit.connect("resemble", api_key=EMULATOR_KEY, base_url=emu.base_url, observer=metrics)
    thief = Journal(journal)
    try:
        run = client.enqueue(many(tmp_path, 30), journal=journal, chunk=10)
        texts, before = [], scrape(port)[1]
        done: list[batchkit.WorkSummary] = []
        worker = threading.Thread(target=lambda: done.append(client.work(journal, until_done=True, concurrency=1,
                                                                          rate=20.0)))  # fmt: skip
        worker.start()
        wait_until(lambda: emu.created("resemble") == 1 and held_replies(emu) == 1, "the create is held", lambda: len(emu.requests))
        text, during = scrape(port)
        texts.append(text)
        taken = thief.claim("thief", Scope("resemble", run), now_ms=2**50, lease_ms=1)  # the lease is taken over
        assert taken is not None
        assert taken.chunk.index == 0
        thief.release("thief")
        emu.faults.add(CREATE, FaultKind.DROP_AFTER_BODY)  # the next create lands, and its reply is lost
        emu.faults.release()
        wait_until(lambda: not worker.is_alive(), "the worker ends", lambda: len(emu.requests))
        text, after = scrape(port)
        texts.append(text)
    finally:
        thief.close()
        client.close()
        metrics.close()
    [summary] = done
    # chunk 0's job, created after its lease was taken over, is still recorded (H4): sent, not lost
    assert (summary.sent, summary.adopted, summary.lost, summary.finished) == (2, 1, 0, 3)
    assert total(during, "batchkit_worker_up", provider="resemble") == 1
    assert total(after, "batchkit_worker_up", provider="resemble") == 0
    changed = {metric for metric in METRICS if samples(before, metric) != samples(after, metric)}
    assert changed == set(METRICS), set(METRICS) - changed  # worker_up: absent before, 0 after
    assert total(before, "batchkit_chunks", state="planned") == 3
    assert (total(after, "batchkit_chunks", state="done"), total(after, "batchkit_files", state="done")) == (3, 30)
    for outcome in ("accepted", "refused", "ambiguous"):
        assert total(after, "batchkit_creates_total", outcome=outcome) >= 1, outcome
    assert total(after, "batchkit_lease_losses_total") == 1
    assert total(after, "batchkit_chunk_events_total", event="chunk_adopted") == 1
    assert total(after, "batchkit_request_duration_seconds", operation="create", status_class="4xx") == 1
    assert total(after, "batchkit_upload_bytes_total") >= 30 * 10
    for text in texts:
        assert EMULATOR_KEY not in text
        assert emu.base_url not in text
        assert "127.0.0.1" not in text
        assert run not in text


def test_metrics_count_events_without_a_server() -> None:
    metrics = Metrics()
    metrics.event(Event("request", "hume", operation="upload", status="2xx", seconds=0.2, upload_bytes=5))
    metrics.event(Event("lease_lost", "hume", "run-1", 0))
    text = metrics.text().decode()
    assert 'batchkit_upload_bytes_total{provider="hume"} 5.0' in text
    assert 'batchkit_lease_losses_total{provider="hume"} 1.0' in text
    assert 'batchkit_request_duration_seconds_bucket{le="0.25",operation="upload",provider="hume",status_class="2xx"}' \
        ' 1.0' in text
    assert "batchkit_chunks" not in text  # without a journal, no progress is read


def test_the_worker_command_serves_metrics(cli, emu, tmp_path: Path) -> None:
    journal = str(tmp_path / "journal.db")
    assert cli("-p", "resemble", "enqueue", *map(str, many(tmp_path, 3)), "--journal", journal).returncode == 0
    worked = cli("worker", "--journal", journal, "--until-done", "--metrics-port", "0")
    assert worked.returncode == 0, worked.stderr
    assert "metrics on http://127.0.0.1:" in worked.stderr


def test_metrics_without_their_extra_name_it(tmp_path: Path) -> None:
    probe = ("import sys; sys.modules['prometheus_client'] = None; from batchkit.cli import main; "
             f"sys.exit(main(['-p', 'resemble', 'worker', '--journal', {str(tmp_path / 'j.db')!r}, '--metrics-port', '0']))")  # fmt: skip
    env = {k: v for k, v in os.environ.items() if not k.startswith(("BATCHKIT_", "RESEMBLE_"))}
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, env=env, timeout=120)
    assert done.returncode == 4, done.stderr  # a configuration error, before any work
    assert "needs `pip install 'batchkit[metrics]'`" in done.stderr
