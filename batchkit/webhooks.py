"""Parsing the POST a provider sends to your ``callback_url`` when a job ends.

Callbacks are unsigned: treat one as a hint and re-fetch the job (``client.get(callback.job.id)``)
before acting on it.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from batchkit._kernel.inputs import is_job_id
from batchkit.errors import BatchkitError, ConfigError, InputError, ResponseFormatError, UnsupportedError
from batchkit.models import Callback
from batchkit.providers import get_provider
from batchkit.providers.capabilities import CallsBack


def parse(provider: str, body: bytes | str | Mapping[str, Any]) -> Callback:
    """Turn a callback body into a :class:`Callback`; a body that cannot be read is a typed error."""
    if not isinstance(provider, str):
        raise InputError(f"provider must be a provider's name, got {provider!r}")
    try:
        adapter = get_provider(provider)
    except ConfigError as exc:
        raise InputError(str(exc)) from None
    if isinstance(body, (bytes, str)):
        try:
            body = json.loads(body)
        except (ValueError, RecursionError) as exc:
            raise ResponseFormatError(f"{provider} callback is not JSON", snippet=str(body)[:200]) from exc
    if not isinstance(body, Mapping):
        raise ResponseFormatError(f"{provider} callback is not a JSON object", snippet=str(body)[:200])
    try:
        if not isinstance(adapter, CallsBack):
            raise UnsupportedError(f"{provider} sends no callbacks batchkit can read")
        callback = adapter.parse_callback(body)
    except BatchkitError:
        raise
    except Exception as exc:  # a provider's parser must never leak an untyped error
        raise ResponseFormatError(f"{provider} callback could not be read ({type(exc).__name__})") from exc
    if not is_job_id(callback.job.id):
        raise ResponseFormatError(f"{provider} callback names {callback.job.id[:80]!r}, which is not a job id"
                                  " (letters, digits and . _ : @ - only)")  # fmt: skip
    return callback


__all__ = ["Callback", "parse"]
