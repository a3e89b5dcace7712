"""The provider contract: the wire, which every provider has, in one package.

A provider is a subclass of :class:`Provider` (or :class:`SynchronousProvider`) in its own package
(``batchkit/providers/<name>/`` for the built-ins; any installed package for third parties, declared
in the ``batchkit.providers`` entry-point group). Required is the wire: its ``shape``, key headers,
``prepare`` (every check before any byte), ``create``, ``get``, ``results``, its chunk limits; error
bodies and the status map have defaults. It is generic over what it prepares and what it predicts
(``Provider[Prepared, Prediction]``), so results are typed. What a provider may also do is a small
protocol of :mod:`batchkit.providers.capabilities` (reconciliation, presentation, callbacks, a job
list, artifacts, streamed results) that the registry discovers; its emulator fake is registered
beside it (:func:`batchkit.providers.register`, or the ``batchkit.emulators`` entry-point group).

Operations are **pure**: generators that yield :class:`~batchkit._kernel.steps.Call` s (built with
:meth:`Provider.request`) and receive the successful ``httpx.Response``; a failed request arrives
as its typed error, raised at the ``yield``. Sending, retries, timeouts and concurrency belong to
the client. Disk work inside an operation is yielded as a
:class:`~batchkit._kernel.steps.Blocking` step; an id known before the bytes go (a presign step) as
:class:`~batchkit._kernel.steps.Identified`. :meth:`Provider.prepare` is plain code the client
runs as a blocking step.
"""

from __future__ import annotations

import abc
import builtins
import enum
import json
import os
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Generic, TypeVar

import attrs

from batchkit._kernel.download import AtomicFile
from batchkit._kernel.inputs import LocalFile, Paths, as_path_list, check_files, md5_of
from batchkit._kernel.options import coerce_options
from batchkit._kernel.steps import Blocking, Call, Identified, Operation, Parallel, Upload
from batchkit._kernel.wire import read_json, read_list, structure
from batchkit.errors import AmbiguousSubmissionError, ResponseFormatError, UnsupportedError
from batchkit.models import BatchJob, FileResult, JobStatus

if TYPE_CHECKING:
    import httpx

T = TypeVar("T")

Row = dict[str, Any]
"""One tidy row: every one of :data:`COLUMNS`, in that order (None where a column does not apply)."""

COLUMNS = (
    "source", "provider", "status", "error", "model", "kind", "name", "score", "begin", "end", "label", "group",
    "frame", "file", "text", "position_begin", "position_end", "confidence", "aggregated_score", "consistency",
    "chunk", "intelligence", "audio_source_tracing",
)  # fmt: skip
"""The tidy columns of every provider (the README's table says what each holds for each)."""


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
    """A row of ``result`` with every one of :data:`COLUMNS` (those not given are None), then any
    other ``columns`` (a third-party provider's own)."""
    given = {"source": result.source, "provider": result.provider or None, "status": result.status.name,
             "error": result.error, **columns}  # fmt: skip
    row: Row = {name: given.pop(name, None) for name in COLUMNS}
    if isinstance(row["name"], str):
        row["name"] = row["name"].lower()  # one convention for every provider: Hume v0's "Joy" is "joy"
    row.update(given)
    return row


class Shape(enum.Enum):
    """What one submission is to a provider (see DESIGN.md, "Three submission shapes")."""

    SERVER_BATCH = "server batch"
    """One create for many files, then poll and collect (Hume v0, Resemble)."""
    PER_ITEM = "per-item job"
    """One create per file, whose id may be known before the bytes go (a presign step), then poll each."""
    SYNCHRONOUS = "synchronous"
    """One request whose reply is the result (hume-expression)."""


@attrs.frozen
class Request:
    """One request of a synchronous provider's submission: the input files it answers for (their
    indexes), what the provider needs to send it (plain JSON), and files made for it (removed once its
    reply is kept)."""

    files: tuple[int, ...]
    spec: Mapping[str, Any]
    made: tuple[str, ...] = ()


@attrs.frozen
class Requests:
    """A synchronous provider's submission as the requests it takes, and its identity (the same
    submission gets the same run); ``resend``: requests whose reply was lost are sent again."""

    identity: str
    files: Sequence[LocalFile]
    requests: Sequence[Request]
    resend: bool = False


PreparedT = TypeVar("PreparedT")
PredictionT = TypeVar("PredictionT")


class Provider(abc.ABC, Generic[PreparedT, PredictionT]):
    """One provider's wire. Subclass it, set the class attributes, implement the abstract methods.

    Class attributes: ``name`` (lower case, how users choose it), ``default_base_url``, ``key_env``
    (the environment variable holding the key) and ``shape`` (a server batch by default; a
    :attr:`Shape.PER_ITEM` provider takes one file a chunk and may say its id before the bytes go).
    """

    name: ClassVar[str]
    default_base_url: ClassVar[str]
    key_env: ClassVar[str]
    shape: ClassVar[Shape] = Shape.SERVER_BATCH
    ambiguity_advice: ClassVar[str] = "check the provider's jobs before retrying"
    """How a user finds out whether a create that may have landed did (ends an AmbiguousSubmissionError)."""
    error_replies_are_final: ClassVar[bool] = False
    """An error status in reply to a create means nothing was made (nor billed), so a 429 or 5xx is
    retried like any request; otherwise a 5xx to a create is ambiguous and a 429 is raised."""

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url.rstrip("/")

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.base_url}>"

    # -- the wire -------------------------------------------------------------------------------

    @staticmethod
    @abc.abstractmethod
    def auth_headers(api_key: str) -> dict[str, str]:
        """The headers that carry ``api_key``."""

    @abc.abstractmethod
    def prepare(self, submission: Submission) -> PreparedT:
        """Check ``submission`` completely (files, limits, options), raising :class:`InputError`;
        return what :meth:`create` sends. Runs before any byte is sent."""

    @abc.abstractmethod
    def create(self, prepared: PreparedT) -> Operation[BatchJob]:
        """Create a job from what :meth:`prepare` returned (the request is marked ``creates=True``)."""

    @abc.abstractmethod
    def get(self, job_id: str) -> Operation[BatchJob]:
        """The job now."""

    def follow(self, job: BatchJob) -> Operation[BatchJob]:
        """The job now, knowing what is known of it (a job adopted by :meth:`find_submission` may have
        no id the provider can look up); by default :meth:`get` of its id."""
        return self.get(job.id)

    @abc.abstractmethod
    def results(self, job: BatchJob) -> Operation[builtins.list[FileResult[PredictionT]]]:
        """One :class:`FileResult` per input of a finished ``job``."""

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

    @classmethod
    def result_from(cls, raw: Any) -> FileResult[Any]:
        """A result again from the raw item a journal kept (``FileResult.raw``); by default one with
        that raw item and no typed prediction."""
        return FileResult("", JobStatus.UNKNOWN, raw=raw if isinstance(raw, Mapping) else {}, provider=cls.name)

    # -- helpers for subclasses -------------------------------------------------------------------

    def request(self, method: str, path: str, **kwargs: Any) -> Call:
        """A :class:`Call` to ``path`` on this provider's base URL."""
        return Call(method, self.base_url, path, **kwargs)

    def created(self, response: httpx.Response, parse: Callable[[Any], T]) -> T:
        """What a create reply describes (a job); an unreadable success means something exists whose id is lost."""
        try:
            return parse(read_json(response, f"{self.name} job creation reply"))
        except ResponseFormatError as exc:
            reason = f"HTTP {response.status_code} with an unreadable reply: {exc}"
            raise AmbiguousSubmissionError(
                self.name, reason, status_code=response.status_code, advice=self.ambiguity_advice
            ) from exc


class SynchronousProvider(Provider[PreparedT, PredictionT]):
    """A provider whose reply is the result (:attr:`Shape.SYNCHRONOUS`). The client records a submission
    as a run in its journal whose chunks are :meth:`requests`; any worker sends them with :meth:`send`,
    each reply is kept with its chunk's end, and ``get``/``results`` are read from the journal through
    :meth:`assemble`. So this provider builds and parses only."""

    shape = Shape.SYNCHRONOUS

    @abc.abstractmethod
    def requests(self, prepared: PreparedT) -> Requests:
        """What :meth:`prepare` returned, as the requests it takes."""

    @abc.abstractmethod
    def send(self, request: Request, options: Any) -> Operation[tuple[str, Any]]:
        """Send one request (``creates=True``); the provider's id of it and its reply (plain JSON)."""

    @classmethod
    @abc.abstractmethod
    def assemble(cls, names: Sequence[str], requests: Sequence[Request],
                 answers: Sequence[Answer]) -> builtins.list[FileResult[PredictionT]]:  # fmt: skip
        """One result per input file (``names``) from each request's answer so far."""

    def lookup(self, request: Request, since_ms: int) -> Operation[str]:
        """What the provider can tell of a request sent at ``since_ms`` whose reply was lost (billed
        or not; it is never adopted: the reply is gone); by default nothing."""
        return "the provider cannot tell whether it arrived"
        yield  # pragma: no cover

    def create(self, prepared: PreparedT) -> Operation[BatchJob]:
        raise UnsupportedError(f"{self.name} answers each request at once; the client journals its requests")
        yield  # pragma: no cover

    def get(self, job_id: str) -> Operation[BatchJob]:
        raise UnsupportedError(f"{self.name} keeps no jobs; the client reads them from its journal")
        yield  # pragma: no cover

    def results(self, job: BatchJob) -> Operation[builtins.list[FileResult[PredictionT]]]:
        raise UnsupportedError(f"{self.name} keeps no results; the client reads them from its journal")
        yield  # pragma: no cover


@attrs.frozen
class Answer:
    """Where one request of a synchronous submission stands: its chunk's state, error and reply."""

    state: str
    error: str | None = None
    reply: Any = None


__all__ = [  # what a provider is written with
    "COLUMNS",
    "Answer",
    "AtomicFile",
    "Blocking",
    "Call",
    "Identified",
    "LocalFile",
    "Operation",
    "Parallel",
    "Provider",
    "Request",
    "Requests",
    "Row",
    "Sample",
    "Shape",
    "Submission",
    "SynchronousProvider",
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
