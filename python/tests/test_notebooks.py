"""Every notebook in analysis/notebooks runs headless, top to bottom, without an error (nbclient, Debian's
python3 kernel, in a temporary working directory so its traces and reports land there)."""

import os
import pathlib

import nbclient
import nbformat
import pytest

NOTEBOOKS = sorted((pathlib.Path(__file__).resolve().parents[2] / "analysis" / "notebooks").glob("*.ipynb"))


def test_there_are_notebooks():
    assert {"quickstart.ipynb"} <= {n.name for n in NOTEBOOKS} and len(NOTEBOOKS) >= 3


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[n.stem for n in NOTEBOOKS])
def test_notebook_runs(path, tmp_path):
    notebook = nbformat.read(path, as_version=4)
    client = nbclient.NotebookClient(notebook, timeout=120, kernel_name="python3",
                                     resources={"metadata": {"path": str(tmp_path)}})
    # The kernel draws with its own inline backend (headless too), as a notebook server's would.
    env = {k: v for k, v in os.environ.items() if k != "MPLBACKEND"}
    env["PYDEVD_DISABLE_FILE_VALIDATION"] = "1"
    client.execute(env=env)  # raises CellExecutionError, with the cell and its traceback, on any error
    outputs = [o for cell in notebook.cells if cell.cell_type == "code" for o in cell.get("outputs", [])]
    assert not [o for o in outputs if o.get("output_type") == "error"]
    assert any("image/png" in o.get("data", {}) for o in outputs), "the notebook shows no plot"
    assert (tmp_path / "out").is_dir()
