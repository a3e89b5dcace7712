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
    texts = [repr(client), repr(client._client._ops.auth.__dict__)]
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


def test_keys_never_leak_across_a_full_run_of_both_providers(
    emu, media, tmp_path, caplog: pytest.LogCaptureFixture
) -> None:
    from batchkit.emulator import FaultKind

    for name in ("httpx", "httpcore", "batchkit", "uvicorn"):
        caplog.set_level(logging.DEBUG, logger=name)  # restored after the test
    caplog.set_level(logging.DEBUG)
    keys = {"hume": "hume-LEAK-CANARY-0001", "resemble": "resemble-LEAK-CANARY-0002"}
    texts: list[str] = []
    for provider, key in keys.items():
        create = "POST /v0/batch/jobs" if provider == "hume" else "POST /api/v2/detect/batch"
        emu.faults.add(create, FaultKind.DROP_AFTER_BODY)
        emu.faults.add("GET *", FaultKind.STATUS, status=503, times=2)
        emu.faults.add("GET *", FaultKind.RATE_LIMIT, retry_after=0.01)
        with batchkit.connect(
            provider, api_key=key, base_url=emu.base_url, retry=batchkit.RetryPolicy(backoff_base=0)
        ) as client:
            texts.append(repr(client))
            for attempt in (lambda: client.submit([media("a.wav")]), lambda: client.get("missing")):
                with pytest.raises(batchkit.BatchkitError) as info:
                    attempt()
                texts += [str(info.value), repr(info.value), "".join(traceback.format_exception(info.value))]
            job = client.wait(client.submit([media("b.wav"), media("fail.png")]), poll_interval=0.01)
            texts += [repr(job), repr(client.results(job))]
            group = client.submit_many([media("c.wav")], journal=tmp_path / f"{provider}.db")
            texts.append(repr(group))
            if provider == "hume":
                texts.append(repr(client.download_artifacts(job, tmp_path / "art", extract=True)))
        texts.append((tmp_path / f"{provider}.db").read_bytes().decode("latin-1"))
    texts += [r.getMessage() for r in caplog.records] + [repr(emu.requests)]
    assert len(caplog.records) > 20
    assert any("HTTP Request" in t for t in texts), "httpx's own log lines were captured"
    for key in keys.values():
        assert not [t for t in texts if key in t]
