"""Run by the benchmark as a child: plan (convert) one audio file for hume-expression, print seconds."""

from __future__ import annotations

import sys
import time
from pathlib import Path

from batchkit._kernel.inputs import check_file
from batchkit.providers.hume_expression.options import HumeExpressionOptions
from batchkit.providers.hume_expression.plan import plan

if __name__ == "__main__":
    source, folder = Path(sys.argv[1]), Path(sys.argv[2])
    started = time.perf_counter()
    made = plan([check_file(source)], HumeExpressionOptions(), folder)
    print(time.perf_counter() - started, len(made.items), flush=True)
