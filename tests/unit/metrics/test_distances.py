"""Tests of metrics/distances.py and feature_stats.py: the Frechet distance, KID and streaming feature statistics."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import scipy.linalg
import torch

from evogan_lightning.metrics.distances import frechet_distance, kernel_inception_distance
from evogan_lightning.metrics.feature_stats import FeatureStats

FASHION_MNIST = Path("/usr/share/datasets/fashion-mnist")


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
