"""One self-contained HTML page of a job's or a run's results, made from the tidy rows of any provider
(needs ``batchkit[report]``: matplotlib). No network: the charts are inline SVG, the one script sorts
the table of every input.

>>> batchkit.report.write(client.results(job), "report.html", title=f"job {job.id}")   # doctest: +SKIP

The page opens with counts by status and verdict, then the flagged inputs (headline score at or above
``threshold``) sorted by score, with a threshold line; then a headline chart per provider, charts over
time of the ``top`` highest-scoring inputs only, and every input in a table sortable by any column.
"""

from __future__ import annotations

import html
import io
import os
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from batchkit.errors import ConfigError, InputError
from batchkit.models import FileResult, JobStatus
from batchkit.providers.base import Row
from batchkit.results import SUMMARY_COLUMNS, headline, result_rows
from batchkit.verdict_rows import ENSEMBLE, VERDICT_COLUMNS, judge, verdicts

TOP = 5
"""Inputs of each provider given charts over time by default: its highest-scoring ones."""
LINES = 5
"""Names (emotions …) drawn per chart over time: the strongest."""
BARS = 40
"""Up to this many inputs of a provider, its headline chart is a bar per input; above, a histogram."""
FLAGGED_ROWS = 25
"""Flagged inputs of a provider listed at the top at most (all are in the table of every input)."""
BELOW = 5
"""Inputs listed under the threshold line, the closest to it."""
SERIES_KINDS = ("emotion", "chunk")
AXIS = "headline score (red: flagged; dashed line: the threshold)"
HEADLINES = {"verdict": "its verdict's score", "emotion": "its strongest emotion"}
_STYLE = """body{font-family:system-ui,sans-serif;margin:2rem;color:#222}table{border-collapse:collapse;margin:.5rem 0}
td,th{border:1px solid #ccc;padding:.2rem .5rem;text-align:left}th{background:#f3f3f3}h2{margin-top:2rem}
.FAILED{color:#b00}.PARTIALLY_FAILED{color:#b60}.sortable th{cursor:pointer}.num{text-align:right}
tr.threshold td{border-top:3px solid #c0392b;color:#c0392b;font-weight:bold}svg{max-width:100%;height:auto}"""
_SORT = """document.querySelectorAll("table.sortable th").forEach((th, column) => th.addEventListener("click", () => {
  const body = th.closest("table").tBodies[0], up = th.dataset.dir !== "asc";
  th.dataset.dir = up ? "asc" : "desc";
  const key = (row) => { const t = row.cells[column].textContent, n = Number(t); return t === "" || isNaN(n) ? t : n; };
  const rows = Array.from(body.rows).sort((a, b) => {
    const x = key(a), y = key(b);
    const order = typeof x === typeof y ? (x < y ? -1 : x > y ? 1 : 0) : typeof x === "number" ? -1 : 1;
    return up ? order : -order;
  });
  body.append(...rows);
}));"""


def write(
    results: Iterable[FileResult[Any]],
    path: str | os.PathLike[str],
    *,
    title: str = "batchkit report",
    threshold: float = 0.5,
    top: int = TOP,
) -> Path:
    """Write the page to ``path`` (an ``.html`` file); returns it. An input is flagged when its
    headline score (:func:`batchkit.results.headline`) is at or above ``threshold``; the ``top``
    highest-scoring inputs get charts over time."""
    target = Path(path)
    if target.suffix.lower() not in (".html", ".htm"):
        raise InputError(f"{target}: a report is an .html file")
    page = render(results, title, threshold=threshold, top=top)
    try:
        target.write_text(page, encoding="utf-8")
    except OSError as exc:
        raise InputError(f"{target}: cannot be written ({exc.strerror or exc})") from None
    return target


def render(results: Iterable[FileResult[Any]], title: str, *, threshold: float = 0.5, top: int = TOP) -> str:
    """The page as text."""
    if isinstance(threshold, bool) or not isinstance(threshold, (int, float)) or not 0 <= threshold <= 1:
        raise InputError(f"threshold must be a score from 0 to 1, got {threshold!r}")
    if isinstance(top, bool) or not isinstance(top, int) or top < 0:
        raise InputError(f"top must be a number of inputs (0 or more), got {top!r}")
    try:
        import matplotlib
        from matplotlib.figure import Figure
    except ImportError:
        raise ConfigError("a report needs `pip install 'batchkit[report]'` (matplotlib)") from None
    kept = list(results)
    heads = [headline(result) for result in kept]
    ranked = sorted(range(len(kept)), key=lambda i: _score(heads[i]), reverse=True)
    groups: dict[str, list[int]] = {provider: [] for provider in map(_provider, heads)}  # in input order
    for i in ranked:
        groups[_provider(heads[i])].append(i)
    best = {provider: [heads[i] for i in indices] for provider, indices in groups.items()}
    parts = [f"<!doctype html><html><head><meta charset='utf-8'><title>{_e(title)}</title>",
             f"<style>{_STYLE}</style></head><body><h1>{_e(title)}</h1>",
             _counts(heads, groups, threshold), _flagged(best, threshold)]  # fmt: skip
    # file names and labels are drawn as written ($ is not mathematics), as text (not glyph outlines)
    with matplotlib.rc_context({"text.parse_math": False, "svg.fonttype": "none", "svg.hashsalt": "batchkit"}):
        parts.append(_headline_charts(Figure, best, threshold))
        parts.append(_detail_charts(Figure, [kept[i] for indices in groups.values() for i in indices[:top]], top))
    parts += [_verdicts(kept), "<h2>Every input</h2><p>Click a column to sort.</p>", _table(heads, "sortable"),
              f"<script>{_SORT}</script></body></html>"]  # fmt: skip
    return "\n".join(parts)


def _verdicts(results: Sequence[FileResult[Any]]) -> str:
    """Each detector's verdict per input (:func:`batchkit.verdicts`), an ensemble's combined row too;
    nothing where no provider is a detector."""
    rows = [r for r in verdicts(results) if r["provider"] == ENSEMBLE or judge(r["provider"]) is not None]
    if not rows:
        return ""
    head = "".join(f"<th>{c}</th>" for c in VERDICT_COLUMNS)
    body = "\n".join("<tr>" + "".join(f"<td>{_e('' if r[c] is None else r[c])}</td>" for c in VERDICT_COLUMNS)
                     + "</tr>" for r in rows)  # fmt: skip
    table = f"<table class='verdicts'><thead><tr>{head}</tr></thead><tbody>\n{body}\n</tbody></table>"
    return f"<h2>Verdicts</h2><p>Each detector's word (batchkit.verdicts).</p>{table}"


def _provider(row: Row) -> str:
    return str(row["provider"] or "?")


def _score(row: Row) -> float:
    return -1.0 if row["score"] is None else float(row["score"])


def _counts(heads: Sequence[Row], groups: Mapping[str, Sequence[int]], threshold: float) -> str:
    """Per provider: inputs by status (those that occur), and by verdict (flagged, not flagged, no
    score; each label)."""
    seen = {str(r["status"]) for r in heads}
    statuses = [s.name for s in JobStatus if s.name in seen]
    heading = ["provider", "inputs", *statuses, f"flagged (≥ {threshold:.2f})", "not flagged", "no score", "verdicts"]
    lines = ["<h2>Counts</h2><table><tr>" + "".join(f"<th>{_e(h)}</th>" for h in heading) + "</tr>"]
    for provider, indices in groups.items():
        rows = [heads[i] for i in indices]
        status = Counter(str(r["status"]) for r in rows)
        scored = [r for r in rows if r["score"] is not None]
        flagged = sum(float(r["score"]) >= threshold for r in scored)
        labels = Counter(str(r["name"]) for r in rows if r["kind"] == "verdict")
        verdicts = ", ".join(f"{name} {n}" for name, n in labels.most_common())
        cells = [_e(provider), str(len(rows)), *(str(status[s]) for s in statuses),
                 str(flagged), str(len(scored) - flagged), str(len(rows) - len(scored)), _e(verdicts)]  # fmt: skip
        lines.append("<tr>" + "".join(f"<td>{c}</td>" for c in cells) + "</tr>")
    return "\n".join([*lines, "</table>"])


def _flagged(best: Mapping[str, Sequence[Row]], threshold: float) -> str:
    """Per provider, the flagged inputs, highest score first, then the threshold line and the few just
    under it."""
    parts = []
    for provider, rows in best.items():
        flagged = [r for r in rows if r["score"] is not None and float(r["score"]) >= threshold]
        below = [r for r in rows[len(flagged) :] if r["score"] is not None][:BELOW]
        shown = flagged[:FLAGGED_ROWS]
        more = f"; the {len(shown)} highest here, every one in the last table" if len(flagged) > len(shown) else ""
        line = f"<tr class='threshold'><td colspan='{len(SUMMARY_COLUMNS)}'>threshold {threshold:.2f}</td></tr>"
        parts.append(f"<h3>{_e(provider)}: {len(flagged)} of {len(rows)} input(s) scored {threshold:.2f} or more"
                     f"{more}</h3>" + _table(shown, "flagged", after=[line, *map(_row, below)]))  # fmt: skip
    return "\n".join(["<h2 id='flagged'>Flagged inputs</h2>", *parts])


def _table(rows: Sequence[Row], css: str, after: Sequence[str] = ()) -> str:
    head = "".join(f"<th>{c}</th>" for c in SUMMARY_COLUMNS)
    body = "\n".join([*map(_row, rows), *after])
    return f"<table class='{css}'><thead><tr>{head}</tr></thead><tbody>\n{body}\n</tbody></table>"


def _row(row: Row) -> str:
    cells = []
    for column in SUMMARY_COLUMNS:
        value = row[column]
        if column == "score":
            cells.append(f"<td class='num'>{'' if value is None else f'{float(value):.3f}'}</td>")
        elif column == "status":
            cells.append(f"<td class='{_e(value)}'>{_e(value)}</td>")
        else:
            cells.append(f"<td>{'' if value is None else _e(value)}</td>")
    return "<tr>" + "".join(cells) + "</tr>"


def _headline_charts(figure: Any, best: Mapping[str, Sequence[Row]], threshold: float) -> str:
    """Per provider, every input's headline score against the threshold: a bar each, or a histogram."""
    parts = ["<h2>Headline scores</h2>"]
    for provider, ranked in best.items():
        rows = [row for row in ranked if row["score"] is not None]
        if not rows:
            parts.append(f"<h3>{_e(provider)}: no input has a score</h3>")
            continue
        kinds = " or ".join(HEADLINES.get(k, k) for k in sorted({str(r["kind"]) for r in rows}))
        parts.append(f"<h3>{_e(provider)}: {len(rows)} scored input(s), each by {_e(kinds)}</h3>")
        parts.append(_svg(_bars(figure, rows, threshold) if len(rows) <= BARS else _histogram(figure, rows, threshold)))
    return "\n".join(parts)


def _bars(figure: Any, rows: Sequence[Row], threshold: float) -> Any:
    height = 0.8 + 0.3 * len(rows)
    fig = figure(figsize=(9, height))
    fig.subplots_adjust(left=0.34, right=0.97, top=1 - 0.1 / height, bottom=0.55 / height)  # labels are cut short
    ax = fig.subplots()
    scores = [float(r["score"]) for r in rows]
    ax.barh(range(len(rows)), scores, color=["#c0392b" if s >= threshold else "#2e86c1" for s in scores])
    ax.set_yticks(range(len(rows)), [_short(r["source"]) for r in rows], fontsize="small")
    for index, row in enumerate(rows):
        ax.text(float(row["score"]), index, f" {row['name'] or ''}", va="center", fontsize="small")
    ax.axvline(threshold, color="#222", linestyle="--", linewidth=1, zorder=3)
    ax.set_xlim(0, 1.2)
    ax.set_ylim(len(rows) - 0.5, -0.5)  # the highest score on top, no empty band
    ax.set_xlabel(AXIS)
    return fig


def _histogram(figure: Any, rows: Sequence[Row], threshold: float) -> Any:
    fig = figure(figsize=(9, 3))
    fig.subplots_adjust(left=0.08, right=0.97, top=0.95, bottom=0.17)
    ax = fig.subplots()
    scores = [float(r["score"]) for r in rows]
    bins = [i / 40 for i in range(41)]
    ax.hist([s for s in scores if s < threshold], bins=bins, color="#2e86c1")
    ax.hist([s for s in scores if s >= threshold], bins=bins, color="#c0392b")
    ax.axvline(threshold, color="#222", linestyle="--", linewidth=1, zorder=3)
    ax.set_xlim(0, 1)
    ax.set_xlabel(AXIS)
    ax.set_ylabel("inputs")
    return fig


def _detail_charts(figure: Any, leaders: Sequence[FileResult[Any]], top: int) -> str:
    """Scores over time of the highest-scoring inputs, one chart per input and model."""
    charts = []
    for result in leaders:
        series: dict[str, list[Row]] = defaultdict(list)
        for row in result_rows(result):
            if row["kind"] in SERIES_KINDS and row["begin"] is not None and row["score"] is not None:
                series[str(row["model"] or row["kind"])].append(row)
        for model, points in series.items():
            if len({row["begin"] for row in points}) >= 2:  # one moment is no time series
                title = f"{_e(result.source)} — {_e(model)} over time"
                charts.append(f"<h3>{title}</h3>" + _svg(_time_chart(figure, points)))
    if not charts:
        return ""
    note = f"<p>The {top} highest-scoring inputs of each provider only; every input is in the table below.</p>"
    return "\n".join(["<h2>Over time</h2>", note, *charts])


def _time_chart(figure: Any, points: Sequence[Row]) -> Any:
    by_name: dict[str, list[tuple[float, float]]] = defaultdict(list)
    for row in points:
        by_name[str(row["name"])].append((float(row["begin"]), float(row["score"])))
    strongest = sorted(by_name, key=lambda n: max(s for _, s in by_name[n]), reverse=True)[:LINES]
    fig = figure(figsize=(9, 2.4))
    fig.subplots_adjust(left=0.08, right=0.78, top=0.95, bottom=0.2)  # the legend to the right
    ax = fig.subplots()
    for name in strongest:
        xs, ys = zip(*sorted(by_name[name]), strict=True)
        ax.plot(xs, ys, marker="o", markersize=3, label=name)
    ax.set_xlabel("seconds")
    ax.set_ylabel("score")
    ax.set_ylim(0, 1.05)
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1), fontsize="small")
    return fig


def _short(source: object, width: int = 48) -> str:
    text = str(source)
    return text if len(text) <= width else "…" + text[-(width - 1) :]


def _svg(fig: Any) -> str:
    buffer = io.StringIO()
    fig.savefig(buffer, format="svg")
    text = buffer.getvalue()
    return text[text.index("<svg") :]


def _e(text: object) -> str:
    return html.escape(str(text), quote=True)


__all__ = ["TOP", "render", "write"]
