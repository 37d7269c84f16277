"""The CLI end to end in subprocesses: default run, baselines, resume, sample, multirun, bad input."""

import numpy as np
import pytest
from conftest import FAST, read_metrics, run_cli
from helpers import assert_same_state, ckpt_state, run_main_in_process
from omegaconf import OmegaConf


@pytest.fixture(scope="module")
def gan_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("gan") / "run"
    run_cli(
        ["algo=gan", "generations=40", "seed=3", f"hydra.run.dir={out}", "trainer.enable_progress_bar=false"]
    )
    return out


def test_default_run_writes_outputs(gan_run):
    assert (gan_run / "checkpoints" / "last.ckpt").is_file()
    assert (gan_run / "config.yaml").is_file() and (gan_run / ".hydra" / "config.yaml").is_file()
    saved = OmegaConf.load(gan_run / "config.yaml")
    assert saved.net.name == "mlp" and saved.algo.name == "gan"  # net=auto is saved as the family it chose
    assert read_metrics(gan_run)["toy/protocol"].startswith("n=10000;")  # the number comes with its protocol
    assert (gan_run / "samples.png").stat().st_size > 1000
    assert (gan_run / "logs" / "metrics.csv").is_file()
    m = read_metrics(gan_run)
    assert m["generation"] == 40
    assert {"toy/modes_covered", "toy/high_quality_share", "toy/mode_kl", "loss/g", "loss/d"} <= set(m)
    assert 0 <= m["toy/modes_covered"] <= 8


@pytest.mark.parametrize("loss,data", [("minimax", "grid25"), ("least_squares", "ring8")])
def test_baselines(tmp_path, loss, data):
    run_cli(
        [
            "algo=gan",
            f"algo.loss={loss}",
            f"data={data}",
            "generations=12",
            f"hydra.run.dir={tmp_path}",
            *FAST,
        ]
    )
    m = read_metrics(tmp_path)
    assert m["toy/num_modes"] == (25 if data == "grid25" else 8)
    assert np.isfinite(m["loss/g"])


@pytest.mark.slow  # two CLI runs and a resume; each algorithm's in-process test_exact_resume proves the same
def test_seed_reproducible_and_exact_resume(tmp_path):
    full, again, part = tmp_path / "full", tmp_path / "again", tmp_path / "part"
    common = [
        "algo=gan",
        "seed=7",
        *FAST,
        "log_every_n_generations=5",
        "callbacks.checkpoint.every_n_generations=7",
        "algo.lr_schedule=constant",  # extending a run (12 -> 30) would change a decaying schedule
    ]
    run_cli(["generations=30", f"hydra.run.dir={full}", *common])
    run_cli(["generations=30", f"hydra.run.dir={again}", *common])
    a, b = ckpt_state(full / "checkpoints/last.ckpt"), ckpt_state(again / "checkpoints/last.ckpt")
    assert_same_state(a, b)  # bit for bit under a fixed seed
    run_cli(["generations=12", f"hydra.run.dir={part}", *common])
    # resume with neither algo=gan nor seed=7: the checkpoint's own settings apply
    again_args = [a for a in common if a not in ("algo=gan", "seed=7")]
    run_cli(
        ["generations=30", f"hydra.run.dir={part}", f"ckpt_path={part}/checkpoints/last.ckpt", *again_args]
    )
    # the resumed run's history also holds the first part's closing row
    assert_same_state(a, ckpt_state(part / "checkpoints/last.ckpt"), history=False)
    full_m, part_m = read_metrics(full), read_metrics(part)
    for key in ("loss/g", "loss/d", "toy/high_quality_share", "toy/modes_covered"):
        assert full_m[key] == part_m[key], key


def test_sample_cli(gan_run, tmp_path):
    out = tmp_path / "s.npz"
    proc = run_cli(
        ["ckpt_path=" + str(gan_run / "checkpoints/last.ckpt"), "num_samples=300", f"out={out}"],
        module="evogan_lightning.tools.sample",
    )
    assert "300 samples" in proc.stdout
    arr = np.load(out)["samples"]
    assert arr.shape == (300, 2) and arr.dtype == np.float32 and np.isfinite(arr).all()
    assert np.abs(arr).max() < 20  # toy coordinates, not garbage


def test_sample_cli_rejects_an_output_that_is_not_npz(tmp_path, capsys):
    from evogan_lightning.tools.sample import main

    assert main([f"ckpt_path={tmp_path}/any.ckpt", f"out={tmp_path}/img.png"]) == 2
    assert "out must name a .npz file" in capsys.readouterr().err
    assert main([f"ckpt_path={tmp_path}/any.ckpt", "num_samples=abc"]) == 2
    assert "num_samples must be a whole number, got 'abc'" in capsys.readouterr().err
    assert not list(tmp_path.iterdir())


def test_sample_refuses_a_file_larger_than_the_free_disk(tmp_path, monkeypatch):
    import shutil
    from collections import namedtuple

    from evogan_lightning.core.errors import ConfigError
    from evogan_lightning.tools.sample import check_sample_disk

    usage = namedtuple("usage", "total used free")
    monkeypatch.setattr(shutil, "disk_usage", lambda path: usage(2**40, 0, 2**30))  # 1 GiB free
    check_sample_disk(10**6, (2,), tmp_path / "s.npz")  # 8 MB: fine
    with pytest.raises(
        ConfigError, match=r"make a 7.5 GiB file, more than the 1.0 GiB free .*num_samples<=120795955"
    ):
        check_sample_disk(10**9, (2,), tmp_path / "sub" / "s.npz")


def test_multirun_four_jobs(tmp_path):
    proc = run_cli(
        [
            "-m",
            "algo=gan",
            "algo.loss=heuristic,minimax",
            "seed=1,2",
            "generations=6",
            f"hydra.sweep.dir={tmp_path}",
            *FAST,
        ]
    )
    jobs = sorted(p.parent for p in tmp_path.glob("*/metrics.json"))
    assert len(jobs) == 4, proc.stdout
    assert len({p.name for p in jobs}) == 4
    assert {read_metrics(j)["seed"] for j in jobs} == {1, 2}


@pytest.mark.parametrize(
    "args,needle",
    [
        (["algo=nope"], "Could not find 'algo/nope'"),
        (["algo=gan", "algo.loss=nope"], "unknown algo.loss 'nope'"),
        (["data=nope"], "Could not find 'data/nope'"),
        (["net=nope"], "Could not find 'net/nope'"),
        (["generations=0"], "generations must be an integer >= 1"),
        (["algo.population_size=0"], "population_size must be >= 1"),
        (  # the typed schema (algos/config.py): Hydra refuses a wrong type or an unknown key when composing
            ["algo.population_size=abc"],
            "Value 'abc' of type 'str' could not be converted to Integer\n    full_key: algo.population_size",
        ),
        (["algo=gan", "algo.n_c=3"], "Key 'n_c' not in 'GANConfig'"),
        (["seed=-1"], "seed must be a whole number in [0, 2**32)"),
        (["algo.d_steps=0"], "algo.d_steps must be >= 1"),
        (["net=mlp", "net.hiden=3"], "Could not override 'net.hiden'"),
        (["net=mlp", "+net.hiden=3"], "unknown option(s) ['hiden']"),
    ],
)
def test_bad_input_is_rejected_before_training(tmp_path, capsys, monkeypatch, args, needle):
    code, text = run_main_in_process([*args, f"hydra.run.dir={tmp_path}/r", *FAST], capsys, monkeypatch)
    assert code != 0
    assert needle in text
    assert not (tmp_path / "r").exists()  # no checkpoint, and no folder holding only .hydra/ left behind


@pytest.mark.parametrize(
    "args,needle,code",
    [
        (["algo=nope"], "Could not find 'algo/nope'", 1),  # Hydra, when composing
        (["generations=0"], "evogan_lightning: error: generations must be an integer >= 1", 2),  # ours
        (["net.hidden=0"], "evogan_lightning: error: net=auto has no option 'hidden'", 2),  # before Hydra
    ],
)
def test_bad_input_exits_from_the_real_cli(tmp_path, args, needle, code):
    """The same checks through a real ``python -m evogan_lightning`` process: exit status and message."""
    proc = run_cli([*args, f"hydra.run.dir={tmp_path}/r", *FAST], check=False)
    assert proc.returncode == code
    assert needle in proc.stderr + proc.stdout
    assert not (tmp_path / "r").exists()


def test_unwritable_output_dir(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    proc = run_cli([f"output_dir={blocker}/sub", f"hydra.run.dir={tmp_path}/r", *FAST], check=False)
    assert proc.returncode == 2 and "cannot write to the output directory" in proc.stderr


def test_checkpoint_from_other_architecture_is_rejected(gan_run, tmp_path):
    ckpt = gan_run / "checkpoints/last.ckpt"
    proc = run_cli(
        [
            f"ckpt_path={ckpt}",
            "algo=gan",
            "generations=80",
            "net=mlp",
            "net.hidden=64",
            f"hydra.run.dir={tmp_path}",
            *FAST,
        ],
        check=False,
    )
    assert proc.returncode == 2 and "does not match this configuration" in proc.stderr
    proc = run_cli(
        [f"ckpt_path={ckpt}", "algo=gan", "generations=20", f"hydra.run.dir={tmp_path}", *FAST], check=False
    )
    assert proc.returncode == 2 and "already at generation 40" in proc.stderr
    proc = run_cli(  # a typed override that changes the experiment is refused, not applied silently
        [f"ckpt_path={ckpt}", "data=grid25", "seed=3", "generations=80", f"hydra.run.dir={tmp_path}", *FAST],
        check=False,
    )
    assert proc.returncode == 2 and "would change it: data=grid25 (checkpoint: data=ring8)" in proc.stderr
    assert "seed" not in proc.stderr.split("would change it")[1]  # the same seed as the checkpoint's is fine


@pytest.mark.parametrize("tool", ["sample", "evaluate", "benchmark", "train_classifier"])
def test_each_tool_prints_its_own_usage(tool, capsys):
    import importlib

    mod = importlib.import_module(f"evogan_lightning.tools.{tool}")
    try:
        code = mod.main(["--help"])
    except SystemExit as stop:
        code = stop.code
    assert code in (0, None)
    assert capsys.readouterr().out.startswith(f"usage: evogan-{tool.replace('_', '-')} ")


def test_an_unknown_algo_option_is_rejected_with_a_suggestion(tmp_path):
    from evogan_lightning.core.errors import ConfigError
    from evogan_lightning.run.config import compose
    from evogan_lightning.run.train import train

    cfg = compose(["algo=gan", "+algo.populaton_size=2", *FAST], output_dir=str(tmp_path))
    with pytest.raises(ConfigError, match=r"algo=gan: populaton_size \(did you mean population_size\?\)"):
        train(cfg)
