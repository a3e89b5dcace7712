"""Issue 26, what a user sees: one tidy schema, the command line's papercuts, journal passwords kept out
of what is printed."""

from __future__ import annotations

import json
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

import batchkit
from batchkit.cli import EXIT_INPUT, EXIT_OK, EXIT_PROVIDER, EXIT_UNFINISHED

FAST = batchkit.PollSchedule(initial=0.02, factor=1.0, maximum=0.02)


@pytest.mark.parametrize("provider", ["resemble", "hume"])
def test_equal_base_names_stay_apart_as_the_paths_given(emu, media, provider: str) -> None:
    paths = [media("d1/a.wav"), media("d2/a.wav"), media("d1/b.wav")]
    with emu.connect(provider, poll=FAST) as client:
        job = client.wait(client.submit(paths))
        assert [r.source for r in client.results(job)] == [str(p) for p in paths]
        assert [r.source for r in client.results(job.id)] == [str(p) for p in paths], "by id, from the same client"
        assert [r.source for r in client.iter_results(job)] == [str(p) for p in paths]
        with client.with_options(timeout=30) as other:  # a configured copy knows them too
            assert [r.source for r in other.results(job.id)] == [str(p) for p in paths]
    with emu.connect(provider) as elsewhere:  # another client knows only what the provider knows
        assert [r.source for r in elsewhere.results(job.id)] == ["a.wav", "a.wav", "b.wav"]


def test_jobs_takes_a_status_in_any_case(cli) -> None:
    done = cli("--json", "-p", "hume", "submit", "--text", "hi", "--wait")
    assert done.returncode == EXIT_OK, done.stderr
    for spelling in ("succeeded", "Succeeded", "SUCCEEDED"):
        listed = cli("--json", "-p", "hume", "jobs", "--status", spelling)
        assert listed.returncode == EXIT_OK, listed.stderr
        assert {job["status"] for job in json.loads(listed.stdout)} == {"SUCCEEDED"}


def test_results_of_an_unfinished_job_have_their_own_exit_code(cli, emu) -> None:
    from batchkit.emulator import EmulatorConfig

    emu.reset(EmulatorConfig(queue_seconds=0, run_seconds=3600))
    [job] = json.loads(cli("--json", "-p", "hume", "submit", "--text", "hi").stdout)
    early = cli("-p", "hume", "results", job["id"])
    assert early.returncode == EXIT_UNFINISHED != EXIT_PROVIDER
    assert "has not finished" in early.stderr


def test_too_many_files_on_the_command_line_point_to_enqueue(cli, media) -> None:
    refused = cli("-p", "resemble", "submit", *[str(media(f"f{i}.wav")) for i in range(51)])
    assert refused.returncode == EXIT_INPUT
    assert "batchkit enqueue FILES... --journal J, then batchkit worker --journal J --until-done" in refused.stderr


def test_python_dash_m_batchkit_is_the_command_line() -> None:
    done = subprocess.run([sys.executable, "-m", "batchkit", "--version"], capture_output=True, text=True, timeout=60)
    assert (done.returncode, done.stdout.strip()) == (0, f"batchkit, version {batchkit.__version__}")


def test_a_hume_expression_id_from_jobs_is_answered_by_status(cli, tmp_path: Path) -> None:
    from tests import media_files

    wav = media_files.wav(tmp_path / "call.wav", 1)
    assert cli("-p", "hume-expression", "submit", str(wav)).returncode == EXIT_OK
    [listed, *_] = json.loads(cli("--json", "-p", "hume-expression", "jobs").stdout)
    asked = cli("--json", "-p", "hume-expression", "status", listed["id"])  # Hume is asked for its run
    assert asked.returncode == EXIT_OK, asked.stderr
    assert [job["status"] for job in json.loads(asked.stdout)] == ["SUCCEEDED"]
    unknown = cli("-p", "hume-expression", "status", "no-such-run")
    assert unknown.returncode == EXIT_PROVIDER
    assert "provider's own runs, one per request" in unknown.stderr
    assert "batchkit runs --journal" in unknown.stderr


SECRET = "pw-Zq81"
HIDDEN = [
    f"postgresql://batchkit:{SECRET}@127.0.0.1:1/batchkit",
    f"postgresql://batchkit@127.0.0.1:1/batchkit?password={SECRET}&sslmode=disable",
    f"host=127.0.0.1 port=1 user=batchkit password={SECRET} dbname=batchkit",
    f"host=127.0.0.1 port=1 user=batchkit password='{SECRET} x' dbname=batchkit",
]


@pytest.mark.parametrize("journal", HIDDEN)
def test_a_journal_password_is_never_printed(cli, media, journal: str, tmp_path: Path, monkeypatch, caplog) -> None:
    pytest.importorskip("psycopg", reason="batchkit[postgres]")
    from batchkit._kernel.journal import patience

    monkeypatch.setattr(patience, "PATIENCE", 1.0)  # a worker waits for a server out of reach, then gives up
    enqueued = cli("-p", "resemble", "enqueue", str(media("a.wav")), "--journal", journal)
    working = cli("-p", "resemble", "worker", "--journal", journal, "--until-done")
    assert "trying again in 1.0 s" in caplog.text
    assert SECRET not in caplog.text
    for done in (enqueued, working):
        assert done.returncode == EXIT_PROVIDER, done.stderr  # refused: out of reach, not a wrong URL
        assert "cannot open the journal" in done.stderr
        assert SECRET not in done.stdout + done.stderr
        assert "***" in done.stderr
    assert working.stderr.startswith("worker for resemble on ")
    assert list(tmp_path.iterdir()) == [tmp_path / "a.wav"], "a keyword string is not a sqlite file name"


@pytest.mark.parametrize(("journal", "shown"), [
    (f"postgresql://u:{SECRET}@db/j", "postgresql://u:***@db/j"),
    (f"postgresql://u@db/j?password={SECRET}&sslmode=require", "postgresql://u@db/j?password=***&sslmode=require"),
    (f"host=db password={SECRET} dbname=j", "host=db password=*** dbname=j"),
    (f"host=db password='{SECRET} x' dbname=j", "host=db password=*** dbname=j"),
    ("journal.db", "journal.db"),
    ("a=b.db", "a=b.db"),
])  # fmt: skip
def test_redacted_hides_every_form_of_password(journal: str, shown: str) -> None:
    from batchkit._kernel.journal import is_postgres, redacted

    assert redacted(journal) == shown
    assert is_postgres(journal) is not journal.endswith(".db")


def test_the_suggested_worker_command_can_be_pasted(cli, media, postgres_url: str, monkeypatch) -> None:
    from tests.postgres import PASSWORD

    keyword = " ".join(f"{k}={v}" for k, v in (("host", "127.0.0.1"), ("port", postgres_url.rsplit(":", 1)[1].split("/")[0]),
                                                  ("user", postgres_url.split("//")[1].split(":")[0]),
                                                  ("password", PASSWORD), ("dbname", postgres_url.rsplit("/", 1)[1])))
    for journal in (postgres_url, keyword):
        enqueued = cli("-p", "resemble", "enqueue", str(media("a.wav")), "--journal", journal)
        assert enqueued.returncode == EXIT_OK, enqueued.stderr
        assert PASSWORD not in enqueued.stderr + enqueued.stdout
        suggested = next(line.strip() for line in enqueued.stderr.splitlines() if "batchkit worker" in line)
        assert "***" not in suggested
        assert "PGPASSWORD" in enqueued.stderr
        args = shlex.split(suggested)[1:]
        pasted = cli("-p", "resemble", *args, env_update={"PGPASSWORD": PASSWORD})
        assert pasted.returncode == EXIT_OK, pasted.stderr
        assert PASSWORD not in pasted.stderr + pasted.stdout
    from_env = cli("-p", "resemble", "enqueue", str(media("b.wav")), env_update={"BATCHKIT_JOURNAL": postgres_url})
    assert "batchkit worker --until-done" in from_env.stderr
    assert PASSWORD not in from_env.stderr


@pytest.mark.parametrize("provider", ["resemble", "hume"])
def test_the_emulator_fixture_and_fake_clock_wait_instantly(batchkit_emulator, media, provider: str) -> None:
    from batchkit.emulator import EmulatorConfig
    from batchkit.testing import FakeClock

    batchkit_emulator.reset(EmulatorConfig(queue_seconds=10, run_seconds=600))  # ten minutes, on the fake clock
    clock = FakeClock()
    with batchkit_emulator.connect(provider, clock=clock) as client:
        job = client.wait(client.submit([media("a.wav")]), timeout=3600)
    assert job.status is batchkit.JobStatus.SUCCEEDED
    assert 610 <= sum(clock.slept) < 700
    polls = [r for r in batchkit_emulator.requests if r.method == "GET"]
    assert len(polls) < 40, "polled at growing intervals of fake time"
    batchkit_emulator.reset()  # the next test's jobs move on the real clock again
    assert batchkit_emulator.state.clock() != clock.monotonic()


def test_an_async_client_with_a_fake_clock_on_the_emulator(batchkit_emulator, media) -> None:
    import asyncio

    from batchkit.emulator import EmulatorConfig
    from batchkit.testing import FakeClock

    batchkit_emulator.reset(EmulatorConfig(queue_seconds=1, run_seconds=600))
    clock = FakeClock()

    async def main() -> batchkit.BatchJob:
        async with batchkit_emulator.connect_async("resemble", clock=clock) as client:
            return await client.wait(await client.submit([media("a.wav")]), timeout=3600)

    assert asyncio.run(main()).status is batchkit.JobStatus.SUCCEEDED
    assert sum(clock.slept) >= 601
