"""Hive's V2 task API (``https://api.thehive.ai``) for its AI-generated and deepfake detection models:
a provider of the synchronous shape. The model is the key's: a key belongs to a project, and a
project serves one model.

Each input is one task: a local file streamed as the multipart ``media`` part, a ``url`` Hive
downloads, or ``text_data``. ``POST /api/v2/task/sync`` answers with the finished task. Given a
``callback_url``, each task goes to ``POST /api/v2/task/async`` instead: the reply is an
acknowledgement (its id is kept), and the result arrives in the body Hive POSTs to the callback URL,
which batchkit gives a nonce of its own (``batchkit_nonce``) so a receiver can tell a real callback
(:func:`batchkit.webhooks.parse` reads one).

A 429 ("Project has been rate limited") made no task and is honoured (every worker pauses); a task
that failed to download (2xxx) is sent again, twice at most; a classifier error (3xxx) is final.
A 5xx or a lost reply may have been billed, and is never re-sent by itself.
"""

from __future__ import annotations

import builtins
import hashlib
import json
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from batchkit._kernel.inputs import LocalFile, as_path_list, callback_url, check_files
from batchkit._kernel.journal import ChunkState
from batchkit._kernel.nonces import with_nonce
from batchkit._kernel.steps import Operation, Sleep, Upload
from batchkit.errors import InputError, ResponseFormatError
from batchkit.models import BatchJob, Callback, FileResult, JobStatus
from batchkit.providers.base import Answer, Request, Requests, Submission, SynchronousProvider

from .models import ClassScore, Frame, Task
from .rows import tidy_rows, verdict_of
from .wire import TaskError, failure, is_ack, task_id, to_task, without_queries

SYNC = "/api/v2/task/sync"
ASYNC = "/api/v2/task/async"
TASK_TRIES = 3
"""Sends of a task whose download failed (2xxx): the first, then two more."""
RETRY_SECONDS = 1.0
"""The pause before the first resend of a failed download, doubled after each."""
EXTENSIONS = frozenset({".jpg", ".jpeg", ".png", ".gif", ".webp", ".mp4", ".webm", ".avi", ".mkv", ".wmv", ".mov",
                        ".wav", ".mp3", ".m4a", ".flac", ".ogg", ".aac"})  # fmt: skip
"""Images and videos of the docs' list, and audio for the audio model (the full lists are not published)."""
MAX_TEXT = 32_768
"""The longest ``text_data`` batchkit sends (Hive documents no limit; our choice)."""


def _task_object(body: Any) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise ResponseFormatError("a Hive reply is not a JSON object", snippet=str(body)[:200])
    return body


def to_result(source: str, reply: Any) -> FileResult[Task]:
    """One task's reply as its input's result: running while only acknowledged, failed with its code."""
    if not isinstance(reply, dict):
        return FileResult(source, JobStatus.UNKNOWN, error="no reply was kept", provider=HiveProvider.name)
    if is_ack(reply):
        return FileResult(source, JobStatus.RUNNING, raw=reply, provider=HiveProvider.name)
    error = failure(reply)
    if error is not None:
        return FileResult(source, JobStatus.FAILED, error=str(error), raw=reply, provider=HiveProvider.name)
    return FileResult(source, JobStatus.SUCCEEDED, prediction=to_task(reply), raw=reply, provider=HiveProvider.name)


class HiveProvider(SynchronousProvider[Requests, Task]):
    """Hive tasks: a file, a URL or a text each, answered at once (or by callback)."""

    name = "hive"
    default_base_url = "https://api.thehive.ai"
    key_env = "HIVE_API_KEY"
    ambiguity_advice = "Hive has no task list: the task may have run (and been billed); send it again knowingly"

    @staticmethod
    def auth_headers(api_key: str) -> dict[str, str]:
        return {"Authorization": f"token {api_key}"}

    def prepare(self, submission: Submission) -> Requests:
        if submission.zip or submission.options:
            raise InputError("hive takes files, urls or text, and no zip or options")
        files = check_files(as_path_list(submission.files, "files"))
        for f in files:
            if f.suffix not in EXTENSIONS:
                raise InputError(f"hive: {f.path}: extension {f.suffix!r} is not accepted; allowed:"
                                 f" {' '.join(sorted(EXTENSIONS))}")  # fmt: skip
            if f.size == 0:
                raise InputError(f"hive: {f.path}: the file is empty")
        urls = list(submission.urls or ())
        if any(not isinstance(u, str) or not u.startswith(("http://", "https://")) for u in urls):
            raise InputError("hive: each url must be an http(s) URL")
        texts = [submission.text] if isinstance(submission.text, str) else list(submission.text or ())
        if any(not isinstance(t, str) or not t.strip() or len(t) > MAX_TEXT for t in texts):
            raise InputError(f"hive: each text must be 1 to {MAX_TEXT} characters")
        if not files and not urls and not texts:
            raise InputError("hive: nothing to submit; give files, urls or text")
        hook = callback_url(submission.callback_url)
        inputs: list[tuple[str, str, int, str, tuple[int, ...]]] = [
            ("media", str(f.path.resolve()), f.size, f.name, (i,)) for i, f in enumerate(files)]
        inputs += [("url", u, 0, u.split("?", 1)[0], ()) for u in urls]
        inputs += [("text_data", t, 0, f"text[{i}]", ()) for i, t in enumerate(texts)]
        described = [[kind, value, size, os.stat(value).st_mtime_ns if kind == "media" else 0]
                     for kind, value, size, _, _ in inputs]  # fmt: skip
        identity = hashlib.sha256(json.dumps([described, hook]).encode()).hexdigest()
        requests = []
        for index, (kind, value, size, source, owned) in enumerate(inputs):
            spec: dict[str, Any] = {"kind": kind, "value": value, "size": size, "source": source,
                                    "metadata": json.dumps({"batchkit": index})}  # fmt: skip
            if hook is not None:
                spec["callback_url"] = with_nonce(hook)
            requests.append(Request(owned, spec))
        return Requests(identity, files, requests)

    def requests(self, prepared: Requests) -> Requests:
        return prepared

    def send(self, request: Request, options: Any) -> Operation[tuple[str, Any]]:
        spec = request.spec
        fields = [("metadata", str(spec["metadata"]), "text/plain")]
        if spec.get("callback_url"):
            fields.append(("callback_url", str(spec["callback_url"]), "text/plain"))
        uploads: list[Upload] = []
        if spec["kind"] == "media":
            local = LocalFile(Path(spec["value"]), int(spec["size"]))
            uploads.append(Upload("media", local, local.content_type))
        else:
            fields.insert(0, (str(spec["kind"]), str(spec["value"]), "text/plain"))
        path = ASYNC if spec.get("callback_url") else SYNC
        for attempt in range(TASK_TRIES):
            response = yield self.request("POST", path, uploads=uploads, parts=fields, creates=True)
            task = self.created(response, _task_object)
            ident, error = task_id(task), None if path == ASYNC else failure(task)
            if error is None or not error.retryable or attempt == TASK_TRIES - 1:
                if error is not None:
                    raise error
                return ident, without_queries(task)
            yield Sleep(RETRY_SECONDS * 2**attempt)
        raise AssertionError("unreachable")  # pragma: no cover

    @classmethod
    def assemble(cls, names: Sequence[str], requests: Sequence[Request],
                 answers: Sequence[Answer]) -> builtins.list[FileResult[Task]]:  # fmt: skip
        found = []
        for request, answer in zip(requests, answers, strict=True):
            source = str(request.spec.get("source", ""))
            if answer.state == ChunkState.DONE:
                found.append(to_result(source, answer.reply))
            elif answer.state in (ChunkState.FAILED, ChunkState.AMBIGUOUS):
                found.append(FileResult(source, JobStatus.FAILED, error=answer.error or answer.state,
                                        provider=cls.name))  # fmt: skip
            else:
                found.append(FileResult(source, JobStatus.QUEUED, provider=cls.name))
        return found

    def chunk_limits(self, options: Any) -> tuple[int, int]:
        return 100_000, 10**13

    @classmethod
    def parse_callback(cls, body: Mapping[str, Any]) -> Callback:
        """The task object Hive POSTs to a ``callback_url``: the task as a job, and its one result."""
        task = without_queries(dict(body))
        result = to_result(task_id(task), task)
        job = BatchJob(cls.name, task_id(task), result.status, result.status.value, total_count=1, raw=task)
        return Callback(job, (result,))

    @classmethod
    def result_from(cls, raw: Any) -> FileResult[Any]:
        return to_result(str(raw.get("id", "")) if isinstance(raw, dict) else "", raw)

    rows = staticmethod(tidy_rows)
    verdict = staticmethod(verdict_of)


__all__ = ["ClassScore", "Frame", "HiveProvider", "Task", "TaskError"]
