"""The same pipeline on any provider: only configuration names it.

BATCHKIT_PROVIDER=hume python examples/switch_provider.py
BATCHKIT_PROVIDER=resemble python examples/switch_provider.py
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

import batchkit
from batchkit.emulator import configured_or_emulated
from batchkit.samples import write_samples


def pipeline(client: batchkit.Client, files: list[Path]) -> list[tuple[str, str]]:
    """Knows nothing of providers."""
    job = client.wait(client.submit(files))
    return [(r.source, r.status.name) for r in client.results(job)]


def main() -> int:
    provider = os.environ.get("BATCHKIT_PROVIDER", "hume")
    with (
        tempfile.TemporaryDirectory() as tmp,
        configured_or_emulated(provider) as [settings],
        batchkit.connect(provider, **settings) as client,
    ):
        for source, status in pipeline(client, write_samples(Path(tmp))):
            print(f"{provider}: {source} {status}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
