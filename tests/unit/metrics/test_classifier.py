"""Tests of metrics/classifier.py: the project's feature network for 28x28 images (classifier-FID)."""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import pytest
import torch

from evogan_lightning.metrics.classifier import (
    ClassifierFeatures,
    SmallCNN,
    load_classifier,
    save_classifier,
    state_dict_sha256,
    train_classifier,
)
from evogan_lightning.metrics.feature_stats import FeatureStats
from evogan_lightning.metrics.quantize import to_rgb, to_uint8

FASHION_MNIST = Path("/usr/share/datasets/fashion-mnist")


def tiny_model(seed: int = 0, channels: int = 1, size: int = 28) -> SmallCNN:
    torch.manual_seed(seed)
    return SmallCNN(in_channels=channels, num_classes=4, image_size=size, width=8, num_features=16).eval()


def quadrant_dataset(
    n: int, seed: int, channels: int = 1, size: int = 28
) -> tuple[torch.Tensor, torch.Tensor]:
    """Class k = a bright square in quadrant k on a noisy dark background; images in [-1, 1]."""
    gen = torch.Generator().manual_seed(seed)
    labels = torch.randint(0, 4, (n,), generator=gen)
    images = -0.8 + 0.2 * torch.randn(n, channels, size, size, generator=gen)
    half = size // 2
    for k in range(4):
        rows, cols = (k // 2) * half, (k % 2) * half
        images[labels == k, :, rows + 3 : rows + half - 3, cols + 3 : cols + half - 3] = 0.8
    return images.clamp(-1, 1), labels


def test_classifier_features_in_torchmetrics_fid():
    from torchmetrics.image.fid import FrechetInceptionDistance

    extractor = ClassifierFeatures(tiny_model())
    images = to_uint8(quadrant_dataset(40, seed=1)[0])
    other = to_uint8(torch.rand(40, 1, 28, 28) * 2 - 1)
    real_stats = FeatureStats().update(extractor(images))
    fake_stats = FeatureStats().update(extractor(other))
    expected = real_stats.frechet_distance(fake_stats)
    assert expected > 0

    metric = FrechetInceptionDistance(feature=extractor, reset_real_features=False)
    metric.update(images, real=True)
    metric.update(images, real=False)
    assert abs(float(metric.compute())) < 1e-6 * expected  # identical sets
    # a different set: torchmetrics agrees with our frechet_distance on the same features
    metric.reset()  # keeps the real side
    metric.update(other, real=False)
    assert float(metric.compute()) == pytest.approx(expected, rel=1e-3)
    # cached real statistics copied into a fresh metric give the same number
    fresh = FrechetInceptionDistance(feature=extractor, reset_real_features=False)
    FeatureStats.from_fid_metric(metric, real=True).copy_into_fid_metric(fresh, real=True)
    fresh.update(other, real=False)
    assert float(fresh.compute()) == pytest.approx(expected, rel=1e-3)


def test_classifier_features_inputs():
    extractor = ClassifierFeatures(tiny_model())
    assert extractor.num_features == 16
    x = quadrant_dataset(6, seed=2)[0]
    quantised = to_uint8(x)
    from_uint8 = extractor(quantised)
    assert from_uint8.shape == (6, 16) and from_uint8.dtype == torch.float32
    assert torch.allclose(from_uint8, extractor(quantised.float() / 127.5 - 1))
    assert torch.allclose(from_uint8, extractor(to_rgb(quantised)), atol=1e-5)  # gray repeated to RGB
    extractor.train()
    assert not extractor.training and not extractor.model.training
    with pytest.raises(ValueError, match="expected images"):
        extractor(torch.zeros(2, 1, 32, 32))


def test_train_classifier_on_separable_data_and_round_trip(tmp_path):
    train_x, train_y = quadrant_dataset(256, seed=3)
    test_x, test_y = quadrant_dataset(128, seed=4)
    state = torch.get_rng_state()
    model, metadata = train_classifier(
        train_x, train_y, test_x, test_y, epochs=2, batch_size=32, lr=3e-3, seed=0, progress=False, width=8
    )
    assert torch.equal(state, torch.get_rng_state())  # global RNG untouched
    assert metadata["test_accuracy"] > 0.95
    assert metadata["num_classes"] == 4 and metadata["image_shape"] == [1, 28, 28]
    assert metadata["epochs"] == 2 and metadata["seed"] == 0
    assert metadata["weights_sha256"] == state_dict_sha256(model)

    path = tmp_path / "classifier.pt"
    metadata["dataset"] = "quadrants"
    save_classifier(path, model, metadata)
    loaded, loaded_metadata = load_classifier(path)
    assert loaded_metadata == metadata and not loaded.training
    assert torch.equal(loaded(test_x[:8]), model(test_x[:8]))
    assert torch.equal(ClassifierFeatures(loaded)(test_x[:8]), model.features(test_x[:8]))

    payload = torch.load(path, weights_only=True)
    payload["state_dict"]["head.bias"] += 1.0
    torch.save(payload, path)
    with pytest.raises(ValueError, match="hash"):
        load_classifier(path)


def test_train_classifier_rejects_bad_data():
    x, y = quadrant_dataset(8, seed=5)
    with pytest.raises(ValueError, match=r"\[-1, 1\]"):
        train_classifier((x + 1) * 127.5, y, x, y, epochs=1, progress=False)
    with pytest.raises(ValueError, match="28x28 or 32x32"):
        train_classifier(torch.zeros(8, 1, 20, 20), y, x, y, epochs=1, progress=False)
    with pytest.raises(ValueError, match="labels"):
        train_classifier(x, y[:4], x, y, epochs=1, progress=False)


def read_idx(path: Path) -> np.ndarray:
    with gzip.open(path, "rb") as handle:
        data = handle.read()
    magic = int.from_bytes(data[:4], "big")
    ndim = magic & 0xFF
    shape = [int.from_bytes(data[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim)]
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim).reshape(shape)


@pytest.mark.slow
@pytest.mark.skipif(not (FASHION_MNIST / "train-images-idx3-ubyte.gz").exists(), reason="no Fashion-MNIST")
def test_classifier_on_fashion_mnist_subset():
    images = read_idx(FASHION_MNIST / "train-images-idx3-ubyte.gz")
    labels = read_idx(FASHION_MNIST / "train-labels-idx1-ubyte.gz")
    test_images = read_idx(FASHION_MNIST / "t10k-images-idx3-ubyte.gz")
    test_labels = read_idx(FASHION_MNIST / "t10k-labels-idx1-ubyte.gz")
    assert images.shape == (60000, 28, 28) and labels.shape == (60000,)

    def to_tensor(array: np.ndarray) -> torch.Tensor:
        return torch.from_numpy(array.copy()).float().div(127.5).sub(1.0).unsqueeze(1)

    subset = np.random.default_rng(0).permutation(60000)[:5000]
    model, metadata = train_classifier(
        to_tensor(images[subset]),
        torch.from_numpy(labels[subset].astype(np.int64)),
        to_tensor(test_images[:2000]),
        torch.from_numpy(test_labels[:2000].astype(np.int64)),
        epochs=5,
        batch_size=128,
        seed=0,
        progress=False,
    )
    assert metadata["num_classes"] == 10
    assert metadata["test_accuracy"] > 0.8, metadata
