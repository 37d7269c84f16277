"""Image training end to end: every net family on fake images, real on-disk formats through the CLI, sample
grids, W&B (offline) and TensorBoard image logging, and the errors raised before training."""

from __future__ import annotations

import gzip
import io
import struct
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import FAST, read_metrics, run_cli
from PIL import Image

from evogan_lightning.core.errors import ConfigError
from evogan_lightning.run.config import compose
from evogan_lightning.run.train import train

TINY = ["algo.batch_size=4", "generations=3", "callbacks.samples.every_n_generations=2"]
TINY += ["callbacks.samples.num_samples=4", "callbacks.interpolation=null"]


def grid_side(image_size: int, nrow: int = 2, padding: int = 2) -> int:
    """Side of torchvision's save_image grid of nrow x nrow images."""
    return nrow * image_size + (nrow + 1) * padding


@pytest.mark.parametrize(
    "size,channels,net",
    [
        (28, 1, "mnist28"),
        # the 3-channel families train in the slow suite (a CLI run each); test_experiments builds them by default
        pytest.param(32, 3, "egan32", marks=pytest.mark.slow),
        pytest.param(64, 3, "dcgan64", marks=pytest.mark.slow),
    ],
)
def test_each_net_family_trains_on_fake_images(tmp_path, size, channels, net):
    run_cli(
        [
            "data=fake",
            f"data.image_size={size}",
            f"data.channels={channels}",
            "data.num_images=16",
            f"net={net}",
            "net.g_width=8",
            "net.d_width=8",
            *TINY,
            f"hydra.run.dir={tmp_path}",
            *FAST,
        ]
    )
    assert read_metrics(tmp_path)["generation"] == 3
    ckpt = torch.load(tmp_path / "checkpoints" / "last.ckpt", map_location="cpu", weights_only=False)
    arch = ckpt["evogan"]["architecture"]
    assert arch["net"] == net and list(arch["shape"]) == [channels, size, size]
    # grids at generations 2 and 3 (the end), 2x2 images of size x size, from the same fixed noise
    grids = sorted(p.name for p in (tmp_path / "samples").iterdir())
    assert grids == ["gen_0000002.png", "gen_0000003.png"]
    for name in grids:
        img = Image.open(tmp_path / "samples" / name)
        assert img.size == (grid_side(size), grid_side(size))
    arr = np.asarray(Image.open(tmp_path / "samples.png").convert("L"), dtype=np.float32)
    assert arr[2:-2, 2:-2].std() > 0  # not a blank grid
    assert (tmp_path / "samples.png").read_bytes() == (tmp_path / "samples" / "gen_0000003.png").read_bytes()


@pytest.mark.slow  # the readers are tested in process in test_data_images.py
def test_real_formats_through_the_cli(tmp_path):
    """MNIST idx .gz in torchvision's layout with net=auto (mnist28), and an image folder with workers."""
    rng = np.random.default_rng(0)
    raw = tmp_path / "mnist" / "MNIST" / "raw"
    raw.mkdir(parents=True)
    arr = rng.integers(0, 256, size=(32, 28, 28), dtype=np.uint8)
    header = bytes([0, 0, 8, 3]) + struct.pack(">III", 32, 28, 28)
    (raw / "train-images-idx3-ubyte.gz").write_bytes(gzip.compress(header + arr.tobytes()))
    out = tmp_path / "run_mnist"
    run_cli(["data=mnist", f"data.root={tmp_path / 'mnist'}", *TINY, f"hydra.run.dir={out}", *FAST])
    assert read_metrics(out)["generation"] == 3
    assert Image.open(out / "samples.png").size == (grid_side(28), grid_side(28))

    folder = tmp_path / "pics"
    for i in range(10):  # mixed sizes and modes, some in a subfolder
        mode = ("RGB", "L", "RGBA")[i % 3]
        pixels = rng.integers(0, 256, size=(30 + 5 * i, 40 + 3 * i, len(mode)), dtype=np.uint8)
        path = folder / ("sub" if i % 2 else "") / f"{i}.png"
        path.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(pixels.squeeze(-1) if mode == "L" else pixels, mode).save(path)
    out = tmp_path / "run_folder"
    run_cli(
        [
            "data=image_folder",
            f"data.root={folder}",
            "data.image_size=32",
            "data.num_workers=2",
            "net.g_width=8",
            "net.d_width=8",
            "net=egan32",
            *TINY,
            f"hydra.run.dir={out}",
            *FAST,
        ]
    )
    assert read_metrics(out)["generation"] == 3


def test_shape_mismatch_is_a_clean_cli_error(tmp_path):
    proc = run_cli(
        ["data=fake", "data.image_size=28", "net=egan32", f"hydra.run.dir={tmp_path}", *FAST], check=False
    )
    assert proc.returncode == 2, proc.stderr[-2000:]
    assert "net=egan32" in proc.stderr and "32x32" in proc.stderr and "(3, 28, 28)" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert not (tmp_path / "checkpoints").exists()


@pytest.mark.parametrize(
    "overrides,match",
    [
        # the shape check comes before any file is looked for: the root does not exist here
        (["data=mnist", "net=dcgan64"], r"net=dcgan64.*\(1, 28, 28\)"),
        (["data=cifar10", "data.channels=2"], "data.channels must be 1"),
        (["data=cifar10", "data.download=false"], r"data_batch_1.*data\.download=true"),
        (["data=image_folder"], r"data\.root=DIR"),
    ],
)
def test_errors_before_training(tmp_path, overrides, match):
    cfg = compose([*overrides, f"data.root={tmp_path / 'missing'}", *FAST], output_dir=str(tmp_path / "run"))
    if overrides == ["data=image_folder"]:
        cfg.data.root = None
    with pytest.raises(ConfigError, match=match):
        train(cfg)
    assert not (tmp_path / "run" / "checkpoints").exists()


# ---------------------------------------------------------------------------------------------- loggers
TOY_LOGGED = ["generations=4", "callbacks.samples.every_n_generations=2", "trainer.enable_progress_bar=false"]


def tensorboard_images(events: Path) -> list[tuple[int, str, bytes]]:
    """(step, tag, encoded PNG) of every image summary in a TFRecord event file (tensorboardX protos)."""
    from tensorboardX.proto.event_pb2 import Event

    blob, out, pos = events.read_bytes(), [], 0
    while pos < len(blob):
        (length,) = struct.unpack("<Q", blob[pos : pos + 8])
        event = Event.FromString(blob[pos + 12 : pos + 12 + length])
        pos += 12 + length + 4  # length, its crc, data, data crc
        for value in event.summary.value:
            if value.HasField("image"):
                out.append((event.step, value.tag, value.image.encoded_image_string))
    return out


@pytest.mark.slow  # a CLI run; the W&B test above checks the same grids by default
def test_tensorboard_logs_sample_grids(tmp_path):
    run_cli(["logger=tensorboard", *TOY_LOGGED, f"hydra.run.dir={tmp_path}"])
    (events,) = (tmp_path / "tensorboard").glob("events.out.tfevents.*")
    samples = [(step, png) for step, tag, png in tensorboard_images(events) if tag == "samples"]
    assert [step for step, _ in samples] == [2, 4]
    logged = Image.open(io.BytesIO(samples[1][1]))
    assert logged.format == "PNG" and logged.size == Image.open(tmp_path / "samples.png").size


def test_wandb_offline_logs_sample_grids(tmp_path):
    proc = run_cli(["logger=wandb", *TOY_LOGGED, f"hydra.run.dir={tmp_path}"])
    assert "could not log" not in proc.stdout + proc.stderr
    (run_dir,) = (tmp_path / "wandb").glob("offline-run-*")
    assert list(run_dir.glob("run-*.wandb"))
    media = sorted((run_dir / "files" / "media" / "images").glob("samples_*.png"))
    assert len(media) == 2  # generations 2 and 4, the end not logged twice
    assert media[0].stat().st_size > 1000
