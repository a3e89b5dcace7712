"""The HTML report: one self-contained page (no network) for a job or a whole run, that opens with
counts and the flagged inputs, gives every provider a headline chart and caps its detail charts; drawn
in a real headless Chromium (skipped with a reason where Debian's chromium is not installed; CI
installs it)."""

from __future__ import annotations

import random
import re
import shutil
import subprocess
from pathlib import Path

import pytest

import batchkit
from batchkit import report
from batchkit.cli import EXIT_INPUT
from batchkit.cli.commands import run

from .report_inputs import detect, mixed, resemble_result

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
FAST = batchkit.PollSchedule(initial=0.02, factor=1.0)


@pytest.fixture
def pages(emu, media, tmp_path: Path) -> dict[str, Path]:
    """A report of a Hume job and of a Resemble batch, made on the emulator."""
    made = {}
    with emu.connect("hume", poll=FAST) as client:
        job = client.wait(client.submit([media("call.wav"), media("face.jpg")], text=["Ada met Alan."]))
        made["hume"] = report.write(client.results(job), tmp_path / "hume.html", title="hume job")
    with emu.connect("resemble", poll=FAST) as client:
        job = client.wait(client.submit([media("a.wav"), media("b.mp4"), media("c.png"), media("fail.wav")]))
        made["resemble"] = report.write(client.results(job), tmp_path / "resemble.html", title="resemble batch")
    return made


def test_the_page_is_self_contained_with_counts_flagged_inputs_and_charts(pages: dict[str, Path]) -> None:
    for provider, path in pages.items():
        page = path.read_text()
        assert not re.search(r"""(src|href)=["']?https?:""", page), "nothing is fetched"
        assert page.count("<script") == 1, "one inline script: the sortable table"
        assert f"<h3>{provider}: " in page.split("<h2>Headline scores</h2>")[1], "every provider has a headline chart"
        assert page.index("<h2>Counts</h2>") < page.index("id='flagged'") < page.index("<svg"), "counts, then flagged"
        assert "<tr class='threshold'>" in page
        assert "<table class='sortable'>" in page
    assert "call.wav — prosody over time" in pages["hume"].read_text()
    assert "a.wav — audio over time" in pages["resemble"].read_text()


def test_flagged_inputs_come_first_by_score_above_the_threshold_line() -> None:
    results = mixed(300)
    page = report.render(results, "run", threshold=0.6)
    flagged = page[page.index("<h3>resemble: ") : page.index("</table>", page.index("<h3>resemble: "))]
    above, below = flagged.split("<tr class='threshold'>")
    scores = [float(s) for s in re.findall(r"<td class='num'>([0-9.]+)</td>", above)]
    assert scores == sorted(scores, reverse=True)
    assert len(scores) == 25, "the 25 highest are listed; the rest are in the table of every input"
    assert min(scores) >= 0.6
    assert all(float(s) <= 0.6 for s in re.findall(r"<td class='num'>([0-9.]+)</td>", below))
    counts = page[page.index("<h2>Counts</h2>") : page.index("</table>")]
    assert "<th>flagged (≥ 0.60)</th>" in counts
    assert re.search(r"<td>resemble</td><td>210</td>", counts)
    assert "fake " in counts, "verdicts counted by label"


def test_detail_charts_are_capped_and_every_input_is_in_the_table() -> None:
    results = mixed(300)
    page = report.render(results, "run", top=2)
    over_time = page.split("<h2>Over time</h2>")[1].split("<h2>Every input</h2>")[0]
    assert over_time.count("<svg") <= 2 * 3 * 2, "2 inputs of each of 3 providers, a chart per model"
    table = page.split("<table class='sortable'>")[1]
    assert table.count("<tr>") == 300 + 1
    assert "/data/d0/call-0.wav" in table
    assert "/data/d1/call-0.wav" in table, "equal base names stay apart"


@pytest.mark.long
def test_ten_thousand_files_make_a_page_of_at_most_5_mb(tmp_path: Path) -> None:
    path = report.write(mixed(10_000), tmp_path / "big.html")
    assert path.stat().st_size <= 5_000_000
    assert path.read_text().count("<svg") <= 3 + 3 * report.TOP * 2


def test_dollars_and_markup_in_names_are_drawn_literally(tmp_path: Path) -> None:
    rng = random.Random(1)
    strange = [r"$\foo$.wav", "<b>bold</b>$x$.wav", "50$ and 60$.wav"]
    results = [resemble_result({"item": detect(rng, name)}) for name in strange]
    page = report.write(results, tmp_path / "odd.html").read_text()
    assert r"$\foo$.wav" in page
    assert "<b>bold</b>" not in page
    assert "&lt;b&gt;bold&lt;/b&gt;$x$.wav" in page
    svg = page[page.index("<svg") :]
    assert r"$\foo$.wav" in svg, "the chart's label is the name as written, not mathematics"


def test_report_refuses_a_path_that_is_not_html_and_bad_settings(tmp_path: Path) -> None:
    with pytest.raises(batchkit.InputError, match=r"\.html"):
        report.write([], tmp_path / "report.pdf")
    with pytest.raises(batchkit.InputError, match="threshold"):
        report.write([], tmp_path / "r.html", threshold=2)
    with pytest.raises(batchkit.InputError, match="top"):
        report.write([], tmp_path / "r.html", top=-1)


def test_the_cli_writes_the_report_of_a_job_and_of_a_run(emu, media, tmp_path: Path, monkeypatch, capsys) -> None:
    monkeypatch.setenv("RESEMBLE_API_KEY", "k")
    monkeypatch.setenv("BATCHKIT_BASE_URL", emu.base_url)
    with emu.connect("resemble", poll=FAST) as client:
        job = client.wait(client.submit([media("a.wav")]))
        group = client.submit_many([media(f"d{i % 2}/call.wav") for i in range(4)], journal=tmp_path / "j.db",
                                   wait=True)  # fmt: skip
    assert run(["-p", "resemble", "report", job.id, "-o", str(tmp_path / "r.html")]) == 0
    assert "<h3>resemble: 1 scored input(s)" in (tmp_path / "r.html").read_text()
    code = run(["report", "--run", group.run, "--journal", str(tmp_path / "j.db"), "-o", str(tmp_path / "run.html")])
    assert code == 0
    page = (tmp_path / "run.html").read_text()
    assert f"run {group.run}" in page
    assert page.split("<table class='sortable'>")[1].count("/call.wav</td>") == 4, "each file, by its path"
    monkeypatch.setenv("BATCHKIT_JOURNAL", str(tmp_path / "j.db"))
    assert run(["report", "--run", group.run, "-o", str(tmp_path / "env.html")]) == 0
    capsys.readouterr()
    assert run(["-p", "resemble", "report", group.run, "-o", str(tmp_path / "x.html")]) == EXIT_INPUT
    assert f"a run in a journal is read with --run {group.run}" in capsys.readouterr().err


def chromium(page: Path, shot: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(CHROMIUM), "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         f"--user-data-dir={shot.parent / ('profile-' + shot.stem)}", "--enable-logging=stderr", "--v=0",
         "--window-size=1200,2000", *extra, page.as_uri()],
        capture_output=True, text=True, timeout=180,
    )  # fmt: skip


def console_errors(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if "CONSOLE" in line or "Uncaught" in line]


@pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is not installed (apt-get install chromium)")
def test_the_charts_draw_in_a_real_browser_without_console_errors(pages: dict[str, Path], tmp_path: Path) -> None:
    from matplotlib.image import imread

    for provider, path in pages.items():
        shot = tmp_path / f"{provider}.png"
        done = chromium(path, shot, f"--screenshot={shot}")
        assert shot.exists(), done.stderr[-2000:]
        assert imread(shot).std() > 0.05, f"{provider}: the screenshot is blank"
        assert console_errors(done.stderr) == []


@pytest.mark.long
@pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is not installed (apt-get install chromium)")
def test_a_report_of_1000_files_in_a_real_browser(tmp_path: Path) -> None:
    from matplotlib.image import imread

    path = report.write(mixed(1000), tmp_path / "thousand.html", title="1,000 files")
    shot = tmp_path / "thousand.png"
    done = chromium(path, shot, f"--screenshot={shot}")
    assert shot.exists(), done.stderr[-2000:]
    pixels = imread(shot)
    assert pixels.std() > 0.05, "the screenshot is blank"
    assert console_errors(done.stderr) == []
    dom = chromium(path, tmp_path / "dom.png", "--dump-dom").stdout
    tables = re.findall(r"<table(?: class=\"(\w+)\")?>", dom)
    assert tables[:4] == ["", "flagged", "flagged", "flagged"], "the counts, then each provider's flagged inputs"
    assert console_errors(done.stderr) == []
