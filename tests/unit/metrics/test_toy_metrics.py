"""Tests of metrics/toy.py: modes covered, high-quality share and mode KL on toy mixtures."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch

from evogan_lightning.metrics.toy import toy_metrics

FASHION_MNIST = Path("/usr/share/datasets/fashion-mnist")


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
