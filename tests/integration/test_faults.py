"""Runs that survive the cluster: SIGTERM, kill -9, a second run into the same folder, a full disk and a
diverged state lose nothing and end clearly (evogan_lightning/run/rundir.py, callbacks/checkpoint.py,
run/console.stop_on_signals, run/csv_log.py)."""

from __future__ import annotations

import csv
import errno
import os
import random
import shlex
import signal
import subprocess
import sys
import time
from pathlib import Path

import lightning as L
import pytest
import torch
from conftest import REPO

from evogan_lightning.algos.gan import GAN
from evogan_lightning.callbacks.checkpoint import GenerationCheckpoint
from evogan_lightning.core.errors import ConfigError, DivergedError, StoppedByUser
from evogan_lightning.run.config import compose
from evogan_lightning.run.rundir import (
    LOCK_NAME,
    continue_command,
    hydra_value,
    run_lock,
    slurm_requeued_checkpoint,
)
from evogan_lightning.run.train import train

COMMON = ["algo=gan", "logger=none", "trainer.enable_progress_bar=false"]


def generation_of(ckpt: Path) -> int:
    return torch.load(ckpt, map_location="cpu", weights_only=False)["evogan"]["generation"]


def csv_steps(run: Path) -> list[int]:
    with open(run / "logs" / "metrics.csv", newline="") as handle:
        return [int(float(r["step"])) for r in csv.DictReader(handle) if r.get("loss/g")]


# ------------------------------------------------------------------ signals, in process
@pytest.mark.parametrize("signum,code", [(signal.SIGTERM, 143), (signal.SIGUSR1, 138)])
def test_a_scheduler_signal_finishes_the_generation_saves_and_exits_nonzero(
    tmp_path, monkeypatch, signum, code
):
    original = GAN.generation_step

    def preempted(self, real):
        if self.generation == 5:  # the signal arrives in the middle of generation 6
            os.kill(os.getpid(), signum)
        return original(self, real)

    monkeypatch.setattr(GAN, "generation_step", preempted)
    with pytest.raises(StoppedByUser, match="received: training stopped at generation 6 of 20") as stop:
        train(compose([*COMMON, "generations=20"], output_dir=str(tmp_path)))
    assert stop.value.exit_code == code
    assert generation_of(tmp_path / "checkpoints" / "last.ckpt") == 6
    assert not (tmp_path / "metrics.json").exists()  # not a finished run
    assert not (tmp_path / LOCK_NAME).exists()  # the folder is free again
    assert signal.getsignal(signum) in (signal.SIG_DFL, None)  # handlers restored


# ------------------------------------------------------------------ signals, the real CLI
def start(run: Path, *extra: str) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1"}
    args = [*COMMON[:1], "generations=100000", "log_every_n_generations=10", f"hydra.run.dir={run}", *extra]
    return subprocess.Popen(
        [sys.executable, "-m", "evogan_lightning", "trainer.enable_progress_bar=false", *args],
        cwd=str(REPO),
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def wait_for_rows(run: Path, proc: subprocess.Popen, rows: int, timeout: float = 120) -> None:
    end = time.time() + timeout
    while time.time() < end:
        assert proc.poll() is None, proc.communicate()
        try:
            if len(csv_steps(run)) >= rows:
                return
        except (OSError, KeyError, ValueError):
            pass
        time.sleep(0.2)
    proc.kill()
    raise AssertionError(f"no {rows} CSV rows after {timeout} s")


@pytest.mark.slow  # the in-process signal tests above prove the handler; this one the CLI's exit status
def test_sigterm_from_the_cli_exits_143_and_the_printed_command_continues_the_same_folder(tmp_path):
    run = tmp_path / "my run"  # a space: the printed command must quote it
    proc = start(run, "callbacks.checkpoint.every_n_generations=100000")
    wait_for_rows(run, proc, 3)
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 143, err[-2000:]
    stopped = generation_of(run / "checkpoints" / "last.ckpt")
    assert stopped >= 30  # the 5-minute / 100000-generation cadence did not save: the signal did
    command = err.split("Continue with: ")[1].splitlines()[0]
    assert command.startswith("python -m evogan_lightning ") and "generations=100000" in command
    argv = shlex.split(command)[3:]
    argv = [a if not a.startswith("generations=") else f"generations={stopped + 20}" for a in argv]
    env = {**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1"}
    done = subprocess.run(
        [sys.executable, "-m", "evogan_lightning", "trainer.enable_progress_bar=false", *argv],
        cwd=str(tmp_path),  # elsewhere: the run must still continue in its own folder
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert generation_of(run / "checkpoints" / "last.ckpt") == stopped + 20
    assert (run / "metrics.json").exists() and not (tmp_path / "outputs").exists()
    steps = csv_steps(run)
    assert steps == sorted(set(steps)) and steps[0] == 10 and steps[-1] == stopped + 20  # one history


@pytest.mark.slow
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_kill_9_at_random_generations_loses_at_most_the_cadence_and_resumes(tmp_path, seed):
    """kill -9 (no handler runs): the CSV keeps every logged row, the wall-clock cadence bounds the loss,
    the stale lock is taken over, and the resumed run continues the same CSV without duplicates."""
    run = tmp_path / "run"
    rng = random.Random(seed)
    proc = start(
        run, "callbacks.checkpoint.every_n_minutes=0.01", "callbacks.checkpoint.every_n_generations=100000"
    )
    wait_for_rows(run, proc, rng.randint(5, 30))
    end = time.time() + 60  # a kill before the first save has nothing to resume: let one cadence pass
    while not (run / "checkpoints" / "last.ckpt").exists() and time.time() < end:
        time.sleep(0.05)
    proc.kill()
    proc.communicate()
    assert (run / LOCK_NAME).exists()  # left behind by the killed run
    logged = csv_steps(run)
    saved = generation_of(run / "checkpoints" / "last.ckpt")
    assert saved > 0 and logged[-1] - saved < 200  # a checkpoint every ~0.6 s of wall clock
    env = {**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1"}
    args = [
        "trainer.enable_progress_bar=false",  # the CSV logger stays on
        f"ckpt_path={run / 'checkpoints' / 'last.ckpt'}",
        f"generations={saved + 30}",
    ]
    done = subprocess.run(
        [sys.executable, "-m", "evogan_lightning", *args],
        cwd=str(REPO),
        env=env,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    steps = csv_steps(run)
    assert steps == sorted(set(steps)) and steps[-1] == saved + 30
    assert not (run / LOCK_NAME).exists()


# ------------------------------------------------------------------ the run-folder lock
def test_a_second_run_into_a_used_folder_fails_at_once(tmp_path):
    with run_lock(tmp_path):
        with pytest.raises(ConfigError, match=f"another run \\(pid {os.getpid()}.*hydra.run.dir=PATH"):
            with run_lock(tmp_path):
                pass
    assert not (tmp_path / LOCK_NAME).exists()


def test_a_stale_lock_of_a_killed_run_is_taken_over(tmp_path):
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True
    )
    import json
    import socket

    (tmp_path / LOCK_NAME).write_text(json.dumps({"pid": int(dead.stdout), "host": socket.gethostname()}))
    with run_lock(tmp_path):
        assert json.loads((tmp_path / LOCK_NAME).read_text())["pid"] == os.getpid()
    (tmp_path / LOCK_NAME).write_text("")  # half-written by a run killed while writing it
    with run_lock(tmp_path):
        pass


def test_the_cli_refuses_a_folder_a_live_run_holds(tmp_path, cli):
    with run_lock(tmp_path):  # this test process is the live run
        proc = cli([*COMMON, "generations=2", f"hydra.run.dir={tmp_path}"], check=False)
    assert proc.returncode == 2 and "another run" in proc.stderr and "Traceback" not in proc.stderr
    assert not (tmp_path / "checkpoints").exists()


# ------------------------------------------------------------------ checkpoints
def make_module():
    from evogan_lightning.run.train import build_module

    cfg = compose([*COMMON, "generations=4"], output_dir="/tmp/unused")
    from omegaconf import OmegaConf

    plain = OmegaConf.to_container(cfg, resolve=True)
    info = {"kind": "toy", "shape": [2], "name": "ring8"}
    return build_module(plain, info)


class FakeTrainer:
    is_global_zero, world_size, optimizers = True, 1, []

    def __init__(self, fail: OSError | None = None) -> None:
        self.fail = fail

    def save_checkpoint(self, path: str) -> None:
        Path(path).write_bytes(b"partial")
        if self.fail:
            raise self.fail


def test_a_state_with_nonfinite_moments_is_never_checkpointed(tmp_path):
    module = make_module()
    module.generation = 3
    callback = GenerationCheckpoint(str(tmp_path), every_n_generations=1)
    callback.save(FakeTrainer(), module)
    assert (tmp_path / "last.ckpt").read_bytes() == b"partial"  # a finite state is saved
    module.generation = 4
    module.generators.exp_avg_sq[0, 0] = float("inf")  # losses fine, Adam moments not (1e36 -> inf)
    with pytest.raises(DivergedError, match="optimizer moments or fitness values are NaN/Inf"):
        callback.save(FakeTrainer(), module)
    callback.save(FakeTrainer(), module, on_divergence="skip")  # while handling another error: just skip
    assert callback.last_saved == 3


def test_fitness_plus_inf_is_best_not_diverged_but_minus_inf_is():
    module = make_module()
    pop = module.generators
    pop.fitness.fill_(float("inf"))  # F_d of a zero gradient: the documented best
    assert module.state_is_finite()
    pop.fitness.fill_(float("-inf"))
    assert not module.state_is_finite()
    pop.fitness.fill_(float("nan"))  # never set (algorithms without a fitness)
    assert module.state_is_finite()
    pop.fitness[:1] = 0.5  # some scored, some not yet (GAGAN's offspring after a GA step)
    assert module.state_is_finite()


def test_a_full_disk_leaves_no_temp_file_and_names_the_fix(tmp_path):
    module = make_module()
    module.generation = 2
    callback = GenerationCheckpoint(str(tmp_path))
    with pytest.raises(ConfigError, match="No space left on device.*free disk space"):
        callback.save(FakeTrainer(OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))), module)
    assert list(tmp_path.iterdir()) == []


def test_the_wall_clock_cadence_saves_between_generation_multiples(tmp_path, monkeypatch):
    module = make_module()
    callback = GenerationCheckpoint(str(tmp_path), every_n_generations=1000, every_n_minutes=5)
    now = [1000.0]
    monkeypatch.setattr(time, "monotonic", lambda: now[0])
    callback.on_train_start(FakeTrainer(), module)
    module.generation = 7
    callback.on_train_batch_end(FakeTrainer(), module, None, None, 0)
    assert callback.last_saved == -1  # 0 minutes: not yet
    now[0] += 5 * 60
    callback.on_train_batch_end(FakeTrainer(), module, None, None, 0)
    assert callback.last_saved == 7


# ------------------------------------------------------------------ commands and SLURM
def test_the_continue_command_survives_the_shell_and_hydra():
    from hydra.core.override_parser.overrides_parser import OverridesParser

    path = Path("/tmp/a run/it's here/checkpoints/last.ckpt")
    command = continue_command(path, 500)
    args = shlex.split(command)[3:]
    parsed = OverridesParser.create().parse_overrides(args)
    assert parsed[0].key_or_group == "ckpt_path" and parsed[0].value() == str(path)
    assert parsed[1].value() == 500
    assert hydra_value("outputs/2026-12-03/10-00-00_cegan_ring8/checkpoints/last.ckpt").startswith("outputs/")


def test_a_requeued_slurm_job_resumes_from_its_own_checkpoint(tmp_path, monkeypatch):
    (tmp_path / "checkpoints").mkdir()
    (tmp_path / "checkpoints" / "last.ckpt").write_bytes(b"x")
    monkeypatch.delenv("SLURM_RESTART_COUNT", raising=False)
    assert slurm_requeued_checkpoint(tmp_path) is None  # a first attempt starts fresh
    monkeypatch.setenv("SLURM_RESTART_COUNT", "1")
    assert slurm_requeued_checkpoint(tmp_path) == tmp_path / "checkpoints" / "last.ckpt"
    assert slurm_requeued_checkpoint(tmp_path / "elsewhere") is None


def test_sigusr1_requeues_the_slurm_job(tmp_path, monkeypatch):
    """A fake ``scontrol`` on PATH records the call: SIGUSR1 (the time-limit warning) requeues the job."""
    from evogan_lightning.run.rundir import requeue_slurm_job

    log = tmp_path / "calls"
    fake = tmp_path / "scontrol"
    fake.write_text(f'#!/bin/sh\necho "$@" >> {log}\n')
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", f"{tmp_path}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.delenv("SLURM_JOB_ID", raising=False)
    monkeypatch.delenv("SLURM_ARRAY_JOB_ID", raising=False)
    assert requeue_slurm_job() == ""  # not under SLURM: nothing to do
    monkeypatch.setenv("SLURM_JOB_ID", "4242")
    assert "4242 was requeued" in requeue_slurm_job()
    assert log.read_text().split() == ["requeue", "4242"]


class DoubleCtrlC(L.Callback):
    """Presses Ctrl-C twice at the start of generation ``at + 1``: the first asks for a stop at its end, the second
    lands inside it (as a user's second Ctrl-C does)."""

    def __init__(self, at: int) -> None:
        self.at = at

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx) -> None:
        if pl_module.generation == self.at:
            os.kill(os.getpid(), signal.SIGINT)
            os.kill(os.getpid(), signal.SIGINT)


def test_a_second_ctrl_c_aborts_and_says_where_the_checkpoint_is(tmp_path):
    cfg = compose(
        [
            *COMMON,
            "generations=40",
            "callbacks.checkpoint.every_n_generations=5",
            "+callbacks.ctrlc._target_=test_faults.DoubleCtrlC",
            "+callbacks.ctrlc.at=7",
        ],
        output_dir=str(tmp_path),
    )
    with pytest.raises(StoppedByUser) as stop:
        train(cfg)
    assert stop.value.exit_code == 130
    message = str(stop.value)
    assert "a second Ctrl-C aborted generation 8 at once" in message
    assert "(generation 7)" in message and "Continue with: python -m evogan_lightning ckpt_path=" in message
