"""What a provider may do besides its wire: small protocols the registry discovers on a provider
class (a provider has a capability when it defines its methods). Where one is missing, the client
says so (``UnsupportedError``), or, for presentation, uses :class:`Plain`'s member."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import attrs

from batchkit._kernel.download import AtomicFile
from batchkit._kernel.inputs import LocalFile
from batchkit._kernel.steps import Call, Operation
from batchkit.models import BatchJob, Callback, FileResult, JobStatus

from .base import Row, Sample, common_row


@runtime_checkable
class Reconciles(Protocol):
    """Finds the job an interrupted create made."""

    def find_submission(self, files: Sequence[LocalFile], since_ms: int, options: Any,
                        held: frozenset[str] = frozenset()) -> Operation[BatchJob | None]:  # fmt: skip
        """The lookup's three answers: the job created from exactly ``files`` with ``options`` since
        ``since_ms`` (*found*; its ``children`` are kept in the journal; never one whose id or children are
        ``held``, other chunks' jobs); None when the provider's list is authoritative and holds no such job
        (*certainly not there*: after the settle window the chunk is sent again); and
        :class:`UnsupportedError` saying why when it *cannot tell* (the chunk stays ambiguous for a person)."""


@runtime_checkable
class ChecksUploads(Protocol):
    """Tells, by the id it gave before the bytes went (a presign step), whether they arrived."""

    def uploaded(self, job_id: str) -> Operation[BatchJob | None]:
        """The job of ``job_id`` (*found*); None when the provider has nothing of its bytes (*certainly
        not there*: after the settle window the item is sent again, under a new id)."""


@runtime_checkable
class Lists(Protocol):
    """Has a list of recent jobs."""

    def list(self, limit: int, statuses: frozenset[JobStatus], filters: Mapping[str, Any]) -> Operation[None]:
        """Recent jobs, newest first, of the given statuses (all when empty), ``limit`` in all: each is
        emitted (:class:`~batchkit._kernel.steps.Emit`) as its page arrives, the next page asked only when
        the caller wants more."""


@runtime_checkable
class Archives(Protocol):
    """Has an artifacts archive per job."""

    def artifacts(self, job_id: str, sink: AtomicFile) -> Operation[None]:
        """Stream the job's artifacts archive into ``sink``."""


@runtime_checkable
class Streams(Protocol):
    """Its results can be parsed as they arrive (``iter_results``)."""

    def stream_results(self, job: BatchJob) -> tuple[Call, Callable[[Any], FileResult[Any]]] | None:
        """A request whose reply is a JSON list with one item per input, and how an item becomes a
        result; None where this job's results come otherwise."""


@runtime_checkable
class CallsBack(Protocol):
    """Sends callbacks (webhooks) batchkit can read."""

    @classmethod
    def parse_callback(cls, body: Mapping[str, Any]) -> Callback:
        """A callback POST's JSON body as a :class:`Callback` (typed errors for what cannot be read)."""


VERDICTS = ("fake", "real", "uncertain", "not_applicable", "error")
"""What a :class:`Verdict` may say."""


@attrs.frozen
class Verdict:
    """A detector's word on one input: ``verdict`` (one of :data:`VERDICTS`), ``p_fake`` (0-1, where
    it gave a score) and ``reason`` (why, where it said)."""

    verdict: str = attrs.field(validator=attrs.validators.in_(VERDICTS))
    p_fake: float | None = None
    reason: str | None = None


@runtime_checkable
class Judges(Protocol):
    """A detector: each result maps to one :class:`Verdict` (what :func:`batchkit.verdicts` reads)."""

    @classmethod
    def verdict(cls, result: FileResult[Any]) -> Verdict:
        """The verdict of one result (``error`` for a failed input, with its error as the reason)."""


class Presents(Protocol):
    """How people see its results: tidy rows, the demo's samples (a provider may define either;
    :func:`presented` fills in the other from :class:`Plain`)."""

    @classmethod
    def rows(cls, result: FileResult[Any]) -> Iterator[Row]:
        """Tidy rows of one result, one per score (none where it has none: :func:`batchkit.rows` then
        gives the input a row of its own)."""

    @classmethod
    def sample(cls, folder: Path) -> Sample:
        """Real, tiny inputs for ``batchkit demo``, written into ``folder``."""


class Plain:
    """The presentation of a provider that has none of its own: one row of the schema's columns, the
    built-in samples."""

    @classmethod
    def rows(cls, result: FileResult[Any]) -> Iterator[Row]:
        yield common_row(result)

    @classmethod
    def sample(cls, folder: Path) -> Sample:
        from batchkit.samples import write_samples

        return Sample(write_samples(folder))


@attrs.frozen
class Presentation:
    """A provider's presentation as found: its own members, :class:`Plain`'s where it has none."""

    rows: Callable[[FileResult[Any]], Iterator[Row]]
    sample: Callable[[Path], Sample]


def presented(cls: type[Any]) -> Presentation:
    """The presentation provider class ``cls`` defines (member by member), the rest plain."""
    return Presentation(*(getattr(cls, name, getattr(Plain, name)) for name in ("rows", "sample")))


__all__ = ["VERDICTS", "Archives", "CallsBack", "ChecksUploads", "Judges", "Lists", "Plain", "Presentation",
           "Presents", "Reconciles", "Streams", "Verdict", "presented"]
