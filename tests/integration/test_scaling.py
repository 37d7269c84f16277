"""Multi-device training (2 CPU processes, gloo) and sweep plumbing."""

from types import SimpleNamespace

import pytest
import torch
from conftest import FAST, read_metrics, run_cli

from evogan_lightning.callbacks.consistency import RankConsistencyCheck
from evogan_lightning.core.errors import ConfigError
from evogan_lightning.run.scaling import PopulationDDPStrategy, prepare_early, resolve_trainer_kwargs

CHECK = "+callbacks.consistency._target_=evogan_lightning.callbacks.consistency.RankConsistencyCheck"
DDP = ["trainer.accelerator=cpu", "trainer.devices=2", CHECK]


SMALL = {
    "gan": [],
    "egan": ["algo.population_size=2", "algo.eval_batch_size=32", "algo.batch_size=16"],
    "cegan": ["algo.population_size=2", "algo.eval_batch_size=32", "algo.batch_size=16"],
    # every generation: SCGAN flips crossover coins, GAGAN runs its GA (per-rank choices would show up)
    "scgan": [
        "algo.population_size=2",
        "algo.offspring_per_parent=2",
        "algo.p_cross=0.5",
        "algo.eval_batch_size=32",
        "algo.batch_size=16",
    ],
    "gagan": ["algo.num_discriminators=4", "algo.ga_every=1", "algo.batch_size=16"],
}


@pytest.mark.parametrize(
    "algo",
    # two DDP ranks in subprocesses: about 25 s even for GAN, so the whole set is in the slow suite (CI runs it)
    [pytest.param(a, marks=pytest.mark.slow) for a in ("gan", "egan", "cegan", "scgan", "gagan")],
)
def test_two_ranks_stay_identical_every_generation(tmp_path, algo):
    """Whole populations (children too) and operator counts agree on both ranks after every generation:
    fitness is averaged over ranks and random evolutionary choices come from a rank-shared stream."""
    extra = SMALL[algo]
    proc = run_cli(
        [
            f"algo={algo}",
            *extra,
            "generations=6",
            "log_every_n_generations=2",
            f"hydra.run.dir={tmp_path}",
            *DDP,
            *FAST,
        ]
    )
    assert "disagree" not in proc.stderr
    assert read_metrics(tmp_path)["generation"] == 6
    # A checkpoint written on 2 devices resumes on 1.
    run_cli(
        [
            f"algo={algo}",
            *extra,
            "generations=8",
            f"ckpt_path={tmp_path}/checkpoints/last.ckpt",
            f"hydra.run.dir={tmp_path}/resumed",
            *FAST,
        ]
    )
    assert read_metrics(tmp_path / "resumed")["generation"] == 8


def test_consistency_check_detects_disagreement():
    module = torch.nn.Linear(2, 1)
    module.generation = 3
    gathered = torch.tensor([[1.0, 2.0], [1.0, 2.5]])
    trainer = SimpleNamespace(world_size=2, strategy=SimpleNamespace(all_gather=lambda t: gathered))
    with pytest.raises(RuntimeError, match="ranks disagree"):
        RankConsistencyCheck().on_train_batch_end(trainer, module, None, None, 0)


def test_trainer_settings_are_checked_before_training(monkeypatch):
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 0)
    with pytest.raises(ConfigError, match="no CUDA device"):
        resolve_trainer_kwargs({"accelerator": "gpu", "devices": 1})
    with pytest.raises(ConfigError, match="not supported"):
        resolve_trainer_kwargs({"accelerator": "cpu", "devices": 2, "strategy": "ddp_spawn"})
    strategy = resolve_trainer_kwargs({"accelerator": "cpu", "devices": 2})["strategy"]
    assert isinstance(strategy, PopulationDDPStrategy) and not strategy._ddp_kwargs.get(
        "find_unused_parameters"
    )
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 4)
    with pytest.raises(ConfigError, match="asks for 8 GPUs but 4 exist"):
        resolve_trainer_kwargs({"accelerator": "gpu", "devices": 8})
    # parallel sweep jobs get one GPU each, round robin
    got = [
        resolve_trainer_kwargs({"accelerator": "auto", "devices": 1}, job_num=k, parallel_jobs=True)[
            "devices"
        ]
        for k in range(5)
    ]
    assert got == [[0], [1], [2], [3], [0]]


@pytest.mark.slow  # a joblib sweep of subprocesses
def test_joblib_sweep_jobs_get_their_own_directories(tmp_path):
    pytest.importorskip("hydra_plugins.hydra_joblib_launcher")
    run_cli(
        [
            "-m",
            "hydra/launcher=joblib",
            "hydra.launcher.n_jobs=2",
            "algo=gan",
            "algo.loss=minimax,heuristic",
            "generations=4",
            f"hydra.sweep.dir={tmp_path}",
            *FAST,
        ]
    )
    assert len(list(tmp_path.glob("*/metrics.json"))) == 2


def test_bad_devices_error_via_cli(tmp_path):
    proc = run_cli(["trainer.accelerator=gpu", f"hydra.run.dir={tmp_path}", *FAST], check=False)
    assert proc.returncode == 2 and "no CUDA device is visible" in proc.stderr


@pytest.mark.parametrize(
    "env,runs",
    [({}, True), ({"LOCAL_RANK": "0"}, True), ({"LOCAL_RANK": "1"}, False), ({"SLURM_LOCALID": "3"}, False)],
)
def test_only_local_rank_zero_prepares_data_before_the_trainer(monkeypatch, env, runs):
    for var in ("LOCAL_RANK", "SLURM_LOCALID"):
        monkeypatch.delenv(var, raising=False)
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    calls = []
    dm = SimpleNamespace(
        prepare_data=lambda: calls.append("prepare"),
        setup=lambda stage: calls.append(stage),
        check_enough_data=lambda: calls.append("size"),
    )
    assert prepare_early(dm) is runs
    assert calls == (["prepare", "fit", "size"] if runs else [])


@pytest.mark.slow  # a sweep of subprocesses with W&B
def test_parallel_sweep_jobs_get_their_own_wandb_runs_grouped_by_sweep(tmp_path):
    """Two jobs launched in the same second by joblib: two offline W&B runs, one per job directory, with
    distinct run ids and the sweep's <date>_<time> as their group."""
    pytest.importorskip("hydra_plugins.hydra_joblib_launcher")
    sweep = tmp_path / "2026-11-23" / "04-05-06"
    run_cli(
        [
            "-m",
            "hydra/launcher=joblib",
            "hydra.launcher.n_jobs=2",
            "logger=wandb",
            "algo=gan",
            "algo.loss=minimax,heuristic",
            "generations=2",
            f"hydra.sweep.dir={sweep}",
            "trainer.enable_progress_bar=false",
        ]
    )
    runs = sorted(sweep.glob("*/wandb/offline-run-*"))
    assert len(runs) == 2 and runs[0].parent.parent != runs[1].parent.parent
    ids = {r.name.rsplit("-", 1)[1] for r in runs}
    assert len(ids) == 2
    for r in runs:
        (log,) = r.glob("run-*.wandb")
        assert b"2026-11-23_04-05-06" in log.read_bytes()  # the W&B group


def test_slurm_launcher_config_composes_to_one_gpu_per_job():
    pytest.importorskip("hydra_plugins.hydra_submitit_launcher")
    from hydra import compose, initialize_config_dir

    from evogan_lightning.run.config import config_dir

    with initialize_config_dir(config_dir=str(config_dir()), version_base="1.3"):
        cfg = compose(
            config_name="config",
            overrides=["hydra/launcher=slurm", "hydra.launcher.partition=gpu"],
            return_hydra_config=True,
        )
    launcher = cfg.hydra.launcher
    assert launcher._target_.endswith("SlurmLauncher")
    assert (launcher.gpus_per_node, launcher.tasks_per_node, launcher.partition) == (1, 1, "gpu")


@pytest.mark.parametrize("precision", ["16-mixed", "16"])
def test_fp16_with_loss_scaling_is_refused_for_every_algorithm(precision):
    """Only D's step would be scaled (manual_backward); the populations' fp16 gradients would underflow."""
    with pytest.raises(ConfigError, match="bf16-mixed"):
        resolve_trainer_kwargs({"accelerator": "cpu", "devices": 1, "precision": precision})
    assert resolve_trainer_kwargs({"accelerator": "cpu", "devices": 1, "precision": "bf16-mixed"})


def test_a_basic_launcher_sweep_survives_a_bad_job_and_gives_each_job_its_own_wandb_run(
    tmp_path, capsys, monkeypatch
):
    """Hydra's default launcher runs the jobs one after another in this process: each gets its own W&B run
    (not one run holding every job's steps), a refused job is recorded in its folder and the sweep goes on,
    job folders are named by number, and summarize counts the failure."""
    from helpers import run_main_in_process

    from evogan_lightning.tools.summarize import summarize

    monkeypatch.setenv("WANDB_MODE", "offline")
    sweep = tmp_path / "sweep"
    code, out = run_main_in_process(
        [
            "-m",
            "logger=wandb",
            "algo=cegan",
            "net=mlp",
            "net.hidden=8",
            "algo.eval_batch_size=16",
            "algo.batch_size=8",
            "algo.n_c=0,2,1",  # n_c=2 is refused with the toy default's two mutations
            "generations=3",
            "callbacks=none",
            "trainer.enable_progress_bar=false",
            f"hydra.sweep.dir={sweep}",
        ],
        capsys,
        monkeypatch,
    )
    assert code == 0 and "job 1 error: algo.n_c=2" in out and "the sweep goes on" in out
    assert sorted(p.name for p in sweep.iterdir() if p.is_dir()) == ["0", "1", "2"]
    assert (sweep / "2" / "metrics.json").is_file() and (sweep / "1" / "failed.json").is_file()
    runs = sorted(sweep.glob("*/wandb/offline-run-*"))
    assert [r.parent.parent.name for r in runs] == ["0", "2"]  # one W&B run per finished job, in its folder
    assert (sweep / "0" / ".hydra" / "overrides.yaml").read_text().count("algo.n_c=0") == 1
    result = summarize(sweep, metric="loss/g")
    assert len(result["rows"]) == 2 and [f["job"] for f in result["failed"]] == ["1"]
    assert "1 of 3 jobs failed" in result["table"]
