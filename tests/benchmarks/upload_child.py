"""One batchkit upload, run as its own process so its peak RSS can be read: PROVIDER BASE_URL FILE..."""

from __future__ import annotations

import sys
import time

import batchkit

if __name__ == "__main__":
    provider, base_url, *files = sys.argv[1:]
    with batchkit.connect(provider, api_key="bench", base_url=base_url) as client:
        started = time.perf_counter()
        client.submit(files)
        print(time.perf_counter() - started)
