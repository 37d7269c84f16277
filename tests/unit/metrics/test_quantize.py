"""Tests of metrics/quantize.py: images to uint8 and RGB, range checks."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from evogan_lightning.metrics.quantize import check_range, to_rgb, to_uint8

FASHION_MNIST = Path("/usr/share/datasets/fashion-mnist")


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
