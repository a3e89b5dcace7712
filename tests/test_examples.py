"""Every example runs as written, on the built-in emulator (no key configured)."""

from __future__ import annotations

import csv
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from batchkit.providers.base import COLUMNS

EXAMPLES = Path(__file__).parent.parent / "examples"


def run_example(name: str, *args: str, cwd: Path, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("BATCHKIT_", "HUME_", "RESEMBLE_"))}
    result = subprocess.run(
        [sys.executable, str(EXAMPLES / name), *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        env={**clean, **env},
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return result


def test_quickstart(tmp_path: Path) -> None:
    out = run_example("quickstart.py", cwd=tmp_path).stdout
    assert "resemble job" in out
    assert "sample-speech.wav: SUCCEEDED" in out


def test_async_many_jobs(tmp_path: Path) -> None:
    lines = run_example("async_many_jobs.py", "12", cwd=tmp_path).stdout.splitlines()
    assert len(lines) == 12
    assert lines[-1].startswith("[12/12]")


@pytest.mark.parametrize("provider", ["hume", "resemble"])
def test_switch_provider(tmp_path: Path, provider: str) -> None:
    out = run_example("switch_provider.py", cwd=tmp_path, BATCHKIT_PROVIDER=provider).stdout
    assert re.search(rf"^{provider}: \S+/sample-speech.wav SUCCEEDED$", out, re.MULTILINE), out


def test_resemble_zip_options(tmp_path: Path) -> None:
    out = run_example("resemble_zip_options.py", cwd=tmp_path).stdout
    assert "sample-speech.wav:" in out
    assert "'detect_uuid'" in out


def test_hume_predictions_csv(tmp_path: Path) -> None:
    out = run_example("hume_predictions_csv.py", "p.csv", cwd=tmp_path).stdout
    with open(tmp_path / "p.csv") as fh:
        rows = list(csv.DictReader(fh))
    assert list(rows[0]) == list(COLUMNS)
    assert {r["model"] for r in rows} == {"prosody"}
    assert {Path(r["source"]).name for r in rows} == {"sample-speech.wav"}
    assert len({r["name"] for r in rows if r["kind"] == "emotion"}) == 48
    assert "sample-speech.wav: strongest " in out
