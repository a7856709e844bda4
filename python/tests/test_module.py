"""The pbfs module: scenarios from files, text and dicts; runs equal to the command line's, bit for bit;
tables as numpy arrays without copies and with the documented dtypes; errors with the command line's
messages; the GIL released during runs."""

import pathlib
import pydoc
import re
import threading
import time

import h5py
import numpy as np
import pytest

import pbfs
from pbfs.analysis import schema
from helpers import run_cli


def test_python_run_equals_cli_trace_bit_for_bit(tmp_path, cli, echo_path):
    overrides = {"outputs.message_log": True, "protocol.message_bytes": "4KiB"}
    result = pbfs.run(echo_path, seed=11, overrides=overrides, trace=tmp_path / "python.h5")
    cli_run = run_cli(cli, "run", echo_path, "--seed", 11, "--out", tmp_path / "cli.h5",
                      *[a for o in pbfs.format_overrides(overrides) for a in ("--set", o)])
    assert cli_run.returncode == 0, cli_run.stderr
    assert (tmp_path / "python.h5").read_bytes() == (tmp_path / "cli.h5").read_bytes()
    # The summaries agree too: the command line prints every metric with %g.
    for name, value in result.summary.metrics.items():
        assert f"metric     {name} = {value:g}\n" in cli_run.stdout
    assert f"{result.summary.events} events" in cli_run.stdout and result.seed == 11


def test_seed_changes_the_run_and_equal_seeds_repeat_it(tmp_path, echo_path):
    scenario = pbfs.load_scenario(echo_path, {"workload.interval": "7ms", "faults": [
        {"kind": "drop", "at": "0s", "duration": "10s", "rate": 0.2}]})
    a = scenario.run(seed=1, trace_path=str(tmp_path / "a.h5"))
    b = scenario.run(seed=1, trace_path=str(tmp_path / "b.h5"))
    c = scenario.run(seed=2, trace_path=str(tmp_path / "c.h5"))
    assert (tmp_path / "a.h5").read_bytes() == (tmp_path / "b.h5").read_bytes()
    assert not np.array_equal(a.table("echo_round_trips"), c.table("echo_round_trips"))
    assert a.summary.messages_dropped > 0 and b.summary.events == a.summary.events


def test_text_and_dict_scenarios_run_like_the_file(tmp_path, echo_path):
    text = pathlib.Path(echo_path).read_text()
    mapping, lines = pbfs.python_from_yaml(text, echo_path)
    from_file = pbfs.run(echo_path, seed=3, trace=tmp_path / "file.h5")
    from_text = pbfs.run(text, seed=3, trace=tmp_path / "text.h5")
    from_dict = pbfs.run(mapping, seed=3, trace=tmp_path / "dict.h5")
    assert pbfs.load_scenario(mapping).file == "<dict>" and pbfs.load_scenario(text).file == "<string>"
    for other in (from_text, from_dict):
        assert other.table_names == from_file.table_names
        for name in from_file.table_names:
            assert np.array_equal(other.table(name), from_file.table(name)), name
        assert other.summary.metrics == from_file.summary.metrics
    assert lines["workload.pairs"] == next(i for i, l in enumerate(text.splitlines(), 1) if l.startswith("workload:"))


def test_tables_are_read_only_views_equal_to_the_file(echo_result):
    with h5py.File(echo_result.trace_path, "r") as f:
        for name, array in echo_result.tables.items():
            in_file = f["tables"][name][...]
            assert array.dtype == in_file.dtype, name  # names, formats, offsets and row size
            assert array.tobytes() == in_file.tobytes(), name
            assert not array.flags.writeable and array.base is not None
    # Two views of one table share the run's buffer: nothing was copied.
    first, second = echo_result.table("echo_round_trips"), echo_result.table("echo_round_trips")
    assert len(first) > 0 and np.shares_memory(first, second)
    with pytest.raises(KeyError, match="no table 'nope'.*echo_round_trips"):
        echo_result.table("nope")


def test_table_views_outlive_their_result(tmp_path, echo_path):
    array = pbfs.run(echo_path, seed=2, trace=tmp_path / "t.h5").table("echo_round_trips")
    import gc
    gc.collect()
    assert len(array) > 0 and (array["end_ns"] > array["start_ns"]).all()


def test_tables_have_the_documented_dtypes(echo_result):
    assert set(echo_result.table_names) >= {"faults", "resources", "messages", "counters", "echo_round_trips"}
    for name, array in echo_result.tables.items():
        assert schema.check_columns(name, array.dtype) == [], name
        description = echo_result.describe_table(name)
        assert description["dtype"] == array.dtype and set(description["fields"]) == set(array.dtype.names)


def _documented_tables(source_dir) -> dict:
    """Tables of docs/trace-format.md's reference: name -> [(field, numpy dtype)]."""
    types = {"i64": "<i8", "u64": "<u8", "i32": "<i4", "u32": "<u4", "u16": "<u2", "u8": "u1", "f64": "<f8"}
    tables, current = {}, None
    for line in (source_dir / "docs" / "trace-format.md").read_text().splitlines():
        heading = re.match(r"^### `(\w+)`", line)
        if heading:
            current = tables.setdefault(heading.group(1), [])
            continue
        row = re.match(r"^\| `(\w+)` \| (\w+(?:\[\d+\])?) \|", line)
        if row and current is not None:
            kind = row.group(2)
            chars = re.match(r"chars\[(\d+)\]", kind)
            current.append((row.group(1), f"S{chars.group(1)}" if chars else types[kind]))
    return tables


def test_schema_module_agrees_with_the_trace_format_document(source_dir):
    documented = _documented_tables(source_dir)
    assert {"faults", "resources", "messages", "counters", "echo_round_trips"} <= set(documented)
    for name, columns in documented.items():
        assert name in schema.TABLES, f"{name} is in docs/trace-format.md but not in pbfs.analysis.schema"
        assert list(schema.TABLES[name].columns) == columns, name


@pytest.mark.parametrize("scenario,overrides,tables", [
    ("flease-failover.yaml", {}, {"lease_attempts", "lease_intervals"}),
    ("lock-service-failover.yaml", {}, {"lease_attempts", "lease_intervals"}),
    ("pbfs-compaction-race.yaml", {"duration": "2s"},
     {"operations", "read_pieces", "compaction_sources", "commits", "collections", "lease_attempts",
      "lease_intervals", "membership_changes", "coordination_sessions"}),
])
def test_protocol_tables_have_the_documented_dtypes(tmp_path, source_dir, scenario, overrides, tables):
    path = source_dir / "scenarios" / scenario
    if not path.exists():
        pytest.skip(f"{scenario} is not in this tree")
    result = pbfs.run(path, overrides=overrides, trace=tmp_path / "run.h5")
    assert tables <= set(result.table_names)
    documented = _documented_tables(source_dir)
    for name, array in result.tables.items():
        assert schema.check_columns(name, array.dtype) == [], name
        # The reference gives string lengths too: compare exactly, field by field.
        assert [(f, np.dtype(t)) for f, t in documented[name]] == \
            [(f, array.dtype.fields[f][0]) for f in array.dtype.names], name


def _cli_error(cli, *args):
    process = run_cli(cli, "run", *args)
    return process.returncode, process.stderr.strip()


def test_scenario_errors_carry_the_cli_message(tmp_path, cli, echo_path):
    bad_file = tmp_path / "bad.yaml"
    bad_file.write_text(pathlib.Path(echo_path).read_text().replace("payload: synthetic", "payload: synthetc"))
    cases = [
        (bad_file, []),                                               # a bad value in the file: file:line
        (echo_path, ["topology.links.node.bandwidth=10Gbs"]),         # a bad override: --set ...
        (echo_path, ["workload.pairs=99"]),                           # found by the protocol's deployment
        (tmp_path / "missing.yaml", []),
    ]
    for path, overrides in cases:
        with pytest.raises(pbfs.ScenarioError) as error:
            pbfs.run(path, overrides=overrides, trace=tmp_path / "never.h5")
        code, message = _cli_error(cli, path, *[a for o in overrides for a in ("--set", o)],
                                   "--out", tmp_path / "never.h5")
        assert code == 2 and str(error.value) == message
    assert re.match(rf"^{re.escape(str(bad_file))}:\d+: payload: ", str(_cli_error(cli, bad_file)[1]))
    assert isinstance(error.value, ValueError)


def test_dict_errors_name_the_field(tmp_path):
    bad = {"name": "d", "duration": "1s", "topology": {"sites": [{"name": "a", "racks": 1, "nodes_per_rack": 2}]},
           "protocol": {"name": "echo", "message_bytes": "lots"}}
    with pytest.raises(pbfs.ScenarioError, match=r"^<dict>:\d+: protocol\.message_bytes: "):
        pbfs.run(bad, trace=tmp_path / "never.h5")
    with pytest.raises(TypeError, match=r"protocol\.message_bytes: cannot be written as YAML"):
        pbfs.load_scenario({**bad, "protocol": {"name": "echo", "message_bytes": object()}})


def test_run_error_when_the_trace_cannot_be_written(tmp_path, cli, echo_path):
    target = tmp_path / "no" / "such" / "dir" / "run.h5"
    with pytest.raises(pbfs.RunError) as error:
        pbfs.run(echo_path, trace=target)
    process = run_cli(cli, "run", echo_path, "--out", target)
    assert process.returncode == 3 and str(error.value) == process.stderr.strip()
    assert str(target) in str(error.value)


def test_yaml_values_follow_the_core_schema():
    value, lines = pbfs.python_from_yaml("a: 1\nb: [0x1f, 1.5, -.inf, true, ~, '2', 4KiB]\nc:\n  d: False\n", "x.yaml")
    assert value == {"a": 1, "b": [31, 1.5, float("-inf"), True, None, "2", "4KiB"], "c": {"d": False}}
    assert type(value["b"][5]) is str and lines == {"": 1, "a": 1, "b": 2, "b.0": 2, "b.1": 2, "b.2": 2, "b.3": 2,
                                                   "b.4": 2, "b.5": 2, "b.6": 2, "c": 3, "c.d": 4}
    with pytest.raises(pbfs.ScenarioError, match=r"^x\.yaml:2: bad YAML"):
        pbfs.python_from_yaml("a: [1,\nb: }\n", "x.yaml")


def test_python_values_become_yaml_that_reads_back():
    value = {"a": 0.1, "b": [1, True, None, "x y"], "c": {"d": np.int64(7), "e": np.float64(2.5), "f": 1e-30}}
    text = pbfs.yaml_from_python(value)
    back, _ = pbfs.python_from_yaml(text)
    assert back == {"a": 0.1, "b": [1, True, None, "x y"], "c": {"d": 7, "e": 2.5, "f": 1e-30}}
    cycle: dict = {}
    cycle["self"] = cycle
    with pytest.raises(TypeError, match="nested more than"):
        pbfs.yaml_from_python(cycle)


def test_overrides_are_formatted_as_the_command_line_takes_them():
    assert pbfs.format_overrides({"a.b": True, "c": 1.5, "d": [1, 2], "e": "2s"}) == [
        "a.b=true", "c=1.5", "d=[1, 2]", "e=2s"]
    assert pbfs.format_overrides("x=1") == ["x=1"] and pbfs.format_overrides(None) == []
    with pytest.raises(TypeError):
        pbfs.format_overrides(["no equals sign"])


def test_gil_is_released_while_the_simulation_runs(tmp_path, source_dir):
    # One thread runs a simulation of about a second (open-loop pings every 50 us, no progress callback: a
    # callback runs Python code, where the interpreter would hand the GIL over anyway) while the main thread
    # keeps stamping the time. A run that held the GIL would let the main thread run only at its two ends,
    # so no stamp would fall in the middle half of the run.
    scenario = pbfs.load_scenario(source_dir / "scenarios" / "echo.yaml",
                                  {"workload.count": 0, "workload.interval": "50us", "duration": "10s", "faults": []})
    span, stamps, done = [], [], threading.Event()

    def run():
        start = time.monotonic()
        scenario.run(trace_path=str(tmp_path / "gil.h5"))
        span.extend((start, time.monotonic()))
        done.set()

    thread = threading.Thread(target=run)
    thread.start()
    count = 0
    while not done.is_set():
        count += 1
        if count % 1000 == 0:
            stamps.append(time.monotonic())
    thread.join()
    start, end = span
    quarter = (end - start) / 4
    assert end - start > 0.05
    assert any(start + quarter < t < end - quarter for t in stamps)


def test_concurrent_runs_in_threads_equal_sequential_runs(tmp_path, echo_path):
    # Two runs of one Scenario object at once (seed 1 is its own: no reload), and one of another seed.
    scenario = pbfs.load_scenario(echo_path, {"workload.interval": "3ms"})
    seeds = (1, 1, 2)
    sequential = [scenario.run(seed=s, trace_path=str(tmp_path / f"s{i}.h5")) for i, s in enumerate(seeds)]
    results = {}
    threads = [threading.Thread(target=lambda i=i, s=s: results.__setitem__(
        i, scenario.run(trace_path=str(tmp_path / f"t{i}.h5")) if s == 1 else
        scenario.run(seed=s, trace_path=str(tmp_path / f"t{i}.h5")))) for i, s in enumerate(seeds)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for i, expected in enumerate(sequential):
        assert (tmp_path / f"t{i}.h5").read_bytes() == (tmp_path / f"s{i}.h5").read_bytes()
        assert np.array_equal(results[i].table("echo_round_trips"), expected.table("echo_round_trips"))


def test_progress_callback_errors_surface_after_the_run(tmp_path, echo_path):
    calls = []

    def progress(simulated_ns, events):
        calls.append(simulated_ns)
        raise RuntimeError("stop looking")

    with pytest.raises(RuntimeError, match="stop looking"):
        pbfs.run(echo_path, trace=tmp_path / "p.h5", progress=progress)
    assert len(calls) == 1 and (tmp_path / "p.h5").exists()


def test_results_without_retained_rows_point_to_the_file(tmp_path, echo_path):
    result = pbfs.run(echo_path, trace=tmp_path / "r.h5", retain_rows=False)
    assert not result.rows_retained and "echo_round_trips" in result.table_names
    with pytest.raises(ValueError, match="retain_rows=False"):
        result.tables
    assert len(pbfs.analysis.open_trace(result).table("echo_round_trips")) == result.summary.metrics["echo.round_trips"]


def test_help_documents_the_api():
    text = pydoc.render_doc(pbfs, renderer=pydoc.plaintext)
    for needle in ("def run(", "load_scenario", "ScenarioError", "format_overrides", "sweep("):
        assert needle in text or needle.replace("def ", "") in text, needle
    scenario_help = pydoc.render_doc(pbfs.Scenario, renderer=pydoc.plaintext)
    assert "run(self" in scenario_help and "retain_rows" in scenario_help and "GIL" in scenario_help
    assert "replays this run" in pydoc.render_doc(pbfs.RunResult, renderer=pydoc.plaintext)
