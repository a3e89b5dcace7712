"""batchkit workers as Ray actors on a local Ray (``ray.init(num_cpus=2)``) against the emulator: an actor
killed mid-run is replaced, and nothing is created twice. Skipped where Ray (``batchkit[ray]``) is absent;
CI installs it in ``.venv-engines``.

Slower than most tests (a local Ray starts its services and a process per actor: some seconds), so one
module-wide Ray serves every test here."""

from __future__ import annotations

import concurrent.futures
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

ray = pytest.importorskip("ray", reason="Ray is not installed (pip install 'batchkit[ray]'; CI: .venv-engines)")

import batchkit  # noqa: E402
import batchkit.ray  # noqa: E402
from batchkit.emulator import EMULATOR_KEY, FaultKind  # noqa: E402
from tests.patience import wait_until  # noqa: E402
from tests.test_scaling_out import CREATE, HELD, held_replies  # noqa: E402
from tests.test_submit_many import many  # noqa: E402

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning", "ignore::FutureWarning",
                                        "ignore::pytest.PytestUnraisableExceptionWarning")  # fmt: skip


def ray_processes() -> set[int]:
    """This machine's Ray service processes (raylet, GCS, workers), by pid."""
    out = subprocess.run(["ps", "-eo", "pid=,args="], capture_output=True, text=True, check=True).stdout
    marks = ("raylet", "gcs_server", "ray::", "default_worker.py", "log_monitor.py", "dashboard")
    return {int(line.split()[0]) for line in out.splitlines() if any(m in line for m in marks)}


@pytest.fixture(scope="module")
def local_ray() -> Iterator[Any]:
    # Ray reports usage over the internet unless told not to; its actors inherit this environment, so
    # batchkit's data directory is a temporary one, and so is Ray's own folder (short: it holds sockets).
    ours = Path(tempfile.mkdtemp(prefix="bk-ray-"))
    given = {"RAY_USAGE_STATS_ENABLED": "0", "XDG_DATA_HOME": str(ours / "data")}
    before, saved = ray_processes(), {name: os.environ.get(name) for name in given}
    os.environ.update(given)
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, logging_level="ERROR",
             _temp_dir=str(ours / "ray"))  # fmt: skip
    try:
        yield ray
    finally:
        ray.shutdown()
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name)
            else:
                os.environ[name] = value
    wait_until(lambda: ray_processes() <= before, "Ray left processes behind", ray_processes)
    shutil.rmtree(ours)


def settings(emu: Any) -> batchkit.ray.WorkerSettings:
    return batchkit.ray.WorkerSettings({"resemble": {"api_key": EMULATOR_KEY, "base_url": emu.base_url,
                                                     "poll": batchkit.PollSchedule(initial=0.1, maximum=0.5)}})  # fmt: skip


def test_400_files_8_chunks_3_actors_one_killed_exactly_8_creates(local_ray, emu, tmp_path: Path) -> None:
    journal = str(tmp_path / "journal.db")
    files = many(tmp_path, 400)
    with emu.connect("resemble") as client:
        run = client.enqueue(files, journal=journal, run_key="ray-test")
    emu.faults.add(CREATE, FaultKind.SLOW_REPLY, delay=HELD, after=3, times=3)  # creates 4 to 6 are held
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        working = pool.submit(batchkit.ray.work, journal, workers=3, concurrency=1, settings=settings(emu))
        progress = lambda: (len(emu.requests), working.done())  # noqa: E731
        held = lambda: emu.created("resemble") == 6 and held_replies(emu) == 3  # noqa: E731
        wait_until(lambda: held() or working.done(), "the three actors never all waited on a create", progress)
        assert not working.done(), working.result()
        names = sorted(n for n in ray.util.list_named_actors() if n.startswith("batchkit-worker-"))
        assert len(names) == 3
        victim = ray.get_actor(names[0])
        ray.kill(victim)  # between its create and the reply: the actor that replaces it must find the job
        emu.faults.release()
        wait_until(working.done, "the Ray workers never finished", progress)
        summary = working.result()
    assert emu.created("resemble") == 8
    assert summary.adopted == 1
    assert summary.lost == 0
    results = batchkit.runs.results(journal, run)
    assert [r.source for r in results] == [str(p.resolve()) for p in files]
    assert {r.status for r in results} == {batchkit.JobStatus.SUCCEEDED}
    assert [p.files_done for p in batchkit.runs.progress(journal)] == [400]
    print(f"Ray: 400 files, 8 chunks, 3 actors (1 killed, replaced): {emu.created('resemble')} creates, "
          f"{len(results)} results, summary {summary}")


def test_actors_configured_by_their_environment_and_results_as_a_dataset(local_ray, emu, tmp_path: Path) -> None:
    journal = str(tmp_path / "journal.db")
    with emu.connect("resemble") as client:
        run = client.enqueue(many(tmp_path, 60), journal=journal)
    environment = {"RESEMBLE_API_KEY": EMULATOR_KEY, "BATCHKIT_BASE_URL": emu.base_url}  # no settings: from here
    summary = batchkit.ray.work(journal, workers=2, actor_options={"runtime_env": {"env_vars": environment}})
    assert (summary.sent, summary.finished) == (2, 2)
    assert emu.created("resemble") == 2
    dataset = batchkit.ray.read_results(journal, run)
    found = dataset.take_all()
    assert found == list(batchkit.rows(batchkit.runs.results(journal, run)))
    assert {row["status"] for row in found} == {"SUCCEEDED"}
    assert {row["source"] for row in found} == {r.source for r in batchkit.runs.results(journal, run)}
    assert batchkit.ray.work(journal, workers=2, settings=settings(emu)).sent == 0  # settled: nothing again


def test_an_actors_batchkit_error_is_raised_as_itself(local_ray, emu, tmp_path: Path) -> None:
    journal = str(tmp_path / "journal.db")
    with emu.connect("resemble") as client:
        client.enqueue(many(tmp_path, 2), journal=journal)
    with pytest.raises(batchkit.InputError, match="lease"):
        batchkit.ray.work(journal, workers=1, lease=0.1, settings=settings(emu))
    with pytest.raises(batchkit.InputError, match="workers must be"):
        batchkit.ray.work(journal, workers=0)
    assert batchkit.ray.work(tmp_path / "empty.db", workers=1) == batchkit.WorkSummary()  # no runs: no actors
    assert emu.created("resemble") == 0


def test_actors_that_keep_dying_end_in_an_engine_error(local_ray, emu, tmp_path: Path) -> None:
    journal = str(tmp_path / "journal.db")
    with emu.connect("resemble") as client:
        client.enqueue(many(tmp_path, 10), journal=journal)
    emu.faults.add(CREATE, FaultKind.SLOW_REPLY, delay=HELD)
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        working = pool.submit(batchkit.ray.work, journal, workers=1, max_replacements=0, settings=settings(emu))
        progress = lambda: (len(emu.requests), working.done())  # noqa: E731
        made = lambda: emu.created("resemble") == 1 and held_replies(emu) == 1  # noqa: E731
        wait_until(lambda: made() or working.done(), "the actor never sent", progress)
        [name] = [n for n in ray.util.list_named_actors() if n.startswith("batchkit-worker-")]
        ray.kill(ray.get_actor(name))  # it returns before the actor is dead: its reply stays held until work()
        wait_until(working.done, "work() never returned", progress)  # has seen the actor die
        emu.faults.release()
        with pytest.raises(batchkit.EngineError, match="1 batchkit worker actors died"):
            working.result()
    assert emu.created("resemble") == 1
    [chunk] = batchkit.runs.progress(journal)
    assert chunk.chunks_sent == 0  # its send is in the journal as begun: the next worker looks for its job


DRIVER = """
import json, sys
import ray
import batchkit.ray

given = json.loads(sys.argv[1])
ray.init(address="auto", log_to_driver=False, logging_level="ERROR")
settings = batchkit.ray.WorkerSettings({"resemble": {"api_key": given["key"], "base_url": given["url"]}})
print("working", flush=True)
try:
    batchkit.ray.work(given["journal"], workers=2, until_done=False, settings=settings)
except KeyboardInterrupt:
    print("stopped", flush=True)
"""


def test_ctrl_c_stops_actors_that_work_until_cancelled_and_frees_their_chunks(local_ray, emu, tmp_path: Path) -> None:
    import json
    import signal
    import sqlite3
    import sys

    journal = str(tmp_path / "journal.db")
    with emu.connect("resemble") as client:
        client.enqueue(many(tmp_path, 20), journal=journal, chunk=10)
    emu.faults.add(CREATE, FaultKind.SLOW_REPLY, delay=HELD, times=2)
    given = json.dumps({"journal": journal, "key": EMULATOR_KEY, "url": emu.base_url})
    out = tmp_path / "driver.out"
    with open(out, "w") as stdout:
        driver = subprocess.Popen([sys.executable, "-c", DRIVER, given], stdout=stdout, stderr=subprocess.STDOUT,
                                  env={**os.environ, "RAY_USAGE_STATS_ENABLED": "0"})  # fmt: skip
    try:
        progress = lambda: (len(emu.requests), out.stat().st_size, driver.poll())  # noqa: E731
        made = lambda: emu.created("resemble") == 2 and held_replies(emu) == 2  # noqa: E731
        wait_until(lambda: made() or driver.poll() is not None, "the actors never sent", progress)
        assert driver.poll() is None, out.read_text()
        driver.send_signal(signal.SIGINT)
        # stopping shows no progress while it waits (up to the 30 s lease) for the actors to give their
        # chunks up, then while Ray shuts down, which takes long on a loaded machine: a longer idle bound
        wait_until(lambda: driver.poll() is not None, "the driver never stopped", progress, idle=180)
    finally:
        if driver.poll() is None:
            driver.kill()
            driver.wait()
    assert "stopped" in out.read_text(), out.read_text()
    with sqlite3.connect(journal) as db:
        assert db.execute("SELECT COUNT(*) FROM chunks WHERE owner IS NOT NULL").fetchone() == (0,)
        states = dict(db.execute("SELECT state, COUNT(*) FROM chunks GROUP BY state").fetchall())
    # each actor gave its chunk up as it stood, a send begun; an actor not yet told to stop may have taken
    # the chunk the other gave up, found its job (the server saw the create) and followed it: adopted,
    # never sent again
    assert set(states) <= {"sending", "sent", "done"}, states
    assert states.get("sending", 0) >= 1, states
    # the replies are let go only now: an actor Ray has not yet ended (its end is asynchronous) could
    # otherwise take its reply and journal it after the driver stopped
    emu.faults.release()
    assert not [n for n in ray.util.list_named_actors(all_namespaces=True) if n["name"].startswith("batchkit-worker-")]
    summary = batchkit.ray.work(journal, workers=1, settings=settings(emu))  # looked for, found, not sent again
    assert (summary.adopted, summary.sent) == (states["sending"], 0)
    assert emu.created("resemble") == 2
