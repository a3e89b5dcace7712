"""The HTML report: one self-contained page (no network), charts for every provider, drawn in a real
headless Chromium (skipped with a reason where Debian's chromium is not installed; CI installs it)."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

import batchkit
from batchkit import report
from batchkit.cli.commands import run

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.fixture
def pages(emu, media, tmp_path: Path) -> dict[str, Path]:
    """A report of a Hume job and of a Resemble batch, made on the emulator."""
    made = {}
    with emu.connect("hume", poll=batchkit.PollSchedule(initial=0.02, factor=1.0)) as client:
        job = client.wait(client.submit([media("call.wav"), media("face.jpg")], text=["Ada met Alan."]))
        made["hume"] = report.write(client.results(job), tmp_path / "hume.html", title="hume job")
    with emu.connect("resemble", poll=batchkit.PollSchedule(initial=0.02, factor=1.0)) as client:
        job = client.wait(client.submit([media("a.wav"), media("b.mp4"), media("c.png"), media("fail.wav")]))
        made["resemble"] = report.write(client.results(job), tmp_path / "resemble.html", title="resemble batch")
    return made


def test_the_page_is_self_contained_with_a_table_and_charts(pages: dict[str, Path]) -> None:
    for provider, path in pages.items():
        page = path.read_text()
        assert page.count("<svg") >= (1 if provider == "hume" else 2), provider
        assert "<table>" in page
        assert not re.search(r"""(src|href)=["']https?:""", page), "nothing is fetched"
        assert "<script" not in page
    assert "call.wav — prosody over time" in pages["hume"].read_text()
    assert "a.wav — chunk over time" in pages["resemble"].read_text()
    assert "<h2>Scores</h2>" in pages["resemble"].read_text()


def test_report_refuses_a_path_that_is_not_html(tmp_path: Path) -> None:
    with pytest.raises(batchkit.InputError, match=r"\.html"):
        report.write([], tmp_path / "report.pdf")


def test_the_cli_writes_the_report(emu, media, tmp_path: Path, monkeypatch, capsys) -> None:
    monkeypatch.setenv("RESEMBLE_API_KEY", "k")
    monkeypatch.setenv("BATCHKIT_BASE_URL", emu.base_url)
    with emu.connect("resemble") as client:
        job = client.wait(client.submit([media("a.wav")]), poll_interval=0.02)
    assert run(["-p", "resemble", "report", job.id, "-o", str(tmp_path / "r.html")]) == 0
    assert (tmp_path / "r.html").read_text().count("<svg") == 2


@pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is not installed (apt-get install chromium)")
def test_the_charts_draw_in_a_real_browser_without_console_errors(pages: dict[str, Path], tmp_path: Path) -> None:
    from matplotlib.image import imread

    for provider, path in pages.items():
        shot = tmp_path / f"{provider}.png"
        profile = tmp_path / f"profile-{provider}"
        done = subprocess.run(
            [str(CHROMIUM), "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
             "--disable-background-networking", "--disable-component-update", "--disable-sync",
             f"--user-data-dir={profile}", "--enable-logging=stderr", "--v=0", "--window-size=1200,2000",
             f"--screenshot={shot}", path.as_uri()],
            capture_output=True, text=True, timeout=120,
        )  # fmt: skip
        assert shot.exists(), done.stderr[-2000:]
        pixels = imread(shot)
        assert pixels.std() > 0.05, f"{provider}: the screenshot is blank"
        console = [line for line in done.stderr.splitlines() if "CONSOLE" in line or "Uncaught" in line]
        assert console == [], console
