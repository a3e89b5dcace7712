"""One self-contained HTML page of a job's results: a summary table and charts, made from the tidy rows
of any provider (needs ``batchkit[report]``: matplotlib). No network: the charts are inline SVG.

>>> batchkit.report.write(client.results(job), "report.html", title=f"job {job.id}")   # doctest: +SKIP
"""

from __future__ import annotations

import html
import io
import os
from collections import defaultdict
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from batchkit.errors import ConfigError, InputError
from batchkit.models import FileResult
from batchkit.providers import presentation
from batchkit.providers.base import Row
from batchkit.results import rows as tidy_rows

TOP = 5
"""Names (emotions, expressions …) drawn per chart: the strongest."""
SERIES_KINDS = ("emotion", "expression", "chunk")
_STYLE = """body{font-family:system-ui,sans-serif;margin:2rem;color:#222}table{border-collapse:collapse}
td,th{border:1px solid #ccc;padding:.3rem .6rem;text-align:left}h2{margin-top:2rem}.FAILED{color:#b00}
.PARTIALLY_FAILED{color:#b60}svg{max-width:100%;height:auto}"""


def write(results: Iterable[FileResult[Any]], path: str | os.PathLike[str], *, title: str = "batchkit report") -> Path:
    """Write the page to ``path``; returns it. Charts: each input's strongest scores over time (per model
    where there are several), and every input's headline score with its label."""
    target = Path(path)
    if target.suffix.lower() not in (".html", ".htm"):
        raise InputError(f"{target}: a report is an .html file")
    results = list(results)
    page = render(results, list(tidy_rows(results)), title)
    try:
        target.write_text(page, encoding="utf-8")
    except OSError as exc:
        raise InputError(f"{target}: cannot be written ({exc.strerror or exc})") from None
    return target


def render(results: Sequence[FileResult[Any]], rows: Sequence[Row], title: str) -> str:
    """The page as text."""
    try:
        from matplotlib.figure import Figure
    except ImportError:
        raise ConfigError("a report needs `pip install 'batchkit[report]'` (matplotlib)") from None
    parts = [f"<!doctype html><html><head><meta charset='utf-8'><title>{_e(title)}</title>",
             f"<style>{_STYLE}</style></head><body><h1>{_e(title)}</h1>", _summary(results)]  # fmt: skip
    headline = [r for r in rows if r["kind"] == "verdict" and r["score"] is not None]
    if headline:
        parts.append("<h2>Scores</h2>" + _svg(_scores_chart(Figure, headline)))
    series: dict[tuple[str, str], list[Row]] = defaultdict(list)
    for row in rows:
        if row["kind"] in SERIES_KINDS and row["begin"] is not None and row["score"] is not None:
            series[(str(row["source"]), str(row.get("model") or row["kind"]))].append(row)
    for (source, group), points in series.items():
        if len({row["begin"] for row in points}) < 2:
            continue  # one moment is no time series (its scores are in the table's reading)
        parts.append(f"<h2>{_e(source)} — {_e(group)} over time</h2>" + _svg(_time_chart(Figure, points)))
    parts.append("</body></html>")
    return "\n".join(parts)


def _summary(results: Sequence[FileResult[Any]]) -> str:
    lines = ["<table><tr><th>input</th><th>status</th><th>reading</th><th>error</th></tr>"]
    for result in results:
        try:
            reading = presentation(result.provider).summary(result) if result.provider else ""
        except ConfigError:
            reading = ""
        status = result.status.name
        lines.append(f"<tr><td>{_e(result.source)}</td><td class='{status}'>{status}</td><td>{_e(reading)}</td>"
                     f"<td>{_e(result.error or '')}</td></tr>")  # fmt: skip
    return "\n".join([*lines, "</table>"])


def _scores_chart(figure: Any, rows: Sequence[Row]) -> Any:
    fig = figure(figsize=(8, 0.5 + 0.4 * len(rows)))
    ax = fig.subplots()
    labels = [str(r["source"]) for r in rows]
    scores = [float(r["score"]) for r in rows]
    bars = ax.barh(labels, scores, color=["#c0392b" if str(r.get("label")).startswith(("fake", "likely fake"))
                                          else "#2e86c1" for r in rows])  # fmt: skip
    for bar, row in zip(bars, rows, strict=True):
        ax.text(bar.get_width(), bar.get_y() + bar.get_height() / 2, f" {row.get('label') or ''}", va="center")
    ax.set_xlim(0, 1.15)
    ax.set_xlabel("score")
    ax.invert_yaxis()
    fig.tight_layout()
    return fig


def _time_chart(figure: Any, points: Sequence[Row]) -> Any:
    by_name: dict[str, list[tuple[float, float]]] = defaultdict(list)
    for row in points:
        by_name[str(row["name"])].append((float(row["begin"]), float(row["score"])))
    strongest = sorted(by_name, key=lambda n: max(s for _, s in by_name[n]), reverse=True)[:TOP]
    fig = figure(figsize=(8, 3))
    ax = fig.subplots()
    for name in strongest:
        xs, ys = zip(*sorted(by_name[name]), strict=True)
        ax.plot(xs, ys, marker="o", markersize=3, label=name)
    ax.set_xlabel("seconds")
    ax.set_ylabel("score")
    ax.set_ylim(0, 1.05)
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1), fontsize="small")
    fig.tight_layout()
    return fig


def _svg(fig: Any) -> str:
    buffer = io.StringIO()
    fig.savefig(buffer, format="svg")
    text = buffer.getvalue()
    return text[text.index("<svg") :]


def _e(text: object) -> str:
    return html.escape(str(text), quote=True)


__all__ = ["render", "write"]
