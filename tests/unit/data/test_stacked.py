"""Stacked Fashion-MNIST (data/stacked.py, data=stacked_fashion_mnist) on tiny files in the real IDX format."""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import pytest
import torch

from evogan_lightning.core.errors import ConfigError
from evogan_lightning.data import images
from evogan_lightning.data.datamodule import GANDataModule
from evogan_lightning.data.stacked import StackedImages
from evogan_lightning.nets import resolve_net


def write_fashion(folder: Path, n: int = 12) -> np.ndarray:
    folder.mkdir(parents=True, exist_ok=True)
    arr = (np.arange(n, dtype=np.uint8)[:, None, None] * 20 + np.zeros((n, 28, 28), np.uint8)).astype(
        np.uint8
    )
    header = bytes([0, 0, 8, 3]) + b"".join(int(d).to_bytes(4, "big") for d in (n, 28, 28))
    for stem in ("train-images-idx3-ubyte", "t10k-images-idx3-ubyte"):
        (folder / f"{stem}.gz").write_bytes(gzip.compress(header + arr.tobytes()))
    return arr


def cfg(root: Path, **extra) -> dict:
    return {
        "name": "stacked_fashion_mnist",
        "root": str(root),
        "download": False,
        "split": "train",
        "channels": 3,
        **extra,
    }


def test_each_channel_is_one_base_image(tmp_path):
    arr = write_fashion(tmp_path)
    dm = GANDataModule(cfg(tmp_path, num_images=30), seed=0)
    dm.prepare_data()
    dm.setup()
    source = dm.source
    assert len(source) == 30 and dm.shape == (3, 28, 28) and dm.info()["kind"] == "image"
    x = source.get_batch(torch.arange(30))
    assert x.shape == (30, 3, 28, 28) and x.min() >= -1 and x.max() <= 1
    for i in range(30):
        for c in range(3):
            expected = torch.from_numpy(arr[int(source.triples[i, c])]).float() / 127.5 - 1
            assert torch.equal(x[i, c], expected)
    # the data set is the same table whatever the run seed (the seed orders batches only)
    other = GANDataModule(cfg(tmp_path, num_images=30), seed=5)
    other.setup()
    assert torch.equal(other.source.triples, source.triples)
    # modes: 100 c0 + 10 c1 + c2 of the base labels
    labels = torch.arange(12) % 10
    modes = source.mode_labels(labels)
    t = source.triples
    assert modes.tolist() == (100 * labels[t[:, 0]] + 10 * labels[t[:, 1]] + labels[t[:, 2]]).tolist()
    # null num_images: one triple per base image
    assert len(StackedImages(torch.from_numpy(arr)[:, None])) == 12


def test_three_channel_nets_and_clear_refusals(tmp_path):
    write_fashion(tmp_path)
    spec = resolve_net({"name": "auto"}, (3, 28, 28))
    assert spec.name == "mnist28"
    with pytest.raises(ValueError, match="set data.channels=3.*For 1-channel images use data=fashion_mnist"):
        images.dataset_shape("stacked_fashion_mnist", cfg(tmp_path, channels=1))
    with pytest.raises(ValueError, match="num_images must be >= 1"):
        StackedImages(torch.zeros(4, 1, 28, 28, dtype=torch.uint8), 0)
    missing = cfg(tmp_path / "nothing")
    with pytest.raises(ConfigError, match="apt-get install dataset-fashion-mnist"):
        images.prepare_dataset("stacked_fashion_mnist", missing)


def test_the_classifier_is_trained_on_fashion_mnist_not_on_stacked_data(tmp_path):
    from evogan_lightning.tools.train_classifier import load_labelled

    write_fashion(tmp_path)
    with pytest.raises(ConfigError, match="train it with data=fashion_mnist"):
        load_labelled(cfg(tmp_path), "train")
