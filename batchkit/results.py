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
    """Tidy rows: one per score, or one for an input that has none, every row with the same columns
    (:data:`~batchkit.providers.base.COLUMNS`, then a third-party provider's own). Results of any
    provider may be mixed."""
    for result in results:
        yield from result_rows(result)


def result_rows(result: FileResult[Any]) -> list[Row]:
    """The tidy rows of one result: at least one."""
    try:
        provider = presentation(result.provider) if result.provider else None
    except ConfigError:
        provider = None
    return (list(provider.rows(result)) if provider is not None else []) or [common_row(result)]


HEADLINE_KINDS = ("verdict", "emotion")
"""What an input's headline is, first found first: its verdict (Resemble), else its strongest emotion."""


def headline(result: FileResult[Any]) -> Row:
    """One row for the input: :data:`SUMMARY_COLUMNS`, its headline ``kind``, ``name`` and ``score``
    being its verdict, else its strongest emotion, else its strongest score (None without one)."""
    found = result_rows(result)
    scored = [r for r in found if r["score"] is not None]
    for kind in HEADLINE_KINDS:
        if picked := [r for r in scored if r["kind"] == kind]:
            scored = picked
            break
    best = max(scored, key=lambda r: float(r["score"]), default=None)
    row = {key: found[0][key] for key in SUMMARY_COLUMNS}
    for key in ("kind", "name", "score"):  # the headline's, not the first row's
        row[key] = best[key] if best is not None else None
    return row


SUMMARY_COLUMNS = ("source", "provider", "status", "kind", "name", "score", "error")
"""The columns of :func:`summary` rows."""


def summary(results: Iterable[FileResult[Any]]) -> Iterator[Row]:
    """One :func:`headline` row per input (``batchkit results``' default detail)."""
    for result in results:
        yield headline(result)


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


__all__ = ["HEADLINE_KINDS", "SUMMARY_COLUMNS", "headline", "result_rows", "rows", "summary", "typed"]
