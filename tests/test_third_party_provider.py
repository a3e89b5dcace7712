"""A provider defined only in the test tree (tests/plugin/acme_detect), installed as a throwaway
distribution that declares a ``batchkit.providers`` entry point, gets everything with no edit to batchkit:
submit, wait, results, submit_many, webhooks.parse, the CLI (submit, status, results, demo) and an emulator."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

import batchkit
from batchkit import providers, results, webhooks
from batchkit.cli import EXIT_OK
from batchkit.cli.commands import run
from batchkit.emulator import EMULATOR_KEY, Emulator, EmulatorConfig, serve

PLUGIN = Path(__file__).parent / "plugin" / "acme_detect"


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A site directory holding the acme_detect distribution: its package and its dist-info."""
    root = tmp_path_factory.mktemp("site")
    shutil.copytree(PLUGIN, root / "acme_detect")
    info = root / "acme_detect-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: acme-detect\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text("[batchkit.providers]\nacme = acme_detect:AcmeProvider\n"
                                           "[batchkit.emulators]\nacme = acme_detect.fake:AcmeFake\n")
    return root


@pytest.fixture
def installed(site: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Emulator]:
    """The distribution on sys.path, and an emulator made after it (so it mounts the acme fake)."""
    monkeypatch.syspath_prepend(str(site))
    monkeypatch.setattr(providers, "_registered", dict(providers._registered))  # forgotten after the test
    for name in [n for n in os.environ if n.startswith(("BATCHKIT_", "ACME_"))]:
        monkeypatch.delenv(name)
    with serve(config=EmulatorConfig(queue_seconds=0.01, run_seconds=0.05)) as emu:
        yield emu


FAST_POLL = batchkit.PollSchedule(initial=0.02, factor=1.0, maximum=0.02)


def test_the_library_and_the_emulator(installed: Emulator, media, tmp_path: Path) -> None:
    assert "acme" in batchkit.providers.available()
    assert "acme" in installed.fakes
    with installed.connect("acme", poll=FAST_POLL) as client:
        job = client.wait(client.submit([media("a.wav"), media("b.png")]), timeout=10)
        assert job.status is batchkit.JobStatus.SUCCEEDED
        assert [(r.source, r.provider) for r in client.results(job)] == [(str(media("a.wav")), "acme"),
                                                                          (str(media("b.png")), "acme")]  # fmt: skip
        readings = [(h["name"], h["score"]) for h in results.summary(client.results(job))]
        assert readings == [("clean", 0.5), ("clean", 0.51)]
        files = [media(f"{i}.wav") for i in range(7)]
        group = client.submit_many(files, journal=tmp_path / "acme.sqlite")
        assert [len(c.files) for c in group.chunks] == [5, 2]
        group = group.refreshed(client.wait_all(group, timeout=10))
        assert group.status is batchkit.JobStatus.SUCCEEDED
        assert [r.source for r in client.results(group)] == [f"{i}.wav" for i in range(7)]
    assert installed.created("acme") == 3
    callback = webhooks.parse("acme", json.dumps({"id": "j1", "state": "done"}))
    assert (callback.job.provider, callback.job.id, callback.job.status) == ("acme", "j1", batchkit.JobStatus.SUCCEEDED)


def test_the_command_line(installed: Emulator, media, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)

    def cli(*args: str, **env: str | None) -> tuple[int, str, str]:
        with CliRunner().isolation(env=env) as (out, err, _):
            code = run(list(args))
            sys.stdout.flush()
            sys.stderr.flush()
        return code, out.getvalue().decode(), err.getvalue().decode()

    configured = {"ACME_API_KEY": EMULATOR_KEY, "BATCHKIT_BASE_URL": installed.base_url}
    code, out, err = cli("--json", "-p", "acme", "submit", str(media("x.wav")), "--wait", **configured)
    assert code == EXIT_OK, err
    [job] = json.loads(out)
    assert (job["provider"], job["status"]) == ("acme", "SUCCEEDED")
    code, out, _ = cli("--json", "-p", "acme", "status", job["id"], **configured)
    assert json.loads(out)[0]["status"] == "SUCCEEDED"
    code, out, _ = cli("-p", "acme", "results", job["id"], "--format", "json", **configured)
    assert json.loads(out) == [{"source": "x.wav", "provider": "acme", "status": "SUCCEEDED",
                                "kind": "verdict", "name": "clean", "score": 0.5, "error": None}]  # fmt: skip
    code, out, err = cli("-p", "acme", "demo", ACME_API_KEY=None, BATCHKIT_BASE_URL=None)
    assert code == EXIT_OK, err
    assert "no acme API key configured: using the built-in emulator" in err
    assert "sample-speech.wav" in out


def test_installed_for_real_in_a_subprocess(site: Path, media) -> None:
    """The entry point as a fresh interpreter finds it: the emulator command lists the provider."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("BATCHKIT_", "ACME_"))}
    env["PYTHONPATH"] = str(site)
    probe = "from batchkit.emulator import Emulator; print(sorted(Emulator().fakes))"
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, env=env, timeout=60)
    assert result.stdout.strip() == "['acme', 'hive', 'hume', 'hume-expression', 'reality-defender', 'resemble']", result.stderr
