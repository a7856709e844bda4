"""pbfs.analysis: traces as pandas DataFrames, the standard views and plots, and reports.

    from pbfs import analysis
    trace = analysis.open_trace("echo.h5")          # or a pbfs.RunResult, straight from memory
    trace.table("faults")                           # any table as a DataFrame
    analysis.latency_percentiles(trace)             # per operation kind, in µs
    analysis.plot_latency_cdf(trace)                # matplotlib
    analysis.write_report(trace, "echo-report")     # PNGs + report.md + report.html

A view whose table the trace lacks raises MissingTable saying which table and what writes it. The
tables and their columns are listed in pbfs.analysis.schema.TABLES (docs/python.md).
"""

from .plots import (PLOTS, PlotSpec, plot_bytes_per_operation, plot_fault_timeline, plot_latency_cdf,
                    plot_lease_gantt, plot_replication_lag, plot_resource_use, plot_throughput)
from .report import Report, write_report
from .schema import TABLES, TableSpec, check_columns
from .trace import MissingTable, Trace, TraceError, open_trace
from .views import (OPERATION_SOURCES, available, bytes_per_operation, counters, fault_timeline,
                    latency_cdf, latency_percentiles, lease_intervals, lease_overlaps, operations, replication_lag,
                    replication_lag_percentiles, resource_totals, resource_use, throughput)


def read_sweep_summary(path: str):
    """A sweep's summary.h5 as a DataFrame (the table pbfs.sweep() returns)."""
    from .._summary import read_summary
    return read_summary(path)


__all__ = [
    "open_trace", "Trace", "TraceError", "MissingTable", "TABLES", "TableSpec", "check_columns",
    "operations", "latency_percentiles", "latency_cdf", "throughput", "bytes_per_operation",
    "fault_timeline", "lease_intervals", "lease_overlaps", "replication_lag", "replication_lag_percentiles",
    "resource_use",
    "resource_totals", "counters", "available", "OPERATION_SOURCES",
    "plot_latency_cdf", "plot_throughput", "plot_bytes_per_operation", "plot_fault_timeline",
    "plot_lease_gantt", "plot_replication_lag", "plot_resource_use", "PLOTS", "PlotSpec",
    "write_report", "Report", "read_sweep_summary",
]
