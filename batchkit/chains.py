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
:meth:`ChainClient.submit_many` sends each provider's part as that provider's journaled run, and
:meth:`ChainClient.enqueue` records the chain itself in the journal, for workers: there the chain is
carried on by whichever worker ends a chunk (see :mod:`batchkit._orchestration.chain_runs`).
:class:`AsyncChainClient` (``batchkit.connect_async([...])``) is the awaitable twin: both run the one
logic of :mod:`batchkit.chain_plans`.
"""

from __future__ import annotations

import builtins
import contextlib
import os
from collections.abc import Mapping, Sequence
from types import TracebackType
from typing import Any, Generic, TypeVar, overload

from batchkit._kernel.inputs import Paths
from batchkit._orchestration.workers import WorkSummary
from batchkit.async_client import AsyncClient
from batchkit.chain_plans import MODES, Chain, Driving, Plan
from batchkit.client import Client
from batchkit.config import chain_of
from batchkit.errors import BatchkitError, InputError
from batchkit.models import BatchJob, FileResult, JobRef

T = TypeVar("T")
_Client = TypeVar("_Client", Client, AsyncClient)


class _Chained(Generic[_Client]):
    """What both chain clients are: their providers' clients, and the chain's rules over them."""

    def __init__(self, clients: Sequence[_Client], mode: str = "fallback") -> None:
        self._chain = Chain([c.provider for c in clients], mode, self._most)
        self.clients: builtins.list[_Client] = list(clients)
        self.mode = mode

    def _most(self, name: str, options: Any) -> int:
        """The most files one job of provider ``name`` takes."""
        return int({c.provider: c for c in self.clients}[name]._ops.provider.chunk_limits(options)[0])

    @property
    def provider(self) -> str:
        """The chain's providers, in order, joined by commas."""
        return self._chain.name

    def __repr__(self) -> str:
        return f"<batchkit.{type(self).__name__} {self.mode} {self.provider}>"


class ChainClient(_Chained[Client]):
    """The providers of a chain, each its own :class:`batchkit.Client`; ``submit``, ``wait`` and
    ``results`` as a client's, over all of them (see the module's rules)."""

    def __enter__(self) -> ChainClient:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 trace: TracebackType | None) -> None:  # fmt: skip
        self.close()

    def close(self) -> None:
        """Close every provider's client."""
        for client in self.clients:
            client.close()

    def _run(self, plan: Plan[T]) -> T:
        """``plan`` carried out: each ask a call of its provider's client, its answer or error sent back."""
        clients, driving = {c.provider: c for c in self.clients}, Driving(plan)
        with contextlib.closing(plan):
            while (ask := driving.ask()) is not None:
                try:
                    driving.answer(getattr(clients[ask.provider], ask.method)(*ask.args, **ask.kwargs))
                except BatchkitError as exc:
                    driving.fail(exc)
        return driving.value  # type: ignore[return-value]

    def submit(self, files: Paths, *, options: Mapping[str, Any] | None = None, **inputs: Any) -> BatchJob:
        """Send ``files`` to the first provider (every provider, in an ensemble); ``options`` holds
        each provider's options under its name. Refusals before sending are kept, not raised."""
        return self._run(self._chain.submit(files, options, inputs))

    def submit_many(self, files: Paths, *, journal: str | os.PathLike[str], options: Mapping[str, Any] | None = None,
                    **settings: Any) -> BatchJob:  # fmt: skip
        """Like :meth:`submit`, each provider's part as its ``submit_many(..., journal=journal, wait=True)``
        (``settings``: ``chunk``, ``rate``, ``resend_ambiguous``): every send journaled as for one
        provider; the chain job comes back ended."""
        return self._run(self._chain.submit_many(files, journal, options, settings))

    def enqueue(self, files: Paths, *, journal: str | os.PathLike[str], options: Mapping[str, Any] | None = None,
                run_key: str | None = None, **inputs: Any) -> str:  # fmt: skip
        """Record ``files`` in ``journal`` as the first provider's run (an ensemble's: a run at each
        provider), for workers of the chain's providers; its id. A worker that ends a chunk hands the
        files it left unanswered to the next provider's run, in the same write, and
        :func:`batchkit.runs.results` of this id gives each file's last answer (an ensemble's: all)."""
        return self._run(self._chain.enqueue(files, journal, options, run_key, inputs))

    def work(self, journal: str | os.PathLike[str], **options: Any) -> WorkSummary:
        """Work the chain's runs in ``journal`` with each provider's client, ``until_done=True`` (required),
        round after round while one moves work on; what they did, summed."""
        return self._run(self._chain.work(journal, options))

    def wait(self, job: JobRef, timeout: float | None = None) -> BatchJob:
        """Wait for every provider's jobs; in a fallback chain, send each file left unanswered to the
        next provider, until every file is answered or no provider is left. The chain job at its end."""
        return self._run(self._chain.wait(job, timeout))

    def wait_all(self, jobs: Sequence[JobRef], timeout: float | None = None, **waiting: Any) -> builtins.list[BatchJob]:
        """:meth:`wait` of each job, in order (``on_update`` is not called)."""
        return [self.wait(job, timeout) for job in jobs]

    def results(self, job: JobRef) -> builtins.list[FileResult[Any]]:
        """Each file's answer, from the provider that gave it (``provider``); a file no provider answered
        has the last one's failure. An ensemble's: every provider's, file by file."""
        return self._chain.results(job)


class AsyncChainClient(_Chained[AsyncClient]):
    """The awaitable twin of :class:`ChainClient`, over :class:`batchkit.AsyncClient` s: the same rules
    and the same chain jobs."""

    async def __aenter__(self) -> AsyncChainClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close every provider's client."""
        for client in self.clients:
            await client.aclose()

    async def _run(self, plan: Plan[T]) -> T:
        """``plan`` carried out: each ask awaited of its provider's client, its answer or error sent back."""
        clients, driving = {c.provider: c for c in self.clients}, Driving(plan)
        with contextlib.closing(plan):
            while (ask := driving.ask()) is not None:
                try:
                    driving.answer(await getattr(clients[ask.provider], ask.method)(*ask.args, **ask.kwargs))
                except BatchkitError as exc:
                    driving.fail(exc)
        return driving.value  # type: ignore[return-value]

    async def submit(self, files: Paths, *, options: Mapping[str, Any] | None = None, **inputs: Any) -> BatchJob:
        """See :meth:`ChainClient.submit`."""
        return await self._run(self._chain.submit(files, options, inputs))

    async def submit_many(self, files: Paths, *, journal: str | os.PathLike[str],
                          options: Mapping[str, Any] | None = None, **settings: Any) -> BatchJob:  # fmt: skip
        """See :meth:`ChainClient.submit_many`."""
        return await self._run(self._chain.submit_many(files, journal, options, settings))

    async def enqueue(self, files: Paths, *, journal: str | os.PathLike[str], options: Mapping[str, Any] | None = None,
                      run_key: str | None = None, **inputs: Any) -> str:  # fmt: skip
        """See :meth:`ChainClient.enqueue`."""
        return await self._run(self._chain.enqueue(files, journal, options, run_key, inputs))

    async def work(self, journal: str | os.PathLike[str], **options: Any) -> WorkSummary:
        """See :meth:`ChainClient.work`."""
        return await self._run(self._chain.work(journal, options))

    async def wait(self, job: JobRef, timeout: float | None = None) -> BatchJob:
        """See :meth:`ChainClient.wait`."""
        return await self._run(self._chain.wait(job, timeout))

    async def wait_all(self, jobs: Sequence[JobRef], timeout: float | None = None,
                       **waiting: Any) -> builtins.list[BatchJob]:  # fmt: skip
        """See :meth:`ChainClient.wait_all`."""
        return [await self.wait(job, timeout) for job in jobs]

    async def results(self, job: JobRef) -> builtins.list[FileResult[Any]]:
        """See :meth:`ChainClient.results`."""
        return self._chain.results(job)


def _clients(kind: type[_Client], names: Sequence[str], settings: Mapping[str, Any]) -> builtins.list[_Client]:
    """A client of ``kind`` for each provider (those made are closed if one cannot be)."""
    clients: builtins.list[_Client] = []
    try:
        for name in names:
            clients.append(kind.connect(name, **settings))
    except BaseException:
        _drop(clients)
        raise
    return clients


def _drop(clients: Sequence[Client] | Sequence[AsyncClient]) -> None:
    """Close clients never used (an async one's connections are not open yet: its threads are all)."""
    for client in clients:
        if isinstance(client, Client):
            client.close()
        else:
            client._threads.close()


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
    clients = _clients(Client, names, settings)
    try:
        return ChainClient(clients, mode)
    except BaseException:
        _drop(clients)
        raise


@overload
def connect_async(provider: builtins.list[str] | tuple[str, ...], *, mode: str = ...,
                  **settings: Any) -> AsyncChainClient: ...  # fmt: skip


@overload
def connect_async(provider: str | None = None, *, mode: str = ..., **settings: Any) -> AsyncClient: ...


def connect_async(provider: str | Sequence[str] | None = None, *, mode: str = "fallback",
                  **settings: Any) -> AsyncClient | AsyncChainClient:  # fmt: skip
    """:func:`connect`'s awaitable twin: an :class:`batchkit.AsyncClient`, or an :class:`AsyncChainClient`."""
    names = chain_of(provider, settings.get("config_file"))
    if names is None:
        if mode != "fallback":
            raise InputError("mode= is a chain's setting; name two or more providers")
        return AsyncClient.connect(provider if isinstance(provider, str) or provider is None else None, **settings)
    clients = _clients(AsyncClient, names, settings)
    try:
        return AsyncChainClient(clients, mode)
    except BaseException:
        _drop(clients)
        raise


__all__ = ["MODES", "AsyncChainClient", "ChainClient", "connect", "connect_async"]
