"""Shared test helpers: run the CLIs in subprocesses against THIS source tree, tiny configs."""

from __future__ import annotations

import atexit
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

# The suite runs on pytest-xdist workers (pyproject: -n auto). Each worker and every CLI it starts gets one torch
# thread: two workers with two threads each on a 2-core machine slow each other about 10x.
if os.environ.get("PYTEST_XDIST_WORKER"):
    os.environ["OMP_NUM_THREADS"] = os.environ["MKL_NUM_THREADS"] = "1"
    import torch

    torch.set_num_threads(1)

# Hermetic caches: the suite (and the CLIs it starts) never reads or writes the user's ~/.cache/evogan_lightning,
# and two workers never write the same cache file.
_CACHE = Path(tempfile.mkdtemp(prefix="evogan-test-cache-"))
atexit.register(shutil.rmtree, _CACHE, ignore_errors=True)
os.environ["EVOGAN_STATS_CACHE"] = str(_CACHE / "feature_stats")
os.environ["EVOGAN_CLASSIFIER_CACHE"] = str(_CACHE / "classifiers")

REPO = Path(__file__).resolve().parents[1]
FAST = ["trainer.enable_progress_bar=false", "logger=none"]


def run_cli(
    args: list[str],
    module: str = "evogan_lightning",
    cwd: Path | None = None,
    timeout: int = 600,
    check: bool = True,
):
    """Run ``python -m <module> <args>`` with this checkout first on sys.path; returns CompletedProcess."""
    env = dict(os.environ)
    env["PYTHONPATH"] = str(REPO) + os.pathsep + env.get("PYTHONPATH", "")
    env.setdefault("WANDB_MODE", "offline")
    env["HYDRA_FULL_ERROR"] = "0"
    proc = subprocess.run(
        [sys.executable, "-m", module, *args],
        cwd=str(cwd or REPO),
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    if check and proc.returncode != 0:
        raise AssertionError(
            f"{module} {args} failed ({proc.returncode}):\n{proc.stdout[-3000:]}\n{proc.stderr[-5000:]}"
        )
    return proc


def read_metrics(run_dir: Path) -> dict:
    return json.loads((Path(run_dir) / "metrics.json").read_text())


@pytest.fixture
def cli():
    return run_cli


from lightning.pytorch.callbacks import Callback  # noqa: E402


class StopAt(Callback):
    """A Lightning callback that interrupts a run after ``generation`` generations, as Ctrl-C would (the run
    keeps its full ``generations``, so a decaying learning-rate schedule is the uninterrupted run's).
    Add it with ``+callbacks.stop._target_=conftest.StopAt +callbacks.stop.generation=N`` (in process)."""

    def __init__(self, generation: int) -> None:
        self.generation = generation

    def on_train_batch_end(self, trainer, pl_module, *args) -> None:
        if pl_module.generation >= self.generation:
            pl_module.request_stop()
            trainer.should_stop = True
