"""batchkit in Airflow 3, run by ``dag.test()`` against the emulator: a run task that dies after it has
recorded its run and is retried re-attaches to that run (nothing created twice), defers to a trigger that
reads the journal only, and hands XCom a small summary; mapped worker tasks work a journal until done.
Skipped where Airflow (``batchkit[airflow]``) is absent; CI installs it in ``.venv-engines``.

Airflow's metadata database (sqlite) is made once for the module in a temporary ``AIRFLOW_HOME`` (``airflow
db migrate``, some seconds), before Airflow is first imported, so nothing is written outside it."""

from __future__ import annotations

import contextlib
import importlib.util
import json
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

if importlib.util.find_spec("airflow") is None:
    pytest.skip("Airflow is not installed (pip install 'batchkit[airflow]'; CI: .venv-engines)",
                allow_module_level=True)  # fmt: skip

import batchkit
from batchkit.emulator import EMULATOR_KEY
from tests.test_submit_many import many

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning", "ignore::UserWarning",
                                        "ignore::pytest.PytestUnraisableExceptionWarning")  # fmt: skip
CONNECTION = "batchkit_emulator"

DAGS = '''
"""DAGs of tests/test_airflow.py: their inputs are in batchkit_test.json beside this file."""
import datetime
import json
from pathlib import Path

from airflow.sdk import DAG

from batchkit.airflow import BatchkitRunOperator, BatchkitWorkerOperator

given = json.loads((Path(__file__).parent / "batchkit_test.json").read_text())
start = datetime.datetime(2026, 1, 1, tzinfo=datetime.timezone.utc)


class KilledOnceAfterEnqueue(BatchkitRunOperator):
    """Dies on its first try after its run is recorded, before it defers."""

    def defer(self, **kwargs):
        mark = Path(given["mark"])
        if not mark.exists():
            mark.write_text("died")
            raise RuntimeError("the task died after enqueue")
        super().defer(**kwargs)

    def execute_complete(self, context, event):
        Path(given["mark"] + ".resumed").write_text(json.dumps(event))  # resumed by the trigger's event
        return super().execute_complete(context, event)


with DAG("batchkit_run", schedule=None, start_date=start, catchup=False):
    KilledOnceAfterEnqueue(task_id="calls", files=given["files"], provider="resemble", journal=given["journal"],
                           conn_id="batchkit_emulator", poll_interval=0.05, retries=1,
                           retry_delay=datetime.timedelta(0))

with DAG("batchkit_run_here", schedule=None, start_date=start, catchup=False):
    BatchkitRunOperator(task_id="calls", files=given["files"], provider="resemble", journal=given["journal"],
                        conn_id="batchkit_emulator", poll_interval=0.05, deferrable=False)

with DAG("batchkit_workers", schedule=None, start_date=start, catchup=False):
    BatchkitWorkerOperator.partial(task_id="workers", journal=given["journal"], conn_id="batchkit_emulator",
                                   concurrency=2).expand(worker=[0, 1])
'''


@pytest.fixture(scope="module")
def airflow_home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    home = tmp_path_factory.mktemp("airflow")
    (home / "dags").mkdir()
    (home / "dags" / "batchkit_dags.py").write_text(DAGS)
    env = {"AIRFLOW_HOME": str(home), "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
           "AIRFLOW__CORE__DAGS_FOLDER": str(home / "dags"),
           "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home / 'airflow.db'}",
           "AIRFLOW__USAGE_DATA_COLLECTION__ENABLED": "False"}  # fmt: skip
    saved = {name: os.environ.get(name) for name in env}
    os.environ.update(env)
    try:
        migrated = subprocess.run([sys.executable, "-m", "airflow", "db", "migrate"], capture_output=True, text=True,
                                  timeout=600)  # fmt: skip
        assert migrated.returncode == 0, migrated.stderr[-3000:]
        yield home
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


@pytest.fixture
def dags(airflow_home: Path, emu: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    """The test DAGs, reading ``given`` (written before each run); the emulator as an Airflow connection."""
    monkeypatch.setenv(f"AIRFLOW_CONN_{CONNECTION.upper()}", json.dumps(
        {"conn_type": "generic", "password": EMULATOR_KEY, "extra": {"base_url": emu.base_url}}))  # fmt: skip
    for name in ("RESEMBLE_API_KEY", "BATCHKIT_BASE_URL", "BATCHKIT_JOURNAL"):
        monkeypatch.delenv(name, raising=False)
    from airflow.dag_processing.dagbag import DagBag

    class Dags:
        def __init__(self) -> None:
            self.journal, self.home = str(tmp_path / "journal.db"), airflow_home

        def given(self, files: list[Path]) -> None:
            (airflow_home / "dags" / "batchkit_test.json").write_text(json.dumps(
                {"files": [str(f) for f in files], "journal": self.journal, "mark": str(tmp_path / "died")}))

        def test(self, dag_id: str) -> Any:
            bag = DagBag(dag_folder=str(airflow_home / "dags"))
            assert bag.import_errors == {}
            return bag.get_dag(dag_id).test()

    return Dags()


def returned(dag_run: Any) -> list[Any]:
    """What the run's tasks handed XCom."""
    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session

    with create_session() as session:
        found = session.scalars(XComModel.get_many(run_id=dag_run.run_id, dag_ids=dag_run.dag_id,
                                                   key="return_value")).all()  # fmt: skip
        return [XComModel.deserialize_value(x) for x in sorted(found, key=lambda x: x.map_index)]


@contextlib.contextmanager
def workers_by_hand(emu: Any, journal: str) -> Iterator[None]:
    """The fleet a run task waits on (Kubernetes pods, Ray): here a thread working the journal."""
    stop = threading.Event()

    def work() -> None:
        with emu.connect("resemble") as client:
            while not stop.wait(0.05):
                client.work(journal, until_done=True)

    worker = threading.Thread(target=work)
    worker.start()
    try:
        yield
    finally:
        stop.set()
        worker.join()


def test_a_run_task_killed_after_enqueue_and_retried_creates_nothing_twice(dags, emu, tmp_path: Path) -> None:
    files = many(tmp_path, 120)  # 3 chunks
    dags.given(files)
    with workers_by_hand(emu, dags.journal):
        dag_run = dags.test("batchkit_run")
    [ti] = dag_run.get_task_instances()
    assert (ti.state, ti.try_number) == ("success", 2)  # died once after enqueue, retried
    assert (tmp_path / "died").exists()
    assert (tmp_path / "died.resumed").exists()  # it deferred, and the trigger's event resumed it
    [progress] = batchkit.runs.progress(dags.journal)  # one run: the retry re-attached to it
    assert progress.run.id.startswith("run-")
    assert emu.created("resemble") == 3
    [summary] = returned(dag_run)
    assert summary == {"run": progress.run.id, "provider": "resemble", "files": 120, "chunks": 3, "chunks_sent": 3,
                       "jobs_finished": 3, "files_done": 120, "ambiguous": 0, "failed": 0}  # fmt: skip
    results = batchkit.runs.results(dags.journal, progress.run.id)
    assert {r.status for r in results} == {batchkit.JobStatus.SUCCEEDED}
    assert len(results) == 120
    assert EMULATOR_KEY.encode() not in (dags.home / "airflow.db").read_bytes()  # nor in Airflow's database
    print(f"Airflow: 120 files, 3 chunks, the run task died after enqueue and was retried: "
          f"{emu.created('resemble')} creates, 1 run, XCom {summary}")


def test_a_run_task_that_does_not_defer_waits_on_the_journal_itself(dags, emu, tmp_path: Path) -> None:
    dags.given(many(tmp_path, 60))
    with workers_by_hand(emu, dags.journal):
        dag_run = dags.test("batchkit_run_here")
    [ti] = dag_run.get_task_instances()
    assert (ti.state, ti.try_number) == ("success", 1)
    [summary] = returned(dag_run)
    assert (summary["files"], summary["chunks"], summary["files_done"]) == (60, 2, 60)
    assert emu.created("resemble") == 2


def test_mapped_worker_tasks_work_the_journal_until_done(dags, emu, tmp_path: Path) -> None:
    dags.given([])
    with emu.connect("resemble") as client:
        run = client.enqueue(many(tmp_path, 120), journal=dags.journal)
    dag_run = dags.test("batchkit_workers")
    assert {ti.state for ti in dag_run.get_task_instances()} == {"success"}
    summaries = returned(dag_run)
    assert len(summaries) == 2
    assert sum(s["sent"] for s in summaries) == 3
    assert sum(s["finished"] for s in summaries) == 3
    assert emu.created("resemble") == 3
    assert [p.files_done for p in batchkit.runs.progress(dags.journal)] == [120]
    assert len(batchkit.runs.results(dags.journal, run)) == 120


def test_a_journal_password_is_never_given_to_airflow(airflow_home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from batchkit.airflow import journal_of

    with pytest.raises(batchkit.InputError, match="PGPASSWORD") as info:
        journal_of("postgresql://batchkit:s3cret@db/batchkit")
    assert "s3cret" not in str(info.value)
    monkeypatch.setenv("BATCHKIT_JOURNAL", "postgresql://batchkit:s3cret@db/batchkit")  # the environment may hold it
    assert journal_of(None) == "postgresql://batchkit:s3cret@db/batchkit"
    assert journal_of("postgresql://batchkit@db/batchkit") == "postgresql://batchkit@db/batchkit"
