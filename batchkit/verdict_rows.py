"""One verdict row per detector's answer, for every provider that is a detector.

>>> for row in batchkit.verdicts(client.results(job)):          # doctest: +SKIP
...     print(row["source"], row["provider"], row["verdict"], row["p_fake"], row["reason"])

A provider maps its own results (its ``verdict(result)``,
:class:`~batchkit.providers.capabilities.Judges`): Resemble, Reality Defender and Hive do. Hume's
providers measure expressions and are not detectors: their rows say ``not_applicable``.

Where one input has results of more than one provider (an ensemble), a combined row follows its
rows, ``provider`` ``"ensemble"``: its verdict is the first of ``fake``, ``uncertain``, ``real``,
``not_applicable``, ``error`` that any provider gave (any fake makes it fake), its ``p_fake`` the
highest any provider gave, its reason each provider's verdict.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from batchkit.models import FileResult
from batchkit.providers import judge, verdict

VERDICT_COLUMNS = ("source", "provider", "verdict", "p_fake", "reason")
"""The columns of a verdict row."""
PRECEDENCE = ("fake", "uncertain", "real", "not_applicable", "error")
"""An ensemble's verdict: the first of these any provider gave."""
ENSEMBLE = "ensemble"


def combined(found: list[dict[str, Any]]) -> dict[str, Any]:
    """The ensemble row of one input's rows (see the module's rule)."""
    given = {str(r["verdict"]) for r in found}
    scores = [float(r["p_fake"]) for r in found if r["p_fake"] is not None]
    reason = ", ".join(f"{r['verdict']} at {r['provider']}" for r in found)
    return {"source": found[0]["source"], "provider": ENSEMBLE, "verdict": next(v for v in PRECEDENCE if v in given),
            "p_fake": max(scores, default=None), "reason": reason}  # fmt: skip


def verdicts(results: Iterable[FileResult[Any]]) -> Iterator[dict[str, Any]]:
    """A row per result (:data:`VERDICT_COLUMNS`), in order; then, for each input answered by more than
    one provider, its combined row after its last one."""
    kept = list(results)
    rows = []
    for result in kept:
        said = verdict(result)
        rows.append({"source": result.source, "provider": result.provider or None, "verdict": said.verdict,
                     "p_fake": said.p_fake, "reason": said.reason})  # fmt: skip
    by_source: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        by_source.setdefault(str(row["source"]), []).append(row)
    last = {id(group[-1]): group for group in by_source.values() if len({r["provider"] for r in group}) > 1}
    for row in rows:
        yield row
        if id(row) in last:
            yield combined(last[id(row)])


__all__ = ["ENSEMBLE", "PRECEDENCE", "VERDICT_COLUMNS", "combined", "judge", "verdict", "verdicts"]
