"""A run's results written as they are read from the journal (``batchkit results --run … -o out.csv``):
constant memory for a run of millions of files."""

from __future__ import annotations

import csv
import json
from collections.abc import Callable, Iterable
from typing import Any, TextIO

from batchkit.models import FileResult
from batchkit.providers.base import COLUMNS
from batchkit.results import SUMMARY_COLUMNS, rows, summary
from batchkit.verdict_rows import VERDICT_COLUMNS, verdicts

from .output import csv_cell

Rows = Callable[[Iterable[FileResult[Any]]], Iterable[dict[str, Any]]]


def picked(detail: str, as_verdicts: bool) -> tuple[Rows, tuple[str, ...]]:
    """The rows ``batchkit results`` shows (summary, full or verdicts) and their columns."""
    if as_verdicts:
        return verdicts, VERDICT_COLUMNS
    return (rows, COLUMNS) if detail == "full" else (summary, SUMMARY_COLUMNS)


def streams(fmt: str, detail: str) -> bool:
    """Whether this format and detail can be written row by row: JSON lines, and the summary's CSV (its
    columns are known before the first row; a full CSV's are the union of every row's)."""
    return fmt == "jsonl" or (fmt == "csv" and detail == "summary")


def write_streamed(results: Iterable[FileResult[Any]], fmt: str, detail: str, out: TextIO) -> int:
    """Write the rows of ``results`` to ``out`` as they come; how many."""
    found = picked(detail, False)[0](results)
    line: Callable[[dict[str, Any]], Any]
    if fmt == "csv":
        writer = csv.DictWriter(out, fieldnames=SUMMARY_COLUMNS)
        writer.writeheader()
        line = lambda row: writer.writerow({k: csv_cell(v) for k, v in row.items()})  # noqa: E731
    else:
        line = lambda row: out.write(json.dumps(row) + "\n")  # noqa: E731
    count = 0
    for row in found:
        line(row)
        count += 1
    return count
