"""What the engines share (``batchkit worker``, :mod:`batchkit.ray`, :mod:`batchkit.airflow`): one process
working a journal's runs of every provider it names, and the settings an engine hands its workers."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable, Mapping
from typing import Any

import attrs

from batchkit import runs
from batchkit._kernel.journal.patience import here, patiently
from batchkit._orchestration import chain_runs
from batchkit._orchestration.waiting import PollSchedule
from batchkit._orchestration.workers import WorkSummary
from batchkit.async_client import AsyncClient
from batchkit.config import chain_of
from batchkit.errors import ConfigError, InputError
from batchkit.observing import Observer


def _client_settings(value: Mapping[str, Mapping[str, Any]]) -> dict[str, dict[str, Any]]:
    return {str(provider): dict(settings) for provider, settings in value.items()}


@attrs.frozen
class WorkerSettings:
    """What a worker placed by an engine connects with, handed to it by the engine (never written to the
    journal): ``clients`` maps a provider's name to its ``connect()`` keyword arguments (``api_key``,
    ``base_url``, ``timeout``, …). A provider not named connects from the worker's own environment and
    ``batchkit.toml``, as ``batchkit worker`` does. Its repr names the providers and settings, never a value."""

    clients: Mapping[str, Mapping[str, Any]] = attrs.field(factory=dict, converter=_client_settings, repr=False)

    def __repr__(self) -> str:
        named = ", ".join(f"{p}: {sorted(s)}" for p, s in sorted(self.clients.items()))
        return f"WorkerSettings({named})"

    def of(self, provider: str) -> dict[str, Any]:
        """The ``connect()`` arguments of ``provider`` (none: its worker's environment)."""
        return dict(self.clients.get(provider, {}))


def providers_of(journal: str | os.PathLike[str], provider: str | None, run: str | None = None,
                 until_done: bool = True) -> list[str]:  # fmt: skip
    """The providers a worker serves: ``provider`` (a chain's: each), else those of the journal's runs
    (of ``run``) and of their chains; none only ``until_done`` (there is no work), else :class:`ConfigError`."""
    if provider:
        return chain_of(provider) or [provider]
    looked = here(patiently(lambda: runs.progress(journal)))  # a worker may start while the database restarts
    found = sorted({name for p in looked if p.run.provider and run in (None, p.run.id)
                    for name in [p.run.provider, *(chain_runs.of(p.run) or {}).get("providers", [])]})  # fmt: skip
    if not found and not until_done:
        raise ConfigError("the journal has no runs yet: say which provider the workers serve (-p NAME, provider=)")
    return found


def lanes(concurrency: Any) -> int | None:
    """``concurrency`` checked: None (the client's default) or a positive number of chunks at once."""
    if concurrency is not None and (isinstance(concurrency, bool) or not isinstance(concurrency, int)
                                    or not 1 <= concurrency <= 256):  # fmt: skip
        raise InputError(f"concurrency must be 1 to 256 chunks at once, got {concurrency!r}")
    return concurrency


async def serve(journal: str | os.PathLike[str], providers: list[str], *, concurrency: int | None = None,
                settings: WorkerSettings | None = None, observers: Callable[[str], Observer] | None = None,
                **options: Any) -> list[tuple[str, WorkSummary]]:  # fmt: skip
    """Work ``journal``'s runs of each of ``providers`` at once in this process (``options``: those of
    ``work``; ``observers``: each provider's observer of events); each provider's summary. With
    ``until_done`` and several providers, again while a round moved work on: a fallback chain's next
    provider is handed files only as the one before it ends their chunks."""
    lanes(concurrency)

    async def one(provider: str) -> tuple[str, WorkSummary]:
        given = (settings or WorkerSettings()).of(provider)
        if concurrency is not None:  # the client's budget too (its schedule's, where the settings give one)
            poll = given.get("poll")
            given["poll"] = attrs.evolve(poll if isinstance(poll, PollSchedule) else PollSchedule(),
                                         concurrency=concurrency)  # fmt: skip
        if observers is not None:
            given["observer"] = observers(provider)
        async with AsyncClient.connect(provider, **given) as client:
            return provider, await client.work(journal, **options)

    done = list(await asyncio.gather(*(one(p) for p in providers)))
    while options.get("until_done") and len(providers) > 1 and any(s.progressed for _, s in done):
        again = await asyncio.gather(*(one(p) for p in providers))
        if not any(s.progressed for _, s in again):
            break
        done = [(p, summed([s, more])) for (p, s), (_, more) in zip(done, again, strict=True)]
    return done


def summed(summaries: list[WorkSummary]) -> WorkSummary:
    """One summary of what several workers did."""
    return WorkSummary(**{f.name: sum(getattr(s, f.name) for s in summaries) for f in attrs.fields(WorkSummary)})


__all__ = ["WorkerSettings", "providers_of", "serve", "summed"]
