"""Parameter and seed sweeps: one base scenario, a grid of overrides, a list of seeds; every point is one
run that writes its own trace. Points run on a local process pool or, given a dask.distributed Client, on
a Dask cluster. A point that fails (bad override, checker violation, crash of the worker) is recorded
with the command that replays it and the sweep goes on; rerunning a sweep skips points already done.

The result is one row per run (parameters, seed, key metrics, checker verdicts), returned as a pandas
DataFrame and written to OUT/summary.h5. See docs/python.md for the sweep file format.
"""

from __future__ import annotations

import concurrent.futures
import hashlib
import itertools
import json
import multiprocessing
import os
import shlex
import time
import traceback
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Callable, Optional, Union

from . import _pbfs

SUMMARY_FILE = "summary.h5"
POINTS_DIR = "points"
# Statuses of a point. Only "error" points are run again by a rerun: the others are deterministic.
STATUS_OK = "ok"
STATUS_CHECKS_FAILED = "checks_failed"
STATUS_ERROR = "error"
_SWEEP_KEYS = ("name", "scenario", "set", "grid", "seeds")
_SUMMARY_FIELDS = ("simulated_ns", "events", "messages_sent", "messages_delivered", "messages_dropped",
                   "messages_rejected", "faults_injected")


class SweepError(ValueError):
    """A sweep file or one of its points is invalid; the message names file:line and field."""


@dataclass(frozen=True)
class SweepPoint:
    """One run of a sweep."""
    index: int
    params: dict          # grid key -> value
    seed: int
    overrides: tuple      # the sweep's `set`, then the grid's, as "key=value" (the seed apart)
    key: str              # digest of the scenario as run: the point's identity across reruns
    name: str             # file stem of its trace and record under OUT/points


@dataclass
class Sweep:
    """A parsed sweep file. scenario_path is the base scenario file; an inline scenario (a mapping in the
    sweep) is kept as scenario_text and written to OUT/scenario.yaml when the sweep runs."""
    name: str
    origin: str
    scenario_path: Optional[str] = None
    scenario_text: Optional[str] = None
    overrides: list = field(default_factory=list)
    grid: dict = field(default_factory=dict)
    seeds: Optional[list] = None  # None: the scenario's own seed

    def point_count(self) -> int:
        count = len(self.seeds) if self.seeds is not None else 1
        for values in self.grid.values():
            count *= len(values)
        return count


# --- sweep files ---------------------------------------------------------------------------------------

class _Fields:
    """Error messages for a sweep value: 'origin:line: field: what' (line when the value came from a file)."""

    def __init__(self, origin: str, lines: Mapping):
        self.origin, self.lines = origin, lines

    def error(self, path: str, what: str) -> SweepError:
        line = self.lines.get(path, self.lines.get(path.rsplit(".", 1)[0] if "." in path else "", None))
        where = f"{self.origin}:{line}" if line is not None else self.origin
        return SweepError(f"{where}: {path}: {what}" if path else f"{where}: {what}")


def _parse_seeds(value, fields: _Fields) -> Optional[list]:
    if value is None:
        return None
    if isinstance(value, Mapping):
        unknown = set(value) - {"first", "count"}
        if unknown:
            raise fields.error(f"seeds.{sorted(unknown)[0]}", "unknown field (known: first, count)")
        first, count = value.get("first", 1), value.get("count")
        if not isinstance(count, int) or isinstance(count, bool) or count < 1:
            raise fields.error("seeds.count", "expected a positive number of seeds")
        if not isinstance(first, int) or isinstance(first, bool) or first < 0:
            raise fields.error("seeds.first", "expected a non-negative seed")
        return list(range(first, first + count))
    if not isinstance(value, list) or not value:
        raise fields.error("seeds", "expected a list of seeds, e.g. [1, 2, 3], or {first: 1, count: 10}")
    for i, seed in enumerate(value):
        if not isinstance(seed, int) or isinstance(seed, bool) or seed < 0:
            raise fields.error(f"seeds.{i}", f"seed {seed!r} is not a non-negative integer")
    if len(set(value)) != len(value):
        raise fields.error("seeds", "lists a seed twice")
    return list(value)


def _parse_grid(value, fields: _Fields) -> dict:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise fields.error("grid", "expected a mapping of scenario fields to lists of values, "
                                   "e.g. {protocol.message_bytes: [1KiB, 64KiB]}")
    grid = {}
    for key, values in value.items():
        if "=" in key or not key:
            raise fields.error(f"grid.{key}", "a grid key is a dotted scenario field such as workload.pairs")
        values = values if isinstance(values, list) else [values]
        if not values:
            raise fields.error(f"grid.{key}", "lists no values")
        grid[key] = values
    return grid


def _parse_scenario(value, fields: _Fields, base_dir: str) -> tuple[Optional[str], Optional[str], list]:
    """(path, text, overrides) of the base scenario."""
    if isinstance(value, _pbfs.Scenario):
        if os.path.isfile(value.file):
            return os.path.abspath(value.file), None, [o for o in value.overrides if not o.startswith("seed=")]
        return None, value.text, []
    if isinstance(value, Mapping):
        return None, _pbfs.yaml_from_python(dict(value)), []
    if isinstance(value, (str, os.PathLike)) and os.fspath(value):
        path = os.path.join(base_dir, os.fspath(value))
        if not os.path.isfile(path):
            raise fields.error("scenario", f"no scenario file {path}")
        return os.path.abspath(path), None, []
    raise fields.error("scenario", "expected the path of the base scenario file (relative to the sweep file) "
                                   "or an inline scenario mapping")


def load_sweep(source: Union[str, os.PathLike, Mapping, Sweep]) -> Sweep:
    """Reads a sweep from a YAML file, a dict of the same shape, or returns a Sweep unchanged.

    Keys: scenario (path relative to the sweep file, or an inline mapping; required), name, set
    (overrides for every point: mapping or list of "key=value"), grid (field -> list of values, all
    combinations are run), seeds (list, or {first, count}; default: the scenario's own seed).
    """
    if isinstance(source, Sweep):
        return source
    if isinstance(source, Mapping):
        value, lines, origin, base_dir, stem = dict(source), {}, "<dict>", os.getcwd(), "sweep"
    else:
        origin = os.fspath(source)
        try:
            with open(origin, encoding="utf-8") as f:
                text = f.read()
        except OSError as e:
            raise SweepError(f"{origin}: cannot read the sweep file: {e.strerror}") from None
        try:
            value, lines = _pbfs.python_from_yaml(text, origin)
        except _pbfs.ScenarioError as e:
            raise SweepError(str(e)) from None
        base_dir, stem = os.path.dirname(os.path.abspath(origin)), os.path.splitext(os.path.basename(origin))[0]
    fields = _Fields(origin, lines)
    if not isinstance(value, Mapping):
        raise fields.error("", "a sweep file is a mapping with scenario, grid and seeds")
    for key in value:
        if key not in _SWEEP_KEYS:
            raise fields.error(str(key), f"unknown field (known: {', '.join(_SWEEP_KEYS)})")
    if "scenario" not in value:
        raise fields.error("", "required field scenario is missing")
    path, text, overrides = _parse_scenario(value["scenario"], fields, base_dir)
    try:
        from . import format_overrides
        overrides += format_overrides(value.get("set"))
    except TypeError as e:
        raise fields.error("set", str(e)) from None
    name = value.get("name", stem)
    if not isinstance(name, str) or not name or "/" in name:
        raise fields.error("name", "expected a plain name")
    return Sweep(name=name, origin=origin, scenario_path=path, scenario_text=text, overrides=overrides,
                 grid=_parse_grid(value.get("grid"), fields), seeds=_parse_seeds(value.get("seeds"), fields))


def _points(sweep: Sweep, scenario_path: str) -> list:
    """Every point, validated by loading its scenario (a bad grid value fails here, before anything runs)."""
    from . import _override_value
    keys = list(sweep.grid)
    points = []
    combos = itertools.product(*(sweep.grid[k] for k in keys))
    seeds = sweep.seeds if sweep.seeds is not None else [None]
    for params, seed in itertools.product(combos, seeds):
        overrides = list(sweep.overrides) + [f"{k}={_override_value(v)}" for k, v in zip(keys, params)]
        with_seed = overrides + ([f"seed={seed}"] if seed is not None else [])
        try:
            scenario = _pbfs.load_scenario_file(scenario_path, with_seed)
        except _pbfs.ScenarioError as e:
            what = ", ".join(f"{k}={v}" for k, v in zip(keys, params)) or "the base scenario"
            raise SweepError(f"{sweep.origin}: point {what} (seed {seed}): {e}") from None
        key = hashlib.sha256(f"{_pbfs.version}\n{scenario.text}".encode()).hexdigest()
        twin = next((p for p in points if p.key == key), None)
        if twin is not None:
            raise SweepError(f"{sweep.origin}: points {twin.params} and {dict(zip(keys, params))} "
                             f"(seed {scenario.seed}) are the same run; list each grid value once")
        points.append(SweepPoint(index=len(points), params=dict(zip(keys, params)), seed=scenario.seed,
                                 overrides=tuple(overrides), key=key, name=f"s{scenario.seed}-{key[:12]}"))
    return points


def replay_command(scenario_path: str, seed: int, overrides) -> str:
    """The `pbfs run` command that replays one point (the same text `pbfs run` prints)."""
    def quote(s: str) -> str:
        return shlex.quote(s) if any(c in s for c in " '\"$`\\") else s
    parts = [f"pbfs run {quote(scenario_path)} --seed {seed}"]
    parts += [f"--set {quote(o)}" for o in overrides if not o.startswith("seed=")]
    return " ".join(parts)


# --- running one point (in a worker process) ----------------------------------------------------------

def run_point(task: dict) -> dict:
    """Runs one point and returns its record; never raises. Runs in pool or Dask worker processes.

    The trace is written under a temporary name and renamed when complete, so a trace file that exists
    is a whole one.
    """
    start = time.monotonic()
    partial = task["trace"] + ".partial"
    record: dict = {"status": STATUS_ERROR, "error": ""}
    try:
        scenario = _pbfs.load_scenario_file(task["scenario"], task["overrides"])
        result = scenario.run(seed=task["seed"], trace_path=partial, retain_rows=False)
        os.replace(partial, task["trace"])
        summary = result.summary
        record.update({name: getattr(summary, name) for name in _SUMMARY_FIELDS})
        record.update(
            status=STATUS_OK if result.passed else STATUS_CHECKS_FAILED,
            metrics=dict(summary.metrics), counters=dict(summary.counters),
            checks={v.checker: {"verdict": v.verdict, "violations": v.violations, "detail": v.detail}
                    for v in summary.verdicts})
    except (_pbfs.ScenarioError, _pbfs.RunError) as e:
        record["error"] = f"{type(e).__name__}: {e}"
    except Exception:  # anything else is a bug, reported with the point rather than ending the sweep
        record["error"] = traceback.format_exc(limit=8)
    finally:
        if os.path.exists(partial):
            os.remove(partial)
    record["wall_seconds"] = time.monotonic() - start
    return record


# --- executors -----------------------------------------------------------------------------------------

def _died_record(what: str) -> dict:
    return {"status": STATUS_ERROR, "error": what, "wall_seconds": 0.0}


def _run_pool_once(tasks: list, workers: int, deliver: Callable, runner: Callable) -> list:
    """Runs tasks on a fresh pool; returns the tasks a broken pool (a worker that died) left unfinished."""
    unfinished = []
    context = multiprocessing.get_context("spawn")  # no fork of a process that may hold threads
    with concurrent.futures.ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
        futures = {pool.submit(runner, task): task for task in tasks}
        for future in concurrent.futures.as_completed(futures):
            try:
                record = future.result()
            except concurrent.futures.process.BrokenProcessPool:
                unfinished.append(futures[future])
                continue
            except Exception as e:  # the task could not be sent or its record could not come back
                record = _died_record(f"{type(e).__name__}: {e}")
            deliver(futures[future], record)
    return unfinished


def _run_local(tasks: list, workers: int, deliver: Callable, runner: Callable) -> None:
    unfinished = _run_pool_once(tasks, workers, deliver, runner)
    # A broken pool cannot say which point killed its worker: run the survivors one by one, so only the
    # culprit is reported.
    for task in unfinished:
        for lost in _run_pool_once([task], 1, deliver, runner):
            deliver(lost, _died_record("the worker process died while running this point "
                                       "(an assertion or a signal); replay it to see why"))


def _run_dask(client, tasks: list, deliver: Callable, runner: Callable) -> None:
    from distributed import as_completed
    batch = uuid.uuid4().hex[:8]
    by_key = {}
    for task in tasks:
        future = client.submit(runner, task, pure=False, key=f"pbfs-point-{task['name']}-{batch}")
        by_key[future.key] = (future, task)
    for future in as_completed([f for f, _ in by_key.values()]):
        task = by_key[future.key][1]
        try:
            record = future.result()
        except Exception as e:  # e.g. KilledWorker: the point took down every worker that tried it
            record = _died_record(f"the Dask task failed: {type(e).__name__}: {e}")
        future.release()
        deliver(task, record)


# --- the sweep -----------------------------------------------------------------------------------------

def _record_path(out: str, point: SweepPoint) -> str:
    return os.path.join(out, POINTS_DIR, point.name + ".json")


def _load_record(out: str, point: SweepPoint) -> Optional[dict]:
    try:
        with open(_record_path(out, point), encoding="utf-8") as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


def _is_done(out: str, point: SweepPoint) -> bool:
    record = _load_record(out, point)
    return (record is not None and record.get("status") in (STATUS_OK, STATUS_CHECKS_FAILED)
            and bool(record.get("trace")) and os.path.isfile(os.path.join(out, record["trace"])))


def _write_json(path: str, value) -> None:
    temporary = f"{path}.{os.getpid()}.tmp"
    with open(temporary, "w", encoding="utf-8") as f:
        json.dump(value, f, indent=1, sort_keys=True)
    os.replace(temporary, path)


def _prepare_out(sweep: Sweep, out: str) -> str:
    """Creates OUT (and OUT/points); returns the base scenario file the points load."""
    os.makedirs(os.path.join(out, POINTS_DIR), exist_ok=True)
    if sweep.scenario_path is not None:
        return sweep.scenario_path
    path = os.path.abspath(os.path.join(out, "scenario.yaml"))
    current = None
    if os.path.exists(path):
        with open(path, encoding="utf-8") as f:
            current = f.read()
    if current != sweep.scenario_text:
        with open(path, "w", encoding="utf-8") as f:
            f.write(sweep.scenario_text)
    return path


def sweep(spec: Union[str, os.PathLike, Mapping, Sweep], out: Union[None, str, os.PathLike] = None, *,
          client=None, workers: Optional[int] = None, progress: Union[None, bool, Callable] = None,
          runner: Callable = run_point):
    """Runs a sweep and returns its summary as a pandas DataFrame (one row per run, in grid order, seeds
    innermost), also written to OUT/summary.h5.

    spec: a sweep file, a dict of the same shape, or a Sweep (see load_sweep). out: the output directory
    (default NAME-sweep): traces and per-point records go to OUT/points. client: a dask.distributed
    Client to run the points on its cluster (OUT must be reachable from every worker); otherwise a local
    process pool of `workers` processes (default: one per core). progress: True prints a line per point;
    a callable gets progress(done, total, point, record).

    Points already done by an earlier sweep into the same OUT (same scenario text, same seed) are skipped;
    points that failed with an error are run again. Raises SweepError for a bad sweep, before any run.
    Columns: point, the grid's keys, seed, status (ok / checks_failed / error), passed, simulated_ns,
    events, messages_*, faults_injected, metric.NAME, counter.NAME, check.NAME (verdict),
    check.NAME.violations, wall_seconds (the only column that differs between equal sweeps), trace,
    replay, error.
    """
    sweep_spec = load_sweep(spec)
    out = os.path.abspath(os.fspath(out) if out is not None else f"{sweep_spec.name}-sweep")
    scenario_path = _prepare_out(sweep_spec, out)
    points = _points(sweep_spec, scenario_path)
    report = _progress_printer(len(points)) if progress is True else progress
    todo = [p for p in points if not _is_done(out, p)]
    done_count = len(points) - len(todo)
    if progress is True and done_count:
        print(f"{done_count} of {len(points)} points already done in {out}: skipped", flush=True)
    by_name = {p.name: p for p in todo}

    def deliver(task: dict, record: dict) -> None:
        nonlocal done_count
        point = by_name[task["name"]]
        ran = record["status"] != STATUS_ERROR
        record.update(point=point.name, params=point.params, seed=point.seed, key=point.key,
                      trace=os.path.join(POINTS_DIR, point.name + ".h5") if ran else "",
                      replay=replay_command(scenario_path, point.seed, point.overrides))
        _write_json(_record_path(out, point), record)
        done_count += 1
        if report:
            report(done_count, len(points), point, record)

    tasks = [{"name": p.name, "scenario": scenario_path, "overrides": list(p.overrides), "seed": p.seed,
              "trace": os.path.join(out, POINTS_DIR, p.name + ".h5")} for p in todo]
    if tasks and client is not None:
        _run_dask(client, tasks, deliver, runner)
    elif tasks:
        _run_local(tasks, max(1, min(workers or os.cpu_count() or 1, len(tasks))), deliver, runner)
    from ._summary import read_summary, summary_frame, write_summary
    frame = summary_frame(points, [_load_record(out, p) for p in points], list(sweep_spec.grid))
    write_summary(frame, os.path.join(out, SUMMARY_FILE), sweep_spec)
    return read_summary(os.path.join(out, SUMMARY_FILE))


def _progress_printer(total: int) -> Callable:
    width = len(str(total))

    def report(done: int, _total: int, point: SweepPoint, record: dict) -> None:
        params = " ".join(f"{k}={v}" for k, v in point.params.items())
        status = {STATUS_OK: "ok", STATUS_CHECKS_FAILED: "CHECKS FAILED"}.get(record["status"], "ERROR")
        print(f"[{done:>{width}}/{total}] {status:<13} seed {point.seed} {params} "
              f"({record.get('wall_seconds', 0):.1f} s)", flush=True)
        if record["status"] != STATUS_OK:
            if record.get("error"):
                print("    " + record["error"].strip().replace("\n", "\n    "), flush=True)
            print(f"    replay: {record['replay']}", flush=True)
    return report
