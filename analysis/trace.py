"""Opening a trace for analysis: an HDF5 file written by `pbfs run` (or any pbfs runtime), a RunResult
still in memory, or synthetic pandas frames shaped like the documented tables. Whatever the source,
tables come out as pandas DataFrames with the documented columns (character fields decoded to str) and
run metadata as plain Python values, so every view works the same on all three.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Optional, Union

import h5py
import numpy as np
import pandas as pd

from .schema import TABLES

SCHEMA_VERSION = 1  # the trace format this package reads (docs/trace-format.md)


class TraceError(ValueError):
    """The file is not a pbfs trace, or one of a format version this package does not read."""


class MissingTable(LookupError):
    """A view needs a table that this trace does not have; the message says which and who writes it."""


def _plain(value):
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    if isinstance(value, np.generic):
        return value.item()
    return value


def _frame(array: np.ndarray) -> pd.DataFrame:
    frame = pd.DataFrame({name: array[name] for name in array.dtype.names})
    for name in array.dtype.names:
        if array.dtype.fields[name][0].kind == "S":
            frame[name] = frame[name].str.decode("utf-8", errors="replace")
    return frame


class Trace:
    """One run's trace. Build it with open_trace()."""

    def __init__(self, attrs: Mapping, tables: Mapping, path: Optional[str] = None):
        self.attrs = {k: _plain(v) for k, v in attrs.items()}
        self.path = path
        self._sources = dict(tables)  # name -> numpy structured array, DataFrame, or None (read from path)
        self._frames: dict = {}

    # --- construction ---------------------------------------------------------------------------------

    @classmethod
    def from_file(cls, path: Union[str, os.PathLike]) -> "Trace":
        path = os.fspath(path)
        try:
            with h5py.File(path, "r") as f:
                attrs = dict(f.attrs)
                names = list(f["tables"].keys()) if "tables" in f else None
        except OSError as e:
            raise TraceError(f"{path}: cannot open as HDF5: {e}") from None
        cls._check_version(path, attrs, names)
        return cls(attrs, {name: None for name in names}, path)

    @staticmethod
    def _check_version(path: str, attrs: Mapping, names) -> None:
        if "schema_version" not in attrs or names is None:
            raise TraceError(f"{path}: not a pbfs trace (no schema_version attribute or /tables group)")
        version = int(attrs["schema_version"])
        if version != SCHEMA_VERSION:
            raise TraceError(f"{path}: trace schema version {version}, this package reads version {SCHEMA_VERSION}")

    @classmethod
    def from_result(cls, result) -> "Trace":
        """A RunResult's tables, straight from memory when it retained them (else from its trace file);
        attributes come from its trace file."""
        with h5py.File(result.trace_path, "r") as f:
            attrs = dict(f.attrs)
        cls._check_version(result.trace_path, attrs, [])
        tables = result.tables if result.rows_retained else {name: None for name in result.table_names}
        return cls(attrs, tables, result.trace_path)

    @classmethod
    def from_frames(cls, frames: Mapping, attrs: Optional[Mapping] = None) -> "Trace":
        """A trace made of DataFrames (synthetic data shaped like the documented tables, for tests and for
        checking a view before the protocol that writes its table exists)."""
        return cls(dict(attrs or {}), {name: frame.copy() for name, frame in frames.items()})

    # --- metadata -------------------------------------------------------------------------------------

    @property
    def scenario_name(self) -> str:
        return self.attrs.get("scenario_name", "")

    @property
    def scenario_text(self) -> str:
        return self.attrs.get("scenario_text", "")

    @property
    def seed(self) -> Optional[int]:
        return self.attrs.get("seed")

    @property
    def simulated_ns(self) -> Optional[int]:
        return self.attrs.get("simulated_ns")

    @property
    def metrics(self) -> dict:
        """Deployment figures: {"echo.rtt_p50_us": 123.0, ...}."""
        return {k[len("metric."):]: v for k, v in self.attrs.items() if k.startswith("metric.")}

    @property
    def checks(self) -> pd.DataFrame:
        """Checker verdicts: columns checker, verdict ("passed", "FAILED", "assumption violated"), detail."""
        rows = []
        for key, value in self.attrs.items():
            if key.startswith("check."):
                verdict, _, detail = str(value).partition(": ")
                rows.append({"checker": key[len("check."):], "verdict": verdict, "detail": detail})
        return pd.DataFrame(rows, columns=["checker", "verdict", "detail"])

    @property
    def passed(self) -> bool:
        """No checker reported a violation."""
        return bool((self.checks["verdict"] != "FAILED").all())

    # --- tables ---------------------------------------------------------------------------------------

    @property
    def table_names(self) -> list:
        return sorted(self._sources)

    def has(self, name: str) -> bool:
        return name in self._sources

    def array(self, name: str) -> np.ndarray:
        """A table as the numpy structured array the writer produced (KeyError if absent)."""
        source = self._sources[name]
        if isinstance(source, pd.DataFrame):
            return source.to_records(index=False)
        if source is None:
            with h5py.File(self.path, "r") as f:
                return f["tables"][name][...]
        return source

    def table(self, name: str, needed_by: Optional[str] = None) -> pd.DataFrame:
        """A table as a DataFrame; raises MissingTable (naming `needed_by` and who writes it) if absent.
        The frame is cached: copy it before changing it."""
        if name not in self._sources:
            raise MissingTable(self.missing_message(name, needed_by))
        if name not in self._frames:
            source = self._sources[name]
            self._frames[name] = source if isinstance(source, pd.DataFrame) else _frame(self.array(name))
        return self._frames[name]

    def missing_message(self, name: str, needed_by: Optional[str] = None) -> str:
        spec = TABLES.get(name)
        who = ""
        if spec is not None:
            who = f"; it is written by {spec.written_by}"
            who += " (planned: no protocol writes it yet)" if spec.planned else ""
        present = ", ".join(self.table_names) or "none"
        need = f"{needed_by} needs" if needed_by else "needs"
        return f"{need} the '{name}' table, which this trace does not have (it has: {present}){who}"

    def __repr__(self) -> str:
        source = self.path or "in-memory frames"
        tables = ", ".join(self.table_names)
        return f"<pbfs.analysis.Trace {self.scenario_name or '?'} seed {self.seed} ({source}): {tables}>"


def open_trace(source) -> Trace:
    """Opens a trace: a path to an HDF5 trace file, a pbfs.RunResult (tables from memory), or a Trace."""
    if isinstance(source, Trace):
        return source
    if isinstance(source, (str, os.PathLike)):
        return Trace.from_file(source)
    if hasattr(type(source), "rows_retained") and hasattr(type(source), "trace_path"):  # a pbfs.RunResult
        return Trace.from_result(source)
    raise TypeError(f"open_trace() takes a trace path, a RunResult or a Trace, not {type(source).__name__}")
