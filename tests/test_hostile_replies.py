"""A property of the whole public API: whatever a server answers (any status, headers, body, truncation,
nesting), every exception that leaves a public method of either client is a ``BatchkitError``."""

from __future__ import annotations

import asyncio
import contextlib
import gzip
import json
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

import batchkit

from .hostile_server import hostile, reply

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=20,
)
documented = st.sampled_from([
    {"job_id": "j", "state": {"status": "COMPLETED", "num_predictions": 1, "num_errors": 0}},
    {"success": True, "item": {"uuid": "b", "status": "completed", "detect_uuids": ["d"]}},
    [{"source": {"type": "text"}, "results": {"predictions": [], "errors": []}}],
])  # fmt: skip
bodies = (
    st.binary(max_size=200)
    | json_values.map(lambda v: json.dumps(v).encode())
    | documented.map(lambda v: json.dumps(v).encode())
    | st.sampled_from([1_000, 100_000]).map(lambda depth: b'{"item": ' * depth + b"1" + b"}" * depth)
)
headers = st.dictionaries(
    st.sampled_from(["retry-after", "content-type", "x-request-id", "content-encoding"]),
    st.sampled_from(["0", "-1", "nan", "1e309", "Wed, 21 Oct 2015 07:28:00 GMT", "text/html", "\u00e9", "", "gzip"]),
    max_size=3,
)
replies = st.tuples(st.sampled_from([200, 202, 400, 404, 429, 500, 503]) | st.integers(100, 599), headers, bodies,
                    st.sampled_from(["whole", "cut", "none"]))  # fmt: skip


class Script:
    """What the server answers now (one hypothesis example at a time)."""

    answer: tuple[int, dict[str, str], bytes, str] = (200, {}, b"{}", "whole")

    def __call__(self, method: str, path: str) -> Iterator[bytes]:
        status, extra, body, shape = self.answer
        if shape == "none":
            return
        if shape == "cut":
            whole = reply(status, b"", {**extra, "content-length": str(len(body) + 10)}, length=False)
            yield whole + body
            return
        yield reply(status, body, extra)


SCRIPT = Script()


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    with hostile(SCRIPT) as url:
        yield url


def calls(tmp: Path, audio: Path) -> list[tuple[str, tuple[Any, ...], dict[str, Any]]]:
    return [
        ("submit", (), {"text": ["x"]}),
        ("submit", ([audio],), {}),
        ("get", ("j",), {}),
        ("list", (), {}),
        ("wait", ("j",), {"timeout": 0.05, "poll_interval": 0.01}),
        ("results", ("j",), {}),
        ("download_artifacts", ("j", tmp / "art"), {"extract": True}),
        ("iter_results", ("j",), {}),
    ]


STATUS = {"success": True, "item": {"uuid": "b", "status": "completed", "total_files": 2, "completed_count": 2,
                                    "failed_count": 0, "detect_uuids": ["d1", "d2"]}}  # fmt: skip
POLICY = batchkit.RetryPolicy(max_retries=1, backoff_base=0, retry_after_max=0.05)


DEEP = b'{"item": ' * 100_000 + b"1" + b"}" * 100_000


@pytest.mark.long
@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(answer=replies)
@example(answer=(200, {}, DEEP, "whole"))
@example(answer=(202, {}, b"[" * 5000 + b"]" * 5000, "whole"))
@example(answer=(200, {}, b'{"job_id": "j", "state": {"status": "COMPLETED"', "cut"))
@example(answer=(503, {"retry-after": "1e309"}, b"", "whole"))
@example(answer=(429, {"retry-after": "Wed, 21 Oct 2015 07:28:00 GMT"}, b"<html>", "whole"))
@example(answer=(200, {}, b"", "none"))
@example(answer=(200, {"content-type": "\u00e9"}, b"\xff\xfe", "whole"))
@example(answer=(200, {"content-encoding": "gzip"}, b'{"job_id": "j"}', "whole"))  # not gzip at all
def test_every_failure_is_a_batchkit_error(server: str, tmp_path: Path, answer: Any) -> None:
    SCRIPT.answer = answer
    audio = tmp_path / "a.wav"
    audio.write_bytes(b"x" * 100)
    for provider in ("hume", "resemble"):
        settings = {"api_key": "k", "base_url": server, "retry": POLICY, "timeout": 2}
        with batchkit.connect(provider, **settings) as client:
            for method, args, kwargs in calls(tmp_path, audio):
                with contextlib.suppress(batchkit.BatchkitError):  # anything else fails the test
                    outcome = getattr(client, method)(*args, **kwargs)
                    if method in ("iter_results", "list"):  # iterated: their requests go as they are
                        list(outcome)

        async def run_async() -> None:
            async with batchkit.connect_async(provider, **settings) as client:  # noqa: B023 - used at once
                for method, args, kwargs in calls(tmp_path, audio):
                    with contextlib.suppress(batchkit.BatchkitError):
                        if method in ("iter_results", "list"):
                            [r async for r in getattr(client, method)(*args, **kwargs)]
                        else:
                            await getattr(client, method)(*args, **kwargs)

        asyncio.run(run_async())


@pytest.mark.parametrize("encoding", ["gzip", "deflate"])
def test_a_compressed_reply_is_read_as_it_was_sent(make_client: Any, encoding: str) -> None:
    """httpx asks for gzip and deflate and decodes them as they arrive; the body batchkit reads is that
    decoded body, not decoded a second time (every compressed reply was a DecodingError out of get())."""
    body = json.dumps(STATUS).encode()
    packed = gzip.compress(body) if encoding == "gzip" else zlib.compress(body)
    with hostile(lambda method, path: [reply(200, packed, {"content-encoding": encoding})]) as url:
        client = make_client("resemble", base_url=url)
        job = client.get("b")
        assert (job.id, job.status, job.children) == ("b", batchkit.JobStatus.SUCCEEDED, ("d1", "d2"))
