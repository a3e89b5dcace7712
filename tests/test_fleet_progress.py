"""Live progress: ``batchkit runs --watch`` (bars under a terminal of 80 columns, plain lines elsewhere),
the runs table's ids never cut, and a worker's progress line (on an injected clock) and summary."""

from __future__ import annotations

import fcntl
import os
import re
import struct
import subprocess
import sys
import termios
import threading
from pathlib import Path

import batchkit
from batchkit._kernel.journal import Run, RunProgress
from batchkit.cli.watch import Meter, WorkerProgress, duration
from batchkit.emulator import EMULATOR_KEY
from batchkit.observing import Event
from tests.patience import exited, wait_until
from tests.test_submit_many import many

ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]|\x1b\][^\x07]*\x07|\r")


def on_a_terminal(args: list[str], columns: int = 80) -> tuple[subprocess.Popen[bytes], list[bytes]]:
    """``batchkit ARGS`` on a pseudo-terminal ``columns`` wide; what it shows is read as it comes."""
    import pty

    controller, terminal = pty.openpty()
    fcntl.ioctl(terminal, termios.TIOCSWINSZ, struct.pack("HHHH", 24, columns, 0, 0))
    env = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "LINES") and not k.startswith("BATCHKIT_")}
    proc = subprocess.Popen([sys.executable, "-m", "batchkit.cli", *args], stdin=terminal, stdout=terminal,
                            stderr=terminal, env={**env, "TERM": "xterm-256color"})  # fmt: skip
    os.close(terminal)
    shown: list[bytes] = []

    def read() -> None:
        try:
            while chunk := os.read(controller, 65536):
                shown.append(chunk)
        except OSError:  # the terminal's other end closed: the process has exited
            pass
        finally:
            os.close(controller)

    threading.Thread(target=read, daemon=True).start()
    return proc, shown


def text_of(shown: list[bytes]) -> str:
    return ANSI.sub("\n", b"".join(shown).decode(errors="replace"))  # an escape breaks the line: none is longer


def test_runs_watch_draws_a_bar_per_run_on_an_80_column_terminal_until_every_run_settles(emu, tmp_path: Path) -> None:
    journal = str(tmp_path / "journal.db")
    with batchkit.connect("resemble", api_key=EMULATOR_KEY, base_url=emu.base_url) as client:
        run = client.enqueue(many(tmp_path, 30), journal=journal, chunk=10)
        proc, shown = on_a_terminal(["runs", "--journal", journal, "--watch", "--every", "0.1"])
        try:
            wait_until(lambda: "files done 0/30" in text_of(shown), "the watch draws the run", lambda: len(shown))
            assert client.work(journal, until_done=True, concurrency=2).finished == 3
            assert exited(proc, lambda: len(shown)) == 0  # it ends by itself once every run has settled
        finally:
            proc.kill()
            proc.wait()
    text = text_of(shown)
    assert run in text  # whole: the bar narrows, never the id
    assert "━" in text
    assert re.search(r"100% [0-9.]+ files/s ETA 0:00:00", text), text  # looked at twice: a rate
    assert "chunks sent 3/3, jobs finished 3/3, files done 30/30, ambiguous 0, failed 0" in text
    assert max(len(line) for line in text.splitlines()) <= 80


def test_runs_table_on_an_80_column_terminal_shows_whole_run_ids(emu, tmp_path: Path) -> None:
    journal = str(tmp_path / "journal.db")
    with batchkit.connect("resemble", api_key=EMULATOR_KEY, base_url=emu.base_url) as client:
        runs = [client.enqueue(many(tmp_path, 3 + n), journal=journal) for n in range(2)]
    proc, shown = on_a_terminal(["runs", "--journal", journal])
    assert exited(proc, lambda: len(shown)) == 0
    text = text_of(shown)
    for run in runs:
        assert run in text


def test_runs_watch_elsewhere_prints_a_plain_line_for_each_change(cli, emu, tmp_path: Path) -> None:
    journal = str(tmp_path / "journal.db")
    assert cli("-p", "resemble", "enqueue", *map(str, many(tmp_path, 12)), "--journal", journal,
               "--chunk", "5").returncode == 0  # fmt: skip
    assert cli("worker", "--journal", journal, "--until-done").returncode == 0
    watched = cli("runs", "--journal", journal, "--watch")
    assert watched.returncode == 0, watched.stderr
    [line] = watched.stdout.splitlines()  # settled: one look, one line, no escape sequence
    assert re.fullmatch(r"run-[0-9a-f]{16} resemble: chunks sent 3/3, jobs finished 3/3, files done 12/12,"
                        r" ambiguous 0, failed 0, - files/s, ETA 0:00:00", line), line  # fmt: skip


def progress_of(files: int, done: int) -> RunProgress:
    return RunProgress(Run("run-0123456789abcdef", "resemble", "f", {}, 0, files, 1), 0, 0, done, 0, 0)


def test_the_rate_and_eta_come_from_the_files_done_between_looks() -> None:
    meter = Meter()
    assert meter.rate(progress_of(100, 0), 10.0) == (None, None)
    assert meter.rate(progress_of(100, 20), 12.0) == (10.0, 8.0)
    assert meter.rate(progress_of(100, 20), 14.0) == (5.0, 16.0)  # measured over the window, not the last look
    assert meter.rate(progress_of(100, 100), 20.0) == (10.0, 0.0)
    assert meter.rate(progress_of(50, 0), 1.0)[0] is None  # each run its own history
    assert (duration(None), duration(3725.4)) == ("-", "1:02:05")


def test_meter_forgets_what_is_older_than_its_window() -> None:
    meter = Meter()
    for second in range(0, 200, 10):
        meter.rate(progress_of(10_000, second * 10), float(second))
    rate, _ = meter.rate(progress_of(10_000, 5000), 200.0)
    assert rate == (5000 - 1400) / (200 - 140)  # the oldest kept look is the last one a window back


def claimed(chunk: int) -> Event:
    return Event("chunk_claimed", "resemble", "run-1", chunk, attempt=1)


def test_a_worker_says_its_progress_every_n_seconds_of_its_clock() -> None:
    lines: list[str] = []
    progress = WorkerProgress("resemble", 10.0, lines.append)
    progress.tick(100.0)  # the start
    for n in range(3):
        progress.event(claimed(n))
    progress.event(Event("chunk_sent", "resemble", "run-1", 0, "job-0"))
    progress.event(Event("rate_limited", "resemble", seconds=1.0))
    progress.tick(105.0)
    assert lines == []  # not yet 10 s
    progress.event(Event("chunk_sent", "resemble", "run-1", 1, "job-1"))
    progress.tick(110.0)
    assert lines == ["resemble: 2 sent (0.20/s), 1 in flight, 0 finished (0.00/s), 1 429 pauses"]
    progress.event(claimed(0))
    progress.event(Event("chunk_finished", "resemble", "run-1", 0, "job-0"))
    progress.event(Event("lease_lost", "resemble", "run-1", 2))
    progress.tick(115.0)
    progress.tick(130.0)
    assert lines[1:] == ["resemble: 2 sent (0.00/s), 0 in flight, 1 finished (0.05/s), 1 429 pauses"]


def test_a_worker_prints_progress_lines_and_its_summary(cli, emu, tmp_path: Path) -> None:
    emu.config.run_seconds = 1.0  # a job takes a second: the heartbeat ticks several times meanwhile
    journal = str(tmp_path / "journal.db")
    assert cli("-p", "resemble", "enqueue", *map(str, many(tmp_path, 4)), "--journal", journal).returncode == 0
    worked = cli("worker", "--journal", journal, "--until-done", "--progress-every", "0.1")
    assert worked.returncode == 0, worked.stderr
    assert re.search(r"resemble: 1 sent \([0-9.]+/s\), [01] in flight, [01] finished \([0-9.]+/s\), 0 429 pauses",
                     worked.stderr), worked.stderr  # fmt: skip
    assert worked.stderr.splitlines()[-1] == "resemble: 1 sent, 0 adopted, 1 finished, 0 ambiguous, 0 failed, 0 lost"
    quiet = cli("worker", "--journal", journal, "--until-done", "--progress-every", "0")
    assert "in flight" not in quiet.stderr

