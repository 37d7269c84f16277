"""The 28x28 image protocol (metrics/image_protocol.py, metrics/manifold.py): hand-computed manifold metrics and
mode counts, and the whole protocol on tiny Fashion-MNIST-format files with a tiny classifier."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch
from helpers import tiny_fashion

from evogan_lightning.core.errors import ConfigError
from evogan_lightning.data.stacked import stack_modes
from evogan_lightning.metrics.classifier import (
    ClassifierFeatures,
    SmallCNN,
    save_classifier,
    train_classifier,
)
from evogan_lightning.metrics.image_protocol import ImageProtocol, mode_metrics
from evogan_lightning.metrics.manifold import density_coverage, kth_neighbour_radii, precision_recall

REAL = torch.tensor([[0.0], [1.0], [2.0], [3.0]])
FAKE = torch.tensor([[1.6], [10.0], [2.9], [2.95]])


def test_precision_recall_by_hand():
    # real balls (k=1): radius 1 around 0, 1, 2, 3 -> 1.6, 2.9, 2.95 inside, 10 outside: precision 3/4.
    # fake balls (k=1): 1.6 r=1.3, 2.9 r=0.05, 2.95 r=0.05, 10 r=7.05 -> real 1, 2 (near 1.6) and 3 (near 10,
    # 7 <= 7.05) inside, 0 outside: recall 3/4.
    assert kth_neighbour_radii(REAL.double(), 1).tolist() == [1.0, 1.0, 1.0, 1.0]
    assert precision_recall(REAL, FAKE, k=1) == pytest.approx((0.75, 0.75))


def test_density_coverage_by_hand():
    # per fake, real balls that hold it: 1.6 -> {1, 2}, 10 -> {}, 2.9 -> {2, 3}, 2.95 -> {2, 3}: 6 / (k M = 4);
    # balls with a fake inside: 1, 2, 3 (not 0): coverage 3/4.
    assert density_coverage(REAL, FAKE, k=1) == pytest.approx((1.5, 0.75))


def test_identical_sets_are_perfect_and_bad_input_is_refused():
    x = torch.randn(50, 3, generator=torch.Generator().manual_seed(0))
    assert precision_recall(x, x.flip(0)) == (1.0, 1.0)
    density, coverage = density_coverage(x, x)
    assert coverage == 1.0 and density >= 1.0  # every point sits in its own ball, and in some others
    with pytest.raises(ValueError, match="more than k=5"):
        density_coverage(x[:5], x)
    with pytest.raises(ValueError, match="NaN"):
        precision_recall(x, torch.full_like(x, math.nan))


def test_mode_metrics_by_hand():
    out = mode_metrics(torch.tensor([0, 0, 1, 2]), num_modes=4)
    # q = (1/2, 1/4, 1/4, 0): 3 modes; KL(q || 1/4) = 1/2 log 2 + 1/4 log 1 + 1/4 log 1
    assert out["test/modes_covered"] == 3.0
    assert out["test/mode_kl"] == pytest.approx(0.5 * math.log(2))
    assert mode_metrics(torch.arange(1000))["test/mode_kl"] == pytest.approx(0.0, abs=1e-12)
    assert mode_metrics(torch.zeros(10, dtype=torch.long))["test/mode_kl"] == pytest.approx(math.log(1000))
    assert stack_modes(torch.tensor([[1, 2, 3], [9, 0, 9]])).tolist() == [123, 909]


# ---------------------------------------------------------------------------------------------- tiny data
def tiny_classifier(path: Path, root: Path, dataset: str = "fashion_mnist") -> Path:
    from evogan_lightning.tools.train_classifier import load_labelled

    cfg = {"name": "fashion_mnist", "root": str(root), "download": False, "image_size": 28, "channels": 1}
    x, y = load_labelled(cfg, "train")
    tx, ty = load_labelled(cfg, "test")
    model, meta = train_classifier(
        x, y, tx, ty, epochs=3, batch_size=20, seed=0, progress=False, width=4, num_features=8
    )
    meta["dataset"] = dataset
    save_classifier(path, model, meta)
    return path


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    folder = tmp_path_factory.mktemp("fmnist")
    root = tiny_fashion(folder / "data")
    return root, tiny_classifier(folder / "cls.pt", root)


def _cfg(root: Path, name: str = "fashion_mnist") -> dict:
    return {
        "name": name,
        "root": str(root),
        "download": False,
        "split": "train",
        "image_size": 28,
        "channels": 3 if name.startswith("stacked") else 1,
    }


def test_the_test_images_score_as_a_perfect_generator(tiny):
    root, cls = tiny
    protocol = ImageProtocol(cls, _cfg(root), num_samples=40, num_real=40, batch_size=16)
    protocol.prepare()
    test_images = protocol._source("test", None)
    order = iter(torch.arange(39, -1, -1).split(16))  # the same images in another order, other chunks
    out = protocol.score_sampler(lambda k: test_images.get_batch(next(order)[:k]))
    assert out["test/classifier_fid"] == pytest.approx(0.0, abs=1e-2)
    assert out["test/class_tvd"] == 0.0
    assert (out["test/precision"], out["test/recall"], out["test/coverage"]) == (1.0, 1.0, 1.0)
    assert "test/modes_covered" not in out
    assert "n_real=40" in protocol.protocol() and "real_split=test" in protocol.protocol()


def test_a_constant_generator_is_far_from_the_floor(tiny):
    root, cls = tiny
    protocol = ImageProtocol(cls, _cfg(root), num_samples=30, num_real=40, batch_size=16)
    floor = protocol.score_real("train")
    constant = protocol.score_sampler(lambda k: torch.full((k, 1, 28, 28), -1.0))
    assert constant["test/classifier_fid"] > 10 * max(floor["test/classifier_fid"], 1e-3)
    assert constant["test/class_tvd"] > floor["test/class_tvd"]  # one class for all
    assert constant["test/recall"] < floor["test/recall"]


def test_stacked_data_is_scored_per_channel(tiny):
    root, cls = tiny
    protocol = ImageProtocol(
        cls, _cfg(root, "stacked_fashion_mnist"), num_samples=30, num_real=40, mode_samples=50, batch_size=16
    )
    floor = protocol.score_real("train")
    assert 1 <= floor["test/modes_covered"] <= 50 and floor["test/mode_kl"] >= 0
    f, modes = protocol.features(protocol._source("test", 4).get_batch(torch.arange(4)))
    assert f.shape == (4, 3 * 8) and modes.max() < 1000
    assert "per_channel" in protocol.protocol() and "mode_samples=50" in protocol.protocol()
    # ClassifierFeatures (the training curve's extractor) reads the channels the same way
    features = ClassifierFeatures(protocol.model, per_channel=3)
    assert features.num_features == 24
    x = protocol._source("test", 4).get_batch(torch.arange(4))
    assert torch.allclose(features(x), f)


def test_a_classifier_of_another_data_set_is_refused_by_name(tiny, tmp_path):
    root, _ = tiny
    other = tmp_path / "mnist.pt"
    model = SmallCNN(1, 10, 28, width=4, num_features=8)
    save_classifier(other, model, {"dataset": "mnist"})
    with pytest.raises(ConfigError, match="trained on data=mnist.*classifier of data=fashion_mnist"):
        ImageProtocol(other, _cfg(root))
    with pytest.raises(ConfigError, match="trained on data=mnist.*classifier of data=fashion_mnist"):
        ImageProtocol(other, _cfg(root, "stacked_fashion_mnist"))
    with pytest.raises(ConfigError, match="does not exist.*evogan-train-classifier data=fashion_mnist"):
        ImageProtocol(tmp_path / "missing.pt", _cfg(root, "stacked_fashion_mnist"))


def test_torchmetrics_fid_and_kid_give_the_numbers_of_our_own_maths():
    """The evaluator's FID/KID now come from torchmetrics (metrics/evaluator.py); on the same features they equal
    the hand-written maths they replaced (metrics/distances.py): FID to 1e-6 relative, the KID mean exactly up to
    float64 round-off with the same subsets, the std as torchmetrics defines it (over subsets, not n - 1)."""
    from evogan_lightning.metrics.distances import frechet_distance, kernel_inception_distance
    from evogan_lightning.metrics.evaluator import torchmetrics_fid, torchmetrics_kid
    from evogan_lightning.metrics.feature_stats import FeatureStats

    g = torch.Generator().manual_seed(0)
    real = torch.randn(600, 16, generator=g)
    fake = 0.8 * torch.randn(500, 16, generator=g) + 0.3
    a, b = FeatureStats().update(real), FeatureStats().update(fake)
    ours = frechet_distance(a.mean(), a.cov(), b.mean(), b.cov())
    assert torchmetrics_fid(a, b) == pytest.approx(ours, rel=1e-6)
    mean, std = kernel_inception_distance(
        real, fake, subsets=20, subset_size=100, generator=torch.Generator().manual_seed(7)
    )
    tm_mean, tm_std = torchmetrics_kid(real, fake, subsets=20, subset_size=100, seed=7)
    assert tm_mean == pytest.approx(mean, rel=1e-9)
    assert tm_std == pytest.approx(std * math.sqrt(19 / 20), rel=1e-6)
    assert math.isnan(
        torchmetrics_kid(real[:50], fake[:50], subsets=5, subset_size=100, seed=7)[1]
    )  # whole sets
