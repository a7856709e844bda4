"""Plots of the standard views (matplotlib). Each plot_* function draws on the Axes (or Figure) it is
given, or on a new pyplot figure when given none (so notebooks show it), and returns what it drew on. The
data come from pbfs.analysis.views, so a plot raises the same MissingTable as its view.

PLOTS lists them for `pbfs report`; a protocol that adds a table adds its plot there.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Optional

import numpy as np
import pandas as pd

from . import views
from .trace import Trace

NODE_LINES_MAX = 12  # more nodes than this: plot the mean and the maximum over nodes instead


def _axes(ax, figsize=(7.0, 4.0)):
    if ax is not None:
        return ax
    import matplotlib.pyplot as plt
    _, ax = plt.subplots(figsize=figsize, layout="constrained")
    return ax


def plot_latency_cdf(trace: Trace, ax=None, log_scale: bool = True):
    """Latency CDF per operation kind (successful operations)."""
    cdf = views.latency_cdf(trace)
    ax = _axes(ax)
    for kind, group in cdf.groupby("kind", sort=True):
        ax.step(group["latency_us"], group["fraction"], where="post", label=f"{kind} ({len(group)})")
    if log_scale and len(cdf) and (cdf["latency_us"] > 0).all():
        ax.set_xscale("log")
    ax.set(xlabel="latency (µs)", ylabel="fraction of operations", ylim=(0, 1.01), title="Latency CDF")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(loc="lower right")
    return ax


def plot_throughput(trace: Trace, ax=None, bin_ns: Optional[int] = None):
    """Completed operations per second over simulated time, per kind."""
    rate = views.throughput(trace, bin_ns)
    ax = _axes(ax)
    for kind, group in rate.groupby("kind", sort=True):
        ax.step(group["time_s"], group["operations_per_s"], where="post", label=kind)
    ax.set(xlabel="simulated time (s)", ylabel="operations / s", title="Throughput")
    ax.grid(True, alpha=0.3)
    ax.legend(loc="upper right")
    return ax


def plot_bytes_per_operation(trace: Trace, ax=None):
    """Mean bytes sent and received by the client per operation (bars), and mean messages per operation
    (dots, right axis) where the trace records them, per kind."""
    table = views.bytes_per_operation(trace).drop(index="all", errors="ignore")
    ax = _axes(ax)
    x = np.arange(len(table))
    ax.bar(x - 0.2, table["bytes_sent_mean"].fillna(0), width=0.4, label="bytes sent")
    ax.bar(x + 0.2, table["bytes_received_mean"].fillna(0), width=0.4, label="bytes received")
    ax.set_xticks(x, table.index)
    ax.set(ylabel="bytes per operation", title="Bytes and messages per operation")
    ax.set_ylim(bottom=0)
    handles, labels = ax.get_legend_handles_labels()
    if table["messages_mean"].notna().any():
        right = ax.twinx()
        dots = right.plot(x, table["messages_mean"], "o", color="C3", label="messages")
        right.set_ylabel("messages per operation")
        right.set_ylim(bottom=0)
        handles, labels = handles + dots, labels + ["messages"]
    ax.legend(handles, labels, loc="upper left")
    return ax


def plot_fault_timeline(trace: Trace, ax=None):
    """Injected faults over simulated time: one row per (kind, node), one bar per fault (hatched when
    open-ended, drawn to the run's end)."""
    faults = views.fault_timeline(trace)
    labels = [str(k) if pd.isna(n) else f"{k} node {n}" for k, n in zip(faults["kind"], faults["node"])]
    lanes = list(dict.fromkeys(labels))
    ax = _axes(ax, figsize=(7.0, max(2.0, 0.35 * len(lanes) + 1.2)))
    kinds = sorted(set(faults["kind"]))
    for label, row in zip(labels, faults.itertuples()):
        ax.barh(lanes.index(label), row.end_s - row.start_s, left=row.start_s, height=0.6,
                color=f"C{kinds.index(row.kind) % 10}", hatch="//" if row.open_ended else None)
    ax.set_yticks(np.arange(len(lanes)), lanes)
    ax.invert_yaxis()
    ax.set(xlabel="simulated time (s)", title=f"Faults ({len(faults)})")
    if trace.simulated_ns:
        ax.set_xlim(0, trace.simulated_ns / 1e9)
    ax.grid(True, axis="x", alpha=0.3)
    return ax


def plot_lease_gantt(trace: Trace, ax=None):
    """Lease tenures: one row per (resource, holder), one bar per tenure in true time; red spans mark
    times when two nodes held the same lease (views.lease_overlaps)."""
    leases = views.lease_intervals(trace)
    overlaps = views.lease_overlaps(trace)
    lanes = sorted({(int(r), int(h)) for r, h in zip(leases["resource"], leases["holder"])})
    ax = _axes(ax, figsize=(7.0, max(2.0, 0.35 * len(lanes) + 1.2)))
    lane_of = {lane: i for i, lane in enumerate(lanes)}
    resources = sorted({r for r, _ in lanes})
    for row in leases.itertuples():
        y = lane_of[(int(row.resource), int(row.holder))]
        ax.barh(y, (row.end_ns - row.start_ns) / 1e9, left=row.start_ns / 1e9, height=0.6,
                color=f"C{resources.index(int(row.resource)) % 10}", edgecolor="black", linewidth=0.3)
    for row in overlaps.itertuples():
        ys = [i for i, (r, _) in enumerate(lanes) if r == row.resource]
        ax.fill_betweenx([min(ys) - 0.45, max(ys) + 0.45], row.start_ns / 1e9, row.end_ns / 1e9,
                         color="red", alpha=0.35, linewidth=0)
    ax.set_yticks(np.arange(len(lanes)), [f"res {r} / node {h}" for r, h in lanes])
    ax.invert_yaxis()
    title = f"Lease tenures ({len(leases)})"
    ax.set(xlabel="true time (s)", title=title + (f", {len(overlaps)} overlaps (red)" if len(overlaps) else ""))
    ax.grid(True, axis="x", alpha=0.3)
    return ax


def plot_replication_lag(trace: Trace, ax=None):
    """Replication lag of each record against its commit time, per (source, target)."""
    lag = views.replication_lag(trace)
    ax = _axes(ax)
    for (source, target), group in lag.groupby(["source", "target"], sort=True):
        ax.plot(group["commit_ns"] / 1e9, group["lag_ns"] / 1e6, ".", label=f"{source} → {target}")
    ax.set(xlabel="commit time (s)", ylabel="lag (ms)", title="Replication lag")
    ax.grid(True, alpha=0.3)
    ax.legend(loc="upper right")
    return ax


def _node_lines(ax, use, column: str, ylabel: str, scale: float = 1.0) -> None:
    nodes = sorted(use["node"].unique())
    if len(nodes) <= NODE_LINES_MAX:
        for node in nodes:
            group = use[use["node"] == node]
            ax.plot(group["time_s"], group[column] * scale, label=f"node {node}", linewidth=1)
    else:
        by_time = use.groupby("time_s")[column]
        ax.plot(by_time.mean().index, by_time.mean() * scale, label="mean over nodes")
        ax.plot(by_time.max().index, by_time.max() * scale, label="max over nodes")
    ax.set(ylabel=ylabel)
    ax.grid(True, alpha=0.3)


def plot_resource_use(trace: Trace, fig=None):
    """Per-node CPU, disk and network use over time (four panels); returns the Figure."""
    use = views.resource_use(trace)
    if fig is None:
        import matplotlib.pyplot as plt
        fig = plt.figure(figsize=(9.0, 6.0), layout="constrained")
    axes = fig.subplots(2, 2, sharex=True)
    _node_lines(axes[0][0], use, "cpu_busy", "CPU busy (cores)")
    _node_lines(axes[0][1], use, "disk_busy", "disk busy (fraction)")
    _node_lines(axes[1][0], use, "net_tx_bytes_per_s", "network sent (MB/s)", 1e-6)
    _node_lines(axes[1][1], use, "disk_used_bytes", "disk used (MB)", 1e-6)
    for ax in axes[1]:
        ax.set_xlabel("simulated time (s)")
    axes[0][0].legend(fontsize="x-small", ncol=2)
    fig.suptitle("Resource use")
    return fig


@dataclass(frozen=True)
class PlotSpec:
    name: str                                # file stem of the PNG
    title: str
    draw: Callable                           # draw(trace, figure)
    figsize: tuple = (7.0, 4.0)


def _on_axes(plot: Callable) -> Callable:
    return lambda trace, figure: plot(trace, ax=figure.add_subplot())


PLOTS = [
    PlotSpec("latency_cdf", "Latency CDF per operation kind", _on_axes(plot_latency_cdf)),
    PlotSpec("throughput", "Throughput over time", _on_axes(plot_throughput)),
    PlotSpec("bytes_per_operation", "Bytes per operation", _on_axes(plot_bytes_per_operation)),
    PlotSpec("fault_timeline", "Fault timeline", _on_axes(plot_fault_timeline)),
    PlotSpec("lease_gantt", "Lease tenures (Gantt)", _on_axes(plot_lease_gantt)),
    PlotSpec("replication_lag", "Replication lag", _on_axes(plot_replication_lag)),
    PlotSpec("resource_use", "Node resource use", lambda trace, figure: plot_resource_use(trace, fig=figure),
             (9.0, 6.0)),
]
