"""A provider chain's logic, once for both clients: each step that needs a provider is an :class:`Ask`
of that provider's client (``submit``, ``wait``, ``results``, ``submit_many``), which the sync chain
calls and the async chain awaits; its answer (or its :class:`~batchkit.BatchkitError`) is sent back in.
The rules are :mod:`batchkit.chains`'."""

from __future__ import annotations

import builtins
import os
import secrets
from collections.abc import Callable, Generator, Mapping, Sequence
from pathlib import Path
from typing import Any, Generic, TypeVar

import attrs

from batchkit._kernel.inputs import Paths, as_path_list
from batchkit._orchestration import chain_runs
from batchkit._orchestration.workers import WorkSummary
from batchkit.engines import summed
from batchkit.errors import (
    AmbiguousSubmissionError,
    BatchkitError,
    InputError,
    InsufficientBalanceError,
    PermissionDeniedError,
    ProviderError,
    ServerError,
    TransportError,
)
from batchkit.models import BatchJob, FileResult, JobRef, JobStatus
from batchkit.providers import unanswered

T = TypeVar("T")

MODES = ("fallback", "ensemble")
OUT = (PermissionDeniedError, InsufficientBalanceError, ServerError, TransportError)
"""Refusals that say a provider takes nothing more now: out of quota or down."""
REMEMBERED = 10_000
"""Chain jobs this process remembers (any chain client of the same providers follows them)."""


@attrs.frozen
class Ask:
    """Call ``method`` of ``provider``'s client with ``args`` and ``kwargs``; the answer is sent back."""

    provider: str
    method: str
    args: tuple[Any, ...] = ()
    kwargs: Mapping[str, Any] = attrs.field(factory=dict)


Plan = Generator[Ask, Any, T]
"""A chain operation: it yields asks of providers' clients and returns its value."""


class Driving(Generic[T]):
    """A plan carried out one ask at a time: :meth:`ask` gives the next (None once it has returned its
    :attr:`value`), after the last ask's :meth:`answer` or :meth:`fail`."""

    def __init__(self, plan: Plan[T]) -> None:
        self._plan, self._answer = plan, None
        self._error: BatchkitError | None = None
        self.value: T | None = None

    def ask(self) -> Ask | None:
        try:
            error, self._error = self._error, None
            return self._plan.send(self._answer) if error is None else self._plan.throw(error)
        except StopIteration as done:
            self.value = done.value
            return None

    def answer(self, value: Any) -> None:
        self._answer = value

    def fail(self, error: BatchkitError) -> None:
        self._answer, self._error = None, error


@attrs.define
class Attempt:
    """One file at one provider: the job it went in (None: refused before sending), and why not where
    it did not get there."""

    provider: str
    file: str
    job: BatchJob | None = None
    refusal: str | None = None
    result: FileResult[Any] | None = None
    ambiguous: bool = False
    """Its create may have landed: it is not sent anywhere else."""


@attrs.define
class Chained:
    """A chain job's state: its files and every attempt, in order."""

    files: tuple[str, ...]
    mode: str
    attempts: list[Attempt] = attrs.field(factory=list)
    options: Mapping[str, Any] = attrs.field(factory=dict)


_JOBS: dict[str, Chained] = {}


def matched(files: Sequence[str], results: Sequence[FileResult[Any]]) -> dict[str, FileResult[Any]]:
    """Each file's result: by its path as given, else its base name, else in order."""
    left = list(results)
    found: dict[str, FileResult[Any]] = {}
    for key in (lambda f: f, lambda f: Path(f).name):
        for file in files:
            hit = next((r for r in left if r.source == key(file)), None) if file not in found else None
            if hit is not None:
                found[file] = hit
                left.remove(hit)
    for file in files:
        if file not in found and left:
            found[file] = left.pop(0)
    return found


class Chain:
    """The rules of a chain of ``providers`` in ``mode``; ``most(provider, options)``: the most files one
    job of that provider takes."""

    def __init__(self, providers: Sequence[str], mode: str, most: Callable[[str, Any], int]) -> None:
        if mode not in MODES:
            raise InputError(f"mode must be one of {', '.join(MODES)}, got {mode!r}")
        if len(providers) < 2 or len(set(providers)) != len(providers):
            raise InputError("a chain needs two or more different providers")
        self.providers, self.mode, self._most = list(providers), mode, most

    @property
    def name(self) -> str:
        """The chain's providers, in order, joined by commas."""
        return ",".join(self.providers)

    def _first(self) -> list[str]:
        """Where every file goes first: the first provider, or every one in an ensemble."""
        return self.providers if self.mode == "ensemble" else self.providers[:1]

    def submit(self, files: Paths, options: Mapping[str, Any] | None, inputs: Mapping[str, Any]) -> Plan[BatchJob]:
        given = sorted(k for k, v in inputs.items() if v is not None)
        if given:
            raise InputError(f"a chain submits local files only, not {given[0]}")
        ident, chained = self._chain(files, options)
        for provider in self._first():
            yield from self._send(provider, chained, chained.files)
        return self._job(ident, chained)

    def _chain(self, files: Paths, options: Mapping[str, Any] | None) -> tuple[str, Chained]:
        """A new chain job of ``files``, remembered in this process."""
        paths = [str(p) for p in as_path_list(files, "files")]
        if not paths:
            raise InputError("a chain submits local files; none given")
        self._options(options)
        chained = Chained(tuple(paths), self.mode, options=dict(options or {}))
        ident = f"chain-{secrets.token_hex(8)}"
        _JOBS[ident] = chained
        while len(_JOBS) > REMEMBERED:
            del _JOBS[next(iter(_JOBS))]
        return ident, chained

    def submit_many(self, files: Paths, journal: str | os.PathLike[str], options: Mapping[str, Any] | None,
                    settings: Mapping[str, Any]) -> Plan[BatchJob]:  # fmt: skip
        ident, chained = self._chain(files, options)
        for provider in self._first():
            yield from self._send_many(provider, chained, chained.files, journal, settings)
        while self.mode == "fallback" and (onward := self._onward(chained)):
            for provider, left in onward.items():
                yield from self._send_many(provider, chained, left, journal, settings)
        return self._job(ident, chained)

    def enqueue(self, files: Paths, journal: str | os.PathLike[str], options: Mapping[str, Any] | None,
                run_key: str | None, inputs: Mapping[str, Any]) -> Plan[str]:  # fmt: skip
        """Record ``files`` as the first provider's run in ``journal`` (an ensemble: a run at each
        provider), the chain in its spec; the first run's id, which :func:`batchkit.runs.results` follows
        through the chain."""
        given = sorted(k for k, v in inputs.items() if v is not None)
        if given:
            raise InputError(f"a chain enqueues local files with journal, options and run_key, not {given[0]}")
        self._options(options)
        paths = [str(p) for p in as_path_list(files, "files")]  # an ensemble reads them once for each provider
        chain = chain_runs.spec(self.providers, self.mode, options)
        settings = {"journal": journal, "options": (options or {}).get(self.providers[0]), "run_key": run_key}
        first: str = yield Ask(self.providers[0], "_enqueue_chained", (paths, chain), settings)
        for name in self.providers[1:] if self.mode == "ensemble" else ():
            yield Ask(name, "_enqueue_chained", (paths, chain),
                      {"journal": journal, "options": chain["options"].get(name),
                       "run_key": chain_runs.sibling_key(first, name)})  # fmt: skip
        return first

    def work(self, journal: str | os.PathLike[str], options: Mapping[str, Any]) -> Plan[WorkSummary]:
        """Each provider's ``work(journal, until_done=True)`` in the chain's order, round after round while
        one moves work on (files handed on are the next provider's as their chunk ends); all it did."""
        if not options.get("until_done"):
            raise InputError("a chain's work() runs with until_done=True; workers that run on serve one provider"
                             " each (batchkit worker -p NAME), or all of a chain's in one process (-p A,B)")
        done: builtins.list[WorkSummary] = []
        while True:
            this_round = []
            for name in self.providers:
                this_round.append((yield Ask(name, "work", (journal,), dict(options))))
            done += this_round
            if not any(s.progressed for s in this_round):
                return summed(done)

    def _options(self, options: Mapping[str, Any] | None) -> None:
        """Refuse options for a provider not in the chain."""
        unknown = sorted(set(options or {}) - set(self.providers))
        if unknown:
            raise InputError(f"options for {unknown[0]!r}, which is not in the chain {self.name}")

    def _send_many(self, name: str, chained: Chained, files: Sequence[str], journal: str | os.PathLike[str],
                   settings: Mapping[str, Any]) -> Plan[None]:  # fmt: skip
        """``files`` as one journaled run at provider ``name``, waited for; a run it refuses is tried
        file by file."""
        options = chained.options.get(name)
        try:
            group = yield Ask(name, "submit_many", (list(files),), {"journal": journal, "wait": True,
                                                                   "options": options, **settings})  # fmt: skip
        except InputError as exc:
            if len(files) > 1:
                for file in files:
                    yield from self._send_many(name, chained, [file], journal, settings)
            else:
                chained.attempts.append(Attempt(name, files[0], refusal=f"refused: {exc}"))
            return
        except OUT as exc:
            chained.attempts += [Attempt(name, f, refusal=f"{name} is out of quota or down: {exc}") for f in files]
            return
        except AmbiguousSubmissionError as exc:  # some chunk may have landed: none of these goes elsewhere
            chained.attempts += [Attempt(name, f, refusal=str(exc), ambiguous=True) for f in files]
            return
        except ProviderError as exc:  # refused (a 401, a 429 ...): nothing was made
            chained.attempts += [Attempt(name, f, refusal=f"refused: {exc}") for f in files]
            return
        found = matched(files, (yield Ask(name, "results", (group,))))
        for file in files:
            result = found.get(file) or FileResult(file, JobStatus.FAILED, error="no result", provider=name)
            chained.attempts.append(Attempt(name, file, result=attrs.evolve(result, source=file)))

    def _send(self, name: str, chained: Chained, files: Sequence[str]) -> Plan[None]:
        """``files`` to provider ``name``, as many a job as it takes; a chunk it refuses is tried file by
        file, so one bad file refuses itself alone."""
        options = chained.options.get(name)
        most = max(1, self._most(name, options))
        queue = [list(files[i : i + most]) for i in range(0, len(files), most)]
        out: str | None = None
        while queue:
            chunk = queue.pop(0)
            if out is not None:
                chained.attempts += [Attempt(name, f, refusal=out) for f in chunk]
                continue
            try:
                job = yield Ask(name, "submit", (chunk,), {"options": options})
            except InputError as exc:
                if len(chunk) > 1:
                    queue[:0] = [[f] for f in chunk]
                else:
                    chained.attempts.append(Attempt(name, chunk[0], refusal=f"refused: {exc}"))
                continue
            except OUT as exc:
                out = f"{name} is out of quota or down: {exc}"
                queue.insert(0, chunk)
                continue
            except AmbiguousSubmissionError as exc:
                chained.attempts += [Attempt(name, f, refusal=str(exc), ambiguous=True) for f in chunk]
                continue
            except ProviderError as exc:  # refused these (a 401, a 429 ...): nothing was made
                chained.attempts += [Attempt(name, f, refusal=f"refused: {exc}") for f in chunk]
                continue
            chained.attempts += [Attempt(name, f, job=job) for f in chunk]

    def _job(self, ident: str, chained: Chained) -> BatchJob:
        finals = self._finals(chained)
        if any(a.job is not None and a.result is None for a in chained.attempts):
            status = JobStatus.RUNNING
        else:
            answered = [a for a in finals if a.result is not None and not unanswered(a.result)]
            status = JobStatus.combine([JobStatus.SUCCEEDED] * len(answered)
                                       + [JobStatus.FAILED] * (len(finals) - len(answered)))  # fmt: skip
        return BatchJob(self.name, ident, status, status.value, total_count=len(chained.files),
                        raw={"mode": self.mode, "attempts": len(chained.attempts)})  # fmt: skip

    def _finals(self, chained: Chained) -> builtins.list[Attempt]:
        """Each file's last attempt (an ensemble's: every provider's)."""
        if self.mode == "ensemble":
            return list(chained.attempts)
        last: dict[str, Attempt] = {}
        for attempt in chained.attempts:
            last[attempt.file] = attempt
        return [last[f] for f in chained.files if f in last]

    def _chained(self, job: JobRef) -> tuple[str, Chained]:
        ident = job.id if isinstance(job, BatchJob) else job
        chained = _JOBS.get(ident)
        if chained is None or chained.mode != self.mode or any(a.provider not in self.providers
                                                                for a in chained.attempts):  # fmt: skip
            raise InputError(f"{ident!r} is not a job of this chain ({self.mode} {self.name}) in this process")
        return ident, chained

    def wait(self, job: JobRef, timeout: float | None) -> Plan[BatchJob]:
        ident, chained = self._chained(job)
        while True:
            pending = [a for a in chained.attempts if a.job is not None and a.result is None]
            for job_id in dict.fromkeys(a.job.id for a in pending if a.job is not None):
                members = [a for a in pending if a.job is not None and a.job.id == job_id]
                name = members[0].provider
                done = yield Ask(name, "wait", (members[0].job,), {"timeout": timeout})
                found = matched([a.file for a in members], (yield Ask(name, "results", (done,))))
                for attempt in members:
                    result = found.get(attempt.file) or FileResult(attempt.file, JobStatus.FAILED, error="the job"
                                                                   " returned no result", provider=attempt.provider)
                    attempt.result = attrs.evolve(result, source=attempt.file)  # one name at every provider
            onward = {} if self.mode == "ensemble" else self._onward(chained)
            if not onward:
                return self._job(ident, chained)
            for name, files in onward.items():
                yield from self._send(name, chained, files)

    def _onward(self, chained: Chained) -> dict[str, builtins.list[str]]:
        """The files whose last attempt is unanswered, by the next provider to ask."""
        by_next: dict[str, builtins.list[str]] = {}
        for attempt in self._finals(chained):
            refused = attempt.refusal is not None and not attempt.ambiguous
            left = refused or (attempt.result is not None and unanswered(attempt.result))
            step = self.providers.index(attempt.provider) + 1
            if left and step < len(self.providers):
                by_next.setdefault(self.providers[step], []).append(attempt.file)
        return by_next

    def results(self, job: JobRef) -> builtins.list[FileResult[Any]]:
        _, chained = self._chained(job)
        if any(a.job is not None and a.result is None for a in chained.attempts):
            raise InputError("the chain job has not ended; wait for it first")
        found = []
        for attempt in self._finals(chained):
            found.append(attempt.result or FileResult(attempt.file, JobStatus.FAILED, error=attempt.refusal,
                                                      provider=attempt.provider))  # fmt: skip
        if self.mode == "ensemble":
            found.sort(key=lambda r: chained.files.index(r.source))
        return found
