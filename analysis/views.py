"""The standard views of a trace, as pandas DataFrames: latency percentiles and CDFs per operation kind,
throughput over time, bytes and messages per operation, the fault timeline, lease tenures, replication
lag and per-node resource use. Each view raises MissingTable (saying which table and who writes it) when
the trace lacks what it needs. Times are converted to seconds (`*_s`) or microseconds (`*_us`) only in
columns so named; every other time is integer nanoseconds as in the trace.

Operation views read every table registered in OPERATION_SOURCES, each adapted to one shape, so a
protocol that records its own kind of request joins them by adding one adapter.
"""

from __future__ import annotations

from typing import Callable, Optional, Sequence

import numpy as np
import pandas as pd

from .trace import MissingTable, Trace

NO_NODE = 0xFFFFFFFF
OPERATION_COLUMNS = ["source", "kind", "client", "start_ns", "end_ns", "latency_ns", "status", "length",
                     "bytes_sent", "bytes_received", "records", "fragments", "messages"]
LEASE_ATTEMPT_KINDS = {1: "lease.acquire", 2: "lease.renew", 3: "lease.release", 4: "lease.lookup"}


def _from_operations(table: pd.DataFrame) -> pd.DataFrame:
    ops = table.copy()
    ops["latency_ns"] = ops["end_ns"] - ops["start_ns"]
    return ops


def _from_echo(table: pd.DataFrame) -> pd.DataFrame:
    # A round trip is an operation of kind "echo" that carries `bytes` each way and always succeeds.
    return pd.DataFrame({
        "kind": "echo", "client": table["client"], "start_ns": table["start_ns"], "end_ns": table["end_ns"],
        "latency_ns": table["end_ns"] - table["start_ns"], "status": np.uint8(0), "length": table["bytes"],
        "bytes_sent": table["bytes"], "bytes_received": table["bytes"], "records": np.nan, "fragments": np.nan,
        "messages": np.nan})


def _from_lease_attempts(table: pd.DataFrame) -> pd.DataFrame:
    # Outcomes (protocols/flease/lease.h): 1 acquired, 2 renewed, 3 held_by_other, 4 free, 5 released,
    # 6 failed, 7 aborted. An attempt fails when it failed or was aborted, or when an acquire or renew
    # found the lease held by another node; the status is then the outcome number.
    kind = table["kind"].map(LEASE_ATTEMPT_KINDS).fillna("lease.other")
    failed = table["outcome"].isin([6, 7]) | ((table["outcome"] == 3) & table["kind"].isin([1, 2]))
    return pd.DataFrame({
        "kind": kind, "client": table["node"], "start_ns": table["start_true_ns"], "end_ns": table["end_true_ns"],
        "latency_ns": table["end_true_ns"] - table["start_true_ns"],
        "status": np.where(failed, table["outcome"], 0).astype(np.uint8), "length": 0,
        "bytes_sent": np.nan, "bytes_received": np.nan, "records": np.nan, "fragments": np.nan,
        "messages": table["messages"]})


# table name -> adapter to OPERATION_COLUMNS (status 0 is success). Protocols add theirs here.
OPERATION_SOURCES: dict = {
    "operations": _from_operations,
    "echo_round_trips": _from_echo,
    "lease_attempts": _from_lease_attempts,
}


def _run_end_ns(trace: Trace, *frames_and_columns) -> int:
    if trace.simulated_ns:
        return int(trace.simulated_ns)
    ends = [int(frame[c].max()) for frame, c in frames_and_columns if len(frame)]
    return max(ends, default=0)


def operations(trace: Trace, needed_by: str = "operation views") -> pd.DataFrame:
    """Every operation of the trace in one shape (OPERATION_COLUMNS), `source` naming its table."""
    frames = []
    for name, adapt in OPERATION_SOURCES.items():
        if trace.has(name):
            frame = adapt(trace.table(name))
            frame.insert(0, "source", name)
            frames.append(frame)
    if not frames:
        raise MissingTable(f"{needed_by} need one of the tables {', '.join(OPERATION_SOURCES)}; "
                           f"this trace has: {', '.join(trace.table_names) or 'none'}")
    ops = pd.concat(frames, ignore_index=True)
    for column in OPERATION_COLUMNS:
        if column not in ops:
            ops[column] = np.nan
    return ops[OPERATION_COLUMNS + [c for c in ops.columns if c not in OPERATION_COLUMNS]]


def latency_percentiles(trace: Trace, percentiles: Sequence[float] = (50, 90, 99, 99.9),
                        successful_only: bool = True) -> pd.DataFrame:
    """Per operation kind: operations, mean, the given percentiles and max of latency, in microseconds
    (percentiles interpolate linearly between samples)."""
    ops = operations(trace, "latency percentiles")
    if successful_only:
        ops = ops[ops["status"] == 0]
    rows = {}
    for kind, group in ops.groupby("kind", sort=True):
        latency_us = group["latency_ns"].to_numpy(dtype=np.float64) / 1e3
        row = {"operations": len(latency_us), "mean_us": latency_us.mean()}
        row.update({f"p{p:g}_us": np.percentile(latency_us, p) for p in percentiles})
        row["max_us"] = latency_us.max()
        rows[kind] = row
    frame = pd.DataFrame.from_dict(rows, orient="index")
    frame.index.name = "kind"
    return frame


def latency_cdf(trace: Trace, successful_only: bool = True) -> pd.DataFrame:
    """Empirical CDF per kind: columns kind, latency_us (sorted), fraction (of that kind's operations)."""
    ops = operations(trace, "latency CDF")
    if successful_only:
        ops = ops[ops["status"] == 0]
    parts = []
    for kind, group in ops.groupby("kind", sort=True):
        latency_us = np.sort(group["latency_ns"].to_numpy(dtype=np.float64)) / 1e3
        fraction = np.arange(1, len(latency_us) + 1) / len(latency_us)
        parts.append(pd.DataFrame({"kind": kind, "latency_us": latency_us, "fraction": fraction}))
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=["kind", "latency_us", "fraction"])


def _bin_ns(span_ns: int, bins: int = 50) -> int:
    """A round bin width giving about `bins` bins over the span (1, 2 or 5 times a power of ten)."""
    raw = max(span_ns / bins, 1e6)
    scale = 10 ** np.floor(np.log10(raw))
    return int(min((m * scale for m in (1, 2, 5, 10) if m * scale >= raw)))


def throughput(trace: Trace, bin_ns: Optional[int] = None) -> pd.DataFrame:
    """Completed operations per second and payload bytes per second, per kind, in bins of simulated time
    (an operation counts in the bin where it ends). Columns: time_s (bin start), kind, operations_per_s,
    bytes_per_s."""
    ops = operations(trace, "throughput")
    end_ns = _run_end_ns(trace, (ops, "end_ns"))
    width = bin_ns or _bin_ns(end_ns)
    edges = np.arange(0, end_ns + width, width)
    parts = []
    for kind, group in ops.groupby("kind", sort=True):
        counts, _ = np.histogram(group["end_ns"], bins=edges)
        payload, _ = np.histogram(group["end_ns"], bins=edges, weights=group["length"].astype(np.float64))
        parts.append(pd.DataFrame({"time_s": edges[:-1] / 1e9, "kind": kind,
                                   "operations_per_s": counts / (width / 1e9), "bytes_per_s": payload / (width / 1e9)}))
    if not parts:
        return pd.DataFrame(columns=["time_s", "kind", "operations_per_s", "bytes_per_s"])
    return pd.concat(parts, ignore_index=True)


def bytes_per_operation(trace: Trace) -> pd.DataFrame:
    """Per kind and for all operations: operations, mean payload (length), mean bytes sent and received by
    the client, network bytes per payload byte, mean records, fragments and messages per operation (NaN
    where the table does not record them). The "all" row also gives run_messages_per_operation: every
    message of the run (messages table, else the run summary) over the number of operations."""
    ops = operations(trace, "bytes per operation")
    groups = [(kind, group) for kind, group in ops.groupby("kind", sort=True)] + [("all", ops)]
    rows = {}
    for kind, group in groups:
        payload = group["length"].astype(np.float64).sum()
        network = (group["bytes_sent"].astype(np.float64) + group["bytes_received"].astype(np.float64)).sum()
        rows[kind] = {"operations": len(group), "length_mean": group["length"].astype(np.float64).mean(),
                      "bytes_sent_mean": group["bytes_sent"].astype(np.float64).mean(),
                      "bytes_received_mean": group["bytes_received"].astype(np.float64).mean(),
                      "network_bytes_per_payload_byte": network / payload if payload else np.nan,
                      "records_mean": group["records"].astype(np.float64).mean(),
                      "fragments_mean": group["fragments"].astype(np.float64).mean(),
                      "messages_mean": group["messages"].astype(np.float64).mean()}
    frame = pd.DataFrame.from_dict(rows, orient="index")
    messages = len(trace.table("messages")) if trace.has("messages") else trace.attrs.get("messages_sent")
    frame["run_messages_per_operation"] = np.nan
    if messages is not None and len(ops):
        frame.loc["all", "run_messages_per_operation"] = messages / len(ops)
    frame.index.name = "kind"
    return frame


def fault_timeline(trace: Trace) -> pd.DataFrame:
    """Every injected fault: kind, node (<NA> when it hit several or none), detail, start_s, end_s (the
    run's end for open-ended faults), open_ended."""
    faults = trace.table("faults", "the fault timeline")
    end_ns = _run_end_ns(trace, (faults, "time_ns"), (faults, "end_ns"))
    frame = pd.DataFrame({
        "kind": faults["kind"],
        "node": pd.array([pd.NA if n == NO_NODE else int(n) for n in faults["node"]], dtype="Int64"),
        "detail": faults["detail"],
        "start_s": faults["time_ns"] / 1e9,
        "end_s": np.where(faults["end_ns"] < 0, end_ns, faults["end_ns"]) / 1e9,
        "open_ended": faults["end_ns"] < 0})
    return frame.sort_values(["start_s", "kind"], kind="stable", ignore_index=True)


def _first_column(table: pd.DataFrame, names: Sequence[str], view: str) -> pd.Series:
    for name in names:
        if name in table:
            return table[name]
    raise MissingTable(f"{view} needs one of the columns {', '.join(names)}; the table has {', '.join(table.columns)}")


def lease_intervals(trace: Trace) -> pd.DataFrame:
    """Lease tenures: resource, holder, epoch, start_ns, end_ns (true time), start_local_ns, end_local_ns
    (the holder's clock), duration_s, and end_reason when the table has it. Accepts the true-time columns
    under either name (start_true_ns / start_ns)."""
    table = trace.table("lease_intervals", "the lease Gantt chart")
    frame = pd.DataFrame({
        "resource": table["resource"], "holder": table["holder"], "epoch": table["epoch"],
        "start_ns": _first_column(table, ("start_true_ns", "start_ns"), "lease intervals"),
        "end_ns": _first_column(table, ("end_true_ns", "end_ns"), "lease intervals"),
        "start_local_ns": table["start_local_ns"], "end_local_ns": table["end_local_ns"]})
    frame["duration_s"] = (frame["end_ns"] - frame["start_ns"]) / 1e9
    if "end_reason" in table:
        frame["end_reason"] = table["end_reason"]
    return frame.sort_values(["resource", "start_ns"], kind="stable", ignore_index=True)


def lease_overlaps(trace: Trace) -> pd.DataFrame:
    """Times when two different nodes held the same lease at once (in true time): resource, holder_a,
    holder_b, start_ns, end_ns, duration_s. Empty when the lease was safe; the checker's verdict says
    whether the clock assumption held at the time."""
    leases = lease_intervals(trace)
    rows = []
    for resource, group in leases.groupby("resource", sort=True):
        active: list = []  # (end_ns, holder) of tenures that began earlier and may still run
        for row in group.itertuples():
            active = [(end, holder) for end, holder in active if end > row.start_ns]
            for end, holder in active:
                if holder != row.holder:
                    rows.append({"resource": resource, "holder_a": holder, "holder_b": row.holder,
                                 "start_ns": row.start_ns, "end_ns": min(end, row.end_ns)})
            active.append((row.end_ns, row.holder))
    frame = pd.DataFrame(rows, columns=["resource", "holder_a", "holder_b", "start_ns", "end_ns"])
    frame["duration_s"] = (frame["end_ns"] - frame["start_ns"]) / 1e9
    return frame


def replication_lag(trace: Trace) -> pd.DataFrame:
    """Per replicated record: source, target, commit_ns, applied_ns, lag_ns (applied - commit), bytes."""
    table = trace.table("replication", "replication lag")
    frame = table.copy()
    frame["lag_ns"] = frame["applied_ns"] - frame["commit_ns"]
    return frame.sort_values("commit_ns", kind="stable", ignore_index=True)


def replication_lag_percentiles(trace: Trace, percentiles: Sequence[float] = (50, 99, 100)) -> pd.DataFrame:
    """Replication lag percentiles in milliseconds per (source, target) pair."""
    lag = replication_lag(trace)
    rows = {}
    for (source, target), group in lag.groupby(["source", "target"], sort=True):
        lag_ms = group["lag_ns"].to_numpy(dtype=np.float64) / 1e6
        rows[(source, target)] = {"records": len(lag_ms),
                                  **{f"p{p:g}_ms": np.percentile(lag_ms, p) for p in percentiles}}
    frame = pd.DataFrame.from_dict(rows, orient="index")
    frame.index.names = ["source", "target"]
    return frame


def resource_use(trace: Trace) -> pd.DataFrame:
    """Per node and sample interval: time_s (end of the interval), node, cpu_busy (cores' worth of CPU
    busy, 1.0 = one core), disk_busy (fraction of time), net_tx_bytes_per_s, net_rx_bytes_per_s,
    messages_tx_per_s, messages_rx_per_s, disk_used_bytes. Rates come from consecutive samples."""
    table = trace.table("resources", "resource use").sort_values(["node", "time_ns"], kind="stable")
    parts = []
    for node, group in table.groupby("node", sort=True):
        seconds = np.diff(group["time_ns"].to_numpy(dtype=np.float64), prepend=0.0) / 1e9
        seconds[seconds <= 0] = np.nan

        def rate(column: str, group=group, seconds=seconds) -> np.ndarray:
            return np.diff(group[column].to_numpy(dtype=np.float64), prepend=0.0) / seconds
        parts.append(pd.DataFrame({
            "time_s": group["time_ns"].to_numpy() / 1e9, "node": node,
            "cpu_busy": rate("cpu_busy_ns") / 1e9, "disk_busy": rate("disk_busy_ns") / 1e9,
            "net_tx_bytes_per_s": rate("net_tx_bytes"), "net_rx_bytes_per_s": rate("net_rx_bytes"),
            "messages_tx_per_s": rate("messages_tx"), "messages_rx_per_s": rate("messages_rx"),
            "disk_used_bytes": group["disk_used_bytes"].to_numpy()}))
    if not parts:
        return pd.DataFrame(columns=["time_s", "node", "cpu_busy", "disk_busy", "net_tx_bytes_per_s",
                                     "net_rx_bytes_per_s", "messages_tx_per_s", "messages_rx_per_s", "disk_used_bytes"])
    return pd.concat(parts, ignore_index=True)


def resource_totals(trace: Trace) -> pd.DataFrame:
    """Per node, the last sample's cumulative figures (CPU and disk busy in seconds, bytes, messages)."""
    table = trace.table("resources", "resource totals")
    last = table.sort_values("time_ns", kind="stable").groupby("node").tail(1).set_index("node").sort_index()
    return pd.DataFrame({"cpu_busy_s": last["cpu_busy_ns"] / 1e9, "disk_busy_s": last["disk_busy_ns"] / 1e9,
                         "disk_used_bytes": last["disk_used_bytes"], "net_tx_bytes": last["net_tx_bytes"],
                         "net_rx_bytes": last["net_rx_bytes"], "messages_tx": last["messages_tx"],
                         "messages_rx": last["messages_rx"]})


def counters(trace: Trace) -> pd.Series:
    """Final counter totals, name -> value (empty when nothing was counted)."""
    table = trace.table("counters", "counters")
    return pd.Series(table["value"].to_numpy(), index=table["name"].to_numpy(), name="value", dtype="uint64")


# Views by name, for reports and notebooks that list what a trace offers.
TABLE_VIEWS: dict = {
    "latency_percentiles": latency_percentiles,
    "bytes_per_operation": bytes_per_operation,
    "fault_timeline": fault_timeline,
    "lease_intervals": lease_intervals,
    "lease_overlaps": lease_overlaps,
    "replication_lag_percentiles": replication_lag_percentiles,
    "resource_totals": resource_totals,
}


def available(trace: Trace, view: Callable) -> Optional[str]:
    """None if the view works on this trace, else why not (the MissingTable message)."""
    try:
        view(trace)
    except MissingTable as e:
        return str(e)
    return None
