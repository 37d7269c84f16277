"""The notebooks run top to bottom (nbclient, kernel python3) against this source tree on toy data."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from conftest import REPO

pytestmark = pytest.mark.slow  # two Jupyter kernels that train: the slow set (.ci/run runs it)

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")


def execute(name: str, env: dict[str, str], cwd: Path) -> object:
    book = nbformat.read(REPO / "notebooks" / name, as_version=4)
    old = {k: os.environ.get(k) for k in [*env, "PYTHONPATH", "MPLBACKEND"]}
    os.environ.update(env)
    os.environ["PYTHONPATH"] = str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", "")
    os.environ["MPLBACKEND"] = "Agg"
    try:  # the kernel inherits this environment
        nbclient.NotebookClient(
            book, timeout=120, kernel_name="python3", resources={"metadata": {"path": str(cwd)}}
        ).execute()
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    return book


def outputs(book) -> str:
    return json.dumps([cell.get("outputs", []) for cell in book.cells])


def test_quickstart_notebook_runs(tmp_path):
    book = execute("quickstart.ipynb", {"QUICKSTART_GENERATIONS": "12"}, tmp_path)
    text = outputs(book)
    assert "toy/modes_covered" in text and "image/png" in text
    assert "modes covered" in text and "of samples within 3 std of a mode" in text  # the result, in words


def test_results_notebook_runs_on_a_sweep_folder(tmp_path):
    sweep = tmp_path / "sweep"
    for i, (loss, value) in enumerate([("heuristic", 5.0), ("minimax", 3.0)]):
        job = sweep / f"{i}_algo.loss={loss}"
        (job / ".hydra").mkdir(parents=True)
        (job / ".hydra" / "overrides.yaml").write_text(f"- algo.loss={loss}\n")
        (job / "metrics.json").write_text(json.dumps({"toy/modes_covered": value, "loss/g": 0.7}))
    book = execute("results.ipynb", {"EVOGAN_SWEEP_DIR": str(sweep)}, tmp_path)
    text = outputs(book)
    assert "2 jobs" in text and "algo.loss=heuristic" in text and "mean=5" in text
    assert (sweep / "summary.png").is_file()
