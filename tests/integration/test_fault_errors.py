"""Faults end in the project's one-line error (ConfigError; the CLIs print ``<tool>: error: ...`` and exit 2),
never in a traceback: damaged checkpoints, missing CUDA, unwritable or full output folders, corrupt images
in DataLoader workers, absurd batch sizes, bad matmul precision and seeds; and GAGAN runs are quiet."""

from __future__ import annotations

import errno
import tempfile
import warnings
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from conftest import FAST, run_cli
from omegaconf import OmegaConf

from evogan_lightning.core.errors import ConfigError
from evogan_lightning.run.config import compose

CHECKPOINT = [
    "+callbacks.checkpoint._target_=evogan_lightning.callbacks.checkpoint.GenerationCheckpoint",
]


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory) -> Path:
    """A 2-generation GAN run (in process) with its checkpoints/last.ckpt and config.yaml."""
    from evogan_lightning.run.train import train

    out = tmp_path_factory.mktemp("faults") / "run"
    cfg = compose(
        [
            "algo=gan",
            "generations=2",
            *FAST,
            "callbacks=none",
            *CHECKPOINT,
            f"+callbacks.checkpoint.dirpath={out}/checkpoints",
        ],
        output_dir=str(out),
    )
    train(cfg)
    assert (out / "checkpoints" / "last.ckpt").is_file()
    return out


def truncated_copy(run_dir: Path, tmp_path: Path) -> Path:
    blob = (run_dir / "checkpoints" / "last.ckpt").read_bytes()
    path = tmp_path / "last.ckpt"
    path.write_bytes(blob[: len(blob) // 2])
    return path


def tool_main(tool: str):
    import importlib

    return importlib.import_module(f"evogan_lightning.tools.{tool}").main


def error_of(capsys) -> str:
    """The one error line a tool printed (and that it printed no traceback)."""
    err = capsys.readouterr().err
    assert "Traceback" not in err
    return err


# ------------------------------------------------------------------------------------ 1. damaged checkpoints
@pytest.mark.parametrize("tool", ["sample", "evaluate"])
@pytest.mark.parametrize(
    "damage,needle",
    [("truncated", "is truncated"), ("config", "is not a checkpoint"), ("empty", "is empty")],
)
def test_tools_name_a_damaged_or_foreign_checkpoint(run_dir, tmp_path, capsys, tool, damage, needle):
    if damage == "truncated":
        path = truncated_copy(run_dir, tmp_path)
    elif damage == "config":
        path = run_dir / "config.yaml"
    else:
        path = tmp_path / "empty.ckpt"
        path.write_bytes(b"")
    assert (
        tool_main(tool)([f"ckpt_path={path}", f"out={tmp_path}/out.{'npz' if tool == 'sample' else 'json'}"])
        == 2
    )
    err = error_of(capsys)
    assert err.startswith(f"evogan-{tool}: error: checkpoint {path} {needle}")
    assert "pass a checkpoints/last.ckpt written by a run" in err
    assert not list(tmp_path.glob("out.*"))


def test_sample_cli_truncated_checkpoint_is_one_line(run_dir, tmp_path):
    path = truncated_copy(run_dir, tmp_path)
    proc = run_cli([f"ckpt_path={path}"], module="evogan_lightning.tools.sample", check=False)
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == [
        f"evogan-sample: error: checkpoint {path} is truncated ({path.stat().st_size} bytes, its end "
        "is missing: the copy or save was cut short); pass a checkpoints/last.ckpt written by a run"
    ]


def test_the_shared_reader_reads_good_checkpoints_and_rejects_folders(run_dir):
    from evogan_lightning.run.checkpoint_io import read_checkpoint

    assert read_checkpoint(run_dir / "checkpoints" / "last.ckpt")["evogan"]["generation"] == 2
    with pytest.raises(ConfigError, match=r"is a folder; .*checkpoints/last\.ckpt"):
        read_checkpoint(run_dir)
    torch.save({"weights": torch.zeros(2)}, run_dir / "other.pt")
    with pytest.raises(ConfigError, match=r"other\.pt is not an evogan_lightning checkpoint"):
        read_checkpoint(run_dir / "other.pt")


# ------------------------------------------------------------------------------------------- 2. no CUDA
@pytest.mark.parametrize("tool", ["sample", "evaluate"])
def test_tools_reject_cuda_when_none_is_visible(run_dir, capsys, monkeypatch, tool):
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 0)
    ckpt = run_dir / "checkpoints" / "last.ckpt"
    assert tool_main(tool)([f"ckpt_path={ckpt}", "device=cuda"]) == 2
    err = error_of(capsys)
    assert "device=cuda but no CUDA device is visible" in err and "device=cpu" in err


def test_device_values_are_checked(monkeypatch, capsys):
    from evogan_lightning.run.checks import check_device

    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)
    with pytest.raises(ConfigError, match=r"device=cuda:1 but only 1 CUDA device\(s\) are visible"):
        check_device("cuda:1")
    with pytest.raises(ConfigError, match="device must be cpu, cuda or cuda:N, got 'gpu0'"):
        check_device("gpu0")
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 0)
    assert tool_main("benchmark")(["device=cuda"]) == 2
    assert "no CUDA device is visible" in error_of(capsys)
    assert (
        tool_main("train_classifier")(["data=fake", "data.num_images=8", "device=cuda", "out=/nowhere/c.pt"])
        == 2
    )
    assert "device=cuda but no CUDA device is visible" in error_of(capsys)


def test_train_classifier_names_an_output_folder_that_cannot_be_created(tmp_path, capsys):
    blocker = tmp_path / "afile"
    blocker.write_text("x")
    args = ["data=fake", "data.image_size=28", "data.channels=1", "data.num_images=16", f"out={blocker}/c.pt"]
    assert tool_main("train_classifier")(args) == 2
    assert f"the output folder {blocker} cannot be created: a file is in its place" in error_of(capsys)


def test_training_accelerator_and_gpu_ids_are_checked(monkeypatch):
    from evogan_lightning.run.scaling import resolve_trainer_kwargs

    monkeypatch.setattr(torch.cuda, "device_count", lambda: 0)
    with pytest.raises(ConfigError, match="no CUDA device is visible; use trainer.accelerator=cpu"):
        resolve_trainer_kwargs({"accelerator": "gpu", "devices": 1})
    with pytest.raises(ConfigError, match="trainer.accelerator must be one of auto, cpu, gpu"):
        resolve_trainer_kwargs({"accelerator": "tpu", "devices": 1})
    with pytest.raises(ConfigError, match=r"trainer.devices=\[1\] lists GPU ids but this run is on the CPU"):
        resolve_trainer_kwargs({"accelerator": "auto", "devices": [1]})
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    with pytest.raises(ConfigError, match=r"names GPU\(s\) \[2\] but the visible GPUs are 0..1"):
        resolve_trainer_kwargs({"accelerator": "gpu", "devices": [2]})


# --------------------------------------------------------------------- 3. unwritable or full output folders
@pytest.mark.parametrize("tool,name", [("sample", "s.npz"), ("evaluate", "e.json")])
def test_tools_name_an_output_folder_that_cannot_be_created(run_dir, tmp_path, capsys, tool, name):
    blocker = tmp_path / "afile"
    blocker.write_text("x")
    ckpt = run_dir / "checkpoints" / "last.ckpt"
    assert tool_main(tool)([f"ckpt_path={ckpt}", f"out={blocker}/sub/{name}", "num_samples=100"]) == 2
    err = error_of(capsys)
    assert (
        f"the output folder {blocker}/sub cannot be created" in err and "choose another with out=PATH" in err
    )


def test_a_read_only_output_folder(run_dir, tmp_path, capsys, monkeypatch):
    def read_only(*args, **kwargs):
        raise OSError(errno.EROFS, "Read-only file system")

    monkeypatch.setattr(tempfile, "mkstemp", read_only)  # root ignores chmod: simulate the file system
    ckpt = run_dir / "checkpoints" / "last.ckpt"
    assert tool_main("sample")([f"ckpt_path={ckpt}", f"out={tmp_path}/ro/s.npz"]) == 2
    err = error_of(capsys)
    assert (
        f"the output folder {tmp_path}/ro is on a read-only file system; choose another with out=PATH" in err
    )


def test_a_full_disk_leaves_no_partial_output(tmp_path):
    from evogan_lightning.run.checks import write_output

    def fill_the_disk(f):
        f.write(b"partial")
        raise OSError(errno.ENOSPC, "No space left on device")

    with pytest.raises(
        ConfigError, match="is on a full disk .*free disk space or choose another with out=PATH"
    ):
        write_output(tmp_path / "eval.json", fill_the_disk)
    assert not list(tmp_path.iterdir())  # neither eval.json nor its temporary file
    write_output(tmp_path / "eval.json", lambda f: f.write(b"{}"))
    assert [p.name for p in tmp_path.iterdir()] == ["eval.json"]


def test_a_full_disk_during_a_checkpoint_save(tmp_path):
    """The checkpoint callback: no temporary file left, the previous checkpoint intact, a one-line error."""
    from evogan_lightning.callbacks.checkpoint import GenerationCheckpoint

    callback = GenerationCheckpoint(str(tmp_path), every_n_generations=1)
    (tmp_path / "last.ckpt").write_bytes(b"previous")

    def save_checkpoint(path):
        Path(path).write_bytes(b"partial")
        raise OSError(errno.ENOSPC, "No space left on device")

    trainer = SimpleNamespace(save_checkpoint=save_checkpoint, is_global_zero=True, world_size=1)
    module = SimpleNamespace(generation=3, check_finite=lambda: None, state_is_finite=lambda: True)
    with pytest.raises(ConfigError) as caught:
        callback.save(trainer, module)
    assert "No space left on device" in str(caught.value) and "\n" not in str(caught.value)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["last.ckpt"]
    assert (tmp_path / "last.ckpt").read_bytes() == b"previous"


# ------------------------------------------------------------------------ 4. corrupt image in a DataLoader worker
def test_a_corrupt_image_found_by_a_worker_keeps_its_message(tmp_path):
    from PIL import Image

    from evogan_lightning.data.datamodule import GANDataModule

    rng = np.random.default_rng(0)
    for i in range(3):
        Image.fromarray(rng.integers(0, 256, (12, 12, 3), dtype=np.uint8)).save(tmp_path / f"{i}.png")
    for i in range(5):  # more bad files than a batch of 4 can avoid
        (tmp_path / f"bad{i}.png").write_bytes(b"not an image")
    cfg = {"name": "image_folder", "root": str(tmp_path), "image_size": 8, "channels": 3}
    dm = GANDataModule(cfg, seed=0, num_workers=2)
    dm.batch_size, dm.stop_generation = 4, 4
    dm.prepare_data()
    with pytest.raises(ConfigError) as caught:
        list(dm.train_dataloader())
    message = str(caught.value)
    assert message.startswith(f"cannot read image {tmp_path}/bad") and "remove or replace it" in message
    assert "DataLoader worker" not in message and "Traceback" not in message


# ------------------------------------------------------------------------------------------- 5. absurd sizes
def test_an_absurd_eval_batch_size_is_rejected_before_training(tmp_path):
    from evogan_lightning.run.train import train

    cfg = compose(
        ["algo=egan", "algo.eval_batch_size=100000", *FAST, "callbacks=none"], output_dir=str(tmp_path)
    )
    with pytest.raises(ConfigError, match=r"algo.eval_batch_size=100000 is more than the maximum 65536"):
        train(cfg)


def built(overrides: list[str]):
    from evogan_lightning.data.datamodule import GANDataModule
    from evogan_lightning.run.train import build_module

    plain = OmegaConf.to_container(
        compose([*overrides, "logger=none", "callbacks=none"], output_dir="."), resolve=True
    )
    return build_module(plain, GANDataModule(plain["data"]).info())


@pytest.mark.parametrize(
    "overrides,key",
    [
        (["algo=cegan", "data=fake", "algo.eval_batch_size=60000"], "eval_batch_size"),
        (["algo=gan", "data=fake", "algo.batch_size=200000"], "batch_size"),
    ],
)
def test_a_generation_that_cannot_fit_in_memory(monkeypatch, overrides, key):
    from evogan_lightning.algos import memory

    monkeypatch.setattr(torch.cuda, "device_count", lambda: 0)
    monkeypatch.setattr(memory, "available_ram", lambda: 8 * 2**30)
    module = built(overrides)
    with pytest.raises(
        ConfigError, match=rf"algo.{key}=\d+ cannot fit: .*8.0 GiB of RAM available now"
    ) as caught:
        memory.check_generation_memory(module, "cpu")
    suggested = int(str(caught.value).split(f"use algo.{key}<=")[1])
    setattr(module.hp, key, suggested)  # the suggested maximum fits
    memory.check_generation_memory(module, "cpu")


def test_default_settings_fit_in_little_memory(monkeypatch):
    from evogan_lightning.algos import memory

    monkeypatch.setattr(torch.cuda, "device_count", lambda: 0)
    monkeypatch.setattr(memory, "available_ram", lambda: 2**30)
    for algo in ("gan", "egan", "cegan", "scgan", "gagan"):
        memory.check_generation_memory(built([f"algo={algo}"]), "cpu")


# ----------------------------------------------------------------------------------- 6. matmul precision, 7. seed
def test_an_unknown_matmul_precision_is_an_error(tmp_path):
    from evogan_lightning.run.train import train

    cfg = compose(["algo=gan", "matmul_precision=foo", *FAST, "callbacks=none"], output_dir=str(tmp_path))
    with pytest.raises(
        ConfigError, match="matmul_precision must be one of highest, high, medium .*got 'foo'"
    ):
        train(cfg)


@pytest.mark.parametrize("seed", ["-1", str(2**32)])
def test_sample_rejects_a_seed_outside_the_range(run_dir, tmp_path, capsys, seed):
    ckpt = run_dir / "checkpoints" / "last.ckpt"
    assert tool_main("sample")([f"ckpt_path={ckpt}", f"seed={seed}", f"out={tmp_path}/s.npz"]) == 2
    assert f"seed must be a whole number in [0, 2**32), got {seed}" in error_of(capsys)
    assert not (tmp_path / "s.npz").exists()


# ------------------------------------------------------------------------------ 8. GAGAN runs are quiet
def test_gagan_runs_without_the_configure_optimizers_warning(tmp_path):
    from evogan_lightning.run.train import train

    cfg = compose(
        ["algo=gagan", "algo.num_discriminators=2", "generations=2", *FAST, "callbacks=none"],
        output_dir=str(tmp_path),
    )
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        train(cfg)
    assert not [w for w in caught if "configure_optimizers" in str(w.message)]
