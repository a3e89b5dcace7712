"""batchkit workers on a Ray cluster (``pip install 'batchkit[ray]'``).

Ray runs code at least once: it restarts and retries. So Ray never sends anything itself here: it only
places batchkit workers (actors) on its nodes, and every chunk goes through the journal's claims, leases
and intents, exactly as with ``batchkit worker``. A killed actor is replaced, and its chunks are taken
over from what the journal recorded.

>>> import batchkit.ray                                                   # doctest: +SKIP
>>> run = client.enqueue(paths, journal=url, run_key="calls-2026-12-02")
>>> summary = batchkit.ray.work(url, workers=8, concurrency=4)           # 8 actors, spread over the nodes
>>> batchkit.ray.read_results(url, run).write_parquet("s3://bucket/calls/")

Ray is imported by these functions, not by ``import batchkit.ray``.
"""

from __future__ import annotations

import logging
import os
import uuid
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from batchkit import runs
from batchkit._orchestration.workers import WorkSummary
from batchkit.engines import WorkerSettings, lanes, providers_of, serve, summed
from batchkit.errors import BatchkitError, ConfigError, EngineError, InputError
from batchkit.results import rows

if TYPE_CHECKING:
    import ray.data

log = logging.getLogger("batchkit")

ACTOR_OPTIONS: Mapping[str, Any] = {"num_cpus": 0.5, "scheduling_strategy": "SPREAD", "max_restarts": 0}
"""How each worker actor is placed (``actor_options`` overrides any): spread over the nodes, half a CPU
(a worker mostly waits on the network), never restarted by Ray (:func:`work` starts a new one instead)."""


def _ray() -> Any:
    try:
        import ray
    except ImportError:
        raise ConfigError("batchkit.ray needs Ray: pip install 'batchkit[ray]'") from None
    return ray


class Worker:
    """One batchkit worker in a Ray actor: the journal's runs of its providers, worked as ``batchkit worker``
    works them (an async actor, so it also answers :meth:`pid` while it works)."""

    async def pid(self) -> int:
        """The actor's process id."""
        return os.getpid()

    async def work(self, journal: str, providers: list[str], concurrency: int | None,
                   settings: WorkerSettings | None, options: dict[str, Any]) -> list[WorkSummary]:  # fmt: skip
        """Work until done (or cancelled); each provider's summary."""
        done = await serve(journal, providers, concurrency=concurrency, settings=settings, **options)
        return [summary for _, summary in done]


WAKE_SECONDS = 1.0
"""The longest the driver waits on its actors in one call: Python sees a Ctrl-C only between calls into Ray."""


def work(journal: str | os.PathLike[str], *, workers: int = 2, concurrency: int | None = None,
         provider: str | None = None, until_done: bool = True, run: str | None = None, lease: float = 30.0,
         rate: float | None = None, settings: WorkerSettings | None = None,
         actor_options: Mapping[str, Any] | None = None, max_replacements: int | None = None,
         ) -> WorkSummary:  # fmt: skip
    """Run ``workers`` batchkit workers as Ray actors on ``journal`` (a ``postgresql://`` URL shared by the
    cluster, or a sqlite file on one node) and return what they did, summed.

    ``provider``: serve its runs only (default: every provider with runs in the journal). ``concurrency``,
    ``run``, ``lease`` and ``rate`` are ``work``'s. Each actor connects with ``settings`` where given, else
    from its own environment and ``batchkit.toml`` (set them with Ray's ``runtime_env``); keys are never
    written to the journal. An actor that dies is replaced, at most ``max_replacements`` times (default:
    twice ``workers``), then :class:`EngineError`. A dead actor's work is in the journal, not in the sum.
    Actors are named ``batchkit-worker-<tag>-<n>`` (``ray.get_actor``)."""
    if isinstance(workers, bool) or not isinstance(workers, int) or not 1 <= workers <= 10_000:
        raise InputError(f"workers must be 1 to 10000 actors, got {workers!r}")
    limit = 2 * workers if max_replacements is None else max_replacements
    if isinstance(limit, bool) or not isinstance(limit, int) or limit < 0:
        raise InputError(f"max_replacements must be a whole number, got {max_replacements!r}")
    lanes(concurrency)
    ray = _ray()
    where = os.fspath(journal)
    providers = providers_of(where, provider, run, until_done)
    if not providers:
        return WorkSummary()
    options = {"until_done": until_done, "run": run, "lease": lease, "rate": rate}
    remote = ray.remote(Worker)
    placed = {**ACTOR_OPTIONS, **(actor_options or {})}
    tag, started, running, done = uuid.uuid4().hex[:8], 0, dict[Any, Any](), list[WorkSummary]()

    def start() -> None:
        nonlocal started
        actor = remote.options(name=f"batchkit-worker-{tag}-{started}", **placed).remote()
        started += 1
        running[actor.work.remote(where, providers, concurrency, settings, options)] = actor

    try:
        for _ in range(workers):
            start()
        while running:
            ready, _ = ray.wait(list(running), num_returns=1, timeout=WAKE_SECONDS)  # Ctrl-C is seen between waits
            if not ready:
                continue
            [ref] = ready
            actor = running.pop(ref)
            try:
                done += ray.get(ref)
            except ray.exceptions.RayActorError as exc:
                if started - workers >= limit:
                    raise EngineError(f"{started - workers + 1} batchkit worker actors died ({exc.__class__.__name__});"
                                      " the journal keeps where they stopped") from None  # fmt: skip
                log.warning("a batchkit worker actor died; starting another (its chunks are taken over)")
                start()
            except ray.exceptions.RayTaskError as exc:
                if isinstance(exc.cause, BatchkitError):
                    raise exc.cause from None
                raise EngineError(f"a batchkit worker actor failed: {exc.cause!r}") from None
            finally:
                ray.kill(actor)
    finally:
        _stop(ray, running, lease)
    return summed(done)


def _stop(ray: Any, running: dict[Any, Any], lease: float) -> None:
    """Cancel the actors still working (they give their chunks up), then end them."""
    for ref in running:
        ray.cancel(ref)
    if running:
        ray.wait(list(running), num_returns=len(running), timeout=lease)
    for actor in running.values():
        ray.kill(actor)


def read_results(journal: str | os.PathLike[str], run: str) -> ray.data.Dataset:
    """The tidy rows (:func:`batchkit.rows`) of ``run``'s results, read from the journal, as a Ray Dataset."""
    _ray()
    import ray.data

    return ray.data.from_items(list(rows(runs.results(journal, run))))


__all__ = ["ACTOR_OPTIONS", "Worker", "WorkerSettings", "read_results", "work"]
