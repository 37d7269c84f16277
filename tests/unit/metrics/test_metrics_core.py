"""Tests of the Lightning-free metric core: toy mode metrics, quantisation, Frechet distance, feature
statistics and their cache, KID, the classifier feature space and the Inception weights checks."""

from __future__ import annotations

import gzip
import math
import urllib.error
from pathlib import Path

import numpy as np
import pytest
import scipy.linalg
import torch
from helpers import random_inception_weights

from evogan_lightning.metrics import inception as fid_module
from evogan_lightning.metrics.classifier import (
    ClassifierFeatures,
    SmallCNN,
    load_classifier,
    save_classifier,
    state_dict_sha256,
    train_classifier,
)
from evogan_lightning.metrics.distances import frechet_distance, kernel_inception_distance
from evogan_lightning.metrics.feature_stats import FeatureStats, StatsCache
from evogan_lightning.metrics.inception import (
    INCEPTION_WEIGHTS_ENV,
    INCEPTION_WEIGHTS_FILENAME,
    inception_available,
    inception_weights_cache_path,
    make_inception_fid,
    make_inception_score,
    sha256_file,
)
from evogan_lightning.metrics.quantize import check_range, to_rgb, to_uint8
from evogan_lightning.metrics.toy import toy_metrics

FASHION_MNIST = Path("/usr/share/datasets/fashion-mnist")

# ----------------------------------------------------------------------------------------------- toy


def ring8() -> torch.Tensor:
    angles = torch.arange(8, dtype=torch.float64) * (2 * math.pi / 8)
    return 2.0 * torch.stack([angles.cos(), angles.sin()], dim=1)


RING_STD = 0.02


def points_at(centers: torch.Tensor, per_mode: list[int], offset: float = 0.01) -> torch.Tensor:
    """``per_mode[k]`` points at ``centers[k] + (offset, 0)``."""
    rows = [
        centers[k] + torch.tensor([offset, 0.0], dtype=centers.dtype)
        for k, c in enumerate(per_mode)
        for _ in range(c)
    ]
    return torch.stack(rows)


def test_toy_all_modes_equally_hit():
    centers = ring8()
    result = toy_metrics(points_at(centers, [10] * 8), centers, RING_STD)
    assert result["modes_covered"] == 8.0
    assert result["num_modes"] == 8.0
    assert result["high_quality_share"] == 1.0
    assert abs(result["mode_kl"]) < 1e-12


def test_toy_single_mode():
    centers = ring8()
    result = toy_metrics(points_at(centers, [80, 0, 0, 0, 0, 0, 0, 0]), centers, RING_STD)
    assert result["modes_covered"] == 1.0
    assert result["high_quality_share"] == 1.0
    assert math.isfinite(result["mode_kl"])
    assert result["mode_kl"] == pytest.approx(math.log(8))  # KL(point mass || uniform), the maximum


def test_toy_off_mode_points_lower_quality_exactly():
    centers = ring8()
    on_mode = points_at(centers, [10] * 8)  # 80 high-quality points
    origin = torch.zeros(20, 2, dtype=torch.float64)  # distance 2 = 100 std from every centre
    just_inside = centers[:1] + torch.tensor([[0.0, 2.9 * RING_STD]], dtype=torch.float64)
    just_outside = centers[:1] + torch.tensor([[0.0, 3.1 * RING_STD]], dtype=torch.float64)
    samples = torch.cat([on_mode, origin, just_inside, just_outside])
    result = toy_metrics(samples, centers, RING_STD)
    assert result["high_quality_share"] == pytest.approx(81 / 102)
    assert result["modes_covered"] == 8.0


def test_toy_quarter_of_fair_share_rule():
    centers = ring8()
    # 7 modes with 20 points; the 8th needs >= (140 + x) / 32 points: x = 5 is covered, x = 4 is not.
    covered = toy_metrics(points_at(centers, [20] * 7 + [5]), centers, RING_STD)
    not_covered = toy_metrics(points_at(centers, [20] * 7 + [4]), centers, RING_STD)
    assert covered["modes_covered"] == 8.0
    assert not_covered["modes_covered"] == 7.0
    assert 0 < covered["mode_kl"] < not_covered["mode_kl"] < math.log(8)


def test_toy_no_high_quality_samples_and_non_finite():
    centers = ring8()
    far = torch.zeros(5, 2)
    result = toy_metrics(far, centers, RING_STD)
    assert result == {
        "modes_covered": 0.0,
        "num_modes": 8.0,
        "high_quality_share": 0.0,
        "mode_kl": math.log(8),
    }
    with_nan = torch.cat([points_at(centers, [1] * 8).float(), torch.full((2, 2), float("nan"))])
    assert toy_metrics(with_nan, centers, RING_STD)["high_quality_share"] == pytest.approx(0.8)


def test_toy_grid_and_float32():
    axis = torch.tensor([-4.0, -2.0, 0.0, 2.0, 4.0])
    centers = torch.cartesian_prod(axis, axis)
    samples = centers.repeat(4, 1) + 0.01 * torch.randn(100, 2, generator=torch.Generator().manual_seed(0))
    result = toy_metrics(samples, centers, 0.05)
    assert result["modes_covered"] == 25.0 and result["high_quality_share"] == 1.0


@pytest.mark.parametrize(
    ("samples", "centers", "std"),
    [
        (torch.zeros(4, 3), torch.zeros(8, 2), 0.1),
        (torch.zeros(4), torch.zeros(8, 2), 0.1),
        (torch.zeros(4, 2), torch.zeros(8, 3), 0.1),
        (torch.zeros(0, 2), torch.zeros(8, 2), 0.1),
        (torch.zeros(4, 2), torch.zeros(8, 2), 0.0),
    ],
)
def test_toy_rejects_bad_input(samples, centers, std):
    with pytest.raises(ValueError, match="toy_metrics"):
        toy_metrics(samples, centers, std)


# ------------------------------------------------------------------------------------------ quantise


def test_to_uint8_values_rounding_and_clamping():
    assert to_uint8(torch.tensor([-1.0, 0.0, 1.0])).tolist() == [0, 128, 255]
    x = torch.tensor([10.4, 10.6, 254.4, 0.49], dtype=torch.float64) / 127.5 - 1.0
    assert to_uint8(x).tolist() == [10, 11, 254, 0]
    assert to_uint8(torch.tensor([-1.5, -1.0001, 1.0001, 3.0])).tolist() == [0, 0, 255, 255]
    assert to_uint8(torch.zeros(2, 1, 3, 3)).dtype == torch.uint8
    already = torch.arange(5, dtype=torch.uint8)
    assert to_uint8(already) is already


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), -float("inf")])
def test_to_uint8_rejects_non_finite(bad):
    with pytest.raises(ValueError, match="NaN|Inf"):
        to_uint8(torch.tensor([0.0, bad]))


def test_to_rgb_and_check_range():
    gray = torch.rand(2, 1, 4, 4)
    rgb = to_rgb(gray)
    assert (
        rgb.shape == (2, 3, 4, 4) and torch.equal(rgb[:, 0], rgb[:, 2]) and torch.equal(rgb[:, 1], gray[:, 0])
    )
    colour = torch.rand(2, 3, 4, 4)
    assert to_rgb(colour) is colour
    assert to_rgb(torch.rand(1, 4, 4)).shape == (3, 4, 4)
    with pytest.raises(ValueError, match="1 or 3 channels"):
        to_rgb(torch.rand(2, 2, 4, 4))
    assert check_range(torch.tensor([-1.02, 1.02])) is not None
    with pytest.raises(ValueError, match=r"\[-1, 1\]"):
        check_range(torch.tensor([0.0, 255.0]))
    with pytest.raises(ValueError, match="NaN"):
        check_range(torch.tensor([0.0, float("nan")]))


# --------------------------------------------------------------------------------------- Frechet / KID


def gaussian_stats(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    return x.mean(axis=0), np.cov(x, rowvar=False)


def test_frechet_distance_self_zero_and_monotone_in_shift():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(500, 8)) @ rng.normal(size=(8, 8))
    mu, sigma = gaussian_stats(x)
    assert frechet_distance(mu, sigma, mu, sigma) == pytest.approx(0.0, abs=1e-8)
    distances = [frechet_distance(mu, sigma, mu + s, sigma) for s in (0.5, 1.0, 2.0)]
    assert distances[0] < distances[1] < distances[2]
    # same covariance: only the mean term remains, D * s^2
    assert distances == pytest.approx([8 * 0.25, 8 * 1.0, 8 * 4.0], rel=1e-6)


@pytest.mark.parametrize("method", ["eigh", "sqrtm"])
def test_frechet_distance_diagonal_closed_form(method):
    mu1, mu2 = np.array([0.0, 1.0, -2.0]), np.array([1.0, 1.0, 0.5])
    var1, var2 = np.array([1.0, 4.0, 0.25]), np.array([2.0, 1.0, 0.25])
    expected = np.sum((mu1 - mu2) ** 2) + np.sum((np.sqrt(var1) - np.sqrt(var2)) ** 2)
    value = frechet_distance(
        torch.tensor(mu1), torch.tensor(np.diag(var1)), mu2, np.diag(var2), method=method
    )
    assert value == pytest.approx(expected, rel=1e-10)


def test_frechet_distance_methods_agree_and_singular_covariance():
    rng = np.random.default_rng(1)
    a, b = rng.normal(size=(300, 16)), rng.normal(size=(300, 16)) * 1.5 + 0.3
    (mu1, s1), (mu2, s2) = gaussian_stats(a), gaussian_stats(b)
    root = scipy.linalg.sqrtm(s1 @ s2).real
    reference = np.sum((mu1 - mu2) ** 2) + np.trace(s1 + s2 - 2 * root)
    assert frechet_distance(mu1, s1, mu2, s2) == pytest.approx(reference, rel=1e-8)
    assert frechet_distance(mu1, s1, mu2, s2, method="sqrtm") == pytest.approx(reference, rel=1e-8)
    # fewer samples than features: rank-deficient covariances stay finite, self-distance ~0
    few = rng.normal(size=(10, 32))
    mu, sigma = gaussian_stats(few)
    assert frechet_distance(mu, sigma, mu, sigma) == pytest.approx(0.0, abs=1e-6)
    assert math.isfinite(frechet_distance(mu, sigma, mu + 1, sigma * 2))
    with pytest.raises(ValueError, match="covariances"):
        frechet_distance(mu, sigma, mu, sigma[:3, :3])


def test_feature_stats_streaming_matches_numpy():
    rng = np.random.default_rng(2)
    x = rng.normal(size=(103, 6)) * 3 + 5
    stats = FeatureStats()
    for start, stop in [(0, 1), (1, 40), (40, 41), (41, 103)]:
        stats.update(torch.tensor(x[start:stop], dtype=torch.float32 if start else torch.float64))
    assert stats.n == 103
    x32 = np.concatenate([x[:1], x[1:].astype(np.float32).astype(np.float64)])
    np.testing.assert_allclose(stats.mean().numpy(), x32.mean(axis=0), rtol=1e-10)
    np.testing.assert_allclose(stats.cov().numpy(), np.cov(x32, rowvar=False), rtol=1e-8, atol=1e-10)
    restored = FeatureStats.from_state_dict(stats.state_dict())
    assert torch.equal(restored.cov(), stats.cov()) and restored.n == 103
    halves = FeatureStats().update(torch.tensor(x[:50])).merge(FeatureStats().update(torch.tensor(x[50:])))
    np.testing.assert_allclose(halves.cov().numpy(), np.cov(x, rowvar=False), rtol=1e-8)
    with pytest.raises(ValueError, match="expected 6 features"):
        stats.update(torch.zeros(2, 5))
    with pytest.raises(RuntimeError, match="at least 2"):
        FeatureStats().update(torch.zeros(1, 3)).cov()


def test_kernel_inception_distance():
    gen = torch.Generator().manual_seed(0)
    a, b = torch.randn(400, 10, generator=gen), torch.randn(400, 10, generator=gen)
    shifted = b + 1.0
    same, _ = kernel_inception_distance(a, b, subsets=20, subset_size=200, generator=gen)
    far, std = kernel_inception_distance(a, shifted, subsets=20, subset_size=200, generator=gen)
    assert abs(same) < 0.05 < far and std > 0
    # one subset of all rows: compare with a direct evaluation of the unbiased estimator
    x, y = a[:50].double(), shifted[:50].double()

    def k(p, q):
        return (p @ q.T / 10 + 1) ** 3

    m = 50
    direct = (k(x, x).sum() - k(x, x).trace() + k(y, y).sum() - k(y, y).trace()) / (m * (m - 1)) - 2 * k(
        x, y
    ).mean()
    value, no_std = kernel_inception_distance(x, y, subsets=1, subset_size=1000)
    assert value == pytest.approx(float(direct), rel=1e-10) and math.isnan(no_std)
    # many subsets that are all the whole sets (subset_size >= N): the same estimate, no spread to report
    again, whole_std = kernel_inception_distance(x, y, subsets=10, subset_size=50, generator=gen)
    assert again == pytest.approx(value, rel=1e-10) and math.isnan(whole_std)
    _, sub_std = kernel_inception_distance(x, y, subsets=10, subset_size=49, generator=gen)
    assert sub_std > 0


# ---------------------------------------------------------------------------------------- stats cache


def stats_key(**changes):
    key = {
        "dataset": "fashion_mnist",
        "split": "train",
        "resolution": 28,
        "extractor": "classifier",
        "weights_sha256": "abc123",
        "n": 64,
    }
    key.update(changes)
    return key


def test_stats_cache_round_trip_and_key_mismatch(tmp_path):
    cache = StatsCache(tmp_path / "cache")
    stats = FeatureStats().update(torch.randn(64, 5, generator=torch.Generator().manual_seed(0)))
    assert cache.load(stats_key()) is None
    path = cache.save(stats_key(), stats)
    assert path.is_file() and path.parent == tmp_path / "cache"
    loaded = cache.load(dict(reversed(list(stats_key().items()))))  # key order does not matter
    assert loaded is not None and loaded.n == 64 and torch.equal(loaded.cov(), stats.cov())
    for other in (stats_key(split="test"), stats_key(weights_sha256="def456"), stats_key(n=128)):
        assert cache.path(other) != path
        assert cache.load(other) is None
    # a file whose stored key differs (e.g. copied or colliding name) is never returned
    other_key = stats_key(dataset="cifar10")
    cache.path(other_key).write_bytes(path.read_bytes())
    with pytest.warns(UserWarning, match="another key"):
        assert cache.load(other_key) is None
    cache.path(stats_key(resolution=32)).write_bytes(b"not a torch file")
    with pytest.warns(UserWarning, match="unreadable"):
        assert cache.load(stats_key(resolution=32)) is None
    with pytest.raises(ValueError, match="missing"):
        cache.save({"dataset": "x"}, stats)
    with pytest.raises(ValueError, match="n=10"):
        cache.save(stats_key(n=10), stats)


# ------------------------------------------------------------------------------------------ classifier


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


# ------------------------------------------------------------------------------------------- Inception


@pytest.fixture
def empty_torch_cache(tmp_path, monkeypatch):
    """No real torch hub cache, no weights variable: the Inception checks see an empty machine."""
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    monkeypatch.delenv(INCEPTION_WEIGHTS_ENV, raising=False)
    monkeypatch.setattr(torch.hub, "_hub_dir", None)  # undo any torch.hub.set_dir of the session

    def no_download(*args, **kwargs):
        raise urllib.error.URLError("network unreachable (test)")

    monkeypatch.setattr(torch.hub, "download_url_to_file", no_download)
    return tmp_path


def test_inception_cache_location_follows_torch_home(empty_torch_cache):
    expected = empty_torch_cache / "torch" / "hub" / "checkpoints" / INCEPTION_WEIGHTS_FILENAME
    assert inception_weights_cache_path() == expected


def test_missing_inception_weights_clear_error(empty_torch_cache):
    available, reason = inception_available(None)
    assert not available and reason
    for allow_download in (False, True):
        with pytest.raises(RuntimeError) as error:
            make_inception_fid(None, allow_download=allow_download)
        message = str(error.value)
        assert INCEPTION_WEIGHTS_ENV in message and "weights_path" in message
        assert str(inception_weights_cache_path()) in message
    with pytest.raises(RuntimeError, match=INCEPTION_WEIGHTS_ENV):
        make_inception_score(None, allow_download=False)
    missing = empty_torch_cache / "nowhere.pth"
    with pytest.raises(RuntimeError, match="nowhere.pth"):
        make_inception_fid(missing)


def test_unloadable_inception_weights_clear_error(empty_torch_cache):
    pytest.importorskip("torch_fidelity")
    broken = empty_torch_cache / "broken.pth"
    broken.write_bytes(b"truncated download")
    with pytest.raises(RuntimeError, match="broken.pth"):
        make_inception_fid(broken)


def test_inception_availability_sources(empty_torch_cache, monkeypatch):
    monkeypatch.setattr(fid_module, "_torch_fidelity_available", lambda: True)
    available, reason = inception_available(None)
    assert not available and INCEPTION_WEIGHTS_ENV in reason
    # a cached download counts
    cached = inception_weights_cache_path()
    cached.parent.mkdir(parents=True)
    cached.write_bytes(b"weights")
    assert inception_available(None) == (True, f"Inception weights at {cached} (from the torch hub cache)")
    # the environment variable wins over the cache, and a missing file is reported
    monkeypatch.setenv(INCEPTION_WEIGHTS_ENV, str(empty_torch_cache / "gone.pth"))
    available, reason = inception_available(None)
    assert not available and "gone.pth" in reason and INCEPTION_WEIGHTS_ENV in reason
    local = empty_torch_cache / "local.pth"
    local.write_bytes(b"local")
    assert inception_available(local)[0]
    assert len(sha256_file(local)) == 16 and len(sha256_file(local, length=None)) == 64
    # torch-fidelity missing is reported first
    monkeypatch.setattr(fid_module, "_torch_fidelity_available", lambda: False)
    available, reason = inception_available(local)
    assert not available and "torch-fidelity" in reason


@pytest.mark.slow  # two Inception networks on CPU (~10 s); runs where torch-fidelity is installed
def test_inception_fid_and_is_from_local_file(empty_torch_cache):
    pytest.importorskip("torch_fidelity")
    weights = empty_torch_cache / "inception.pth"
    torch.save({}, weights)
    random_inception_weights(weights)
    metric = make_inception_fid(weights, feature=64)
    assert metric.extractor_info["antialias"] is False
    assert metric.extractor_info["weights_sha256"] == sha256_file(weights)
    images = to_rgb(to_uint8(torch.rand(4, 1, 28, 28) * 2 - 1))
    metric.update(images, real=True)
    metric.update(images, real=False)
    assert float(metric.compute()) == pytest.approx(0.0, abs=1e-2)
    score = make_inception_score(weights, splits=2)
    score.update(images)
    assert math.isfinite(float(score.compute()[0]))
