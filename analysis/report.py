"""A report on one trace: every standard plot the trace has data for, as PNGs, and a short summary (run
figures, checker verdicts, metrics, latency percentiles, bytes per operation, faults) as Markdown and
HTML. Views whose tables are missing are listed with the reason instead. `pbfs report TRACE` runs main().
"""

from __future__ import annotations

import argparse
import html
import os
import sys
from dataclasses import dataclass, field
from typing import Optional

import pandas as pd

from . import views
from .plots import PLOTS
from .trace import MissingTable, Trace, TraceError, open_trace

EXIT_OK, EXIT_CHECK_FAILED, EXIT_BAD_INPUT = 0, 1, 2


@dataclass
class Report:
    out_dir: str
    markdown_path: str
    html_path: str
    plots: dict = field(default_factory=dict)    # plot name -> PNG path
    skipped: dict = field(default_factory=dict)  # plot or table name -> why it is not in the report
    passed: bool = True                          # no checker reported a violation


def _run_figures(trace: Trace) -> pd.DataFrame:
    keys = [("scenario", "scenario_name"), ("seed", "seed"), ("simulated_ns", "simulated_ns"),
            ("events", "events"), ("messages sent", "messages_sent"), ("faults injected", "faults_injected"),
            ("runtime", "runtime"), ("pbfs version", "pbfs_version")]
    rows = [(label, trace.attrs[key]) for label, key in keys if key in trace.attrs]
    return pd.DataFrame(rows, columns=["", "value"]).set_index("")


def _tables(trace: Trace, skipped: dict) -> list:
    """(title, DataFrame) for each summary table the trace has data for."""
    tables = [("Run", _run_figures(trace))]
    checks = trace.checks
    if len(checks):
        tables.append(("Checks", checks.set_index("checker")))
    if trace.metrics:
        tables.append(("Metrics", pd.DataFrame({"value": trace.metrics}).rename_axis("metric")))
    makers = [("Latency percentiles (µs)", views.latency_percentiles),
              ("Bytes per operation", views.bytes_per_operation),
              ("Faults", views.fault_timeline),
              ("Lease tenures", views.lease_intervals),
              ("Lease overlaps (two holders at once)", views.lease_overlaps),
              ("Replication lag (ms)", views.replication_lag_percentiles),
              ("Resource totals per node", views.resource_totals)]
    for title, make in makers:
        try:
            table = make(trace)
        except MissingTable as e:
            skipped[title] = str(e)
            continue
        if len(table):
            tables.append((title, table.head(40) if title == "Lease tenures" else table))
    if trace.has("counters") and len(trace.table("counters")):
        tables.append(("Counters", views.counters(trace).to_frame()))
    return tables


def _cell(value) -> str:
    if isinstance(value, float):
        return f"{value:.6g}"
    return str(value).replace("|", "\\|").replace("\n", " ")


def _markdown_table(frame: pd.DataFrame) -> str:
    index_name = ", ".join(str(n) for n in frame.index.names if n is not None)
    header = [index_name] + [str(c) for c in frame.columns]
    lines = ["| " + " | ".join(header) + " |", "|" + " --- |" * len(header)]
    for index, row in frame.iterrows():
        label = ", ".join(map(str, index)) if isinstance(index, tuple) else index
        lines.append("| " + " | ".join(_cell(v) for v in [label, *row.tolist()]) + " |")
    return "\n".join(lines)


def _draw_plots(trace: Trace, out_dir: str, skipped: dict) -> dict:
    from matplotlib.figure import Figure  # no pyplot: works headless, whatever the backend
    plots = {}
    for spec in PLOTS:
        figure = Figure(figsize=spec.figsize, layout="constrained")
        try:
            spec.draw(trace, figure)
        except MissingTable as e:
            skipped[spec.title] = str(e)
            continue
        path = os.path.join(out_dir, spec.name + ".png")
        figure.savefig(path, dpi=100)
        plots[spec.name] = path
    return plots


def _write_documents(report: Report, trace: Trace, tables: list) -> None:
    title = f"pbfs report: {trace.scenario_name or '?'} (seed {trace.seed})"
    verdict = "all checks passed" if report.passed else "A CHECK FAILED"
    md = [f"# {title}", "", f"Trace `{trace.path}`: {verdict}.", ""]
    page = [f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title></head><body>",
            f"<h1>{html.escape(title)}</h1><p>Trace <code>{html.escape(str(trace.path))}</code>: {verdict}.</p>"]
    for name, frame in tables:
        md += [f"## {name}", "", _markdown_table(frame), ""]
        page += [f"<h2>{html.escape(name)}</h2>", frame.to_html(float_format=lambda v: f"{v:.6g}")]
    md += ["## Plots", ""]
    page.append("<h2>Plots</h2>")
    for spec in PLOTS:
        if spec.name in report.plots:
            md += [f"![{spec.title}]({spec.name}.png)", ""]
            title = html.escape(spec.title)
            page.append(f"<h3>{title}</h3><img src='{spec.name}.png' alt='{title}'>")
    if report.skipped:
        reasons: dict = {}  # one line per missing table, naming every view it takes away
        for name, why in report.skipped.items():
            reasons.setdefault(why, []).append(name)
        md += ["## Not in this trace", ""] + [f"- {', '.join(names)}: {why}" for why, names in reasons.items()] + [""]
        items = [f"<li>{html.escape(', '.join(names))}: {html.escape(why)}</li>" for why, names in reasons.items()]
        page.append("<h2>Not in this trace</h2><ul>" + "".join(items) + "</ul>")
    page.append("</body></html>")
    with open(report.markdown_path, "w", encoding="utf-8") as f:
        f.write("\n".join(md))
    with open(report.html_path, "w", encoding="utf-8") as f:
        f.write("\n".join(page) + "\n")


def write_report(source, out_dir: Optional[str] = None) -> Report:
    """Writes OUT/report.md, OUT/report.html and one PNG per available plot; returns what it wrote.
    source: a trace path, a RunResult or a Trace. out_dir: default TRACE-without-.h5 + "-report"."""
    trace = open_trace(source)
    if out_dir is None:
        base = os.path.splitext(trace.path)[0] if trace.path else "trace"
        out_dir = base + "-report"
    os.makedirs(out_dir, exist_ok=True)
    report = Report(out_dir=out_dir, markdown_path=os.path.join(out_dir, "report.md"),
                    html_path=os.path.join(out_dir, "report.html"), passed=trace.passed)
    tables = _tables(trace, report.skipped)
    report.plots = _draw_plots(trace, out_dir, report.skipped)
    _write_documents(report, trace, tables)
    return report


def main(argv: Optional[list] = None) -> int:
    """`pbfs report TRACE [--out DIR]`. Exit codes: 0 written; 1 written, but the trace records a failed
    check; 2 bad input (no such file, not a pbfs trace)."""
    import matplotlib
    matplotlib.use("Agg")  # headless
    parser = argparse.ArgumentParser(
        prog="pbfs report", description="Plots (PNG) and a short summary (Markdown, HTML) of one trace.",
        epilog="exit codes: 0 ok, 1 the trace records a failed check, 2 bad input")
    parser.add_argument("trace", help="HDF5 trace written by `pbfs run`")
    parser.add_argument("--out", help="output directory (default: TRACE without .h5, plus -report)")
    args = parser.parse_args(argv)  # exits with 2 on a bad command line
    if not os.path.isfile(args.trace):
        print(f"pbfs report: no such trace file {args.trace}", file=sys.stderr)
        return EXIT_BAD_INPUT
    try:
        report = write_report(args.trace, args.out)
    except TraceError as e:
        print(f"pbfs report: {e}", file=sys.stderr)
        return EXIT_BAD_INPUT
    print(f"report     {report.markdown_path}")
    print(f"           {report.html_path}")
    for name, path in report.plots.items():
        print(f"plot       {path}")
    for name, why in report.skipped.items():
        print(f"skipped    {name}: {why}")
    if not report.passed:
        print("checks     FAILED (see the report)")
        return EXIT_CHECK_FAILED
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
