"""Provider chains: several providers behind one client, as a fallback or an ensemble.

>>> with batchkit.connect(["resemble", "reality-defender"]) as chain:     # doctest: +SKIP
...     job = chain.wait(chain.submit(["a.wav", "b.mp4"]))
...     for row in batchkit.verdicts(chain.results(job)): ...

**Fallback** (the default): every file goes to the first provider. A file it refuses (before anything is
sent: its type, size or name; or by an error reply that made nothing: 400, 401, 429), fails, or answers
``not_applicable`` or ``error`` (:func:`batchkit.verdicts`) goes to the next; so does every file not yet
sent there once it is out of quota (402, 403, Reality Defender's plan limits) or down (5xx or the
network, after retries). A file whose create may have landed
(:class:`~batchkit.AmbiguousSubmissionError`) goes nowhere else: it may still be answered and billed.
**Ensemble** (``mode="ensemble"``): every file goes to every provider, and :func:`batchkit.verdicts`
adds a combined row per file.

Each provider's sends are its own client's, journaled and retried as for one provider, so a chain
never pays one provider twice for a file. Each result carries the ``provider`` that gave it. A chain
job lives in the process that made it (it is not journaled as a chain);
:meth:`ChainClient.submit_many` sends each provider's part as that provider's journaled run.
"""

from __future__ import annotations

import builtins
import os
import secrets
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any, overload

import attrs

from batchkit._kernel.inputs import Paths, as_path_list
from batchkit.client import Client
from batchkit.config import chain_of
from batchkit.errors import (
    AmbiguousSubmissionError,
    InputError,
    InsufficientBalanceError,
    PermissionDeniedError,
    ProviderError,
    ServerError,
    TransportError,
)
from batchkit.models import BatchJob, FileResult, JobRef, JobStatus
from batchkit.verdict_rows import verdict

MODES = ("fallback", "ensemble")
OUT = (PermissionDeniedError, InsufficientBalanceError, ServerError, TransportError)
"""Refusals that say a provider takes nothing more now: out of quota or down."""
UNANSWERED = frozenset({"not_applicable", "error"})
"""Verdicts a fallback chain asks the next provider about."""
REMEMBERED = 10_000
"""Chain jobs this process remembers (any chain client of the same providers follows them)."""


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


def _matched(files: Sequence[str], results: Sequence[FileResult[Any]]) -> dict[str, FileResult[Any]]:
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


class ChainClient:
    """The providers of a chain, each its own :class:`batchkit.Client`; ``submit``, ``wait`` and
    ``results`` as a client's, over all of them (see the module's rules)."""

    def __init__(self, clients: Sequence[Client], mode: str = "fallback") -> None:
        if mode not in MODES:
            raise InputError(f"mode must be one of {', '.join(MODES)}, got {mode!r}")
        if len(clients) < 2 or len({c.provider for c in clients}) != len(clients):
            raise InputError("a chain needs two or more different providers")
        self.clients = list(clients)
        self.mode = mode

    @property
    def provider(self) -> str:
        """The chain's providers, in order, joined by commas."""
        return ",".join(c.provider for c in self.clients)

    def __repr__(self) -> str:
        return f"<batchkit.ChainClient {self.mode} {self.provider}>"

    def __enter__(self) -> ChainClient:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 trace: TracebackType | None) -> None:  # fmt: skip
        self.close()

    def close(self) -> None:
        """Close every provider's client."""
        for client in self.clients:
            client.close()

    def submit(self, files: Paths, *, options: Mapping[str, Any] | None = None, **inputs: Any) -> BatchJob:
        """Send ``files`` to the first provider (every provider, in an ensemble); ``options`` holds
        each provider's options under its name. Refusals before sending are kept, not raised."""
        given = sorted(k for k, v in inputs.items() if v is not None)
        if given:
            raise InputError(f"a chain submits local files only, not {given[0]}")
        ident, chained = self._chain(files, options)
        for client in self.clients if self.mode == "ensemble" else self.clients[:1]:
            self._send(client, chained, chained.files)
        return self._job(ident, chained)

    def _chain(self, files: Paths, options: Mapping[str, Any] | None) -> tuple[str, Chained]:
        """A new chain job of ``files``, remembered in this process."""
        paths = [str(p) for p in as_path_list(files, "files")]
        if not paths:
            raise InputError("a chain submits local files; none given")
        unknown = sorted(set(options or {}) - {c.provider for c in self.clients})
        if unknown:
            raise InputError(f"options for {unknown[0]!r}, which is not in the chain {self.provider}")
        chained = Chained(tuple(paths), self.mode, options=dict(options or {}))
        ident = f"chain-{secrets.token_hex(8)}"
        _JOBS[ident] = chained
        while len(_JOBS) > REMEMBERED:
            del _JOBS[next(iter(_JOBS))]
        return ident, chained

    def submit_many(self, files: Paths, *, journal: str | os.PathLike[str], options: Mapping[str, Any] | None = None,
                    **settings: Any) -> BatchJob:  # fmt: skip
        """Like :meth:`submit`, each provider's part as its ``submit_many(..., journal=journal, wait=True)``
        (``settings``: ``chunk``, ``rate``, ``resend_ambiguous``): every send journaled as for one
        provider; the chain job comes back ended."""
        ident, chained = self._chain(files, options)

        def send(client: Client, files: Sequence[str]) -> None:
            self._send_many(client, chained, files, journal, settings)

        for client in self.clients if self.mode == "ensemble" else self.clients[:1]:
            send(client, chained.files)
        while self.mode == "fallback" and self._fall_back(chained, send):
            pass
        return self._job(ident, chained)

    def _send_many(self, client: Client, chained: Chained, files: Sequence[str], journal: str | os.PathLike[str],
                   settings: Mapping[str, Any]) -> None:  # fmt: skip
        """``files`` as one journaled run at ``client``'s provider, waited for; a run it refuses is tried
        file by file."""
        name, options = client.provider, chained.options.get(client.provider)
        try:
            group = client.submit_many(list(files), journal=journal, wait=True, options=options, **settings)
        except InputError as exc:
            if len(files) > 1:
                for file in files:
                    self._send_many(client, chained, [file], journal, settings)
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
        found = _matched(files, client.results(group))
        for file in files:
            result = found.get(file) or FileResult(file, JobStatus.FAILED, error="no result", provider=name)
            chained.attempts.append(Attempt(name, file, result=attrs.evolve(result, source=file)))

    def _send(self, client: Client, chained: Chained, files: Sequence[str]) -> None:
        """``files`` to ``client``'s provider, as many a job as it takes; a chunk it refuses is tried
        file by file, so one bad file refuses itself alone."""
        name, options = client.provider, chained.options.get(client.provider)
        most = max(1, client._ops.provider.chunk_limits(options)[0])
        queue = [list(files[i : i + most]) for i in range(0, len(files), most)]
        out: str | None = None
        while queue:
            chunk = queue.pop(0)
            if out is not None:
                chained.attempts += [Attempt(name, f, refusal=out) for f in chunk]
                continue
            try:
                job = client.submit(chunk, options=options)
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
            answered = [a for a in finals if a.result is not None and verdict(a.result).verdict not in UNANSWERED]
            status = JobStatus.combine([JobStatus.SUCCEEDED] * len(answered)
                                       + [JobStatus.FAILED] * (len(finals) - len(answered)))  # fmt: skip
        return BatchJob(self.provider, ident, status, status.value, total_count=len(chained.files),
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
        if chained is None or chained.mode != self.mode or any(a.provider not in self.provider.split(",")
                                                                for a in chained.attempts):  # fmt: skip
            raise InputError(f"{ident!r} is not a job of this chain ({self.mode} {self.provider}) in this process")
        return ident, chained

    def wait(self, job: JobRef, timeout: float | None = None) -> BatchJob:
        """Wait for every provider's jobs; in a fallback chain, send each file left unanswered to the
        next provider, until every file is answered or no provider is left. The chain job at its end."""
        ident, chained = self._chained(job)
        clients = {c.provider: c for c in self.clients}
        while True:
            pending = [a for a in chained.attempts if a.job is not None and a.result is None]
            for job_id in dict.fromkeys(a.job.id for a in pending if a.job is not None):
                members = [a for a in pending if a.job is not None and a.job.id == job_id]
                client = clients[members[0].provider]
                done = client.wait(members[0].job, timeout=timeout)  # type: ignore[arg-type]
                found = _matched([a.file for a in members], client.results(done))
                for attempt in members:
                    result = found.get(attempt.file) or FileResult(attempt.file, JobStatus.FAILED, error="the job"
                                                                   " returned no result", provider=attempt.provider)
                    attempt.result = attrs.evolve(result, source=attempt.file)  # one name at every provider
            if self.mode == "ensemble" or not self._fall_back(chained, lambda c, f: self._send(c, chained, f)):
                return self._job(ident, chained)

    def wait_all(self, jobs: Sequence[JobRef], timeout: float | None = None, **waiting: Any) -> builtins.list[BatchJob]:
        """:meth:`wait` of each job, in order (``on_update`` is not called)."""
        return [self.wait(job, timeout) for job in jobs]

    def _fall_back(self, chained: Chained, send: Callable[[Client, Sequence[str]], None]) -> bool:
        """Send each file whose last attempt is unanswered to the next provider; whether any was sent."""
        order = [c.provider for c in self.clients]
        clients = {c.provider: c for c in self.clients}
        by_next: dict[str, builtins.list[str]] = {}
        for attempt in self._finals(chained):
            refused = attempt.refusal is not None and not attempt.ambiguous
            unanswered = refused or (attempt.result is not None and verdict(attempt.result).verdict in UNANSWERED)
            step = order.index(attempt.provider) + 1
            if unanswered and step < len(order):
                by_next.setdefault(order[step], []).append(attempt.file)
        for name, files in by_next.items():
            send(clients[name], files)
        return bool(by_next)

    def results(self, job: JobRef) -> builtins.list[FileResult[Any]]:
        """Each file's answer, from the provider that gave it (``provider``); a file no provider answered
        has the last one's failure. An ensemble's: every provider's, file by file."""
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


@overload
def connect(provider: builtins.list[str] | tuple[str, ...], *, mode: str = ..., **settings: Any) -> ChainClient: ...


@overload
def connect(provider: str | None = None, *, mode: str = ..., **settings: Any) -> Client: ...


def connect(provider: str | Sequence[str] | None = None, *, mode: str = "fallback",
            **settings: Any) -> Client | ChainClient:  # fmt: skip
    """A :class:`batchkit.Client` for one provider (settings as :class:`~batchkit.client.ClientSettings`),
    or a :class:`ChainClient` for several: a list, or names joined by commas, given or configured
    (``BATCHKIT_PROVIDER=a,b``, ``provider = [...]`` in batchkit.toml); ``settings`` go to each
    provider's client. (A chain named by a string or configured is typed as a ``Client``: it has a
    client's ``submit``, ``wait``, ``wait_all`` and ``results``.)"""
    names = chain_of(provider, settings.get("config_file"))
    if names is None:
        if mode != "fallback":
            raise InputError("mode= is a chain's setting; name two or more providers")
        return Client.connect(provider if isinstance(provider, str) or provider is None else None, **settings)
    clients: builtins.list[Client] = []
    try:
        for name in names:
            clients.append(Client.connect(name, **settings))
        return ChainClient(clients, mode)
    except BaseException:
        for client in clients:
            client.close()
        raise


__all__ = ["MODES", "ChainClient", "connect"]
