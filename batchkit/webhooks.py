"""Parsing the POST a provider sends to your ``callback_url`` when a job ends.

Callbacks are unsigned by both providers: treat one as a hint and re-fetch the job
(``client.get(callback.job.id)``) before acting on it.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import attrs

from batchkit.errors import InputError, ResponseFormatError
from batchkit.models import BatchJob, FileResult, JobStatus


@attrs.frozen
class Callback:
    """A parsed callback: the job, and its results when the payload carries them (Hume)."""

    job: BatchJob
    results: tuple[FileResult, ...] | None = None


def _hume(body: Mapping[str, Any]) -> Callback:
    from batchkit.providers.hume import to_batch_job, to_file_result

    job_id, status = body.get("job_id"), body.get("status")
    if not isinstance(job_id, str) or not isinstance(status, str):
        raise ResponseFormatError("Hume callback needs job_id and status", snippet=json.dumps(body)[:200])
    predictions = body.get("predictions")
    results = tuple(to_file_result(p) for p in predictions) if isinstance(predictions, list) else None
    state: dict[str, Any] = {"status": status, "message": body.get("message")}
    if results is not None:
        state["num_errors"] = sum(r.status is not JobStatus.SUCCEEDED for r in results)
        state["num_predictions"] = sum(r.status is not JobStatus.FAILED for r in results)
    job = to_batch_job({"job_id": job_id, "state": state})
    return Callback(attrs.evolve(job, raw=body), results)


def _resemble(body: Mapping[str, Any]) -> Callback:
    from batchkit.providers.resemble import to_batch_job

    return Callback(to_batch_job(body))


_PARSERS = {"hume": _hume, "resemble": _resemble}


def parse(provider: str, body: bytes | str | Mapping[str, Any], headers: Mapping[str, str] | None = None) -> Callback:
    """Turn a callback body into a :class:`Callback`; a body that cannot be read is a typed error."""
    parser = _PARSERS.get(provider.lower())
    if parser is None:
        raise InputError(f"no callback parser for provider {provider!r}; known: {', '.join(sorted(_PARSERS))}")
    if isinstance(body, (bytes, str)):
        try:
            body = json.loads(body)
        except ValueError as exc:
            raise ResponseFormatError(f"{provider} callback is not JSON", snippet=str(body)[:200]) from exc
    if not isinstance(body, Mapping):
        raise ResponseFormatError(f"{provider} callback is not a JSON object", snippet=str(body)[:200])
    return parser(body)
