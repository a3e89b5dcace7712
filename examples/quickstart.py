"""Submit media, wait, print one line per input.

python examples/quickstart.py clip.mp4 face.jpg      # provider and key from env / batchkit.toml
"""

from __future__ import annotations

import sys

import batchkit


def main(paths: list[str]) -> int:
    with batchkit.connect() as client:
        job = client.wait(client.submit(paths), timeout=3600)
        print(f"{job.provider} job {job.id}: {job.status.name}")
        for result in client.results(job):
            print(f"  {result.source}: {result.status.name} {result.error or ''}")
    return 0 if job.status is batchkit.JobStatus.SUCCEEDED else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
