"""The command line end to end against the emulator: outputs, formats, exit codes, no keys shown."""

from __future__ import annotations

import contextlib
import csv
import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from batchkit.cli import EXIT_CONFIG, EXIT_FAILED, EXIT_INPUT, EXIT_OK, EXIT_PARTIAL, EXIT_PROVIDER, EXIT_TIMEOUT
from batchkit.providers.base import COLUMNS

from .conftest import CLI_KEY as KEY


def test_submit_wait_json(cli, media) -> None:
    result = cli(
        "--json", "submit", str(media("a.wav")), "--provider", "resemble", "--option", "intelligence=true", "--wait"
    )
    assert result.returncode == EXIT_OK, result.stderr
    [job] = json.loads(result.stdout)
    assert (job["provider"], job["status"], job["total_count"]) == ("resemble", "SUCCEEDED", 1)


@pytest.mark.parametrize(("names", "code"), [(["ok.wav", "fail.wav"], EXIT_PARTIAL), (["fail.wav"], EXIT_FAILED)])
def test_exit_codes_follow_the_job(cli, media, names, code) -> None:
    result = cli("-p", "resemble", "submit", *[str(media(n)) for n in names], "--wait")
    assert result.returncode == code
    assert "created resemble job" in result.stderr


def test_results_in_every_format(cli, media, tmp_path: Path) -> None:
    submitted = cli("--json", "-p", "hume", "submit", str(media("call.wav")), "--text", "hello", "--wait")
    job_id = json.loads(submitted.stdout)[0]["id"]
    table = cli("-p", "hume", "results", job_id)
    assert "call.wav" in table.stdout
    assert "SUCCEEDED" in table.stdout
    as_json = json.loads(cli("-p", "hume", "results", job_id, "--format", "json").stdout)
    assert [r["source"] for r in as_json] == ["call.wav", "text[0]"]  # asked by id: the names Hume knows
    assert as_json[0]["error"] is None  # null, not "", means missing
    assert (as_json[0]["kind"], type(as_json[0]["score"])) == ("emotion", float)
    assert as_json[0]["name"] == as_json[0]["name"].lower()
    lines = cli("-p", "hume", "results", job_id, "--format", "jsonl").stdout.splitlines()
    assert [json.loads(line)["status"] for line in lines] == ["SUCCEEDED", "SUCCEEDED"]
    rows = list(csv.DictReader(io.StringIO(cli("-p", "hume", "results", job_id, "--format", "csv").stdout)))
    assert [r["source"] for r in rows] == ["call.wav", "text[0]"]
    assert rows[0]["name"]  # name and score in columns of their own
    assert float(rows[0]["score"]) > 0
    written = cli("-p", "hume", "results", job_id, "--format", "csv", "-o", str(tmp_path / "out.csv"))
    assert written.returncode == EXIT_OK
    assert (tmp_path / "out.csv").read_text().startswith("source,provider,status,kind,name,score,error")


def test_status_jobs_artifacts(cli, media, tmp_path: Path) -> None:
    job_id = json.loads(cli("--json", "-p", "hume", "submit", "--text", "hi", "--wait").stdout)[0]["id"]
    assert json.loads(cli("--json", "-p", "hume", "status", job_id).stdout)[0]["status"] == "SUCCEEDED"
    listed = json.loads(cli("--json", "-p", "hume", "jobs", "--status", "SUCCEEDED").stdout)
    assert [j["id"] for j in listed] == [job_id]
    out = cli("--json", "-p", "hume", "artifacts", job_id, str(tmp_path / "art"), "--extract")
    assert Path(json.loads(out.stdout)["path"]).is_dir()


def test_wait_command_and_timeout(cli, emu) -> None:
    emu.config.run_seconds = 60
    job_id = json.loads(cli("--json", "-p", "hume", "submit", "--text", "slow").stdout)[0]["id"]
    result = cli("-p", "hume", "wait", job_id, "--timeout", "0.5")
    assert result.returncode == EXIT_TIMEOUT
    assert result.stderr.splitlines()[-1].startswith("batchkit: error: timed out after 0.5s")


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (("-p", "resemble", "submit", "notes.txt"), EXIT_INPUT, "notes.txt: no such file"),
        (("-p", "resemble", "submit", "--option", "frame_length=9", "x.wav"), EXIT_INPUT, "frame_length"),
        (("-p", "resemble", "submit", "--option", "nokey"), EXIT_INPUT, "key=value"),
        (("-p", "hume", "results"), EXIT_INPUT, "say which JOB"),
        (("-p", "hume", "frobnicate"), EXIT_INPUT, "No such command"),
        (("-p", "nope", "status", "x"), EXIT_CONFIG, "unknown provider"),
        (("-p", "resemble", "status", "unknown-batch"), EXIT_PROVIDER, "HTTP 404"),
        (("-p", "resemble", "jobs"), EXIT_INPUT, "no list of jobs"),
    ],
)
def test_errors_are_one_line_with_distinct_codes(cli, media, args, code, message) -> None:
    if "x.wav" in args:
        media("x.wav")
        args = tuple(str(media("x.wav")) if a == "x.wav" else a for a in args)
    result = cli(*args)
    assert result.returncode == code, result.stderr
    assert message in result.stderr
    assert "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) <= 3


def test_missing_key_is_config_error_and_debug_shows_traceback_without_key(cli) -> None:
    result = cli("-p", "hume", "status", "x", unset=("HUME_API_KEY",))
    assert result.returncode == EXIT_CONFIG
    assert "$HUME_API_KEY" in result.stderr
    emu_denied = cli("--debug", "-p", "hume", "status", "x", env_update={"HUME_API_KEY": KEY})
    assert "Traceback" in emu_denied.stderr


@pytest.mark.long
def test_demo_without_key_uses_the_emulator_and_shows_every_provider(cli, tmp_path: Path) -> None:
    result = cli("demo", unset=("HUME_API_KEY", "RESEMBLE_API_KEY", "BATCHKIT_BASE_URL"))
    assert result.returncode == EXIT_OK, result.stderr
    assert "using the built-in emulator" in result.stderr
    assert "hume job" in result.stdout
    assert "resemble job" in result.stdout
    assert "hume-expression job run-" in result.stdout
    assert "hive job run-" in result.stdout
    assert "reality-defender job" in result.stdout
    assert result.stdout.count("sample-speech.wav") == 4  # hume, resemble, hume-expression, hive
    assert (tmp_path / "data" / "batchkit" / "journal.db").exists()  # where the README says


def test_demo_with_a_key_runs_against_the_configured_provider(cli, emu) -> None:
    result = cli("--json", "demo", env_update={"BATCHKIT_PROVIDER": "resemble"})
    assert result.returncode == EXIT_OK, result.stderr
    assert "built-in emulator" not in result.stderr
    rows = json.loads(result.stdout)
    assert {r["provider"] for r in rows} == {"resemble"}
    assert emu.created("resemble") == 1


@pytest.mark.long
def test_progress_bars_on_a_terminal_plain_lines_otherwise(emu, media, tmp_path: Path) -> None:
    import pty

    emu.config.run_seconds = 1.0
    env = {k: v for k, v in os.environ.items() if not k.startswith(("BATCHKIT_", "HUME_", "RESEMBLE_"))}
    env.update(BATCHKIT_BASE_URL=emu.base_url, RESEMBLE_API_KEY=KEY, COLUMNS="100", TERM="xterm")
    command = [
        sys.executable,
        "-m",
        "batchkit.cli",
        "-p",
        "resemble",
        "submit",
        str(media("a.wav", 3_000_000)),
        "--wait",
    ]
    controller, terminal = pty.openpty()
    with subprocess.Popen(command, stdout=subprocess.PIPE, stderr=terminal, env=env, cwd=tmp_path) as proc:
        os.close(terminal)
        shown = b""
        with contextlib.suppress(OSError):
            while chunk := os.read(controller, 65536):
                shown += chunk
        proc.wait(timeout=60)
    os.close(controller)
    text = shown.decode(errors="replace")
    assert proc.returncode == EXIT_OK
    assert "uploading 1 file(s)" in text
    assert "waiting" in text
    assert "jobs done" in text
    assert "━" in text
    plain = subprocess.run(command, capture_output=True, text=True, env=env, cwd=tmp_path, timeout=60)
    assert "━" not in plain.stderr
    assert "resemble job" in plain.stderr


@pytest.mark.parametrize(
    ("blocked", "args", "code", "message"),
    [
        ("click", ["status", "x"], EXIT_CONFIG, "needs `pip install 'batchkit[cli]'`"),
        ("starlette", ["demo"], EXIT_CONFIG, "needs `pip install 'batchkit[emulator]'`"),
    ],
)
def test_a_missing_extra_is_named(tmp_path: Path, blocked: str, args: list[str], code: int, message: str) -> None:
    probe = f"import sys; sys.modules[{blocked!r}] = None; from batchkit.cli import main; sys.exit(main({args!r}))"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("BATCHKIT_", "HUME_", "RESEMBLE_"))}
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, env=env, cwd=tmp_path, timeout=60
    )
    assert result.returncode == code
    assert message in result.stderr


def test_benchmark_harness_prints_its_table(tmp_path: Path) -> None:
    script = Path(__file__).parent / "benchmarks" / "run.py"
    result = subprocess.run(
        [sys.executable, str(script), "--runs", "1", "--only", "import"], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    assert "| import batchkit (core install) |" in result.stdout
    assert "extras loaded: []" in result.stdout


def test_results_full_detail_and_the_format_from_the_extension(cli, media, tmp_path: Path) -> None:
    job_id = json.loads(cli("--json", "-p", "hume", "submit", str(media("call.wav")), "--wait").stdout)[0]["id"]
    rows = json.loads(cli("-p", "hume", "results", job_id, "--detail", "full", "--format", "json").stdout)
    assert list(rows[0]) == list(COLUMNS)
    assert {r["kind"] for r in rows} >= {"emotion"}
    for name, check in (("out.csv", lambda text: text.startswith(",".join(COLUMNS) + "\n")),
                        ("out.json", lambda text: json.loads(text)[0]["source"] == "call.wav"),
                        ("out.jsonl", lambda text: json.loads(text.splitlines()[0])["source"] == "call.wav")):  # fmt: skip
        assert (
            cli("-p", "hume", "results", job_id, "--detail", "full", "-o", str(tmp_path / name)).returncode == EXIT_OK
        )
        assert check((tmp_path / name).read_text())
    refused = cli("-p", "hume", "results", job_id, "-o", str(tmp_path / "out.txt"))
    assert refused.returncode == EXIT_INPUT
    assert "extension" in refused.stderr
    assert not (tmp_path / "out.txt").exists()


# -- runs shared by workers ---------------------------------------------------------------------------


def test_enqueue_worker_runs_results_from_the_journal(cli, media, tmp_path: Path) -> None:
    paths = [str(media(f"clip{i}.wav")) for i in range(60)]
    journal = str(tmp_path / "shared.db")
    enqueued = cli("-p", "resemble", "enqueue", *paths, "--journal", journal)
    assert enqueued.returncode == EXIT_OK, enqueued.stderr
    run = enqueued.stdout.strip().splitlines()[-1]
    assert run.startswith("run-")
    assert "batchkit worker --journal" in enqueued.stderr
    assert json.loads(cli("--json", "-p", "resemble", "enqueue", *paths, "--journal", journal).stdout) == {"run": run}
    worked = cli("--json", "worker", "--journal", journal, "--until-done", "--concurrency", "2")
    assert worked.returncode == EXIT_OK, worked.stderr
    assert json.loads(worked.stdout)["sent"] == 2
    [progress] = json.loads(cli("--json", "runs", "--journal", journal).stdout)
    assert (progress["run"], progress["sent"], progress["finished"], progress["files_done"]) == (run, 2, 2, 60)
    assert run in cli("runs", "--journal", journal).stdout
    written = cli("results", "--run", run, "-o", "rows.csv", env_update={"BATCHKIT_JOURNAL": journal})
    assert written.returncode == EXIT_OK, written.stderr
    rows = list(csv.DictReader(io.StringIO((tmp_path / "rows.csv").read_text())))
    assert [r["source"] for r in rows] == [str(Path(p).resolve()) for p in paths]
    assert {r["status"] for r in rows} == {"SUCCEEDED"}
    full = json.loads(cli("--json", "results", "--journal", journal, "--run", run, "--detail", "full").stdout)
    assert len({r["source"] for r in full}) == 60


def test_journal_commands_say_what_is_missing(cli, tmp_path: Path) -> None:
    journal = str(tmp_path / "empty.db")
    assert cli("results", "--run", "run-x").returncode == EXIT_INPUT
    missing = cli("results", "--journal", journal, "--run", "run-nope")
    assert (missing.returncode, "no run 'run-nope'" in missing.stderr) == (EXIT_INPUT, True)
    assert cli("worker", "--journal", journal, "--until-done").returncode == EXIT_OK
    idle = cli("worker", "--journal", journal)
    assert (idle.returncode, "-p NAME" in idle.stderr) == (EXIT_CONFIG, True)


def test_runs_on_a_terminal_draw_a_bar_of_files_done() -> None:
    from rich.console import Console

    from batchkit.cli.scaling import progress_table

    row = {"run": "run-1", "provider": "resemble", "files": 100, "chunks": 2, "sent": 2, "finished": 1,
           "files_done": 50, "ambiguous": 0, "failed": 0}  # fmt: skip
    console = Console(record=True, width=140, force_terminal=True)
    console.print(progress_table([row]))
    text = console.export_text()
    assert "50/100" in text
    assert "━" in text


def test_hume_expression_from_the_command_line(cli, tmp_path: Path) -> None:
    pytest.importorskip("av", reason="PyAV (batchkit[media]) makes the test image")
    from tests import media_files

    faces = [str(media_files.image(tmp_path / f"face{n}.jpg", shade=40 * n)) for n in range(4)]
    paths = [str(media_files.wav(tmp_path / "call.wav", 3)), *faces]
    [job] = json.loads(cli("--json", "-p", "hume-expression", "submit", *paths).stdout)
    assert (job["status"], job["total_count"]) == ("SUCCEEDED", 5)
    assert cli("-p", "hume-expression", "results", job["id"], "--detail", "full", "-o", "rows.csv").returncode == 0
    rows = list(csv.DictReader(io.StringIO((tmp_path / "rows.csv").read_text())))
    assert {Path(r["source"]).name[:4] for r in rows if r["kind"] == "emotion"} == {"call", "face"}  # one CSV
    assert cli("-p", "hume-expression", "report", job["id"], "-o", "page.html").returncode == 0


@pytest.mark.parametrize(("bytes_out", "said"), [(4096, "a job may exist"), (0, "no job was created")])
def test_ctrl_c_during_submit_says_whether_a_job_may_exist(cli, media, monkeypatch, bytes_out: int, said: str) -> None:
    """Issue 26 item 4: Ctrl-C while uploading said nothing (the bar vanished, exit 130)."""
    import batchkit

    def interrupted(self: batchkit.Client, *args: object, **kwargs: object) -> None:
        if bytes_out:
            self._ops.on_upload(bytes_out)
        raise KeyboardInterrupt

    monkeypatch.setattr(batchkit.Client, "submit", interrupted)
    result = cli("-p", "resemble", "submit", str(media("a.wav")))
    assert result.returncode == 130
    assert said in result.stderr
    if bytes_out:
        assert "batchkit -p resemble jobs" in result.stderr
