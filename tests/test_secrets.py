"""API keys never appear in reprs, logs (batchkit's or httpx's), or exception text."""

from __future__ import annotations

import logging
import traceback

import httpx
import pytest
from pytest_httpx import HTTPXMock

import batchkit
from batchkit import config

from .conftest import HUME_KEY


def test_key_absent_from_logs_reprs_and_errors(
    make_client, httpx_mock: HTTPXMock, caplog: pytest.LogCaptureFixture, media
) -> None:
    caplog.set_level(logging.DEBUG)
    httpx_mock.add_response(status_code=503, json={"message": "down"})
    httpx_mock.add_exception(httpx.ReadError("reset"))
    httpx_mock.add_response(json={"job_id": "j", "state": {"status": "QUEUED"}})
    httpx_mock.add_response(status_code=401, json={"fault": {"faultstring": "Invalid ApiKey"}})
    httpx_mock.add_response(status_code=500, text="boom")
    client = make_client("hume")
    texts = [repr(client), repr(client._client._session.auth.__dict__)]
    texts.append(repr(client.get("j")))
    with pytest.raises(batchkit.AuthenticationError) as auth_error:
        client.get("j")
    with pytest.raises(batchkit.AmbiguousSubmissionError) as ambiguous:
        client.submit([media("a.wav")])
    for error in (auth_error.value, ambiguous.value):
        texts += [str(error), repr(error), "".join(traceback.format_exception(error))]
    texts += [record.getMessage() for record in caplog.records]
    texts += [repr(r) for r in httpx_mock.get_requests()]
    assert any("Invalid ApiKey" in t for t in texts)
    assert caplog.records, "logging was captured"
    for text in texts:
        assert HUME_KEY not in text


def test_settings_repr_hides_key() -> None:
    settings = config.resolve("hume", api_key=HUME_KEY, env={})
    assert HUME_KEY not in repr(settings)
    assert HUME_KEY not in str(settings.api_key)
    assert settings.api_key.reveal() == HUME_KEY
