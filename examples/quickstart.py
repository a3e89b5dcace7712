"""Submit media, wait, print one line per input (sync client).

    python examples/quickstart.py [PATH ...]

Uses the provider and key from the environment or batchkit.toml; with no key it runs on the
built-in emulator (needs batchkit[emulator]). With no paths it submits sample media.
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

import batchkit
from batchkit.emulator import configured_or_emulated
from batchkit.samples import write_samples


def main(paths: list[str]) -> int:
    provider = os.environ.get("BATCHKIT_PROVIDER", "resemble")
    with tempfile.TemporaryDirectory() as tmp, configured_or_emulated(provider) as [settings]:
        files = paths or write_samples(Path(tmp))
        with batchkit.connect(provider, **settings) as client:
            job = client.wait(client.submit(files), timeout=3600)
            print(f"{job.provider} job {job.id}: {job.status.name}")
            for result in client.results(job):
                print(f"  {result.source}: {result.status.name} {result.error or ''}")
    return 0 if job.status is batchkit.JobStatus.SUCCEEDED else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
