"""A run folder belongs to one run, and an exploded state is a diverged state (issue 25):
run/rundir.claim_folder and record_invocation, run/errors.EXPLODED, run/checkpoint_io.check_resumable."""

from __future__ import annotations

import pytest
import torch
from helpers import run_main_in_process

from evogan_lightning.core.errors import ConfigError, DivergedError
from evogan_lightning.run.config import compose
from evogan_lightning.run.train import train

COMMON = [
    "algo=gan",
    "net=mlp",
    "net.hidden=16",
    "logger=none",
    "trainer.enable_progress_bar=false",
    "generations=6",
]


def test_a_new_run_into_a_finished_runs_folder_is_refused_unless_it_resumes_or_overwrites(tmp_path):
    train(compose(COMMON, output_dir=str(tmp_path)))
    last = tmp_path / "checkpoints" / "last.ckpt"
    before = last.read_bytes()
    (tmp_path / "notes.txt").write_text("the old run's")
    with pytest.raises(
        ConfigError, match="holds another run.*ckpt_path=.*hydra.run.dir=PATH.*overwrite=true"
    ):
        train(compose([*COMMON, "seed=3"], output_dir=str(tmp_path)))
    assert last.read_bytes() == before  # untouched
    train(
        compose([*COMMON, "generations=8", f"ckpt_path={last}"], output_dir=str(tmp_path))
    )  # resuming: fine
    assert torch.load(last, weights_only=False)["evogan"]["generation"] == 8
    train(compose([*COMMON, "seed=3", "overwrite=true"], output_dir=str(tmp_path)))
    assert torch.load(last, weights_only=False)["evogan"]["generation"] == 6
    assert not (tmp_path / "notes.txt").exists()  # the old run's files are gone, not mixed with the new


def test_a_refused_cli_run_leaves_the_other_runs_hydra_files_and_no_folder_of_its_own(
    tmp_path, capsys, monkeypatch
):
    run = tmp_path / "run"
    monkeypatch.chdir(tmp_path)
    code, _ = run_main_in_process([*COMMON, f"hydra.run.dir={run}"], capsys, monkeypatch)
    assert code == 0
    hydra_files = {p.name: p.read_bytes() for p in (run / ".hydra").iterdir()}
    assert set(hydra_files) == {"config.yaml", "overrides.yaml"}
    assert b"generations=6" in hydra_files["overrides.yaml"]
    code, out = run_main_in_process([*COMMON, "seed=2", f"hydra.run.dir={run}"], capsys, monkeypatch)
    assert code == 2 and "holds another run" in out and "Traceback" not in out
    assert {p.name: p.read_bytes() for p in (run / ".hydra").iterdir()} == hydra_files
    code, out = run_main_in_process([*COMMON, "generations=0"], capsys, monkeypatch)  # refused early
    assert code == 2 and not (tmp_path / "outputs").exists()


@pytest.mark.parametrize(
    "bad", [["algo.lr_d=10"], ["algo=cegan", "algo.lr_g=1e3"], ["algo=gagan", "algo.lr_d=1e3"]]
)
def test_an_exploded_run_stops_as_diverged_without_nan(tmp_path, bad):
    cfg = compose([*COMMON, "generations=300", "log_every_n_generations=10", *bad], output_dir=str(tmp_path))
    with pytest.raises(DivergedError, match="beyond 1e\\+08"):
        train(cfg)


def test_a_checkpoint_with_exploded_moments_is_damaged_not_diverged(tmp_path):
    train(compose(COMMON, output_dir=str(tmp_path)))
    last = tmp_path / "checkpoints" / "last.ckpt"
    ckpt = torch.load(last, weights_only=False)
    ckpt["state_dict"]["generators.exp_avg_sq"][0, 0] = 1e30  # 1e15 gradients: an exploded state
    torch.save(ckpt, last)
    with pytest.raises(ConfigError, match="is damaged: generators.exp_avg_sq.*earlier snapshot"):
        train(compose([*COMMON, "generations=10", f"ckpt_path={last}"], output_dir=str(tmp_path)))


@pytest.mark.parametrize(
    "overrides, needle",
    [
        (["+generationz=5"], "unknown top-level key(s) ['generationz'] (did you mean generations?)"),
        (["+device=cuda"], "did you mean trainer.accelerator"),
        (
            ["+data.image_size=32"],
            "data=ring8 has no option(s) ['image_size']; its options: ['name', 'num_workers']",
        ),
        (["net.hidden=0"], "net.hidden must be a whole number >= 1, got 0"),
        (
            ["net=mnist28", "data=fake", "data.image_size=28", "net.latent_dim=0"],
            "net.latent_dim must be a whole number >= 1",
        ),
        (["net=auto", "data=fake", "data.num_images=0"], "data.num_images must be >= 1, got 0"),
        (["trainer.devices=0"], "trainer.devices must be >= 1"),
        (["algo.lr_d=inf"], "algo.lr_d must be a finite number > 0, got inf"),
        (
            ["callbacks.checkpoint.every_n_generations=0"],
            "callbacks.checkpoint: every_n_generations must be >= 1",
        ),
        (["callbacks.checkpoint.every_n_minutes=-1"], "callbacks.checkpoint: every_n_minutes must be >= 0"),
        (
            ["callbacks.checkpoint.keep_every=100"],
            "use a multiple of every_n_generations (e.g. keep_every=500)",
        ),
        (
            ["callbacks.toy_metrics.num_samples=0"],
            "callbacks.toy_metrics: every_n_generations and num_samples",
        ),
        (["callbacks.samples.every_n_generations=-1"], "callbacks.samples: every_n_generations must be >= 1"),
    ],
)
def test_configs_that_nothing_reads_or_that_cannot_work_are_refused_in_one_line_and_leave_no_folder(
    tmp_path, capsys, monkeypatch, overrides, needle
):
    monkeypatch.chdir(tmp_path)
    args = [a for a in COMMON if not (a.startswith("net") and any(o.startswith("net=") for o in overrides))]
    code, out = run_main_in_process([*args, *overrides], capsys, monkeypatch)
    assert code == 2 and needle in out, out[-2000:]
    assert "Traceback" not in out and "Error executing job" not in out
    assert not (tmp_path / "outputs").exists()


def test_extending_a_linear_schedule_says_what_happens_to_the_learning_rate(tmp_path, capfd):
    train(compose([*COMMON, "algo.lr_schedule=linear"], output_dir=str(tmp_path)))
    last = tmp_path / "checkpoints" / "last.ckpt"
    capfd.readouterr()
    train(compose([*COMMON, "generations=12", f"ckpt_path={last}"], output_dir=str(tmp_path)))
    text = " ".join(capfd.readouterr())
    assert (
        "decayed over generations=6; resuming with generations=12 continues them at 50% of their start"
        in text
    )
    assert "The old schedule had ended (lr 0)" in text and "start a new run with generations=12" in text
