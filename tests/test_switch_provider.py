"""One script, two providers: only configuration (provider name and key) changes."""

from __future__ import annotations

import pytest

import batchkit


def pipeline(paths: list[str]) -> list[tuple[str, str]]:
    """A user's script: it never names a provider."""
    with batchkit.connect() as client:
        job = client.wait(client.submit(paths), poll_interval=0.01)
        return sorted((r.source, r.status.name) for r in client.results(job))


@pytest.mark.parametrize(("provider", "key_var"), [("hume", "HUME_API_KEY"), ("resemble", "RESEMBLE_API_KEY")])
def test_same_script_runs_on_each_provider_by_configuration(
    emu, monkeypatch: pytest.MonkeyPatch, media, tmp_path, provider: str, key_var: str
) -> None:
    monkeypatch.chdir(tmp_path)
    for var in ("BATCHKIT_PROVIDER", "HUME_API_KEY", "RESEMBLE_API_KEY"):
        monkeypatch.delenv(var, raising=False)
    (tmp_path / "batchkit.toml").write_text(f'provider = "{provider}"\nbase_url = "{emu.base_url}"\n')
    monkeypatch.setenv(key_var, "key-from-env")
    paths = [str(media("call.wav")), str(media("fail_face.jpg"))]
    assert pipeline(paths) == [(paths[0], "SUCCEEDED"), (paths[1], "FAILED")]  # sources are the paths as given
    assert emu.created(provider) == 1
