"""pbfs: run patch-based distributed store scenarios from Python and analyse their traces.

Runs go through the same code path as `pbfs run`, so a scenario and a seed give the same trace, byte for
byte, whichever way they are run::

    import pbfs
    result = pbfs.run("scenarios/echo.yaml", seed=7, overrides={"duration": "2s"}, trace="echo.h5")
    result.summary            # RunSummary: events, messages, metrics, counters
    result.verdicts           # [CheckerVerdict]
    result.tables["faults"]   # numpy structured array over the run's rows (no copy)
    trace = pbfs.analysis.open_trace(result)   # pandas views and plots

Scenarios come from a file, YAML text or a dict (pbfs.load_scenario); bad ones raise ScenarioError with
the command line's "file:line: field: what" message. Parameter and seed sweeps: pbfs.sweep(), locally or
on a Dask cluster. See docs/python.md.
"""

from __future__ import annotations

import importlib
import json
import os
from collections.abc import Mapping
from typing import Callable, Iterable, Optional, Union

from ._pbfs import (
    CheckerVerdict,
    RunError,
    RunResult,
    RunSummary,
    Scenario,
    ScenarioError,
    load_scenario_dict,
    load_scenario_file,
    load_scenario_text,
    python_from_yaml,
    trace_schema_version,
    version,
    yaml_from_python,
)
from ._sweep import SweepError, load_sweep, sweep

try:
    from . import _build_info

    SOURCE_DIR: Optional[str] = _build_info.SOURCE_DIR
    CLI: Optional[str] = _build_info.CLI
except ImportError:  # a package assembled without CMake
    SOURCE_DIR = None
    CLI = None

__version__ = version

__all__ = [
    "CheckerVerdict", "RunError", "RunResult", "RunSummary", "Scenario", "ScenarioError", "SweepError",
    "load_scenario", "run", "sweep", "load_sweep", "format_overrides", "scenario_path", "analysis",
    "load_scenario_file", "load_scenario_text", "load_scenario_dict", "yaml_from_python", "python_from_yaml",
    "version", "trace_schema_version",
]

ScenarioSource = Union[str, os.PathLike, Mapping, Scenario]
Overrides = Union[None, str, Mapping, Iterable[str]]


def _override_value(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    if isinstance(value, (list, tuple, dict)):
        return json.dumps(value)  # JSON is YAML flow syntax
    return str(value)


def format_overrides(overrides: Overrides) -> list[str]:
    """Overrides as the "dotted.key=value" strings `pbfs run --set` takes.

    Accepts None, one "key=value" string, a list of them, or a mapping {"workload.pairs": 2, ...}
    (bool -> true/false, lists and dicts -> YAML flow syntax, anything else -> str()).
    """
    if overrides is None:
        return []
    if isinstance(overrides, str):
        return [overrides]
    if isinstance(overrides, Mapping):
        return [f"{key}={_override_value(value)}" for key, value in overrides.items()]
    result = []
    for item in overrides:
        if not isinstance(item, str) or "=" not in item:
            raise TypeError(f"override {item!r} is not a 'dotted.key=value' string")
        result.append(item)
    return result


def load_scenario(source: ScenarioSource, overrides: Overrides = None) -> Scenario:
    """Loads and validates a scenario; raises ScenarioError ("file:line: field: what") if it is invalid.

    source: a path (str without a newline, or os.PathLike), YAML text (a str with a newline), a dict of
    the same shape as a scenario file, or a Scenario (then only the overrides are applied).
    overrides: see format_overrides(); applied in order, as `pbfs run --set` does.
    """
    extra = format_overrides(overrides)
    if isinstance(source, Scenario):
        return source.with_overrides(extra) if extra else source
    if isinstance(source, Mapping):
        return load_scenario_dict(source, extra)
    if isinstance(source, os.PathLike):
        return load_scenario_file(os.fspath(source), extra)
    if isinstance(source, str):
        if "\n" in source:
            return load_scenario_text(source, "<string>", extra)
        return load_scenario_file(source, extra)
    raise TypeError(f"a scenario is a path, YAML text, a dict or a Scenario, not {type(source).__name__}")


def run(source: ScenarioSource, seed: Optional[int] = None, overrides: Overrides = None,
        trace: Union[None, str, os.PathLike] = None, progress: Optional[Callable[[int, int], None]] = None,
        retain_rows: bool = True) -> RunResult:
    """Loads a scenario and runs it in this process; the equivalent of
    `pbfs run SOURCE --seed SEED --out TRACE --set KEY=VALUE...`.

    seed: overrides the scenario's seed. trace: the HDF5 trace to write (default: the scenario's
    outputs.trace, else NAME.h5 in the working directory). progress: progress(simulated_ns, events),
    called every 1% of simulated time. retain_rows: keep the tables in memory (RunResult.tables).
    The GIL is released while the simulation runs, so other Python threads keep going.
    """
    scenario = load_scenario(source, overrides)
    return scenario.run(seed=seed, trace_path=os.fspath(trace) if trace is not None else "",
                        retain_rows=retain_rows, progress=progress)


def scenario_path(name: str) -> str:
    """The path of an example scenario of this build's source tree, e.g. scenario_path("echo.yaml")."""
    if SOURCE_DIR is None:
        raise FileNotFoundError("this pbfs package does not know its source tree (no _build_info)")
    path = os.path.join(SOURCE_DIR, "scenarios", name)
    if not os.path.exists(path):
        known = sorted(f for f in os.listdir(os.path.join(SOURCE_DIR, "scenarios")) if f.endswith(".yaml"))
        raise FileNotFoundError(f"no scenario {name!r} in {SOURCE_DIR}/scenarios (known: {', '.join(known)})")
    return path


def __getattr__(name: str):
    # pbfs.analysis needs pandas; import it on first use so `import pbfs` stays light (sweep workers).
    if name == "analysis":
        return importlib.import_module(".analysis", __name__)
    raise AttributeError(f"module 'pbfs' has no attribute {name!r}")
