"""Settings resolution: arguments > environment > batchkit.toml > [tool.batchkit]."""

from __future__ import annotations

from pathlib import Path

import pytest

import batchkit
from batchkit.config import resolve


def test_arguments_win(tmp_path: Path) -> None:
    (tmp_path / "batchkit.toml").write_text('provider = "resemble"\n')
    env = {"BATCHKIT_PROVIDER": "resemble", "HUME_API_KEY": "env-key"}
    s = resolve(
        "hume", api_key="arg-key", base_url="http://127.0.0.1:1", timeout=5, max_retries=0, env=env, cwd=tmp_path
    )
    assert (s.provider.name, s.api_key.reveal(), s.base_url, s.timeout, s.max_retries) == (
        "hume",
        "arg-key",
        "http://127.0.0.1:1",
        5.0,
        0,
    )
    assert s.origins["provider"] == "argument"


def test_environment_beats_files(tmp_path: Path) -> None:
    (tmp_path / "batchkit.toml").write_text('provider = "resemble"\nbase_url = "https://file.test"\n')
    env = {"BATCHKIT_PROVIDER": "hume", "HUME_API_KEY": "env-key", "BATCHKIT_BASE_URL": "https://env.test"}
    s = resolve(env=env, cwd=tmp_path)
    assert (s.provider.name, s.api_key.reveal(), s.base_url) == ("hume", "env-key", "https://env.test")
    assert s.origins == {"provider": "$BATCHKIT_PROVIDER", "api_key": "$HUME_API_KEY", "base_url": "$BATCHKIT_BASE_URL"}


def test_batchkit_toml_beats_pyproject(tmp_path: Path) -> None:
    (tmp_path / "batchkit.toml").write_text('provider = "hume"\ntimeout = 12\n[hume]\napi_key = "toml-key"\n')
    (tmp_path / "pyproject.toml").write_text('[tool.batchkit]\nprovider = "resemble"\ntimeout = 99\nmax_retries = 1\n')
    s = resolve(env={}, cwd=tmp_path)
    assert (s.provider.name, s.api_key.reveal(), s.timeout, s.max_retries) == ("hume", "toml-key", 12.0, 1)


def test_pyproject_section_alone(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text('[project]\nname="x"\n[tool.batchkit]\nprovider = "hume"\n')
    s = resolve(env={"HUME_API_KEY": "k"}, cwd=tmp_path)
    assert s.provider.name == "hume"
    assert s.base_url == "https://api.hume.ai"


def test_provider_table_overrides_top_level(tmp_path: Path) -> None:
    cfg = tmp_path / "custom.toml"
    cfg.write_text('provider = "hume"\nbase_url = "https://top.test"\n[hume]\nbase_url = "https://hume.test"\n')
    s = resolve(config_file=cfg, env={"HUME_API_KEY": "k"}, cwd=tmp_path)
    assert s.base_url == "https://hume.test"


def test_missing_provider_says_what_was_looked_at(tmp_path: Path) -> None:
    with pytest.raises(
        batchkit.ConfigError, match=r"no provider configured; looked at the argument, \$BATCHKIT_PROVIDER"
    ):
        resolve(env={}, cwd=tmp_path)


def test_missing_key_names_the_variable(tmp_path: Path) -> None:
    with pytest.raises(
        batchkit.ConfigError, match=r"no API key for hume; looked at the api_key argument, \$HUME_API_KEY"
    ):
        resolve("hume", env={}, cwd=tmp_path)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"provider": "openai"}, "unknown provider 'openai'; available: hive, hume, hume-expression, reality-defender, resemble"),
        ({"provider": "hume", "base_url": "ftp://x"}, "not an http"),
        ({"provider": "hume", "base_url": "not a url"}, "not an http"),
        ({"provider": "hume", "timeout": -1}, "timeout must be"),
        ({"provider": "hume", "max_retries": -2}, "max_retries must be"),
        ({"provider": "hume", "config_file": "/nonexistent/batchkit.toml"}, "does not exist"),
    ],
)
def test_bad_settings_are_config_errors(tmp_path: Path, kwargs: dict, message: str) -> None:
    with pytest.raises(batchkit.ConfigError, match=message.replace("(", r"\(")):
        resolve(api_key="k", env={}, cwd=tmp_path, **kwargs)


def test_bad_toml_is_config_error(tmp_path: Path) -> None:
    (tmp_path / "batchkit.toml").write_text("provider = [unclosed\n")
    with pytest.raises(batchkit.ConfigError, match="cannot read config"):
        resolve(env={}, cwd=tmp_path)


def test_wrong_type_in_file_is_config_error(tmp_path: Path) -> None:
    (tmp_path / "batchkit.toml").write_text("provider = 3\n")
    with pytest.raises(batchkit.ConfigError, match="provider must be a string"):
        resolve(env={}, cwd=tmp_path)


def test_connect_reads_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("BATCHKIT_PROVIDER", "hume")
    monkeypatch.setenv("HUME_API_KEY", "k")
    with batchkit.connect() as client:
        assert client.provider == "hume"
        assert repr(client) == "<batchkit.Client hume at https://api.hume.ai>"
