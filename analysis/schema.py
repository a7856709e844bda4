"""The trace tables the analysis package knows: their columns and numpy dtypes, as docs/trace-format.md
documents them, and which part of pbfs writes each. Views check a trace against these before use, and
the tests check every run's tables against them, so this file grows with each protocol's tables.

Tables marked `planned` are not written by any protocol yet (no TableSchema of that name exists in the
C++ code, and docs/trace-format.md does not list them); their columns are the agreed shape (see
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
    _spec("lease_attempts", "the flease protocol and the other lease providers (data-path catalog replicas, "
          "lock-service clients): every acquire, renew, release, lookup",
          "resource:<u8 epoch:<u8 expiry_local_ns:<i8 start_local_ns:<i8 end_local_ns:<i8 start_true_ns:<i8 "
          "end_true_ns:<i8 node:<u4 holder:<u4 messages:<u4 rounds:<u2 kind:u1 outcome:u1"),
    _spec("lease_intervals", "the flease protocol and the other lease providers (data-path catalog replicas, "
          "lock-service clients): holders' tenures",
          "resource:<u8 epoch:<u8 start_local_ns:<i8 end_local_ns:<i8 expiry_local_ns:<i8 start_true_ns:<i8 "
          "end_true_ns:<i8 holder:<u4 renewals:<u4 end_reason:u1"),
    _spec("membership_changes", "every node running coordination membership (members joining or leaving)",
          "observer:<u4 member:<u4 joined:u1 alive_count:<u4 time_ns:<i8"),
    _spec("coordination_sessions", "the coordination server (sessions opened, closed, expired, reloaded)",
          "server:<u4 session:<u8 client:<u4 event:S8 timeout_ns:<i8 time_ns:<i8"),
    _spec("operations", "the data-path client (one row per client operation)",
          "client:<u4 kind:S8 file:<u8 offset:<u8 length:<u8 start_ns:<i8 end_ns:<i8 status:u1 "
          "bytes_sent:<u8 bytes_received:<u8 records:<u4 fragments:<u4 messages:<u4 round_trips:<u4"),
    _spec("read_pieces", "the data-path client (visible pieces of successful reads)",
          "read_id:<u8 client:<u4 file:<u8 offset:<u8 length:<u8 record_client:<u8 record_seq:<u8 "
          "start_ns:<i8 end_ns:<i8"),
    _spec("compaction_sources", "the data-path client (sources of acknowledged compaction records)",
          "file:<u8 record_client:<u8 record_seq:<u8 offset:<u8 length:<u8 source_client:<u8 source_seq:<u8 "
          "time_ns:<i8"),
    _spec("commits", "the data-path catalog primaries (commits applied and acknowledged)",
          "file:<u8 sequence:<u8 record_client:<u8 record_seq:<u8 offset:<u8 length:<u8 kind:u1 "
          "superseded:<u4 time_ns:<i8"),
    _spec("collections", "the data-path catalog primaries (superseded records garbage-collected)",
          "file:<u8 record_client:<u8 record_seq:<u8 time_ns:<i8"),
    _spec("abandons", "the data-path catalog primaries (orphans' records tombstoned)",
          "file:<u8 record_client:<u8 record_seq:<u8 time_ns:<i8"),
    # Planned, absent: no table of this name is written yet (not in docs/trace-format.md).
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
