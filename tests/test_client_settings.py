"""The client settings users expect: connect() takes them all, with_options() copies, per-call timeouts,
and public names that say where to find them."""

from __future__ import annotations

import httpx
import pytest
from pytest_httpx import HTTPXMock

import batchkit

from .conftest import HUME_KEY

JOB = {"job_id": "j", "state": {"status": "QUEUED"}}


def test_connect_takes_every_client_setting(httpx_mock: HTTPXMock) -> None:
    httpx_mock.add_response(status_code=503, json={"message": "down"})
    httpx_mock.add_response(json=JOB)
    sent: list[int] = []
    with httpx.Client() as http, batchkit.connect(
        "hume", api_key=HUME_KEY, retry=batchkit.RetryPolicy(max_retries=1, backoff_base=0),
        poll=batchkit.PollSchedule(concurrency=2), on_upload=sent.append, http_client=http,
    ) as client:  # fmt: skip
        assert client.get("j").id == "j"
        client.close()
        assert not http.is_closed, "a client passed in is the caller's to close"


def test_with_options_is_a_configured_copy_sharing_the_connections(httpx_mock: HTTPXMock) -> None:
    httpx_mock.add_response(status_code=503, json={"message": "down"}, is_reusable=True)
    client = batchkit.connect("hume", api_key=HUME_KEY, retry=batchkit.RetryPolicy(backoff_base=0))
    fast = client.with_options(max_retries=0, timeout=5)
    assert fast._http is client._http
    with pytest.raises(batchkit.ServerError) as once:
        fast.get("j")
    assert once.value.attempts == 1
    fast.close()
    assert not client._http.is_closed, "closing a copy closes nothing"
    with pytest.raises(batchkit.ServerError, match="after 4 attempts"):
        client.get("j")
    client.close()
    assert client._http.is_closed


def test_per_call_timeout_reaches_the_request(httpx_mock: HTTPXMock) -> None:
    httpx_mock.add_response(json=JOB, is_reusable=True)
    with batchkit.connect("hume", api_key=HUME_KEY, timeout=30) as client:
        client.get("j", timeout=2.5)
        client.get("j")
    first, second = httpx_mock.get_requests()
    assert first.extensions["timeout"]["read"] == 2.5
    assert second.extensions["timeout"]["read"] == 30


@pytest.mark.parametrize("bad", [{"timeout": float("nan")}, {"timeout": -1}, {"max_retries": 5000}, {"retry": 3}])
def test_bad_settings_are_input_errors(bad: dict) -> None:
    client = batchkit.connect("hume", api_key=HUME_KEY)
    with pytest.raises(batchkit.InputError):
        client.with_options(**bad)
    client.close()


def test_public_names_live_in_batchkit() -> None:
    for name in batchkit.__all__:
        value = getattr(batchkit, name)
        if isinstance(value, type):
            assert value.__module__ == "batchkit", name
    assert batchkit.NOT_GIVEN is batchkit.NotGiven.NOT_GIVEN
    assert not batchkit.NOT_GIVEN
    tree = batchkit.errors.__doc__ or ""
    assert all(f"{name} " in tree for name in batchkit.errors.__all__), "the docstring draws every error"


def test_clients_share_one_tls_context() -> None:
    with batchkit.connect("hume", api_key=HUME_KEY) as a, batchkit.connect("resemble", api_key=HUME_KEY) as b:
        contexts = {id(c._http._transport._pool._ssl_context) for c in (a, b)}
    assert len(contexts) == 1
