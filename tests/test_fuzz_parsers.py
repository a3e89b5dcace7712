"""Every reply parser, fed arbitrary JSON and mutations of the documented examples (hypothesis):
a valid model or a typed batchkit error, never KeyError, TypeError, AttributeError or the like."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
from hypothesis import given, settings
from hypothesis import strategies as st

import batchkit
from batchkit import webhooks
from batchkit._kernel.steps import Done, advance, collected
from batchkit.models import BatchJob, FileResult
from batchkit.providers.hume import HumeProvider
from batchkit.providers.hume import to_batch_job as hume_job
from batchkit.providers.hume import to_file_result as hume_result
from batchkit.providers.resemble import ResembleProvider
from batchkit.providers.resemble import to_batch_job as resemble_batch
from batchkit.providers.resemble import to_file_result as resemble_result

DATA = Path(__file__).parent / "data"
HUME_JOB = json.loads((DATA / "hume_list_jobs.json").read_text())[0]
HUME_PREDICTIONS = json.loads((DATA / "hume_predictions.json").read_text())
RESEMBLE_BATCH = {"success": True, "item": {"uuid": "B", "status": "completed", "total_files": 3, "completed_count": 3,
                  "failed_count": 0, "created_at": "2024-01-15T10:30:00Z", "detect_uuids": ["D1", "D2", "D3"]}}  # fmt: skip
RESEMBLE_DETECT = {"success": True, "item": {"uuid": "D1", "media_type": "video", "status": "completed", "filename": "a.mp4",
                   "duration": "3.2", "metrics": {"label": "fake", "score": ["0.9", "0.8"], "aggregated_score": "0.8"},
                   "video_metrics": {"label": "Fake", "score": 0.95, "certainty": 0.9, "children": [{}]},
                   "audio_source_tracing": {"label": "real"}, "intelligence": {"description": {"x": 1}}}}  # fmt: skip

scalars = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=12)
any_json = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=20,
)


@st.composite
def mutated(draw: st.DrawFn, document: Any) -> Any:
    """``document`` with some leaves replaced by arbitrary JSON and some keys removed."""

    def walk(node: Any) -> Any:
        if isinstance(node, dict):
            out = {}
            for key, value in node.items():
                if draw(st.integers(0, 9)) == 0:
                    continue
                out[key] = walk(value)
            return out
        if isinstance(node, list):
            return [walk(item) for item in node]
        return draw(any_json) if draw(st.booleans()) else node

    return walk(document)


def check(parse: Callable[[Any], Any], body: Any) -> None:
    try:
        result = parse(body)
    except batchkit.BatchkitError:
        return
    assert isinstance(result, (BatchJob, FileResult, list, webhooks.Callback)), result


PARSERS = {
    "hume job": (hume_job, HUME_JOB),
    "hume prediction": (hume_result, HUME_PREDICTIONS[1]),
    "resemble batch": (resemble_batch, RESEMBLE_BATCH),
    "resemble detect": (resemble_result, RESEMBLE_DETECT),
    "hume callback": (
        lambda b: webhooks.parse("hume", b),
        {"job_id": "j", "status": "COMPLETED", "predictions": HUME_PREDICTIONS},
    ),
    "resemble callback": (lambda b: webhooks.parse("resemble", b), RESEMBLE_BATCH),
}


@settings(max_examples=120, deadline=None)
@given(name=st.sampled_from(sorted(PARSERS)), data=st.data())
def test_mutated_documented_examples(name: str, data: st.DataObject) -> None:
    parse, example = PARSERS[name]
    check(parse, data.draw(mutated(example)))


@settings(max_examples=120, deadline=None)
@given(name=st.sampled_from(sorted(PARSERS)), body=any_json)
def test_arbitrary_json(name: str, body: Any) -> None:
    check(PARSERS[name][0], body)


@settings(max_examples=80, deadline=None)
@given(
    body=st.binary(max_size=64) | any_json.map(lambda v: json.dumps(v).encode()),
    status=st.sampled_from([400, 401, 402, 403, 404, 422, 429, 500, 503]),
)
def test_error_bodies_always_give_a_typed_error(body: bytes, status: int) -> None:
    from batchkit._kernel.retry import provider_error

    for provider in (HumeProvider("https://h.test"), ResembleProvider("https://r.test")):
        error = provider_error(provider.name, httpx.Response(status, content=body), provider.error_body)
        assert isinstance(error, batchkit.ProviderError)
        assert error.status_code == status
        assert isinstance(error.message, str)


@settings(max_examples=80, deadline=None)
@given(body=any_json | st.builds(list, st.lists(mutated(HUME_JOB), max_size=3)))
def test_hume_list_and_predictions_bodies(body: Any) -> None:
    provider = HumeProvider("https://h.test")
    job = BatchJob("hume", "j", batchkit.JobStatus.SUCCEEDED, "COMPLETED")
    for operation in (collected(provider.list(5, frozenset(), {})), provider.results(job)):
        next(operation)
        try:
            outcome = advance(operation, httpx.Response(200, content=json.dumps(body).encode()))
        except batchkit.BatchkitError:
            continue
        assert isinstance(outcome, Done)
        assert isinstance(outcome.value, list)


@settings(max_examples=80, deadline=None)
@given(stamps=st.lists(st.integers() | st.floats() | st.text(max_size=8), min_size=3, max_size=3))
def test_any_timestamps(stamps: list[Any]) -> None:
    keys = ("created_timestamp_ms", "started_timestamp_ms", "ended_timestamp_ms")
    check(hume_job, {"job_id": "j", "state": {"status": "COMPLETED", **dict(zip(keys, stamps, strict=True))}})
    check(resemble_batch, {"item": {"uuid": "b", "status": "completed", "created_at": stamps[2]}})


@settings(max_examples=50, deadline=None)
@given(body=st.binary(max_size=40))
def test_webhook_bytes(body: bytes) -> None:
    for provider in ("hume", "resemble"):
        check(lambda b, p=provider: webhooks.parse(p, b), body)
