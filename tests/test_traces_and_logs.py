"""OpenTelemetry spans of a worker's steps and structured logs (``--log-format json``): their stable
names and attributes, and that no key, URL or signature is in any of them."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest

import batchkit
from batchkit.emulator import EMULATOR_KEY, FaultKind
from batchkit.observing import EVENTS, Event, JsonLines, LogEvents, Observers
from tests.conftest import CLI_KEY
from tests.test_submit_many import many

CREATE = "POST /api/v2/detect/batch"


def test_a_worker_makes_a_span_of_each_step_with_its_ids_and_no_secret(emu, tmp_path: Path) -> None:
    pytest.importorskip("opentelemetry.sdk", reason="opentelemetry-sdk (the test extra) is not installed")
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    from batchkit.tracing import Spans

    exporter, provider = InMemorySpanExporter(), TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    emu.faults.add(CREATE, FaultKind.DROP_AFTER_BODY)  # the first create lands unanswered: it is looked for
    journal = str(tmp_path / "journal.db")
    with batchkit.connect("resemble", api_key=EMULATOR_KEY, base_url=emu.base_url,
                          observer=Spans(provider)) as client:  # fmt: skip
        run = client.enqueue(many(tmp_path, 20), journal=journal, chunk=10)
        summary = client.work(journal, until_done=True, concurrency=1)
    assert (summary.sent, summary.adopted, summary.finished) == (1, 1, 2)
    spans = exporter.get_finished_spans()
    names = {span.name for span in spans}
    assert {"batchkit.submit", "batchkit.reconcile", "batchkit.poll", "batchkit.collect"} <= names
    for span in spans:
        attributes = dict(span.attributes or {})
        assert (attributes["batchkit.provider"], attributes["batchkit.run"]) == ("resemble", run)
        assert attributes["batchkit.chunk"] in (0, 1)
        if span.name != "batchkit.submit" or span.status.is_ok:
            assert attributes["batchkit.remote_id"], span.name  # every step but a failed send knows its job
        shown = span.to_json()
        assert EMULATOR_KEY not in shown
        assert emu.base_url not in shown
    failed = [s for s in spans if s.name == "batchkit.submit" and not s.status.is_ok]
    assert len(failed) == 1  # the send whose reply was lost, then found by the reconcile
    assert "AmbiguousSubmissionError" in (failed[0].status.description or "")


def test_the_worker_logs_json_lines_with_stable_event_names(cli, emu, tmp_path: Path) -> None:
    emu.faults.add(CREATE, FaultKind.DROP_AFTER_BODY)
    journal = str(tmp_path / "journal.db")
    assert cli("-p", "resemble", "enqueue", *map(str, many(tmp_path, 20)), "--journal", journal,
               "--chunk", "10").returncode == 0  # fmt: skip
    worked = cli("--log-format", "json", "worker", "--journal", journal, "--until-done", "--concurrency", "1")
    assert worked.returncode == 0, worked.stderr
    lines = [json.loads(line) for line in worked.stderr.splitlines()]  # every line on stderr is JSON
    events = [line["event"] for line in lines]
    for name in ("worker_started", "chunk_claimed", "chunk_sent", "chunk_adopted", "chunk_finished", "create",
                 "worker_stopped"):  # fmt: skip
        assert name in events, (name, events)
    assert set(events) <= {*EVENTS, "message"}
    sent = next(line for line in lines if line["event"] == "chunk_sent")
    assert {"run", "chunk", "provider", "remote_id", "attempt", "seconds", "time", "level"} <= set(sent)
    assert sent["run"].startswith("run-")
    assert sent["provider"] == "resemble"
    said = [line["message"] for line in lines if line["event"] == "message"]
    assert any(m.startswith("resemble: 1 sent, 1 adopted, 2 finished") for m in said)  # the summary, as a record
    assert CLI_KEY not in worked.stderr  # the cli fixture checks it too
    assert emu.base_url not in worked.stderr


def test_log_events_carry_every_field_and_json_lines_format_them(caplog) -> None:
    event = Event("lease_lost", "hume", "run-1", 3, "job-9", 2, 1.5)
    with caplog.at_level(logging.DEBUG, logger="batchkit.events"):
        Observers([LogEvents()]).event(event)
        LogEvents().event(Event("request", "hume", operation="read", status="2xx", seconds=0.01))
    [lost, request] = caplog.records
    assert (lost.levelno, request.levelno) == (logging.WARNING, logging.DEBUG)
    line = json.loads(JsonLines().format(lost))
    assert {k: line[k] for k in ("event", "provider", "run", "chunk", "remote_id", "attempt", "seconds")} == {
        "event": "lease_lost", "provider": "hume", "run": "run-1", "chunk": 3, "remote_id": "job-9", "attempt": 2,
        "seconds": 1.5}  # fmt: skip
    assert line["message"] == "lease_lost provider=hume run=run-1 chunk=3 remote_id=job-9 attempt=2 seconds=1.5"
    assert set(EVENTS) >= {"chunk_claimed", "chunk_sent", "chunk_adopted", "chunk_ambiguous", "lease_lost"}
