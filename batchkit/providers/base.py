"""The provider contract: everything batchkit knows of one provider, in one package.

A provider is a subclass of :class:`Provider` in its own package (``batchkit/providers/<name>/``
for the built-ins; any installed package for third parties, declared in the ``batchkit.providers``
entry-point group). Through this class alone a provider gets ``submit``, ``wait``, ``results``,
``submit_many``, ``webhooks.parse``, the command line, the demo and the emulator.

Operations (``create``, ``get``, ``list``, ``results``, ``artifacts``, ``find_submission``) are
**pure**: generators that yield :class:`~batchkit._kernel.steps.Call` s (built with
:meth:`Provider.request`) and receive the successful ``httpx.Response``; a failed request arrives
as its typed error, raised at the ``yield``. Sending, retries, timeouts and concurrency belong to
the client. Disk work inside an operation is yielded as a
:class:`~batchkit._kernel.steps.Blocking` step. :meth:`Provider.prepare` is plain code the client
runs as a blocking step.
"""

from __future__ import annotations

import abc
import builtins
import json
import os
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, ClassVar

import attrs
import httpx

from batchkit._kernel.download import AtomicFile
from batchkit._kernel.inputs import LocalFile, Paths, as_path_list, check_files, md5_of
from batchkit._kernel.options import coerce_options
from batchkit._kernel.steps import Blocking, Call, Operation, Parallel, Upload
from batchkit._kernel.wire import read_json, read_list, structure
from batchkit.errors import AmbiguousSubmissionError, ResponseFormatError, UnsupportedError
from batchkit.models import BatchJob, Callback, FileResult, JobStatus

Row = dict[str, Any]
"""One tidy row: the common columns (``source, status, error, kind, name, score, begin, end``) first."""

COMMON_COLUMNS = ("source", "status", "error", "kind", "name", "score", "begin", "end")


@attrs.frozen
class Submission:
    """The arguments of ``Client.submit``, as given (``files`` may also be checked :class:`LocalFile` s)."""

    files: Paths | Sequence[LocalFile] | None = None
    urls: Sequence[str] | None = None
    text: Sequence[str] | str | None = None
    zip: str | os.PathLike[str] | None = None
    callback_url: str | None = None
    options: Any = None


@attrs.frozen
class Sample:
    """What ``batchkit demo`` submits to a provider: local files and the other ``submit`` arguments."""

    files: Sequence[Path]
    inputs: Mapping[str, Any] = attrs.field(factory=dict)


def common_row(result: FileResult[Any], **columns: Any) -> Row:
    """A row with the common columns of ``result`` first, then ``columns`` (absent ones are None)."""
    row: Row = {"source": result.source, "status": result.status.name, "error": result.error}
    for name in COMMON_COLUMNS[3:]:
        row[name] = columns.pop(name, None)
    row.update(columns)
    return row


class Provider(abc.ABC):
    """One provider's adapter. Subclass it, set the class attributes, implement the abstract methods.

    Class attributes: ``name`` (lower case, how users choose it), ``default_base_url``, ``key_env``
    (the environment variable holding the key) and ``emulator`` (``"module:Class"`` of its emulator
    fake, a :class:`batchkit.emulator.Fake`; None if it has none).
    """

    name: ClassVar[str]
    default_base_url: ClassVar[str]
    key_env: ClassVar[str]
    emulator: ClassVar[str | None] = None
    ambiguity_advice: ClassVar[str] = "check the provider's jobs before retrying"
    """How a user finds out whether a create that may have landed did (ends an AmbiguousSubmissionError)."""
    error_replies_are_final: ClassVar[bool] = False
    """An error status in reply to a create means nothing was made (nor billed), so a 429 or 5xx is
    retried like any request; otherwise a 5xx to a create is ambiguous and a 429 is raised."""

    def __init__(self, base_url: str, journal: str | os.PathLike[str] | None = None) -> None:
        self.base_url = base_url.rstrip("/")
        self.journal = journal
        """Where a provider that keeps its own jobs records them (the client's ``journal`` setting)."""

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.base_url}>"

    # -- the wire -------------------------------------------------------------------------------

    @staticmethod
    @abc.abstractmethod
    def auth_headers(api_key: str) -> dict[str, str]:
        """The headers that carry ``api_key``."""

    @abc.abstractmethod
    def prepare(self, submission: Submission) -> Any:
        """Check ``submission`` completely (files, limits, options), raising :class:`InputError`;
        return what :meth:`create` sends. Runs before any byte is sent."""

    @abc.abstractmethod
    def create(self, prepared: Any) -> Operation[BatchJob]:
        """Create a job from what :meth:`prepare` returned (the request is marked ``creates=True``)."""

    @abc.abstractmethod
    def get(self, job_id: str) -> Operation[BatchJob]:
        """The job now."""

    def follow(self, job: BatchJob) -> Operation[BatchJob]:
        """The job now, knowing what is known of it (a job adopted by :meth:`find_submission` may have
        no id the provider can look up); by default :meth:`get` of its id."""
        return self.get(job.id)

    def list(self, limit: int, statuses: frozenset[JobStatus], filters: Mapping[str, Any]) -> Operation[list[BatchJob]]:
        """Recent jobs, newest first, of the given statuses (all when empty)."""
        raise UnsupportedError(f"{self.name} has no list of jobs; keep the ids submit() returns")
        yield  # pragma: no cover

    @abc.abstractmethod
    def results(self, job: BatchJob) -> Operation[builtins.list[FileResult[Any]]]:
        """One :class:`FileResult` per input of a finished ``job``."""

    def stream_results(self, job: BatchJob) -> tuple[Call, Callable[[Any], FileResult[Any]]] | None:
        """A request whose reply is a JSON list with one item per input, and how an item becomes a
        result (what ``iter_results`` parses incrementally); None where results come otherwise."""
        return None

    def artifacts(self, job_id: str, sink: AtomicFile) -> Operation[None]:
        """Stream the job's artifacts archive into ``sink``."""
        raise UnsupportedError(f"{self.name} has no artifacts")
        yield  # pragma: no cover

    def error_body(self, response: httpx.Response) -> tuple[str, Mapping[str, Any]]:
        """(message, details) from an error reply; any body, JSON or not, is accepted."""
        try:
            body = json.loads(response.content)
        except (ValueError, RecursionError):
            return response.text.strip()[:300], {}
        if not isinstance(body, dict):
            return str(body)[:300], {}
        fault = body.get("fault")
        candidates = [body.get("message"), body.get("error"), body.get("errors"), body.get("detail")]
        if isinstance(fault, dict):
            candidates.insert(0, fault.get("faultstring"))
        message = next((c for c in candidates if c), "")
        details = body.get("details")
        return str(message)[:500], details if isinstance(details, dict) else body

    # -- large submissions ----------------------------------------------------------------------

    @abc.abstractmethod
    def chunk_limits(self, options: Any) -> tuple[int, int]:
        """The most files and bytes one job may take (how ``submit_many`` splits)."""

    def find_submission(self, files: Sequence[LocalFile], since_ms: int, options: Any,
                        held: frozenset[str] = frozenset()) -> Operation[BatchJob | None]:  # fmt: skip
        """The job created from exactly ``files`` with ``options`` since ``since_ms``, where the provider can
        tell (its ``children`` are kept in the journal), and never one whose id or children are ``held``
        (other chunks' jobs); None when it cannot, and :class:`UnsupportedError` saying why when it never
        can (the chunk then stays ambiguous)."""
        return None
        yield  # pragma: no cover

    # -- callbacks, people and the demo -------------------------------------------------------------

    @classmethod
    def parse_callback(cls, body: Mapping[str, Any]) -> Callback:
        """A callback POST's JSON body as a :class:`Callback` (typed errors for what cannot be read)."""
        raise UnsupportedError(f"{cls.name} sends no callbacks batchkit can read")

    @classmethod
    def result_from(cls, raw: Any) -> FileResult[Any]:
        """A result again from the raw item a journal kept (``FileResult.raw``); by default one with
        that raw item and no typed prediction."""
        return FileResult("", JobStatus.UNKNOWN, raw=raw if isinstance(raw, Mapping) else {}, provider=cls.name)

    @classmethod
    def summary(cls, result: FileResult[Any]) -> str:
        """A short human reading of one result (the CLI's ``summary`` column)."""
        return ""

    @classmethod
    def rows(cls, result: FileResult[Any]) -> Iterator[Row]:
        """Tidy rows of one result: :data:`COMMON_COLUMNS` first, then the provider's own columns."""
        yield common_row(result)

    @classmethod
    def sample(cls, folder: Path) -> Sample:
        """Real, tiny inputs for ``batchkit demo``, written into ``folder``."""
        from batchkit.samples import write_samples

        return Sample(write_samples(folder))

    # -- helpers for subclasses -------------------------------------------------------------------

    def request(self, method: str, path: str, **kwargs: Any) -> Call:
        """A :class:`Call` to ``path`` on this provider's base URL."""
        return Call(method, self.base_url, path, **kwargs)

    def created(self, response: httpx.Response, parse: Callable[[Any], BatchJob]) -> BatchJob:
        """The job a create reply describes; an unreadable success means a job exists whose id is lost."""
        try:
            return parse(read_json(response, f"{self.name} job creation reply"))
        except ResponseFormatError as exc:
            reason = f"HTTP {response.status_code} with an unreadable reply: {exc}"
            raise AmbiguousSubmissionError(
                self.name, reason, status_code=response.status_code, advice=self.ambiguity_advice
            ) from exc


__all__ = [  # what a provider is written with
    "COMMON_COLUMNS",
    "AtomicFile",
    "Blocking",
    "Call",
    "LocalFile",
    "Operation",
    "Parallel",
    "Provider",
    "Row",
    "Sample",
    "Submission",
    "Upload",
    "as_path_list",
    "check_files",
    "coerce_options",
    "common_row",
    "md5_of",
    "read_json",
    "read_list",
    "structure",
]
