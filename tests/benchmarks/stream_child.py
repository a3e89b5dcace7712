"""One way of reading a big Hume predictions reply, in its own process so its peak RSS can be read.

    python stream_child.py MODE BASE_URL        MODE: iter_results | results | json.loads
Prints the seconds it took and how many sources it read.
"""

from __future__ import annotations

import json
import sys
import time

import httpx

import batchkit

if __name__ == "__main__":
    mode, base_url = sys.argv[1:3]
    started = time.perf_counter()
    if mode == "json.loads":
        with httpx.Client(timeout=600) as http:
            count = len(json.loads(http.get(f"{base_url}/v0/batch/jobs/big/predictions").content))
    else:
        with batchkit.connect("hume", api_key="bench", base_url=base_url, timeout=600) as client:
            streamed = mode == "iter_results"
            count = sum(1 for _ in client.iter_results("big")) if streamed else len(client.results("big"))
    print(time.perf_counter() - started, count)
