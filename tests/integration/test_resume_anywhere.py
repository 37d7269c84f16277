"""Resume is exact from any checkpoint at any generation (issue 25): periodic snapshots at about 10%, 30%, 50%
and 90% of a run, and the checkpoint a SIGTERM writes before the middle of a run, continued with the printed
command, end bit for bit where the uninterrupted run ends (data/stream.py: the stream's length counts from
generation 0, so Lightning's restored batch counter ends the epoch exactly at the last generation)."""

from __future__ import annotations

import os
import shlex
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import REPO
from helpers import TINY, assert_same_state, ckpt_state

from evogan_lightning.run.config import compose
from evogan_lightning.run.train import train

GENERATIONS = 20
POINTS = (2, 6, 10, 18)  # 10%, 30%, 50%, 90%


@pytest.mark.parametrize("algo", ["cegan", "egan", "gagan"])
def test_resume_from_periodic_checkpoints_anywhere_in_the_run(tmp_path, algo):
    nets = ["net=mlp", "net.hidden=32", "seed=5", "algo.num_discriminators=3"] if algo == "gagan" else TINY
    common = [
        f"algo={algo}",
        *nets,
        "logger=none",
        "trainer.enable_progress_bar=false",
        "~callbacks.samples",
        "~callbacks.interpolation",
        "~callbacks.toy_metrics",
        "log_every_n_generations=1",
        "callbacks.checkpoint.every_n_generations=1",
        "callbacks.checkpoint.keep_every=1",  # gen_XXXXXXX.ckpt snapshots: what a preempted run leaves
        f"generations={GENERATIONS}",
    ]
    full = tmp_path / "full"
    train(compose(common, output_dir=str(full)))
    straight = ckpt_state(full / "checkpoints" / "last.ckpt")
    for point in POINTS:
        run = tmp_path / f"from{point}"
        (run / "checkpoints").mkdir(parents=True)
        shutil.copy(full / "checkpoints" / f"gen_{point:07d}.ckpt", run / "checkpoints" / "last.ckpt")
        train(compose([*common, f"ckpt_path={run}/checkpoints/last.ckpt"], output_dir=str(run)))
        resumed = ckpt_state(run / "checkpoints" / "last.ckpt")
        assert_same_state(straight, resumed)


def _cli(run: Path, generations: int, *extra: str) -> list[str]:
    return [
        sys.executable,
        "-m",
        "evogan_lightning",
        "algo=gan",
        "trainer.enable_progress_bar=false",
        "callbacks.checkpoint.every_n_generations=100000",
        "log_every_n_generations=10",
        f"generations={generations}",
        f"hydra.run.dir={run}",
        *extra,
    ]


@pytest.mark.slow  # three CLI runs of 1500 generations; the default suite resumes from every point in-process above
def test_sigterm_before_the_middle_then_the_printed_command_equals_the_straight_run(tmp_path):
    env = {**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1"}
    total = 1500
    straight = tmp_path / "straight"
    subprocess.run(
        _cli(straight, total), cwd=str(REPO), env=env, check=True, capture_output=True, timeout=600
    )
    run = tmp_path / "stopped"
    proc = subprocess.Popen(
        _cli(run, total), cwd=str(REPO), env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    csv_file = run / "logs" / "metrics.csv"
    end = time.time() + 120
    while time.time() < end and (not csv_file.is_file() or len(csv_file.read_text().splitlines()) < 5):
        assert proc.poll() is None, proc.communicate()
        time.sleep(0.05)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 143, err[-2000:]
    stopped = ckpt_state(run / "checkpoints" / "last.ckpt")["evogan"]["generation"]
    assert 0 < stopped < total / 2  # before the middle: where the stream used to replay batches
    command = err.split("Continue with: ")[1].splitlines()[0]
    done = subprocess.run(
        [sys.executable, *shlex.split(command)[1:], "trainer.enable_progress_bar=false"],
        cwd=str(tmp_path),
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert_same_state(
        ckpt_state(straight / "checkpoints" / "last.ckpt"), ckpt_state(run / "checkpoints" / "last.ckpt")
    )
