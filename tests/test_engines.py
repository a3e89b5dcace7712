"""What the engines share (``batchkit.engines``), checked without any engine installed: the settings an
engine hands its workers never show a key, and an engine's module imports without its extra."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

import batchkit
from batchkit.emulator import EMULATOR_KEY
from batchkit.engines import WorkerSettings, providers_of


def test_worker_settings_never_show_a_key() -> None:
    given = WorkerSettings({"resemble": {"api_key": EMULATOR_KEY, "base_url": "http://127.0.0.1:1"}})
    assert EMULATOR_KEY not in repr(given)
    assert repr(given) == "WorkerSettings(resemble: ['api_key', 'base_url'])"
    assert given.of("resemble")["api_key"] == EMULATOR_KEY
    assert given.of("hume") == {}  # from that worker's environment


def test_the_providers_a_worker_serves(emulated, tmp_path: Path) -> None:
    journal = tmp_path / "j.db"
    assert providers_of(journal, None) == []
    with pytest.raises(batchkit.ConfigError, match="no runs yet"):
        providers_of(journal, None, until_done=False)
    from tests.test_submit_many import many

    run = emulated("resemble").enqueue(many(tmp_path, 2), journal=journal)
    assert providers_of(journal, None) == ["resemble"]
    assert providers_of(journal, None, run="run-other") == []
    assert providers_of(journal, None, run=run) == ["resemble"]
    assert providers_of(journal, "hume") == ["hume"]


@pytest.mark.skipif(importlib.util.find_spec("ray") is not None, reason="Ray is installed here")
def test_batchkit_ray_without_ray_says_what_to_install(tmp_path: Path) -> None:
    import batchkit.ray

    with pytest.raises(batchkit.ConfigError, match=r"pip install 'batchkit\[ray\]'"):
        batchkit.ray.work(tmp_path / "j.db")
    with pytest.raises(batchkit.ConfigError, match=r"batchkit\[ray\]"):
        batchkit.ray.read_results(tmp_path / "j.db", "run-x")
