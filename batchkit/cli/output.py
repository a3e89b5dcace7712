"""What the command line prints: result rows, tables, machine formats, progress."""

from __future__ import annotations

import contextlib
import csv
import io
import json
import logging
import re
import sys
from collections.abc import Iterator, Sequence
from datetime import datetime
from typing import Any, TextIO

from rich.console import Console
from rich.table import Table
from rich.text import Text

from batchkit.models import BatchJob


def job_row(job: BatchJob) -> dict[str, Any]:
    def when(value: datetime | None) -> str | None:
        return value.isoformat() if value else None

    return {
        "provider": job.provider,
        "id": job.id,
        "status": job.status.name,
        "provider_status": job.provider_status,
        "created_at": when(job.created_at),
        "ended_at": when(job.ended_at),
        "total_count": job.total_count,
        "succeeded_count": job.succeeded_count,
        "failed_count": job.failed_count,
        "message": job.message,
    }


_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
_FORMULA = ("=", "+", "-", "@", "\t", "\r")


def literal(value: object) -> str:
    """Server text made safe for a terminal: control characters (escape sequences) shown escaped."""
    return _CONTROL.sub(lambda m: repr(m.group())[1:-1], str(value))


def csv_cell(value: Any) -> Any:
    """A text cell a spreadsheet will not run: one that starts like a formula gets a leading quote."""
    if isinstance(value, str):
        value = literal(value)
        return "'" + value if value.startswith(_FORMULA) else value
    return value


def render(rows: Sequence[dict[str, Any]], fmt: str, out: TextIO, title: str | None = None,
           columns: Sequence[str] = ()) -> None:  # fmt: skip
    """Write ``rows`` as a table, JSON, JSON lines or CSV; ``columns`` head a table or CSV of no rows."""
    if fmt == "json":
        json.dump(list(rows), out, indent=2)
        out.write("\n")
    elif fmt == "jsonl":
        for row in rows:
            out.write(json.dumps(row) + "\n")
    elif fmt == "csv":
        buffer = io.StringIO()
        columns = list(dict.fromkeys(key for row in rows for key in row)) or list(columns)  # rows may differ
        writer = csv.DictWriter(buffer, fieldnames=columns)
        writer.writeheader()
        writer.writerows({k: csv_cell(v) for k, v in row.items()} for row in rows)
        out.write(buffer.getvalue())
    else:
        table = Table(title=Text(literal(title)) if title else None)
        for column in rows[0] if rows else columns:
            table.add_column(Text(literal(column)))
        for row in rows:
            table.add_row(*(Text("" if v is None else literal(v)) for v in row.values()))
        console = Console(file=out)
        wide = console.width if console.is_terminal else 200  # a file or a pipe: nothing cut short
        Console(file=out, width=max(100, wide)).print(table)


class Reporter:
    """Progress on stderr: bars when it is a terminal, plain lines otherwise, nothing with ``quiet``;
    with ``logged``, each line is a log record of ``batchkit.cli`` (``--log-format json``) and no bar is drawn."""

    def __init__(self, quiet: bool = False, logged: bool = False) -> None:
        self.quiet, self.logged = quiet, logged
        self.fancy = not quiet and not logged and sys.stderr.isatty()
        self.console = Console(file=sys.stderr)

    def line(self, text: str) -> None:
        """``text`` on stderr, literally (server text may hold markup or escape sequences)."""
        if not self.quiet:
            safe = literal(text)
            if self.logged:
                logging.getLogger("batchkit.cli").info("%s", safe)
            elif self.fancy:
                self.console.print(safe, markup=False, highlight=False)
            else:
                print(safe, file=sys.stderr, flush=True)

    @contextlib.contextmanager
    def upload(self, total_bytes: int, what: str) -> Iterator[Any]:
        """A callback for bytes sent, shown as a transfer bar; nothing is shown until bytes go out
        (after every check has passed)."""
        if not self.fancy:
            said: list[bool] = []

            def first_bytes(sent: int) -> None:
                if sent > 0 and not said:
                    said.append(True)
                    self.line(f"uploading {what} ({total_bytes} bytes)")

            yield first_bytes
            return
        from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TransferSpeedColumn  # bars only

        columns = (TextColumn("{task.description}"), BarColumn(), DownloadColumn(), TransferSpeedColumn())
        with Progress(*columns, console=self.console, transient=True) as bar:
            task = bar.add_task(f"uploading {what}", total=total_bytes, visible=False)

            def advance(sent: int) -> None:
                bar.update(task, advance=sent, visible=True)

            yield advance

    @contextlib.contextmanager
    def waiting(self, count: int) -> Iterator[Any]:
        """A callback for job updates, shown as jobs finished out of ``count``."""
        if not self.fancy:
            yield lambda job: self.line(f"{job.provider} job {job.id}: {job.status.name}")
            return
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

        columns = (TextColumn("waiting"), BarColumn(), MofNCompleteColumn(), TextColumn("jobs done"))
        with Progress(*columns, console=self.console, transient=True) as bar:
            task = bar.add_task("wait", total=count)
            yield lambda job: bar.advance(task, 1) if job.status.is_terminal else None
