"""The summary table of a sweep: one row per run, built from the per-point records, written as one HDF5
compound dataset (/summary in OUT/summary.h5) and read back as a pandas DataFrame. sweep() returns the
frame read back from the file, so what a sweep returns and what it leaves on disk are the same table.
"""

from __future__ import annotations

import json
import math
import os

import h5py
import numpy as np
import pandas as pd

DATASET = "summary"
# Counts: never negative, so -1 stands for "no value" (a point that did not run) in the file.
_MISSING_COUNT = -1
_STRING = h5py.string_dtype("utf-8")
_COUNT_FIELDS = ("simulated_ns", "events", "messages_sent", "messages_delivered", "messages_dropped",
                 "messages_rejected", "faults_injected")
_TEXT_COLUMNS = ("point", "status", "trace", "replay", "error")


def _record_columns(records: list) -> tuple[list, list, list]:
    metrics, counters, checks = set(), set(), set()
    for record in records:
        metrics.update(record.get("metrics", {}))
        counters.update(record.get("counters", {}))
        checks.update(record.get("checks", {}))
    return sorted(metrics), sorted(counters), sorted(checks)


def summary_frame(points: list, records: list, grid_keys: list) -> pd.DataFrame:
    """One row per point from its record (None: the point has no record, reported as an error)."""
    records = [r if r is not None else {"status": "error", "error": "no record"} for r in records]
    metrics, counters, checks = _record_columns(records)
    rows = []
    for point, record in zip(points, records):
        row = {"point": point.name, **{k: point.params[k] for k in grid_keys}, "seed": point.seed,
               "status": record["status"], "passed": record["status"] == "ok"}
        row.update({name: record.get(name) for name in _COUNT_FIELDS})
        row.update({f"metric.{m}": record.get("metrics", {}).get(m) for m in metrics})
        row.update({f"counter.{c}": record.get("counters", {}).get(c) for c in counters})
        for c in checks:
            check = record.get("checks", {}).get(c, {})
            row[f"check.{c}"] = check.get("verdict")
            row[f"check.{c}.violations"] = check.get("violations")
        row.update(wall_seconds=record.get("wall_seconds"), trace=record.get("trace", ""),
                   replay=record.get("replay", ""), error=record.get("error", ""))
        rows.append(row)
    columns = (["point", *grid_keys, "seed", "status", "passed", *_COUNT_FIELDS]
               + [f"metric.{m}" for m in metrics] + [f"counter.{c}" for c in counters]
               + [x for c in checks for x in (f"check.{c}", f"check.{c}.violations")]
               + ["wall_seconds", "trace", "replay", "error"])
    return pd.DataFrame(rows, columns=columns)


def _kind(column: str) -> str:
    if column in _COUNT_FIELDS or column.startswith("counter.") or column.endswith(".violations"):
        return "count"
    if column.startswith("metric.") or column == "wall_seconds":
        return "float"
    if column in _TEXT_COLUMNS or column.startswith("check."):
        return "text"
    if column == "passed":
        return "bool"
    if column == "seed":
        return "int"
    return "param"


def _param_array(values: pd.Series) -> np.ndarray:
    """A grid column keeps its YAML type when all its values share one (bool, int, float), else text."""
    items = list(values)
    if all(isinstance(v, bool) for v in items):
        return np.array(items, dtype=bool)
    if all(isinstance(v, int) and not isinstance(v, bool) for v in items):
        return np.array(items, dtype=np.int64)
    if all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in items):
        return np.array(items, dtype=np.float64)
    return np.array(["" if v is None else str(v) for v in items], dtype=object)


def _column_array(column: str, values: pd.Series) -> np.ndarray:
    kind = _kind(column)
    if kind == "count":
        return np.array([_MISSING_COUNT if v is None or (isinstance(v, float) and math.isnan(v)) else int(v)
                         for v in values], dtype=np.int64)
    if kind == "float":
        return np.array([math.nan if v is None else float(v) for v in values], dtype=np.float64)
    if kind == "text":
        return np.array(["" if v is None or (isinstance(v, float) and math.isnan(v)) else str(v) for v in values],
                        dtype=object)
    if kind == "bool":
        return np.array(list(values), dtype=bool)
    if kind == "int":
        return np.array(list(values), dtype=np.int64)
    return _param_array(values)


def write_summary(frame: pd.DataFrame, path: str, sweep) -> None:
    """Writes the frame as the compound dataset /summary (atomically: a temporary file, then a rename)."""
    arrays = {c: _column_array(c, frame[c]) for c in frame.columns}
    dtype = [(c, _STRING if a.dtype == object else a.dtype) for c, a in arrays.items()]
    table = np.empty(len(frame), dtype=dtype)
    for column, values in arrays.items():
        table[column] = values
    temporary = f"{path}.{os.getpid()}.tmp"
    with h5py.File(temporary, "w") as f:
        dataset = f.create_dataset(DATASET, data=table)
        dataset.attrs["description"] = "one row per run of the sweep (docs/python.md)"
        dataset.attrs["parameters"] = json.dumps(list(sweep.grid))
        f.attrs["sweep_name"] = sweep.name
        f.attrs["sweep_origin"] = sweep.origin
        f.attrs["sweep"] = json.dumps({"scenario": sweep.scenario_path or "<inline>", "set": sweep.overrides,
                                       "grid": sweep.grid, "seeds": sweep.seeds}, default=str)
    os.replace(temporary, path)


def read_summary(path: str) -> pd.DataFrame:
    """A sweep's summary.h5 as a DataFrame: counts are nullable integers (<NA> where a point did not run),
    text columns are str, grid columns keep their type."""
    with h5py.File(path, "r") as f:
        table = f[DATASET][...]
        sweep_name = f.attrs.get("sweep_name", "")
    frame = pd.DataFrame({name: table[name] for name in table.dtype.names})
    for column in frame.columns:
        if frame[column].dtype == object:
            frame[column] = [v.decode("utf-8") if isinstance(v, bytes) else v for v in frame[column]]
        elif _kind(column) == "count":
            frame[column] = frame[column].astype("Int64").mask(frame[column] == _MISSING_COUNT)
    frame.attrs.update(sweep_name=sweep_name, summary_path=os.path.abspath(path))
    return frame
