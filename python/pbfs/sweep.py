"""`pbfs sweep SWEEP [--out DIR] [--workers N] [--scheduler ADDRESS]` (run as `python3 -m pbfs.sweep`):
runs every point of a sweep file on local cores (or on a Dask cluster), one trace per point, and writes
OUT/summary.h5. Exit codes: 0 every point ran and passed its checks; 1 a point failed (its replay command
is printed); 2 bad input (command line, sweep file, a point's scenario). The Python function is
pbfs.sweep(); this module is only the command line.
"""

from __future__ import annotations

import argparse
import sys
from typing import Optional

EXIT_OK, EXIT_POINT_FAILED, EXIT_BAD_INPUT = 0, 1, 2


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="pbfs sweep", description="Run a parameter/seed sweep; one trace per point, one summary table.",
        epilog="exit codes: 0 all points passed, 1 a point failed (replay command printed), 2 bad input")
    parser.add_argument("sweep", help="sweep file (YAML: scenario, set, grid, seeds)")
    parser.add_argument("--out", help="output directory (default: NAME-sweep); points already done there "
                                      "are skipped")
    parser.add_argument("--workers", type=int, help="local worker processes (default: one per core)")
    parser.add_argument("--scheduler", metavar="ADDRESS",
                        help="run on the Dask cluster of this scheduler (e.g. tcp://10.0.0.1:8786) instead of "
                             "local processes; OUT must be a directory every worker can reach")
    return parser


def _connect(address: str):
    from distributed import Client
    return Client(address, timeout="10s")


def main(argv: Optional[list] = None) -> int:
    args = _parser().parse_args(argv)  # exits with 2 on a bad command line
    if args.workers is not None and args.workers < 1:
        print("pbfs sweep: --workers must be at least 1", file=sys.stderr)
        return EXIT_BAD_INPUT
    from . import SweepError, sweep
    client = None
    try:
        if args.scheduler:
            try:
                client = _connect(args.scheduler)
            except (OSError, ValueError) as e:
                print(f"pbfs sweep: cannot reach the Dask scheduler {args.scheduler}: {e}", file=sys.stderr)
                return EXIT_BAD_INPUT
        frame = sweep(args.sweep, args.out, client=client, workers=args.workers, progress=True)
    except SweepError as e:
        print(str(e), file=sys.stderr)
        return EXIT_BAD_INPUT
    finally:
        if client is not None:
            client.close()
    failed = frame[frame["status"] != "ok"]
    print(f"{len(frame)} runs: {int((frame['status'] == 'ok').sum())} ok, "
          f"{int((frame['status'] == 'checks_failed').sum())} checks failed, "
          f"{int((frame['status'] == 'error').sum())} errors; summary {frame.attrs['summary_path']}")
    for _, row in failed.iterrows():
        print(f"FAILED {row['point']} ({row['status']}): replay with\n    {row['replay']}")
    return EXIT_POINT_FAILED if len(failed) else EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
