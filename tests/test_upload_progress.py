"""Upload progress: every byte of every file is reported once, even when a retry starts a file again."""

from __future__ import annotations

import httpx
from pytest_httpx import HTTPXMock

import batchkit

from .conftest import FAST, HUME_KEY


def test_progress_counts_each_byte_once_across_a_retry(httpx_mock: HTTPXMock, media) -> None:
    httpx_mock.add_exception(httpx.ConnectError("refused"))
    httpx_mock.add_response(json={"job_id": "j"})
    files = [media("a.wav", 3_000_000), media("b.jpg", 1234)]
    sent: list[int] = []
    with batchkit.connect("hume", api_key=HUME_KEY, retry=FAST, on_upload=sent.append) as client:
        client.submit(files)
    assert sum(sent) == 3_001_234
    assert max(sent) <= 1 << 20
    assert len(httpx_mock.get_requests()) == 2
