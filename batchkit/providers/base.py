"""What a provider adapter is: sans-I/O operations over one provider's wire contract."""

from __future__ import annotations

import abc
import builtins
import json
import os
from collections.abc import Callable, Mapping, Sequence
from typing import Any, ClassVar

import attrs
import httpx

from batchkit._core.download import AtomicFile
from batchkit._core.inputs import LocalFile, Paths, Progress
from batchkit._core.retry import RetryPolicy, send
from batchkit._core.steps import Call, Operation
from batchkit._core.wire import read_json
from batchkit.errors import AmbiguousSubmissionError, ResponseFormatError, UnsupportedError
from batchkit.models import BatchJob, FileResult, JobRef, JobStatus

UPLOAD_READ_SECONDS = 300.0


@attrs.frozen
class Submission:
    """The arguments of ``Client.submit``, as given."""

    files: Paths | None = None
    urls: Sequence[str] | None = None
    text: Sequence[str] | str | None = None
    zip: str | os.PathLike[str] | None = None
    callback_url: str | None = None
    options: Any = None


class Provider(abc.ABC):
    """One provider's adapter: builds requests, parses replies, maps statuses and errors.

    Operations are generators of :mod:`batchkit._core.steps`; they never perform I/O themselves
    beyond opening local files to stream.
    """

    name: ClassVar[str]
    default_base_url: ClassVar[str]
    key_env: ClassVar[str]

    def __init__(self, base_url: str, *, retry: RetryPolicy, timeout: httpx.Timeout) -> None:
        self.base_url = base_url.rstrip("/")
        self.upload_progress: Progress | None = None
        self.retry = retry
        self.timeout = timeout
        self.upload_timeout = httpx.Timeout(
            timeout.connect,
            read=max(timeout.read or 0, UPLOAD_READ_SECONDS),
            write=max(timeout.write or 0, UPLOAD_READ_SECONDS),
            pool=timeout.pool,
        )

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.base_url}>"

    @staticmethod
    @abc.abstractmethod
    def auth_headers(api_key: str) -> dict[str, str]:
        """The headers that carry ``api_key``."""

    @abc.abstractmethod
    def prepare(self, submission: Submission) -> Any:
        """Check ``submission`` completely, raising :class:`InputError`; return what ``submit`` sends."""

    @abc.abstractmethod
    def chunk_limits(self, options: Any) -> tuple[int, int]:
        """The most files and bytes one job may take (how ``submit_many`` splits)."""

    def find_submission(self, files: Sequence[LocalFile], since_ms: int) -> Operation[str | None]:
        """The id of a job created from exactly ``files`` since ``since_ms``, where the provider can tell."""
        return None
        yield  # pragma: no cover

    @abc.abstractmethod
    def submit(self, submission: Submission) -> Operation[BatchJob]: ...

    @abc.abstractmethod
    def get(self, job_id: str) -> Operation[BatchJob]: ...

    @abc.abstractmethod
    def list(
        self, limit: int, statuses: frozenset[JobStatus], filters: Mapping[str, Any]
    ) -> Operation[list[BatchJob]]: ...

    @abc.abstractmethod
    def results(self, job: JobRef) -> Operation[builtins.list[FileResult]]: ...

    def artifacts(self, job_id: str, sink: AtomicFile) -> Operation[None]:
        raise UnsupportedError(f"{self.name} has no artifacts")
        yield  # pragma: no cover

    def error_body(self, response: httpx.Response) -> tuple[str, Mapping[str, Any]]:
        """(message, details) from an error reply; any body, JSON or not, is accepted."""
        try:
            body = json.loads(response.content)
        except ValueError:
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

    def created(self, response: httpx.Response, parse: Callable[[Any], BatchJob]) -> BatchJob:
        """The job a create reply describes; an unreadable success means a job exists whose id is lost."""
        try:
            return parse(read_json(response, f"{self.name} job creation reply"))
        except ResponseFormatError as exc:
            reason = f"HTTP {response.status_code} with an unreadable reply: {exc}"
            raise AmbiguousSubmissionError(self.name, reason, status_code=response.status_code) from exc

    def call(self, method: str, path: str, **kwargs: Any) -> Call:
        """A request to ``path``, with the upload timeout when it carries files."""
        timeout = self.upload_timeout if kwargs.get("files") else self.timeout
        return Call(method, self.base_url, path, timeout, **kwargs)

    def send(self, call: Call) -> Operation[httpx.Response]:
        return send(call, self.retry, self.name, self.error_body)
