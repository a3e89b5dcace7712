"""``batchkit demo``: each provider's sample media, through the emulator where no key is set."""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import batchkit
from batchkit import config
from batchkit.emulator import configured_or_emulated, emulated_providers
from batchkit.errors import ConfigError
from batchkit.models import JobStatus
from batchkit.providers import presentation
from batchkit.results import summary

from . import EXIT_OK, EXIT_PARTIAL
from .output import Reporter, render


def _names(provider: str | None) -> list[str]:
    """The configured provider, or every provider the emulator serves."""
    if provider is None:
        try:
            provider = config.resolve().provider.name
        except ConfigError:
            return emulated_providers()
    return [provider]


def run_demo(provider: str | None, report: Reporter, timeout: float, as_json: bool) -> int:
    statuses, everything = [], []
    names = _names(provider)
    with tempfile.TemporaryDirectory(prefix="batchkit-demo-") as tmp, configured_or_emulated(*names) as chosen:
        for name, settings in zip(names, chosen, strict=True):
            if "base_url" in settings:
                report.line(f"no {name} API key configured: using the built-in emulator at {settings['base_url']}")
            folder = Path(tmp) / name
            folder.mkdir()
            sample = presentation(name).sample(folder)
            with batchkit.connect(name, **settings) as client:
                job = client.submit(sample.files, **sample.inputs)
                report.line(f"{name}: submitted {len(sample.files)} file(s) as job {job.id}")
                with report.waiting(1) as on_update:
                    [job] = client.wait_all([job], timeout=timeout, on_update=on_update)
                rows = list(summary(client.results(job)))
            statuses.append(job.status)
            everything += rows
            if not as_json:
                render(rows, "table", sys.stdout, f"{name} job {job.id}: {job.status.name}")
    if as_json:  # one JSON document, as every command gives with --json
        render(everything, "json", sys.stdout)
    return EXIT_OK if JobStatus.combine(statuses) is JobStatus.SUCCEEDED else EXIT_PARTIAL
