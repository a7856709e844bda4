"""Helpers for the pbfs Python tests: running the command line and the Python entry points as
subprocesses, and sweep runners that misbehave on purpose (module level, so pool workers can import
them by name)."""

import os
import subprocess

from pbfs import _sweep


def run_cli(cli: str, *args, cwd=None) -> subprocess.CompletedProcess:
    return subprocess.run([cli, *map(str, args)], capture_output=True, text=True, cwd=cwd, timeout=120)


def run_module(module: str, *args, cwd=None) -> subprocess.CompletedProcess:
    """`/usr/bin/python3 -m MODULE ARGS` with this process's environment (PYTHONPATH included)."""
    return subprocess.run(["/usr/bin/python3", "-m", module, *map(str, args)], capture_output=True, text=True,
                          cwd=cwd, timeout=300)


def runner_aborting_on_four_pairs(task: dict) -> dict:
    """Runs a point, except that a point with workload.pairs=4 kills its worker process (as a failed
    assertion in the simulator would)."""
    if "workload.pairs=4" in task["overrides"]:
        os.abort()
    return _sweep.run_point(task)
