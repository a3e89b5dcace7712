"""Results people use: one tidy shape for every provider, and typed predictions.

>>> for row in batchkit.rows(client.results(job)):           # doctest: +SKIP
...     print(row["source"], row["kind"], row["name"], row["score"], row["begin"], row["end"])
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any, TypeVar

from batchkit.errors import ConfigError, InputError
from batchkit.models import FileResult
from batchkit.providers import presentation
from batchkit.providers.base import Row, common_row

P = TypeVar("P")


def rows(results: Iterable[FileResult[Any]]) -> Iterator[Row]:
    """Flat dicts, one per score (or one per input that has none): ``source, status, error, kind, name,
    score, begin, end`` first, then the provider's own columns. Results of any provider may be mixed."""
    for result in results:
        try:
            provider = presentation(result.provider) if result.provider else None
        except ConfigError:
            provider = None
        yield from provider.rows(result) if provider is not None else [common_row(result)]


def typed(results: Iterable[FileResult[Any]], model: type[P]) -> list[FileResult[P]]:
    """``results`` known to mypy as holding ``model`` predictions (e.g. Hume's ``SourcePrediction``,
    Resemble's ``Detect``); a prediction of another kind is an :class:`InputError`."""
    checked: list[FileResult[P]] = []
    for result in results:
        if result.prediction is not None and not isinstance(result.prediction, model):
            kind = type(result.prediction).__name__
            raise InputError(f"{result.source}: its prediction is a {kind}, not a {model.__name__}")
        checked.append(result)
    return checked


__all__ = ["rows", "typed"]
