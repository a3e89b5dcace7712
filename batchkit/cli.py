"""The ``batchkit`` command line."""

from __future__ import annotations

import argparse
import contextlib
import sys
import threading
from collections.abc import Sequence


def _emulator(args: argparse.Namespace) -> int:
    try:
        from batchkit.emulator import EmulatorConfig, serve
    except ImportError:
        print("batchkit emulator needs: pip install 'batchkit[emulator]'", file=sys.stderr)
        return 4
    config = EmulatorConfig(seed=args.seed, run_seconds=args.run_seconds)
    with serve(config=config, host=args.host, port=args.port) as emu:
        print(f"batchkit emulator serving Hume and Resemble at {emu.base_url} (any non-empty key; Ctrl-C stops)")
        print(f"  BATCHKIT_BASE_URL={emu.base_url}", flush=True)
        with contextlib.suppress(KeyboardInterrupt):
            threading.Event().wait()
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="batchkit", description="Batch detection with Hume and Resemble.")
    commands = parser.add_subparsers(dest="command", required=True)
    emulator = commands.add_parser("emulator", help="serve the local emulator of both providers")
    emulator.add_argument("--port", type=int, default=8765)
    emulator.add_argument("--host", default="127.0.0.1", help="address to listen on (default loopback only)")
    emulator.add_argument("--seed", type=int, default=0)
    emulator.add_argument("--run-seconds", type=float, default=2.0, help="how long each job runs")
    emulator.set_defaults(run=_emulator)
    args = parser.parse_args(argv)
    code: int = args.run(args)
    return code


if __name__ == "__main__":
    sys.exit(main())
