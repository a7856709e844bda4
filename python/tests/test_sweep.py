"""Sweeps: sweep files and their errors, the local process pool, failed points reported with their replay
command while the sweep goes on, reruns that skip finished points, the same summary from a Dask
LocalCluster, and the `pbfs sweep` command's exit codes."""

import os
import shlex

import pandas as pd
import pytest

import pbfs
from pbfs import analysis
from helpers import run_cli, run_module, runner_aborting_on_four_pairs

GRID = {"protocol.message_bytes": [256, "64KiB"], "workload.pairs": [1, 4]}


def sweep_spec(echo_path, **changes) -> dict:
    spec = {"name": "echo-test", "scenario": echo_path, "set": {"workload.count": 200}, "grid": dict(GRID),
            "seeds": [1, 2]}
    spec.update(changes)
    return spec


@pytest.fixture(scope="module")
def local_sweep(tmp_path_factory, echo_path):
    out = tmp_path_factory.mktemp("sweep") / "local"
    seen = []
    frame = pbfs.sweep(sweep_spec(echo_path), out, workers=2, progress=lambda *args: seen.append(args))
    return out, frame, seen


def test_sweep_file_errors_name_file_line_and_field(tmp_path, echo_path):
    path = tmp_path / "bad.yaml"
    path.write_text(f"scenario: {echo_path}\ngrid:\n  workload.pairs: [1, 2]\nseed: [1]\n")
    with pytest.raises(pbfs.SweepError, match=rf"^{path}:4: seed: unknown field \(known: name, scenario"):
        pbfs.load_sweep(path)
    path.write_text(f"scenario: {echo_path}\nseeds: [1, -2]\n")
    with pytest.raises(pbfs.SweepError, match=rf"^{path}:2: seeds\.1: seed -2 is not a non-negative integer"):
        pbfs.load_sweep(path)
    path.write_text("scenario: nowhere.yaml\n")
    with pytest.raises(pbfs.SweepError, match=rf"^{path}:1: scenario: no scenario file .*nowhere\.yaml"):
        pbfs.load_sweep(path)
    with pytest.raises(pbfs.SweepError, match=r"^<dict>: grid: expected a mapping"):
        pbfs.load_sweep({"scenario": echo_path, "grid": [1, 2]})


def test_a_bad_grid_value_stops_the_sweep_before_anything_runs(tmp_path, echo_path):
    spec = sweep_spec(echo_path, grid={"topology.links.node.bandwidth": ["10Gbps", "10Gbs"]})
    with pytest.raises(pbfs.SweepError, match=r"point topology\.links\.node\.bandwidth=10Gbs \(seed 1\): "
                                              r"--set topology\.links\.node\.bandwidth=10Gbs: .*bad bandwidth"):
        pbfs.sweep(spec, tmp_path / "out")
    assert not any((tmp_path / "out" / "points").iterdir())
    with pytest.raises(pbfs.SweepError, match=r"are the same run"):
        pbfs.sweep(sweep_spec(echo_path, grid={"workload.pairs": [2, 2]}), tmp_path / "out")


def test_local_pool_runs_every_point(local_sweep, echo_path):
    out, frame, seen = local_sweep
    assert len(frame) == 8 and len(seen) == 8 and (frame["status"] == "ok").all() and frame["passed"].all()
    assert frame[["protocol.message_bytes", "workload.pairs", "seed"]].values.tolist() == [
        [b, p, s] for b in ("256", "64KiB") for p in (1, 4) for s in (1, 2)]
    assert frame["workload.pairs"].dtype == "int64" and frame["events"].dtype == "Int64"
    for _, row in frame.iterrows():
        trace = analysis.open_trace(out / row["trace"])
        assert trace.seed == row["seed"] and trace.metrics["echo.rtt_p50_us"] == row["metric.echo.rtt_p50_us"]
        assert trace.attrs["events"] == row["events"]
    # The summary on disk is the returned table.
    pd.testing.assert_frame_equal(analysis.read_sweep_summary(out / "summary.h5"), frame)


def test_a_point_equals_its_replay_command(local_sweep, cli, tmp_path):
    out, frame, _ = local_sweep
    row = frame.iloc[5]
    args = shlex.split(row["replay"])
    assert args[:2] == ["pbfs", "run"]
    process = run_cli(cli, *args[1:], "--out", tmp_path / "replay.h5")
    assert process.returncode == 0, process.stderr
    assert (tmp_path / "replay.h5").read_bytes() == (out / row["trace"]).read_bytes()


def test_rerun_skips_points_already_done(local_sweep, echo_path):
    out, frame, _ = local_sweep
    traces = {row.trace: os.stat(out / row.trace).st_mtime_ns for row in frame.itertuples()}
    seen = []
    again = pbfs.sweep(sweep_spec(echo_path), out, workers=2, progress=lambda *args: seen.append(args))
    assert seen == [] and {t: os.stat(out / t).st_mtime_ns for t in traces} == traces
    pd.testing.assert_frame_equal(again.drop(columns="wall_seconds"), frame.drop(columns="wall_seconds"))
    # A lost trace makes its point run again, and only that one.
    os.remove(out / frame["trace"][3])
    once_more = pbfs.sweep(sweep_spec(echo_path), out, workers=2, progress=lambda *args: seen.append(args))
    assert [args[2].name for args in seen] == [frame["point"][3]] and (out / frame["trace"][3]).exists()
    pd.testing.assert_frame_equal(once_more.drop(columns="wall_seconds"), frame.drop(columns="wall_seconds"))


def test_failed_points_are_reported_and_the_sweep_goes_on(tmp_path, echo_path):
    # workload.pairs=9 passes the scenario loader but not the echo deployment: that point errors.
    spec = sweep_spec(echo_path, grid={"workload.pairs": [1, 9, 2]}, seeds=[3])
    frame = pbfs.sweep(spec, tmp_path / "out", workers=2)
    assert frame["status"].tolist() == ["ok", "error", "ok"]
    failed = frame.iloc[1]
    assert "workload.pairs: must be between 1 and 4, got 9" in failed["error"] and failed["trace"] == ""
    assert failed["replay"] == f"pbfs run {echo_path} --seed 3 --set workload.count=200 --set workload.pairs=9"
    assert pd.isna(failed["events"]) and not os.path.exists(tmp_path / "out" / "points" / f"{failed['point']}.h5")


def test_a_worker_that_dies_fails_only_its_point(tmp_path, echo_path):
    spec = sweep_spec(echo_path, grid={"workload.pairs": [1, 4, 2]}, seeds=[1, 2])
    frame = pbfs.sweep(spec, tmp_path / "out", workers=2, runner=runner_aborting_on_four_pairs)
    assert frame["status"].tolist() == ["ok", "ok", "error", "error", "ok", "ok"]
    assert frame["error"][2].startswith("the worker process died while running this point")
    assert "--set workload.pairs=4" in frame["replay"][2]


def test_inline_scenarios_are_written_for_replay(tmp_path, echo_path):
    mapping, _ = pbfs.python_from_yaml(open(echo_path).read())
    frame = pbfs.sweep({"scenario": mapping, "grid": {"workload.pairs": [2]}}, tmp_path / "out", workers=1)
    written = tmp_path / "out" / "scenario.yaml"
    assert frame["status"].tolist() == ["ok"] and frame["seed"].tolist() == [1]
    assert frame["replay"][0] == f"pbfs run {written} --seed 1 --set workload.pairs=2"
    assert pbfs.load_scenario(str(written)).name == "echo"


@pytest.mark.filterwarnings("ignore:make_current is deprecated:DeprecationWarning")  # tornado, inside distributed
def test_dask_local_cluster_gives_the_local_pool_summary(local_sweep, tmp_path, echo_path):
    from distributed import Client, LocalCluster
    _, local, _ = local_sweep
    with LocalCluster(n_workers=2, processes=True, threads_per_worker=1, dashboard_address=None,
                      host="127.0.0.1") as cluster, Client(cluster) as client:
        frame = pbfs.sweep(sweep_spec(echo_path), tmp_path / "dask", client=client)
        # The command line on the same cluster, through its scheduler's address.
        sweep_file = tmp_path / "sweep.yaml"
        sweep_file.write_text(pbfs.yaml_from_python(sweep_spec(echo_path)))
        process = run_module("pbfs.sweep", sweep_file, "--scheduler", cluster.scheduler_address,
                             "--out", tmp_path / "cli")
        assert process.returncode == 0, process.stderr
    # Everything but the wall-clock time (the trace and replay columns are relative or name the scenario).
    pd.testing.assert_frame_equal(frame.drop(columns="wall_seconds"), local.drop(columns="wall_seconds"))
    from_cli = analysis.read_sweep_summary(tmp_path / "cli" / "summary.h5")
    pd.testing.assert_frame_equal(from_cli.drop(columns="wall_seconds"), local.drop(columns="wall_seconds"))


def test_sweep_command_exit_codes(tmp_path, source_dir, echo_path):
    process = run_module("pbfs.sweep", source_dir / "sweeps" / "echo-message-size.yaml", "--out", tmp_path / "ok",
                         "--workers", 2)
    assert process.returncode == 0, process.stderr
    assert "12 runs: 12 ok" in process.stdout and (tmp_path / "ok" / "summary.h5").exists()
    failing = tmp_path / "failing.yaml"
    failing.write_text(f"scenario: {echo_path}\ngrid: {{workload.pairs: [9]}}\n")
    process = run_module("pbfs.sweep", failing, "--out", tmp_path / "failing")
    assert process.returncode == 1 and "replay: pbfs run" in process.stdout
    bad = tmp_path / "bad.yaml"
    bad.write_text(f"scenario: {echo_path}\ngrids: {{}}\n")
    process = run_module("pbfs.sweep", bad)
    assert process.returncode == 2 and f"{bad}:2: grids: unknown field" in process.stderr
    assert run_module("pbfs.sweep", tmp_path / "missing.yaml").returncode == 2
    assert run_module("pbfs.sweep", bad, "--workers", 0).returncode == 2


def test_pbfs_sweep_subcommand(tmp_path, cli, source_dir):
    process = run_cli(cli, "sweep", source_dir / "sweeps" / "echo-message-size.yaml", "--out", tmp_path / "out",
                      "--workers", 2)
    if process.returncode == 2 and "unknown command" in process.stderr:
        pytest.skip("the pbfs command line does not have `sweep` yet")
    assert process.returncode == 0, process.stderr
    assert len(analysis.read_sweep_summary(tmp_path / "out" / "summary.h5")) == 12
