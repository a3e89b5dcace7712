"""The commands of runs shared by workers: ``enqueue``, ``worker``, ``runs`` (and ``results --journal``)."""

from __future__ import annotations

import json
import shlex
import signal
import sys
from collections.abc import Iterator
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
from batchkit._kernel.journal import Journal, RunProgress, without_password

from . import EXIT_OK
from .commands import State, cli, parse_options, with_state
from .files import given
from .observe import Observing
from .output import literal, render
from .watch import watch as show

JOURNAL = click.option(
    "--journal", required=True, envvar="BATCHKIT_JOURNAL",
    help="a sqlite file, or a postgresql:// URL shared by workers on many hosts (env BATCHKIT_JOURNAL)",
)  # fmt: skip


@cli.command()
@click.argument("paths", nargs=-1, type=click.Path(path_type=Path))
@JOURNAL
@click.option("--files-from", metavar="LIST", help="also the files named in LIST, one a line (- : stdin)")
@click.option("-0", "--null", "nul", is_flag=True, help="LIST's names are separated by NUL (find -print0)")
@click.option("--glob", "pattern", help="the files of a folder in PATHS whose names match (default: every file)")
@click.option("--chunk", type=int, help="at most this many files a job (default: the provider's limit)")
@click.option("--run-key", help="your name for the run: enqueued again, it is the same run (other files: exit 3)")
@click.option("--callback-url", help="POSTed when each job ends")
@click.option("--option", "options", multiple=True, metavar="KEY=VALUE", help="a provider option")
@with_state
def enqueue(state: State, paths: tuple[Path, ...], journal: str, files_from: str | None, nul: bool,
            pattern: str | None, chunk: int | None, run_key: str | None, callback_url: str | None,
            options: tuple[str, ...]) -> int:  # fmt: skip
    """Record PATHS (files, or folders walked) and those of --files-from as a run in the journal for
    workers to send; print the run's id (the last line)."""
    if not paths and files_from is None:
        raise click.UsageError("say which files: PATHS, folders, or --files-from LIST")
    counted = 0

    def files() -> Iterator[str]:  # read as they are recorded: a list of millions is never held
        nonlocal counted
        for name in given(paths, files_from, nul, pattern):
            counted += 1
            yield name

    with state.client() as client:
        run = client.enqueue(files(), journal=journal, chunk=chunk, run_key=run_key, callback_url=callback_url,
                             options=parse_options(options) or None)  # fmt: skip
    state.report.line(f"recorded {counted} file(s) as {client.provider} run {run}; start workers with:")
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
@click.option("--settle", type=click.FloatRange(0, 86400, min_open=True), default=600.0, show_default=True,
              help="seconds after an interrupted send that the provider's authoritative lookup must still not find"
              " it before it is sent again (above twice the provider's idle timeout)")  # fmt: skip
@click.option("--idle", type=click.FloatRange(0.05, 3600), help="the longest rest between looks at the journal when"
              " nothing is due (default: 1 s; 30 s on PostgreSQL, which wakes idle workers)")  # fmt: skip
@click.option("--prune-older-than", "prune_older_than", metavar="AGE", help="also delete the runs over and created"
              " more than AGE ago (30d, 12h), every ten minutes, one worker of the fleet at a time")  # fmt: skip
@click.option("--progress-every", type=click.FloatRange(min=0), default=10.0, show_default=True,
              help="print a progress line every this many seconds (0: none)")  # fmt: skip
@click.option("--metrics-port", type=click.IntRange(0, 65535), help="serve Prometheus metrics on this port"
              " (batchkit[metrics])")  # fmt: skip
@click.option("--metrics-host", default="127.0.0.1", show_default=True, help="the metrics server's address")
@with_state
def worker(state: State, journal: str, until_done: bool, concurrency: int, lease: float, rate: float | None,
           run: str | None, settle: float, idle: float | None, prune_older_than: str | None, progress_every: float,
           metrics_port: int | None, metrics_host: str) -> int:  # fmt: skip
    """Send the journal's chunks, follow their jobs and collect their results, until stopped (Ctrl-C)
    or, with --until-done, until no run has work left. Start as many as you like, on any hosts."""
    import asyncio  # here, as the engine is: the commands that only read the journal start sooner

    from batchkit.engines import providers_of, serve

    if run is not None:
        run = batchkit.runs.resolved(journal, run)  # a prefix of its id names it too
    prune = None if prune_older_than is None else age(prune_older_than)
    providers = providers_of(journal, state.provider, run, until_done)
    if not providers:
        state.report.line("no run in the journal has work left")
        return EXIT_OK
    observing = Observing(state.report, journal, 0 if state.as_json else progress_every, metrics_port,
                          metrics_host, state.log_format == "json")  # fmt: skip

    async def serve_all() -> list[tuple[str, batchkit.WorkSummary]]:
        """Every provider's work; SIGTERM (systemd, Kubernetes) stops it as Ctrl-C does."""
        main, terminated = asyncio.current_task(), asyncio.Event()

        def terminate() -> None:
            terminated.set()
            if main is not None:
                main.cancel()

        asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, terminate)
        try:
            return await serve(journal, providers, concurrency=concurrency, observers=observing.observer,
                               until_done=until_done, run=run, lease=lease, rate=rate, settle=settle,
                               idle=idle, prune=prune)  # fmt: skip
        except asyncio.CancelledError:
            if terminated.is_set():
                raise KeyboardInterrupt from None
            raise

    state.report.line(f"worker for {', '.join(providers)} on {batchkit.runs.redacted(journal)}")
    try:
        with observing:
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
@click.option("--run", "run", help="show this run's chunks: state, job id, attempts, error, lease holder")
@click.option("--watch", is_flag=True, help="show them live (a bar per run, its rate and ETA) until every run has"
              " settled")  # fmt: skip
@click.option("--every", type=click.FloatRange(0.1, 3600), default=2.0, show_default=True,
              help="seconds between looks, with --watch")  # fmt: skip
@with_state
def runs(state: State, journal: str, run: str | None, watch: bool, every: float) -> int:
    """Show each run in the journal: chunks sent, jobs finished, files done (with --run, its chunks)."""
    if run is not None:
        render(chunk_rows(journal, run), "json" if state.as_json else "table", sys.stdout, "chunks", CHUNK_COLUMNS)
        return EXIT_OK
    if watch:
        show(journal, every, sys.stdout)
        return EXIT_OK
    with Journal(journal) as book:
        rows = [run_row(p) for p in book.runs()]
    if state.as_json:
        render(rows, "json", sys.stdout)
    elif sys.stdout.isatty():
        Console().print(progress_table(rows))
    else:
        render([{k: row[k] for k in RUN_COLUMNS} for row in rows], "table", sys.stdout, "runs", RUN_COLUMNS)
    return EXIT_OK


RUN_COLUMNS = ("run", "provider", "files", "chunks", "sent", "finished", "files_done", "ambiguous", "failed")
CHUNK_COLUMNS = ("run", "chunk", "files", "state", "job", "job_status", "attempts", "error", "held_by")
WORKER_COLUMNS = ("worker", "host", "pid", "version", "providers", "started", "heartbeat", "alive", "chunks")
"""The columns of the tables ``runs``, ``runs --run`` and ``workers`` print (shown even when empty)."""


def run_row(progress: RunProgress) -> dict[str, Any]:
    run = progress.run
    return {
        "run": run.id,
        "provider": run.provider,
        "created": moment(run.created_ms),
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
    longest = max((len(row["run"]) for row in rows), default=3)
    for column in ("run", "provider", "chunks sent", "jobs finished", "files done", "", "ambiguous", "failed"):
        table.add_column(column, no_wrap=column == "run", min_width=longest if column == "run" else None)
    for row in rows:
        table.add_row(
            Text(literal(row["run"])), Text(literal(row["provider"])), f"{row['sent']}/{row['chunks']}",
            f"{row['finished']}/{row['chunks']}", f"{row['files_done']}/{row['files']}",
            ProgressBar(total=max(row["files"], 1), completed=row["files_done"], width=24),
            str(row["ambiguous"]), str(row["failed"]),
        )  # fmt: skip
    return table


@cli.command()
@JOURNAL
@with_state
def workers(state: State, journal: str) -> int:
    """Show the workers registered in the journal: host, process, version, providers, last heartbeat,
    whether it is alive (its heartbeat has not expired) and the chunks it holds."""
    with Journal(journal) as book:
        found = book.workers()
    rows = [{"worker": w.id, "host": w.host, "pid": w.pid, "version": w.version, "providers": ",".join(w.providers),
             "started": moment(w.started_ms), "heartbeat": moment(w.heartbeat_ms), "alive": w.alive,
             "chunks": w.chunks} for w in found]  # fmt: skip
    render(rows, "json" if state.as_json else "table", sys.stdout, "workers", WORKER_COLUMNS)
    return EXIT_OK


def moment(ms: int) -> str:
    """A journal's moment (ms since the epoch) as an ISO time in UTC."""
    return datetime.fromtimestamp(ms / 1000, tz=timezone.utc).isoformat(timespec="seconds")


def chunk_rows(journal: str, run: str) -> list[dict[str, Any]]:
    """Each chunk of ``run`` (or a prefix of its id) as a row: state, job id, attempts, error, lease holder."""
    with Journal(journal) as book:
        found = book.run(run)
        chunks, holders = book.chunks(found.id), book.holders(found.id)
    return [{"run": found.id, "chunk": c.index, "files": len(c.files), "state": c.state, "job": c.job_id,
             "job_status": c.job_status, "attempts": c.attempts, "error": c.error,
             "held_by": holders.get(c.index)} for c in chunks]  # fmt: skip


@cli.command()
@JOURNAL
@click.option("--run", "run", required=True, help="the run (its id, or the beginning of it)")
@click.option("--chunk", type=int, help="this chunk only (it must be ambiguous)")
@with_state
def resend(state: State, journal: str, run: str, chunk: int | None) -> int:
    """Send again, knowingly, a run's ambiguous chunks (never a new run, never a chunk that has a job or is
    done): workers send them. Says first which chunks may be paid for twice."""
    with Journal(journal) as book:
        found = book.run(run)
        chosen = book.resend(found.id, chunk)
    if not chosen:
        state.report.line(f"run {found.id} has no ambiguous chunk: nothing to resend")
        return EXIT_OK
    for c in chosen:
        state.report.line(f"chunk {c.index} ({len(c.files)} files) may already have been created and would then be"
                          f" paid for twice: {c.error}")  # fmt: skip
    state.report.line(f"planned again: chunks {[c.index for c in chosen]} of {found.id}; workers send them")
    if state.as_json:
        click.echo(json.dumps({"run": found.id, "resent": [c.index for c in chosen]}))
    return EXIT_OK


@cli.command()
@JOURNAL
@click.option("--run", "run", required=True, help="the run (its id, or the beginning of it)")
@with_state
def cancel(state: State, journal: str, run: str) -> int:
    """Stop a run: no worker claims its chunks again, and a worker holding one can write nothing more of it.
    Jobs already created are not cancelled at the provider."""
    with Journal(journal) as book:
        found = book.run(run)
        stopped = book.cancel(found.id)
    state.report.line(f"cancelled {stopped} chunk(s) of {found.id}")
    if state.as_json:
        click.echo(json.dumps({"run": found.id, "cancelled": stopped}))
    return EXIT_OK


AGE_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


def age(text: str) -> float:
    """Seconds from ``30d``, ``12h``, ``90m``, ``45s``, ``2w`` or a plain number of seconds."""
    number, unit = (text[:-1], AGE_UNITS[text[-1]]) if text[-1:] in AGE_UNITS else (text, 1)
    try:
        seconds = float(number) * unit
    except ValueError:
        seconds = -1.0
    if not seconds >= 0:
        raise click.BadParameter(f"{text!r} is not an age (say 30d, 12h, 90m or 45s)")
    return seconds


@cli.command()
@JOURNAL
@click.option("--older-than", "older_than", required=True, metavar="AGE", help="created that long ago: 30d, 12h, 90m")
@click.option("--dry-run", is_flag=True, help="only say which runs would go")
@with_state
def prune(state: State, journal: str, older_than: str, dry_run: bool) -> int:
    """Delete the runs created more than AGE ago that are over (every chunk done, failed or cancelled),
    with their files' results. A run with work left, or an ambiguous chunk, is kept."""
    from batchkit.runs import prune as prune_runs

    gone = prune_runs(journal, age(older_than), dry_run=dry_run)
    verb = "would delete" if dry_run else "deleted"
    listed = "".join(f"\n  {r}" for r in gone)
    state.report.line(f"{verb} {len(gone)} run(s) created more than {older_than} ago{listed}")
    if state.as_json:
        click.echo(json.dumps({"dry_run": dry_run, "pruned": gone}))
    return EXIT_OK
