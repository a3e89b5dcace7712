"""The commands of runs shared by workers: ``enqueue``, ``worker``, ``runs`` (and ``results --journal``)."""

from __future__ import annotations

import asyncio
import json
import shlex
import signal
import sys
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import attrs
import click
from click.core import ParameterSource
from rich.console import Console
from rich.progress_bar import ProgressBar
from rich.table import Table
from rich.text import Text

import batchkit
from batchkit._kernel.journal import RunProgress, without_password
from batchkit.engines import providers_of, serve

from . import EXIT_OK
from .commands import State, cli, parse_options, with_state
from .output import literal, render

JOURNAL = click.option(
    "--journal", required=True, envvar="BATCHKIT_JOURNAL",
    help="a sqlite file, or a postgresql:// URL shared by workers on many hosts (env BATCHKIT_JOURNAL)",
)  # fmt: skip


@cli.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
@JOURNAL
@click.option("--chunk", type=int, help="at most this many files a job (default: the provider's limit)")
@click.option("--run-key", help="your name for the run: enqueued again, it is the same run (other files: exit 3)")
@click.option("--callback-url", help="POSTed when each job ends")
@click.option("--option", "options", multiple=True, metavar="KEY=VALUE", help="a provider option")
@with_state
def enqueue(state: State, paths: tuple[Path, ...], journal: str, chunk: int | None, run_key: str | None,
            callback_url: str | None, options: tuple[str, ...]) -> int:  # fmt: skip
    """Record PATHS as a run in the journal for workers to send; print the run's id (the last line)."""
    with state.client() as client:
        run = client.enqueue(list(paths), journal=journal, chunk=chunk, run_key=run_key, callback_url=callback_url,
                             options=parse_options(options) or None)  # fmt: skip
    state.report.line(f"recorded {len(paths)} file(s) as {client.provider} run {run}; start workers with:")
    for line in worker_command(journal, click.get_current_context().get_parameter_source("journal")):
        state.report.line(f"  {line}")
    click.echo(json.dumps({"run": run}) if state.as_json else run)
    return EXIT_OK


def worker_command(journal: str, source: ParameterSource | None) -> list[str]:
    """The ``batchkit worker`` to paste: never a password (``***`` cannot be pasted): the journal from
    the environment where it came from there, else without its password, which libpq reads from
    ``PGPASSWORD``."""
    if source is ParameterSource.ENVIRONMENT:
        return ["batchkit worker --until-done        (BATCHKIT_JOURNAL names the journal, as here)"]
    bare = without_password(journal)
    command = f"batchkit worker --journal {shlex.quote(bare)} --until-done"
    if bare == journal:
        return [command]
    return [command, "with the journal's password in PGPASSWORD (export PGPASSWORD=…), or its whole URL in "
            "BATCHKIT_JOURNAL"]  # fmt: skip


@cli.command()
@JOURNAL
@click.option("--until-done", is_flag=True, help="stop when no run in the journal has work left")
@click.option("--concurrency", type=click.IntRange(1, 256), default=4, show_default=True, help="chunks worked at once")
@click.option("--lease", type=click.FloatRange(0.5, 3600), default=30.0, show_default=True,
              help="seconds a claimed chunk is held unrenewed before another worker may take it over")  # fmt: skip
@click.option("--rate", type=click.FloatRange(min=0, min_open=True),
              help="at most this many creates a second, across every worker of a provider and key")  # fmt: skip
@click.option("--run", "run", help="work on this run only")
@with_state
def worker(state: State, journal: str, until_done: bool, concurrency: int, lease: float, rate: float | None,
           run: str | None) -> int:  # fmt: skip
    """Send the journal's chunks, follow their jobs and collect their results, until stopped (Ctrl-C)
    or, with --until-done, until no run has work left. Start as many as you like, on any hosts."""
    providers = providers_of(journal, state.provider, run, until_done)
    if not providers:
        state.report.line("no run in the journal has work left")
        return EXIT_OK

    async def serve_all() -> list[tuple[str, batchkit.WorkSummary]]:
        """Every provider's work; SIGTERM (systemd, Kubernetes) stops it as Ctrl-C does."""
        main, terminated = asyncio.current_task(), asyncio.Event()

        def terminate() -> None:
            terminated.set()
            if main is not None:
                main.cancel()

        asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, terminate)
        try:
            return await serve(journal, providers, concurrency=concurrency, until_done=until_done, run=run,
                               lease=lease, rate=rate)  # fmt: skip
        except asyncio.CancelledError:
            if terminated.is_set():
                raise KeyboardInterrupt from None
            raise

    state.report.line(f"worker for {', '.join(providers)} on {batchkit.runs.redacted(journal)}")
    try:
        done = asyncio.run(serve_all())
    except KeyboardInterrupt:
        state.report.line("worker stopped; its chunks are free for other workers")
        raise click.exceptions.Exit(130) from None
    for provider, summary in done:
        if state.as_json:
            click.echo(json.dumps({"provider": provider, **attrs.asdict(summary)}))
        else:
            words = ", ".join(f"{value} {name}" for name, value in attrs.asdict(summary).items())
            state.report.line(f"{provider}: {words}")
    return EXIT_OK


@cli.command()
@JOURNAL
@with_state
def runs(state: State, journal: str) -> int:
    """Show each run in the journal: chunks sent, jobs finished, files done."""
    rows = [run_row(p) for p in batchkit.runs.progress(journal)]
    if state.as_json:
        render(rows, "json", sys.stdout)
    elif sys.stdout.isatty():
        Console().print(progress_table(rows))
    else:
        render([{k: v for k, v in row.items() if k != "created"} for row in rows], "table", sys.stdout, "runs")
    return EXIT_OK


def run_row(progress: RunProgress) -> dict[str, Any]:
    run = progress.run
    created = datetime.fromtimestamp(run.created_ms / 1000, tz=timezone.utc).isoformat(timespec="seconds")
    return {
        "run": run.id,
        "provider": run.provider,
        "created": created,
        "files": run.files,
        "chunks": run.chunks,
        "sent": progress.chunks_sent,
        "finished": progress.jobs_finished,
        "files_done": progress.files_done,
        "ambiguous": progress.ambiguous,
        "failed": progress.failed,
    }


def progress_table(rows: list[dict[str, Any]]) -> Table:
    """The runs with a bar of files done."""
    table = Table(title="runs")
    for column in ("run", "provider", "chunks sent", "jobs finished", "files done", "", "ambiguous", "failed"):
        table.add_column(column)
    for row in rows:
        table.add_row(
            Text(literal(row["run"])), Text(literal(row["provider"])), f"{row['sent']}/{row['chunks']}",
            f"{row['finished']}/{row['chunks']}", f"{row['files_done']}/{row['files']}",
            ProgressBar(total=max(row["files"], 1), completed=row["files_done"], width=24),
            str(row["ambiguous"]), str(row["failed"]),
        )  # fmt: skip
    return table
