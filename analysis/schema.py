"""The trace tables the analysis package knows: their columns and numpy dtypes, as docs/trace-format.md
documents them, and which part of pbfs writes each. Views check a trace against these before use, and
the tests check every run's tables against them, so this file grows with each protocol's tables.

Tables marked `planned` are not written by any protocol yet; their columns are the agreed shape (see
docs/python.md) and the views over them are tested with synthetic data.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class TableSpec:
    name: str
    written_by: str
    columns: tuple  # ((name, numpy dtype string), ...) in schema order
    planned: bool = False

    def dtype_descr(self) -> list:
        return [(name, np.dtype(fmt).str) for name, fmt in self.columns]


def _spec(name: str, written_by: str, columns: str, planned: bool = False) -> TableSpec:
    """columns: "name:dtype name:dtype ..." (numpy dtype strings)."""
    return TableSpec(name, written_by, tuple(tuple(c.split(":")) for c in columns.split()), planned)


TABLES = {t.name: t for t in (
    _spec("faults", "the simulator (every scenario)",
          "time_ns:<i8 kind:S16 node:<u4 detail:S48 end_ns:<i8"),
    _spec("resources", "the simulator, every outputs.resource_sample_interval",
          "time_ns:<i8 node:<u4 cpu_busy_ns:<i8 disk_busy_ns:<i8 disk_used_bytes:<u8 net_tx_bytes:<u8 "
          "net_rx_bytes:<u8 messages_tx:<u8 messages_rx:<u8"),
    _spec("messages", "the simulator's network when outputs.message_log is true",
          "send_ns:<i8 deliver_ns:<i8 from:<u4 to:<u4 port:<u2 type:<u2 bytes:<u8 fate:u1"),
    _spec("counters", "every run, at its end", "name:S48 value:<u8"),
    _spec("echo_round_trips", "the echo protocol",
          "client:<u4 server:<u4 sequence:<u8 start_ns:<i8 end_ns:<i8 bytes:<u8"),
    _spec("lease_intervals", "the flease protocol (lease holders' tenures)",
          "resource:<u8 epoch:<u8 start_local_ns:<i8 end_local_ns:<i8 expiry_local_ns:<i8 start_true_ns:<i8 "
          "end_true_ns:<i8 holder:<u4 renewals:<u4 end_reason:u1"),
    _spec("lease_attempts", "the flease protocol (every acquire, renew, release, lookup)",
          "resource:<u8 epoch:<u8 expiry_local_ns:<i8 start_local_ns:<i8 end_local_ns:<i8 start_true_ns:<i8 "
          "end_true_ns:<i8 node:<u4 holder:<u4 messages:<u4 rounds:<u2 kind:u1 outcome:u1"),
    _spec("operations", "the PBFS client (one row per client operation)",
          "client:<u4 kind:S16 file:<u8 offset:<u8 length:<u8 start_ns:<i8 end_ns:<i8 status:u1 "
          "bytes_sent:<u8 bytes_received:<u8 records:<u4 fragments:<u4", planned=True),
    _spec("replication", "asynchronous replication (local-first heal queue, geo replication)",
          "record:<u8 file:<u8 source:<u4 target:<u4 commit_ns:<i8 applied_ns:<i8 bytes:<u8", planned=True),
)}


def check_columns(table: str, dtype: np.dtype) -> list:
    """Differences between a table's dtype and its documented columns (empty when they agree). String
    columns match on kind only: their length is the writer's choice."""
    spec = TABLES.get(table)
    if spec is None:
        return [f"table {table} is not documented in pbfs.analysis.schema"]
    problems = []
    names = list(dtype.names or ())
    expected = [name for name, _ in spec.columns]
    if names != expected:
        problems.append(f"{table}: columns {names}, documented {expected}")
    for name, fmt in spec.columns:
        if name not in names:
            continue
        actual, documented = dtype.fields[name][0], np.dtype(fmt)
        same = (actual.kind == documented.kind == "S") or actual == documented
        if not same:
            problems.append(f"{table}.{name}: dtype {actual.str}, documented {documented.str}")
    return problems
