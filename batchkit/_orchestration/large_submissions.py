"""Large submissions: split into provider-sized chunks and recorded as a run in a journal, then sent
by this process (``submit_many``) or by any number of workers (``enqueue`` + ``work``)."""

from __future__ import annotations

import hashlib
import json
import logging
import os
import tempfile
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import IO, Any

import attrs

from batchkit._kernel.inputs import LocalFile, check_file, check_files
from batchkit._kernel.journal import Journal, Scope
from batchkit._kernel.journal.book import fewest
from batchkit._kernel.journal.schema import run_id_for
from batchkit._kernel.nonces import with_nonce
from batchkit._kernel.not_given import NOT_GIVEN
from batchkit._kernel.steps import Blocking, Operation
from batchkit.errors import AmbiguousSubmissionError, InputError
from batchkit.models import BatchJob, JobStatus
from batchkit.providers import get_provider
from batchkit.providers.base import Provider, Submission, SynchronousProvider

from . import chain_runs, synchronous
from .groups import JobGroup
from .workers import Lease, Sends, Worker

log = logging.getLogger("batchkit")


def plan(files: Sequence[LocalFile], max_files: int, max_bytes: int) -> list[list[LocalFile]]:
    """Split ``files``, in order, into chunks of at most ``max_files`` files and ``max_bytes`` bytes."""
    chunks: list[list[LocalFile]] = []
    current: list[LocalFile] = []
    size = 0
    for f in files:
        if f.size > max_bytes:
            raise InputError(f"{f.path}: {f.size} bytes, more than one batch may hold ({max_bytes})")
        if current and (len(current) == max_files or size + f.size > max_bytes):
            chunks.append(current)
            current, size = [], 0
        current.append(f)
        size += f.size
    if current:
        chunks.append(current)
    return chunks


def fingerprint(provider: str, files: Sequence[LocalFile], limits: tuple[int, int], inputs: Mapping[str, Any],
                resolved: Sequence[str] | None = None) -> str:  # fmt: skip
    """The identity of a submission; ``resolved``: the files' resolved paths, when already known."""
    real = resolved if resolved is not None else [str(f.path.resolve()) for f in files]
    digest = Digest(provider, limits, inputs)
    for path, f in zip(real, files, strict=True):
        digest.add(path, f.size)
    return digest.hexdigest()


class Digest:
    """A submission's identity, file by file: the SHA-256 of ``{"provider", "files": [[path, size], …],
    "limits", "inputs"}`` as JSON (a run's id since its first journal), without holding the files."""

    def __init__(self, provider: str, limits: tuple[int, int], inputs: Mapping[str, Any]) -> None:
        self._hash = hashlib.sha256(f'{{"provider": {json.dumps(provider)}, "files": ['.encode())
        self._first = True
        given = {k: repr(v) for k, v in sorted(inputs.items())}
        self._tail = f'], "limits": {json.dumps(list(limits))}, "inputs": {json.dumps(given)}}}'.encode()

    def add(self, path: str, size: int) -> None:
        self._hash.update(("" if self._first else ", ").encode() + json.dumps([path, size]).encode())
        self._first = False

    def hexdigest(self) -> str:
        whole = self._hash.copy()
        whole.update(self._tail)
        return whole.hexdigest()


@attrs.define
class Spooled:
    """A run's files checked, chunked and described one at a time, kept in an anonymous temporary file
    (gone when closed, or when the process ends) until the run is recorded: an enqueue of millions of
    files holds one chunk of them."""

    spool: IO[str]
    files: int
    chunks: int
    identity: str
    earlier: str
    folders: list[str]

    def rows(self) -> Iterator[tuple[str, int, int | None, int]]:
        """Each file as the journal records it: ``(resolved path, size, mtime_ns, chunk)``."""
        self.spool.seek(0)
        for line in self.spool:
            path, size, mtime, chunk = json.loads(line)
            yield path, size, mtime, chunk


def spooled(provider: Provider[Any, Any], files: Iterable[Path | LocalFile], inputs: Mapping[str, Any],
            given: Mapping[str, Any], limits: tuple[int, int]) -> Spooled:  # fmt: skip
    """``files`` checked as the provider would (each chunk prepared as it is made), chunked in order into
    at most ``limits`` files and bytes, spooled; their identity under ``inputs`` (and ``given``, how an
    earlier batchkit named the run)."""
    most_files, most_bytes = limits
    spool = tempfile.TemporaryFile("w+", encoding="utf-8")  # noqa: SIM115 (the caller closes it once recorded)
    try:
        identity, earlier = Digest(provider.name, limits, inputs), Digest(provider.name, limits, given)
        folders: set[str] = set()
        part: list[LocalFile] = []
        size = chunk = count = 0
        for item in files:
            f = check_file(item)
            if f.size > most_bytes:
                raise InputError(f"{f.path}: {f.size} bytes, more than one batch may hold ({most_bytes})")
            if chain_runs.full(len(part), size, f.size, most_files, most_bytes):
                provider.prepare(Submission(files=part, **inputs))
                part, size, chunk = [], 0, chunk + 1
            part.append(f)
            size += f.size
            real = str(f.path.resolve())  # once a file: it is slow
            identity.add(real, f.size)
            earlier.add(real, f.size)
            folders.add(os.path.dirname(real))
            spool.write(json.dumps([real, f.size, os.stat(real).st_mtime_ns, chunk]) + "\n")
            count += 1
        if not part:
            raise InputError("no files given")
        provider.prepare(Submission(files=part, **inputs))
        return Spooled(spool, count, chunk + 1, identity.hexdigest(), earlier.hexdigest(), fewest(folders))
    except BaseException:
        spool.close()
        raise


def canonical(inputs: Mapping[str, Any]) -> dict[str, Any]:
    """``inputs`` without the settings given as None (the same submission, however it was asked for)."""
    return {key: value for key, value in inputs.items() if value is not None}


def portable(inputs: Mapping[str, Any]) -> dict[str, Any]:
    """``inputs`` as JSON a worker elsewhere turns back into the same submission (typed options become
    the mapping they were built from)."""
    found = dict(inputs)
    options = found.get("options")
    if options is not None and not isinstance(options, Mapping):
        if not attrs.has(type(options)):
            raise InputError(f"options must be the provider's options or a mapping, not {type(options).__name__}")
        found["options"] = attrs.asdict(options, filter=lambda _, value: value is not NOT_GIVEN)
    try:
        return dict(json.loads(json.dumps(found)))
    except (TypeError, ValueError) as exc:
        raise InputError(
            f"options must be plain values (text, numbers, lists, mappings) to be journaled: {exc}"
        ) from None


def checked_key(key: Any) -> str | None:
    """A run key as given: None, or text of 1 to 512 printable characters."""
    if key is not None and not (isinstance(key, str) and 0 < len(key) <= 512 and key.isprintable()):
        raise InputError(f"run_key must be 1 to 512 printable characters, got {key!r:.80}")
    return key


def chained(identity: str, chain: Mapping[str, Any]) -> str:
    """The identity of a submission as a part of provider chain ``chain``."""
    return hashlib.sha256(f"{identity}\0chain\0{json.dumps(chain, sort_keys=True)}".encode()).hexdigest()


def record(ops: Sends, journal: Journal, files: Iterable[Path | LocalFile], inputs: Mapping[str, Any],
           chunk: int | None, key: str | None = None,
           chain: Mapping[str, Any] | None = None) -> Operation[str]:  # fmt: skip
    """Check every chunk as the provider would, then record the run (or find it recorded, or, with ``key``,
    the run the key names); its id. ``files`` are read one at a time (:func:`spooled`), except a chain's
    and a synchronous provider's. ``chain``: the provider chain the run is the first part of (its spec,
    :mod:`batchkit._orchestration.chain_runs`), which is part of the run's identity.

    The run's identity is one canonical spec, however the call was made: a setting given as None is
    not given (the CLI's ``callback_url=None, options=None`` is Python's ``{}``)."""
    key = checked_key(key)
    given, inputs = inputs, canonical(inputs)
    provider = ops.provider
    max_files, max_bytes = provider.chunk_limits(inputs.get("options"))
    if chunk is not None:
        if isinstance(chunk, bool) or not isinstance(chunk, int) or not 1 <= chunk <= max_files:
            raise InputError(f"chunk must be 1 to {max_files} files for {provider.name}, got {chunk!r}")
        max_files = chunk
    if chain is not None:
        chain = {**chain, "options": {name: portable({"options": value})["options"]
                                      for name, value in chain.get("options", {}).items()}}  # fmt: skip
        answering = [p for p in chain["providers"] if issubclass(get_provider(p), SynchronousProvider)]
        if chain.get("mode") != "ensemble" and answering:
            raise InputError(f"{answering[0]} answers in its reply: it can be in an enqueued ensemble, not in an"
                             " enqueued fallback chain (submit that chain, or submit_many it)")  # fmt: skip
    if isinstance(provider, SynchronousProvider):  # one chunk a request
        local: list[LocalFile] = yield Blocking(lambda: check_files(list(files)))
        whole = yield Blocking(lambda: provider.prepare(Submission(files=local, **inputs)))
        planned = provider.requests(whole)
        if chain is not None:
            planned = attrs.evolve(planned, identity=chained(planned.identity, chain))
        found: str = yield Blocking(lambda: synchronous.record(journal, provider.name, planned, portable(inputs),
                                                               int(ops.clock.time() * 1000), key, chain))  # fmt: skip
        return found
    limits = (max_files, max_bytes)
    nonced = dict(inputs)
    if inputs.get("callback_url"):  # so that a receiver knows the callbacks of this run (batchkit callbacks)
        nonced["callback_url"] = with_nonce(str(inputs["callback_url"]))
    spec: dict[str, Any] = {"inputs": portable(nonced), "limits": list(limits)}
    if chain is None:
        kept = yield Blocking(lambda: spooled(provider, files, inputs, given, limits))
        try:
            written: str = yield Blocking(lambda: _written(ops, journal, kept, spec, key))
        finally:
            kept.spool.close()
        return written
    # a chain's: a file the provider refuses is a chunk alone, handed on by the worker that fails it
    chained_files: list[LocalFile] = yield Blocking(lambda: check_files(list(files)))
    sizes = [(str(f.path), f.size) for f in chained_files]
    options = inputs.get("options")
    layout = yield Blocking(lambda: chain_runs.planned(provider, options, sizes, max_files, max_bytes))
    resolved: list[str] = yield Blocking(lambda: [str(f.path.resolve()) for f in chained_files])
    identity = chained(fingerprint(provider.name, chained_files, limits, inputs, resolved), chain)
    spec["chain"] = chain

    def write() -> str:  # the parts hold the files in the order given
        entries = [(path, f.size, os.stat(path).st_mtime_ns) for path, f in zip(resolved, chained_files, strict=True)]
        return journal.record_run(provider.name, identity, spec, entries, layout, int(ops.clock.time() * 1000), key)

    run: str = yield Blocking(write)
    return run


def _written(ops: Sends, journal: Journal, kept: Spooled, spec: Mapping[str, Any], key: str | None) -> str:
    """The run of ``kept``'s files, recorded (or found: under an earlier batchkit's id where it has one)."""
    identity = kept.identity
    if key is None and kept.earlier != identity and journal.recorded(run_id_for(kept.earlier)):
        identity = kept.earlier
    return journal.record_files(ops.provider.name, identity, spec, kept.rows(), kept.files, kept.chunks,
                                kept.folders, int(ops.clock.time() * 1000), key)  # fmt: skip


def submit_many(ops: Sends, journal: Journal, files: Sequence[LocalFile], inputs: Mapping[str, Any], chunk: int | None,
                resend: bool, wait: bool, settle: float, lease: Lease, key: str | None = None,
                ) -> Operation[JobGroup]:  # fmt: skip
    """Record the run, then send every chunk not yet sent in this process (``wait``: and follow the
    jobs and collect their results into the journal); chunks whose earlier send was interrupted are
    looked for through the provider, and reported when they cannot be found."""
    run = yield from record(ops, journal, files, inputs, chunk, key)
    yield Blocking(lambda: journal.retry_failed(run))
    scope = Scope(ops.provider.name, run, poll=wait, patient=False)
    worker = Worker(ops, journal, scope, strict=True, resend=resend, settle=settle, lease=lease)
    try:
        yield from worker.run()
    except GeneratorExit:  # interrupted (Ctrl-C, a cancelled task): the journal knows where it stopped
        log.warning("submit_many interrupted; call it again with the same files and journal=%s to resume",
                    journal.where)  # fmt: skip
        raise
    chunks = yield Blocking(lambda: journal.chunks(run))
    provider = ops.provider
    jobs: tuple[BatchJob, ...]
    if isinstance(provider, SynchronousProvider):  # its run is its one job, as submit's is
        jobs = (synchronous.job_of(provider, (yield Blocking(lambda: journal.run(run))), chunks),)
    else:  # a job just created is queued as far as anyone knows until it is polled
        jobs = tuple(BatchJob(provider.name, c.job_id, JobStatus(c.job_status or "queued"), "", children=c.children)
                     for c in chunks if c.job_id)  # fmt: skip
    group = JobGroup(ops.provider.name, journal.where, tuple(chunks), jobs, run)
    if group.ambiguous:
        indexes = [c.index for c in group.ambiguous]
        reason = f"chunks {indexes} were interrupted while sending; resend_ambiguous=True sends them again"
        reasons = "; ".join(f"chunk {c.index}: {c.error}" for c in group.ambiguous if c.error)
        raise AmbiguousSubmissionError(ops.provider.name, f"{reason} ({reasons})" if reasons else reason,
                                       group=group, advice=ops.provider.ambiguity_advice)  # fmt: skip
    return group
