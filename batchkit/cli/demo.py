"""``batchkit demo``: sample media through each provider, or through the emulator when no key is set."""

from __future__ import annotations

import contextlib
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import batchkit
from batchkit import config
from batchkit.errors import ConfigError
from batchkit.models import JobStatus
from batchkit.samples import write_samples

from . import EXIT_OK, EXIT_PARTIAL
from .output import Reporter, render, result_row


@contextlib.contextmanager
def targets(provider: str | None, report: Reporter) -> Iterator[list[config.Settings]]:
    """The configured provider when its key is set, else each provider, on the emulator where it has no key."""
    try:
        yield [config.resolve(provider)]
        return
    except ConfigError:
        pass
    from batchkit.emulator import EMULATOR_KEY, configured_or_emulated

    with configured_or_emulated(*([provider] if provider else ["hume", "resemble"])) as chosen:
        for settings in chosen:
            if settings.api_key.reveal() == EMULATOR_KEY:
                name = settings.provider.name
                report.line(f"no {name} API key configured: using the built-in emulator at {settings.base_url}")
        yield chosen


def run_demo(provider: str | None, report: Reporter, timeout: float, as_json: bool) -> int:
    statuses = []
    with tempfile.TemporaryDirectory(prefix="batchkit-demo-") as tmp, targets(provider, report) as chosen:
        samples = write_samples(Path(tmp))
        for settings in chosen:
            name = settings.provider.name
            with batchkit.Client(settings) as client:
                text = ["What a wonderful surprise, thank you so much!"] if name == "hume" else None
                job = client.submit(samples, text=text)
                report.line(f"{name}: submitted {len(samples)} file(s){' and a text' if text else ''} as job {job.id}")
                with report.waiting(1) as on_update:
                    [job] = client.wait_all([job], timeout=timeout, on_update=on_update)
                rows = [{"provider": name, **result_row(r)} for r in client.results(job)]
            statuses.append(job.status)
            render(rows, "jsonl" if as_json else "table", sys.stdout, f"{name} job {job.id}: {job.status.name}")
    return EXIT_OK if JobStatus.combine(statuses) is JobStatus.SUCCEEDED else EXIT_PARTIAL
