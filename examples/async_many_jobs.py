"""Submit many jobs concurrently and handle each as it finishes (async client).

python examples/async_many_jobs.py [COUNT]
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
from pathlib import Path

import batchkit
from batchkit.emulator import configured_or_emulated
from batchkit.samples import write_samples


async def main(count: int) -> int:
    with tempfile.TemporaryDirectory() as tmp, configured_or_emulated("resemble") as [settings]:
        samples = write_samples(Path(tmp))
        async with batchkit.connect_async("resemble", **settings) as client:
            jobs = await asyncio.gather(*(client.submit(samples) for _ in range(count)))
            finished = 0
            async for job in client.as_completed(jobs, timeout=3600):
                finished += 1
                print(f"[{finished}/{count}] {job.id}: {job.status.name}")
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main(int(sys.argv[1]) if len(sys.argv) > 1 else 10)))
