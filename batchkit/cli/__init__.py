"""The ``batchkit`` command line (needs ``batchkit[cli]``: click and rich).

Exit codes: 0 success, 1 a job partially failed, 2 a job failed, 3 bad input or usage,
4 configuration error, 5 provider or network error, 6 still running when the wait timed out,
7 results asked of a job that has not finished (``batchkit wait JOB`` first).
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

EXIT_OK, EXIT_PARTIAL, EXIT_FAILED, EXIT_INPUT, EXIT_CONFIG, EXIT_PROVIDER, EXIT_TIMEOUT, EXIT_UNFINISHED = range(8)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit code."""
    try:
        from .commands import run
    except ImportError as exc:
        print(
            f"batchkit: error: the command line needs `pip install 'batchkit[cli]'` ({exc.name} is missing)",
            file=sys.stderr,
        )
        return EXIT_CONFIG
    return run(list(sys.argv[1:] if argv is None else argv))


def entry_point() -> None:
    sys.exit(main())
