"""Run by test_submit_many as a subprocess: submit_many of every file in FOLDER (under a lease of LEASE
seconds, if given), then print the job ids."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import batchkit
from batchkit.emulator import EMULATOR_KEY

if __name__ == "__main__":
    base_url, journal, folder, *lease = sys.argv[1:5]
    files = sorted(Path(folder).iterdir())
    with batchkit.connect("resemble", api_key=EMULATOR_KEY, base_url=base_url) as client:
        group = client.submit_many(files, journal=journal, **({"lease": float(lease[0])} if lease else {}))
    print(json.dumps([job.id for job in group.jobs]), flush=True)
