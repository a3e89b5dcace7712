"""The commands of ``batchkit``."""

from __future__ import annotations

import json
import sys
import traceback
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any, TextIO, TypeVar

import click

import batchkit
from batchkit.errors import (
    BatchkitError,
    ConfigError,
    InputError,
    JobNotFinishedError,
    NotFoundError,
    UnsupportedError,
    WaitTimeoutError,
)
from batchkit.models import BatchJob, JobStatus

from . import EXIT_CONFIG, EXIT_FAILED, EXIT_INPUT, EXIT_OK, EXIT_PARTIAL, EXIT_PROVIDER, EXIT_TIMEOUT, EXIT_UNFINISHED
from .output import Reporter, job_row, literal, render

FORMATS = click.Choice(["table", "json", "jsonl", "csv"])
OUTPUT_FORMATS = {".csv": "csv", ".json": "json", ".jsonl": "jsonl"}
T = TypeVar("T")
STATUS_EXIT = {JobStatus.PARTIALLY_FAILED: EXIT_PARTIAL, JobStatus.FAILED: EXIT_FAILED}


class State:
    def __init__(self, provider: str | None, as_json: bool, log_format: str = "text") -> None:
        self.provider = provider
        self.as_json = as_json
        self.log_format = log_format
        self.report = Reporter(quiet=as_json, logged=log_format == "json")

    @contextmanager
    def client(self, on_upload: Any = None) -> Iterator[batchkit.Client]:
        with batchkit.connect(self.provider, on_upload=on_upload) as client:
            yield client

    @contextmanager
    def resumable(self, job_ids: Sequence[str]) -> Iterator[None]:
        """On Ctrl-C: say which jobs are still running and how to pick them up again; exit 130."""
        try:
            yield
        except KeyboardInterrupt:
            provider = f" -p {self.provider}" if self.provider else ""
            print(f"batchkit: interrupted; still running: {', '.join(job_ids)}", file=sys.stderr)
            print(f"  resume with: batchkit{provider} wait {' '.join(job_ids)}", file=sys.stderr)
            raise click.exceptions.Exit(130) from None

    @contextmanager
    def interrupted_upload(self, sent: Sequence[int]) -> Iterator[None]:
        """On Ctrl-C during ``submit``: say whether a job may exist (bytes had gone out) and what to run; exit 130."""
        try:
            yield
        except KeyboardInterrupt:
            provider = f" -p {self.provider}" if self.provider else ""
            if not any(sent):
                print("batchkit: interrupted before any byte was sent: no job was created", file=sys.stderr)
            else:
                print(f"batchkit: interrupted during the upload ({sum(sent)} bytes sent): a job may exist.\n"
                      f"  look for it with `batchkit{provider} jobs` (a synchronous provider's: `batchkit runs`) before"
                      " submitting again; a new submit may create (and bill) a second job",
                      file=sys.stderr)  # fmt: skip
            raise click.exceptions.Exit(130) from None

    def show_jobs(self, jobs: Sequence[BatchJob], title: str) -> None:
        rows = [job_row(job) for job in jobs]
        if self.as_json:
            render(rows, "json", sys.stdout)
        else:
            shown = ("provider", "id", "status", "total_count", "failed_count")
            render([{k: row[k] for k in shown} for row in rows], "table", sys.stdout, title, shown)


def status_exit(jobs: Sequence[BatchJob]) -> int:
    return STATUS_EXIT.get(JobStatus.combine(job.status for job in jobs), EXIT_OK)


def parse_options(pairs: Sequence[str]) -> dict[str, Any]:
    """``k=v`` pairs (dotted keys nest; values read as JSON when they parse) as an options mapping."""
    options: dict[str, Any] = {}
    for pair in pairs:
        key, sep, raw = pair.partition("=")
        if not sep or not key:
            raise InputError(f"--option expects key=value, got {pair!r}")
        try:
            value = json.loads(raw)
        except ValueError:
            value = raw
        *parents, leaf = key.split(".")
        node = options
        for depth, part in enumerate(parents):
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                where = ".".join(parents[: depth + 1])
                raise InputError(f"--option {key}: {where} was already given a value, not options")
        if isinstance(node.get(leaf), dict):
            raise InputError(f"--option {key}: {key} already holds options ({leaf}.…)")
        node[leaf] = value
    return options


def with_state(command: Callable[..., int]) -> Callable[..., int]:
    """Pass the :class:`State`; ``--provider`` may also follow the command (``batchkit submit a.wav -p NAME``)."""

    def wrapper(state: State, /, command_provider: str | None, **kwargs: Any) -> int:
        if command_provider:
            state.provider = command_provider
        return command(state, **kwargs)

    wrapper.__name__, wrapper.__doc__ = command.__name__, command.__doc__
    option = click.option("--provider", "-p", "command_provider", help="the provider (as before the command)")
    return option(click.pass_obj(wrapper))


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--provider", "-p", help="the provider's name (default: BATCHKIT_PROVIDER or batchkit.toml)")
@click.option("--json", "as_json", is_flag=True, help="machine-readable output on stdout, no progress")
@click.option("--debug", is_flag=True, expose_value=False, help="show tracebacks (read by run())")
@click.option("--log-format", type=click.Choice(["text", "json"]), default="text", envvar="BATCHKIT_LOG_FORMAT",
              help="json: batchkit's log records and a worker's events as JSON lines on stderr")  # fmt: skip
@click.version_option(batchkit.__version__, prog_name="batchkit")
@click.pass_context
def cli(ctx: click.Context, provider: str | None, as_json: bool, log_format: str) -> None:
    """Send media to batch-detection APIs and get results back."""
    from .observe import configure_logs

    ctx.call_on_close(configure_logs(log_format))
    ctx.obj = State(provider, as_json, log_format)


@cli.command()
@click.argument("paths", nargs=-1, type=click.Path(path_type=Path))
@click.option("--url", "urls", multiple=True, help="a media URL (where the provider takes URLs)")
@click.option("--text", "texts", multiple=True, help="a text to analyse (where the provider takes text)")
@click.option("--zip", "archive", type=click.Path(path_type=Path), help="one zip of media")
@click.option("--callback-url", help="POSTed when the job ends")
@click.option(
    "--option", "options", multiple=True, metavar="KEY=VALUE", help="a provider option, e.g. intelligence=true"
)
@click.option("--wait", "wait", is_flag=True, help="wait for the job to end")
@click.option("--timeout", type=float, help="with --wait: give up after this many seconds")
@with_state
def submit(state: State, paths: tuple[Path, ...], urls: tuple[str, ...], texts: tuple[str, ...], archive: Path | None,
           callback_url: str | None, options: tuple[str, ...], wait: bool, timeout: float | None) -> int:  # fmt: skip
    """Submit PATHS (and/or --url, --text, --zip) as one job."""
    total = sum(p.stat().st_size for p in paths if p.is_file()) + (
        archive.stat().st_size if archive and archive.is_file() else 0
    )
    sent: list[int] = []

    def counted(progress: Callable[[int], None]) -> Callable[[int], None]:
        def report(n: int) -> None:
            sent.append(n)
            progress(n)

        return report

    with (
        state.report.upload(total, f"{len(paths) + bool(archive)} file(s)") as progress,
        state.client(counted(progress)) as client,
        state.interrupted_upload(sent),
    ):
        job = client.submit(list(paths) or None, urls=list(urls) or None, text=list(texts) or None, zip=archive,
                            callback_url=callback_url, options=parse_options(options) or None)  # fmt: skip
    state.report.line(f"created {job.provider} job {job.id}")
    if wait:
        with state.client() as client, state.report.waiting(1) as on_update, state.resumable([job.id]):
            job = client.wait_all([job], timeout=timeout, on_update=on_update)[0]
    state.show_jobs([job], "job")
    return status_exit([job])


@cli.command()
@click.argument("job")
@with_state
def status(state: State, job: str) -> int:
    """Show JOB's status."""
    with state.client() as client:
        found = client.get(job)
    state.show_jobs([found], "job")
    return status_exit([found])


@cli.command(name="wait")
@click.argument("jobs", nargs=-1, required=True)
@click.option("--timeout", type=float, help="give up after this many seconds")
@with_state
def wait_command(state: State, jobs: tuple[str, ...], timeout: float | None) -> int:
    """Wait for JOBS to end."""
    with state.client() as client, state.report.waiting(len(jobs)) as on_update, state.resumable(list(jobs)):
        done = client.wait_all(list(jobs), timeout=timeout, on_update=on_update)
    state.show_jobs(done, "jobs")
    return status_exit(done)


RUN_JOURNAL = click.option(
    "--journal", envvar="BATCHKIT_JOURNAL",
    help="with --run: the journal (default: BATCHKIT_JOURNAL, else batchkit's own journal.db)",
)  # fmt: skip
RUN = click.option("--run", "run_id", help="a run in the journal instead of JOB (one row per input file)")


def results_of(state: State, job: str | None, journal: str | None, run_id: str | None) -> tuple[str, list[Any]]:
    """(what they are, the results) of JOB from its provider, or of ``run_id`` read from ``journal``."""
    if run_id is not None:
        from batchkit._kernel.journal import default_journal

        if job is not None:
            raise click.UsageError("say JOB or --run RUN, not both")
        return f"run {run_id}", batchkit.runs.results(journal or default_journal(), run_id)
    if job is None:
        raise click.UsageError("say which JOB, or which run with --run RUN [--journal URL]")
    with state.client() as client:
        try:
            return f"{client.provider} job {job}", client.results(job)
        except NotFoundError as exc:
            if job.startswith("run-"):
                raise InputError(f"{job} is not a {client.provider} job ({exc}); a run in a journal is read "
                                 f"with --run {job} [--journal URL]") from None  # fmt: skip
            raise


@cli.command()
@click.argument("job", required=False)
@RUN_JOURNAL
@RUN
@click.option("--format", "fmt", type=FORMATS, default=None,
              help="default: from -o's extension, else table (json with --json)")  # fmt: skip
@click.option("--detail", type=click.Choice(["summary", "full"]), default="summary", show_default=True,
              help="summary: one line per input (its headline name and score); full: the tidy rows")  # fmt: skip
@click.option("--verdicts", "as_verdicts", is_flag=True,
              help="one verdict row per input and detector (fake, real, uncertain, not_applicable, error)")  # fmt: skip
@click.option("-o", "--output", type=click.Path(path_type=Path), help="write here (.csv, .json or .jsonl)")
@with_state
def results(state: State, job: str | None, journal: str | None, run_id: str | None, fmt: str | None, detail: str,
            as_verdicts: bool, output: Path | None) -> int:  # fmt: skip
    """Show the results of JOB (or of a run: --run RUN [--journal URL]): one line per input, every
    score (--detail full), or each detector's verdict (--verdicts)."""
    if output is not None and fmt is None:
        fmt = OUTPUT_FORMATS.get(output.suffix.lower())
        if fmt is None:
            raise InputError(f"{output}: say the format with its extension (.csv, .json, .jsonl) or --format")
    from .export import picked, streams, write_streamed

    if run_id is not None and job is None and output is not None and fmt is not None and streams(fmt, detail):
        from batchkit._kernel.journal import default_journal

        results, chosen = batchkit.runs.streamed(journal or default_journal(), run_id), fmt
        count = written(output, lambda fh: write_streamed(results, chosen, detail, fh))
        state.report.line(f"wrote {count} results to {output}")
        return EXIT_OK
    what, found = results_of(state, job, journal, run_id)
    pick, columns = picked(detail, as_verdicts)
    rows = list(pick(found))
    fmt = fmt or ("json" if state.as_json else "table")
    if output is None:
        render(rows, fmt, sys.stdout, f"results of {what}", columns)
    else:
        written(output, lambda fh: render(rows, fmt, fh, f"results of {what}", columns))
        state.report.line(f"wrote {len(rows)} results to {output}")
    return EXIT_OK


def written(output: Path, write: Callable[[TextIO], T]) -> T:
    """What ``write`` returns, having written ``output`` (a file that cannot be written is bad input)."""
    try:
        with open(output, "w", newline="") as fh:
            return write(fh)
    except OSError as exc:
        raise InputError(f"{output}: cannot be written ({exc.strerror or exc})") from None


@cli.command()
@click.argument("job", required=False)
@RUN_JOURNAL
@RUN
@click.option("-o", "--output", type=click.Path(path_type=Path), default=Path("report.html"), show_default=True)
@click.option("--threshold", type=click.FloatRange(0, 1), default=0.5, show_default=True,
              help="a headline score at or above this flags its input")  # fmt: skip
@with_state
def report(state: State, job: str | None, journal: str | None, run_id: str | None, output: Path,
           threshold: float) -> int:  # fmt: skip
    """Write one self-contained HTML page of JOB's results (or a run's: --run RUN [--journal URL]):
    counts, the flagged inputs first, charts, every input in a sortable table (needs batchkit[report])."""
    from batchkit import report as pages

    what, found = results_of(state, job, journal, run_id)
    path = pages.write(found, output, title=what, threshold=threshold)
    click.echo(json.dumps({"path": str(path)}) if state.as_json else str(path))
    return EXIT_OK


@cli.command()
@click.argument("job")
@click.argument("dest", type=click.Path(path_type=Path))
@click.option("--extract", is_flag=True, help="unpack the zip safely into DEST/JOB")
@with_state
def artifacts(state: State, job: str, dest: Path, extract: bool) -> int:
    """Download JOB's artifacts zip into DEST (where the provider has artifacts)."""
    with state.client() as client:
        path = client.download_artifacts(job, dest, extract=extract)
    click.echo(json.dumps({"path": str(path)}) if state.as_json else str(path))
    return EXIT_OK


@cli.command()
@click.option(
    "--status", "statuses", multiple=True,
    type=click.Choice([s.name for s in JobStatus if s is not JobStatus.UNKNOWN], case_sensitive=False),
)  # fmt: skip
@click.option("--limit", type=int, default=20, show_default=True)
@with_state
def jobs(state: State, statuses: tuple[str, ...], limit: int) -> int:
    """List recent jobs (where the provider lists them)."""
    with state.client() as client:
        found = [*client.list(limit=limit, status=[JobStatus[s] for s in statuses] or None)]
    state.show_jobs(found, "jobs")
    return EXIT_OK


@cli.command()
@click.option("--port", type=int, default=8765, show_default=True)
@click.option("--host", default="127.0.0.1", show_default=True, help="address to listen on")
@click.option("--seed", type=int, default=0, help="seed of the fake predictions")
@click.option("--run-seconds", type=float, default=2.0, show_default=True, help="how long each job runs")
@click.option("--run-seconds-max", type=float, help="each job runs a random time up to this")
@click.option(
    "--allow-remote", is_flag=True, help="serve a --host other machines reach (it takes any key; no callbacks)"
)
@click.option("--idle-timeout", type=click.FloatRange(min=0, min_open=True), default=60.0, show_default=True,
              help="seconds a request body may send nothing before the connection is dropped (nothing is created)")
def emulator(port: int, host: str, seed: int, run_seconds: float, run_seconds_max: float | None,
             allow_remote: bool, idle_timeout: float) -> int:  # fmt: skip
    """Serve the local emulator of every provider that has one, until Ctrl-C."""
    import threading

    from batchkit.emulator import EmulatorConfig, serve

    settings = EmulatorConfig(seed=seed, run_seconds=run_seconds, run_seconds_max=run_seconds_max,
                              idle_timeout=idle_timeout)  # fmt: skip
    with serve(config=settings, host=host, port=port, allow_remote=allow_remote) as emu:
        names = ", ".join(emu.fakes)
        click.echo(f"batchkit emulator serving {names} at {emu.base_url} (any non-empty key; Ctrl-C stops)")
        click.echo(f"  export BATCHKIT_BASE_URL={emu.base_url}")
        sys.stdout.flush()
        with suppress(KeyboardInterrupt):
            threading.Event().wait()
    return EXIT_OK


@cli.command()
@click.option("--timeout", type=float, default=120, show_default=True)
@with_state
def demo(state: State, timeout: float) -> int:
    """Submit sample media to each provider and show the results (the emulator when no key is set)."""
    from .demo import run_demo

    return run_demo(state.provider, state.report, timeout, state.as_json)


def exit_code(exc: BaseException) -> int:
    if isinstance(exc, WaitTimeoutError):
        return EXIT_TIMEOUT
    if isinstance(exc, JobNotFinishedError):
        return EXIT_UNFINISHED
    if isinstance(exc, (InputError, UnsupportedError, click.UsageError, click.BadParameter)):
        return EXIT_INPUT
    if isinstance(exc, ConfigError):
        return EXIT_CONFIG
    return EXIT_PROVIDER


def run(argv: list[str]) -> int:
    debug = "--debug" in argv
    try:
        code = cli.main(args=argv, prog_name="batchkit", standalone_mode=False)
    except click.exceptions.Exit as done:
        return done.exit_code
    except click.exceptions.Abort:
        return 130
    except ImportError as exc:  # an optional extra that is not installed
        print(f"batchkit: error: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    except (click.ClickException, BatchkitError) as exc:
        if debug:
            traceback.print_exc()
        message = exc.format_message() if isinstance(exc, click.ClickException) else str(exc)
        print(f"batchkit: error: {literal(message)}", file=sys.stderr)
        return exit_code(exc)
    return code if isinstance(code, int) else EXIT_OK


from . import receiving, scaling  # noqa: E402 - their commands (callbacks; enqueue, worker, runs) join the group

__all__ = ["cli", "receiving", "run", "scaling"]
