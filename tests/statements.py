"""The statements a journal sends, seen from the test: on sqlite by its trace, on PostgreSQL by its cursor."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import pytest

from batchkit._kernel.journal import Journal, stores


def _recording(real: Any, seen: list[tuple[str, tuple[Any, ...]]]) -> Any:
    def recorded(self: Any, sql: str, params: Any = ()) -> Any:
        seen.append((sql, tuple(params)))
        return real(self, sql, params)

    return recorded


@contextlib.contextmanager
def statements(journal: Journal) -> Iterator[list[tuple[str, tuple[Any, ...]]]]:
    """Every statement ``journal`` sends meanwhile, with its parameters (sqlite: with its values in it, and
    again for each row a trigger of it runs on)."""
    seen: list[tuple[str, tuple[Any, ...]]] = []
    store: Any = journal._store
    if store.dialect == "sqlite":
        store._db.set_trace_callback(lambda sql: seen.append((sql, ())))
        try:
            yield seen
        finally:
            store._db.set_trace_callback(None)
        return
    with pytest.MonkeyPatch.context() as patch:
        for kind, name in ((stores._PostgresTx, "execute"), (stores.PostgresStore, "statement")):
            patch.setattr(kind, name, _recording(getattr(kind, name), seen))
        yield seen
