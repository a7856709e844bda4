"""Shared fixtures for the pbfs Python tests. ctest runs them with PYTHONPATH=<build>/python, PBFS_BINARY
(the `pbfs` command line that Python runs are compared with) and PBFS_SOURCE_DIR set; run beside ctest,
they fall back to what the built package knows about its build."""

import os
import pathlib

os.environ.setdefault("MPLBACKEND", "Agg")  # headless, before anything imports matplotlib

import pytest  # noqa: E402

import pbfs  # noqa: E402

SOURCE_DIR = pathlib.Path(os.environ.get("PBFS_SOURCE_DIR") or pbfs.SOURCE_DIR
                          or pathlib.Path(__file__).resolve().parents[2])


@pytest.fixture(scope="session")
def source_dir() -> pathlib.Path:
    return SOURCE_DIR


@pytest.fixture(scope="session")
def echo_path() -> str:
    return str(SOURCE_DIR / "scenarios" / "echo.yaml")


@pytest.fixture(scope="session")
def cli() -> str:
    path = os.environ.get("PBFS_BINARY") or pbfs.CLI
    assert path and os.path.exists(path), "the pbfs command line is not built (PBFS_BINARY)"
    return path


@pytest.fixture(scope="session")
def echo_result(tmp_path_factory, echo_path):
    """One echo run with every table the simulator can write (the message log included)."""
    trace = tmp_path_factory.mktemp("echo") / "echo.h5"
    return pbfs.run(echo_path, seed=5, overrides={"outputs.message_log": True}, trace=trace)
