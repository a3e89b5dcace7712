"""batchkit runs in Airflow 3 (``pip install 'batchkit[airflow]'``).

Airflow runs a task at least once: it retries. So a task never sends anything itself here.
:class:`BatchkitRunOperator` records the run under a key made of the dag, task, map index, Airflow run id
and a digest of the file list (a retry gets the same key, so the run it recorded before), then defers to
:class:`BatchkitRunTrigger`, which waits on the journal alone; batchkit workers send (mapped
:class:`BatchkitWorkerOperator` tasks, ``batchkit worker`` pods, Ray). XCom gets a few counts and the run's
id, never the results (read them with ``batchkit.runs.results(journal, run)``)::

    from batchkit.airflow import BatchkitRunOperator, BatchkitWorkerOperator

    calls = BatchkitRunOperator(task_id="calls", files=paths, provider="resemble", conn_id="resemble")
    workers = BatchkitWorkerOperator.partial(task_id="workers", conn_id="resemble").expand(worker=range(4))

The journal is ``journal=`` or, where None, ``BATCHKIT_JOURNAL`` in the environment of the task and of the
triggerer (a PostgreSQL password goes there, or in ``PGPASSWORD``: Airflow stores what a task is given, so
``journal=`` with a password is refused).
A provider's key and base URL come from the Airflow connection ``conn_id`` (its password, and ``base_url``
in its extra) or else from the environment, as for ``batchkit worker``; never from the journal.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
from collections.abc import AsyncIterator, Mapping, Sequence
from typing import Any

import attrs

try:
    from airflow.sdk import BaseHook, BaseOperator, Context
    from airflow.triggers.base import BaseTrigger, TriggerEvent
except ImportError as exc:  # pragma: no cover - the module is only imported where Airflow is
    raise ImportError("batchkit.airflow needs Airflow 3: pip install 'batchkit[airflow]'") from exc

from batchkit import runs
from batchkit._kernel.journal import redacted, without_password
from batchkit.client import Client
from batchkit.engines import WorkerSettings, providers_of, serve, summed
from batchkit.errors import InputError


def journal_of(given: str | None) -> str:
    """The journal named (never with a password: Airflow stores what a task is given), else
    ``BATCHKIT_JOURNAL`` of this process."""
    if given and without_password(given) != given:
        raise InputError(f"journal={redacted(given)}: Airflow stores a task's arguments; give the password in"
                         " PGPASSWORD, or the whole URL in BATCHKIT_JOURNAL, of the tasks and triggerer")  # fmt: skip
    found = given or os.environ.get("BATCHKIT_JOURNAL")
    if not found:
        raise InputError("a batchkit task needs journal=<postgresql:// URL or sqlite file>, or BATCHKIT_JOURNAL")
    return found


def connection_settings(conn_id: str | None) -> dict[str, Any]:
    """``connect()`` arguments from the Airflow connection ``conn_id``: its password is the key, ``base_url``
    in its extra the base URL (none: the environment's)."""
    if conn_id is None:
        return {}
    connection = BaseHook.get_connection(conn_id)
    found: dict[str, Any] = {}
    if connection.password:
        found["api_key"] = connection.password
    if base_url := connection.extra_dejson.get("base_url"):
        found["base_url"] = base_url
    return found


def run_key(context: Context, files: Sequence[str]) -> str:
    """The key of a task's run: its dag, task, map index and Airflow run id, and a digest of its files."""
    ti = context["ti"]
    digest = hashlib.sha256(json.dumps([os.path.abspath(f) for f in files]).encode()).hexdigest()[:16]
    return f"airflow/{ti.dag_id}/{ti.task_id}/{ti.map_index}/{context['run_id']}/{digest}"


def summary(progress: runs.RunProgress) -> dict[str, Any]:
    """What a task hands XCom of a run: its id and counts."""
    run = progress.run
    return {"run": run.id, "provider": run.provider, "files": run.files, "chunks": run.chunks,
            "chunks_sent": progress.chunks_sent, "jobs_finished": progress.jobs_finished,
            "files_done": progress.files_done, "ambiguous": progress.ambiguous, "failed": progress.failed}  # fmt: skip


async def settled(journal: str, run: str, poll_interval: float) -> dict[str, Any]:
    """Wait, looking at ``run``'s rows in the journal every ``poll_interval`` seconds, until no chunk has
    work left; its :func:`summary`."""
    while True:
        found = await asyncio.to_thread(runs.progress, journal, run)
        if not found:
            raise InputError(f"{runs.redacted(journal)} has no run {run!r}")
        if found[0].settled:
            return summary(found[0])
        await asyncio.sleep(poll_interval)


class BatchkitRunTrigger(BaseTrigger):
    """Fires once the run ``run_id`` is settled (every chunk done, failed or ambiguous), with its summary.
    It reads the journal only (one run's counts a look), never the provider."""

    def __init__(self, run_id: str, journal: str | None = None, poll_interval: float = 10.0) -> None:
        super().__init__()
        self.run_id, self.journal, self.poll_interval = run_id, journal, poll_interval

    def serialize(self) -> tuple[str, dict[str, Any]]:
        """The trigger, as the triggerer makes it again."""
        return (f"{__name__}.BatchkitRunTrigger",
                {"run_id": self.run_id, "journal": self.journal, "poll_interval": self.poll_interval})  # fmt: skip

    async def run(self) -> AsyncIterator[TriggerEvent]:
        """One event: the run's summary."""
        yield TriggerEvent(await settled(journal_of(self.journal), self.run_id, self.poll_interval))


class BatchkitRunOperator(BaseOperator):
    """Record ``files`` as a run for workers to send (by key: a retry re-attaches), then wait until it is
    settled (deferred to :class:`BatchkitRunTrigger`, or here where ``deferrable=False``); returns the run's
    summary (id and counts) to XCom."""

    template_fields: Sequence[str] = ("files", "journal")

    def __init__(self, *, files: Sequence[str | os.PathLike[str]], provider: str, journal: str | None = None,
                 conn_id: str | None = None, chunk: int | None = None, options: Mapping[str, Any] | None = None,
                 deferrable: bool = True, poll_interval: float = 10.0, **kwargs: Any) -> None:  # fmt: skip
        super().__init__(**kwargs)
        self.files, self.provider, self.journal, self.conn_id = files, provider, journal, conn_id
        self.chunk, self.options, self.deferrable, self.poll_interval = chunk, options, deferrable, poll_interval

    def execute(self, context: Context) -> dict[str, Any]:
        """Enqueue, then defer (or wait)."""
        journal, files = journal_of(self.journal), [os.fspath(f) for f in self.files]
        with Client.connect(self.provider, **connection_settings(self.conn_id)) as client:
            run = client.enqueue(files, journal=journal, run_key=run_key(context, files), chunk=self.chunk,
                                 options=dict(self.options) if self.options else None)  # fmt: skip
        self.log.info("batchkit run %s: %d file(s) in %s", run, len(files), runs.redacted(journal))
        if self.deferrable:
            trigger = BatchkitRunTrigger(run, self.journal, self.poll_interval)
            self.defer(trigger=trigger, method_name="execute_complete")
        return asyncio.run(settled(journal, run, self.poll_interval))

    def execute_complete(self, context: Context, event: dict[str, Any]) -> dict[str, Any]:
        """The trigger's summary, to XCom."""
        self.log.info("batchkit run %s settled: %s", event["run"], event)
        return event


class BatchkitWorkerOperator(BaseOperator):
    """A batchkit worker as a task: works the journal's runs (of ``provider``, of ``run``) until none has work
    left; returns its :class:`~batchkit.WorkSummary` as a mapping. Map it for N workers:
    ``BatchkitWorkerOperator.partial(task_id="workers").expand(worker=range(N))``."""

    template_fields: Sequence[str] = ("journal", "run")

    def __init__(self, *, journal: str | None = None, provider: str | None = None, run: str | None = None,
                 concurrency: int | None = None, lease: float = 30.0, rate: float | None = None,
                 conn_id: str | None = None, worker: int = 0, **kwargs: Any) -> None:  # fmt: skip
        super().__init__(**kwargs)
        self.journal, self.provider, self.run, self.conn_id = journal, provider, run, conn_id
        self.concurrency, self.lease, self.rate, self.worker = concurrency, lease, rate, worker

    def execute(self, context: Context) -> dict[str, int]:
        """Work until done."""
        journal = journal_of(self.journal)
        providers = providers_of(journal, self.provider, self.run)
        given = connection_settings(self.conn_id)
        settings = WorkerSettings(dict.fromkeys(providers, given)) if given else None
        done = asyncio.run(serve(journal, providers, concurrency=self.concurrency, settings=settings,
                                 until_done=True, run=self.run, lease=self.lease, rate=self.rate))  # fmt: skip
        total = summed([s for _, s in done])
        self.log.info("batchkit worker %d: %s", self.worker, total)
        return attrs.asdict(total)


__all__ = ["BatchkitRunOperator", "BatchkitRunTrigger", "BatchkitWorkerOperator", "run_key", "settled", "summary"]
