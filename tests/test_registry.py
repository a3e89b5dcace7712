"""The provider registry: built-ins by name, third parties by entry point or register()."""

from __future__ import annotations

from importlib.metadata import EntryPoint

import pytest

import batchkit
from batchkit import providers
from batchkit.providers.hume import HumeProvider


class FakeProvider(HumeProvider):
    name = "acme"
    key_env = "ACME_API_KEY"
    default_base_url = "https://acme.test"


def test_builtin_by_name_case_insensitive() -> None:
    assert providers.get_provider("Hume") is HumeProvider


def test_entry_point_provider_is_found(monkeypatch: pytest.MonkeyPatch) -> None:
    ep = EntryPoint(name="acme", value="tests.test_registry:FakeProvider", group=providers.ENTRY_POINT_GROUP)
    monkeypatch.setattr(providers, "entry_points", lambda group: [ep] if group == providers.ENTRY_POINT_GROUP else [])
    monkeypatch.setattr(providers, "_registered", {})
    assert "acme" in providers.available()
    assert providers.get_provider("acme") is FakeProvider
    client = batchkit.connect("acme", api_key="k")
    assert client.provider == "acme"
    client.close()


def test_entry_point_that_is_not_a_provider(monkeypatch: pytest.MonkeyPatch) -> None:
    ep = EntryPoint(name="bad", value="json:dumps", group=providers.ENTRY_POINT_GROUP)
    monkeypatch.setattr(providers, "entry_points", lambda group: [ep])
    with pytest.raises(batchkit.ConfigError, match="not name a batchkit Provider"):
        providers.get_provider("bad")
