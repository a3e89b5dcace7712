"""A provider chain's journaled runs (``ChainClient.enqueue`` and workers).

The chain (its providers, mode and each provider's options) is part of the spec of each of its runs.
In a **fallback** chain the worker that ends a chunk hands the files its provider left unanswered
(the chunk failed, or :func:`batchkit.providers.unanswered`) to the run of the next provider, appended
in the transaction that ends the chunk: that run (:func:`follow_up`) is made by the first such hand-on,
and its workers send it as any run. An **ensemble** is a run per provider, enqueued at once
(:func:`sibling`). :func:`batchkit.runs.results` of the first run follows both.
"""

from __future__ import annotations

import hashlib
from collections.abc import Collection, Mapping, Sequence
from pathlib import Path
from typing import Any

import attrs

from batchkit._kernel.inputs import check_file
from batchkit._kernel.journal import FileEntry, Onward, Run
from batchkit._kernel.journal.schema import keyed_run, run_id_for
from batchkit.errors import InputError
from batchkit.models import FileResult, JobStatus
from batchkit.providers import get_provider, unanswered
from batchkit.providers.base import Provider, Submission

CHAIN = "chain"
"""The key of a run's spec that holds its chain."""


def spec(providers: Sequence[str], mode: str, options: Mapping[str, Any] | None) -> dict[str, Any]:
    """The chain as its runs record it (:func:`~batchkit._orchestration.large_submissions.record` keeps
    each provider's options as JSON)."""
    return {"providers": list(providers), "mode": mode, "options": dict(options or {})}


def of(run: Run) -> Mapping[str, Any] | None:
    """The chain ``run`` is a part of, if any."""
    found = (run.spec or {}).get(CHAIN)
    return found if isinstance(found, Mapping) else None


def follow_up(run: str, provider: str) -> str:
    """The id of the run that holds the files run ``run`` left unanswered, at ``provider``."""
    return run_id_for(_follow_up_fingerprint(run, provider))


def _follow_up_fingerprint(run: str, provider: str) -> str:
    return hashlib.sha256(f"chain\0{run}\0{provider}".encode()).hexdigest()


def sibling_key(run: str, provider: str) -> str:
    """The run key of an ensemble's run at ``provider`` whose first run is ``run``."""
    return f"{run}:{provider}"


def sibling(run: str, provider: str) -> str:
    """The id of that run."""
    return keyed_run("", sibling_key(run, provider))[0]


def left(provider: str, outcomes: Sequence[tuple[int, str, str | None, Any]]) -> set[int]:
    """The indexes of the files that ``outcomes`` (a chunk's, as the journal keeps them) leave unanswered."""
    cls = get_provider(provider)
    found = set()
    for index, status, error, raw in outcomes:
        result = cls.result_from(raw) if raw is not None else FileResult("", JobStatus.FAILED)
        if unanswered(attrs.evolve(result, status=JobStatus(status), error=error, provider=provider)):
            found.add(index)
    return found


def next_of(run: Run) -> str | None:
    """The provider a fallback chain hands ``run``'s unanswered files to (None: no chain, or the last)."""
    chain = of(run)
    if chain is None or chain.get("mode") != "fallback":
        return None
    providers = [str(p) for p in chain.get("providers", [])]
    step = providers.index(run.provider) + 1 if run.provider in providers else len(providers)
    return providers[step] if step < len(providers) else None


def onward(run: Run, entries: Sequence[FileEntry], indexes: Collection[int]) -> list[Onward]:
    """What a fallback chain's next provider is to be asked about ``entries`` with ``indexes`` (none
    where ``run`` is no part of one, or its provider is the last). The files go in jobs as the next
    provider takes them; one it refuses on its own goes in a job alone, so that it alone is handed on."""
    chain, name = of(run), next_of(run)
    kept = [e for e in entries if e.index in indexes]
    if chain is None or name is None or not kept:
        return []
    cls = get_provider(name)
    provider, options = cls(cls.default_base_url), chain.get("options", {}).get(name)
    limits = provider.chunk_limits(options)
    plan = planned(provider, options, [(e.path, e.size) for e in kept], *limits)
    inputs = {} if options is None else {"options": options}
    follow = {"inputs": inputs, "limits": list(limits), "roots": (run.spec or {}).get("roots", []),
              CHAIN: dict(chain), "after": run.id}  # fmt: skip
    files = [(e.path, e.size, e.mtime_ns) for e in kept]
    return [Onward(name, _follow_up_fingerprint(run.id, name), follow, files, plan)]


def full(files: int, size: int, more: int, most_files: int, most_bytes: int) -> bool:
    """Whether a chunk of ``files`` files and ``size`` bytes is full before a file of ``more`` bytes."""
    return files > 0 and (files >= most_files or size + more > most_bytes)


def planned(provider: Provider[Any, Any], options: Any, files: Sequence[tuple[str, int]], most_files: int,
            most_bytes: int) -> list[list[int]]:  # fmt: skip
    """A chain's chunks of ``files`` (their indexes) at ``provider``: in order, as many a chunk as it takes,
    except that a file it refuses on its own is a chunk alone, so that it alone fails and is handed on."""
    plan: list[list[int]] = []
    group: list[int] = []
    size = 0
    for n, (path, file_size) in enumerate(files):
        try:
            provider.prepare(Submission(files=[check_file(Path(path))], options=options))
        except InputError:
            plan.append([n])
            continue
        if full(len(group), size, max(file_size, 0), most_files, most_bytes):
            plan.append(group)
            group, size = [], 0
        group.append(n)
        size += max(file_size, 0)
    if group:
        plan.append(group)
    return plan


__all__ = ["CHAIN", "follow_up", "full", "left", "next_of", "of", "onward", "planned", "sibling", "sibling_key", "spec"]
