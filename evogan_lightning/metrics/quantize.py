"""Image quantisation for metric extractors: [-1, 1] floats -> uint8, grayscale -> RGB, range checks.

FID/IS extractors see 8-bit images, as real data does; quantising ourselves (round, then clamp) avoids
the truncation of ``(x * 255).byte()`` and makes the input of every extractor explicit.
"""

from __future__ import annotations

import torch
from torch import Tensor

__all__ = ["to_uint8", "to_rgb", "check_range"]


def _count_non_finite(x: Tensor) -> tuple[int, int]:
    return int(torch.isnan(x).sum().item()), int(torch.isinf(x).sum().item())


def check_range(x: Tensor, lo: float = -1.0, hi: float = 1.0, tol: float = 0.05) -> Tensor:
    """Raise ``ValueError`` if ``x`` holds NaN/Inf or values outside ``[lo - tol, hi + tol]``.

    Meant for generator outputs and data batches (``[B, C, H, W]``, any shape works) before
    quantisation; returns ``x`` unchanged so it can be chained.
    """
    if not x.is_floating_point():
        raise ValueError(f"check_range: expected a floating-point tensor, got dtype {x.dtype}")
    if x.numel() == 0:
        return x
    nans, infs = _count_non_finite(x)
    if nans or infs:
        raise ValueError(f"check_range: images contain {nans} NaN and {infs} Inf values")
    x_min, x_max = float(x.min().item()), float(x.max().item())
    if x_min < lo - tol or x_max > hi + tol:
        raise ValueError(
            f"check_range: images span [{x_min:.4g}, {x_max:.4g}] but [{lo}, {hi}] (tolerance {tol}) was "
            "expected; generator outputs and data should be in [-1, 1] (tanh range), not 0..255"
        )
    return x


def to_uint8(x: Tensor) -> Tensor:
    """Quantise images in ``[-1, 1]`` to ``uint8`` 0..255: ``clamp(round((x + 1) * 127.5), 0, 255)``.

    Any shape; values outside [-1, 1] are clamped (use :func:`check_range` first to reject images
    that are far off). A ``uint8`` input is returned unchanged. Raises ``ValueError`` on NaN/Inf.
    Note ``torch.round`` rounds halves to even, so 0.0 -> 127.5 -> 128.
    """
    if x.dtype == torch.uint8:
        return x
    if not x.is_floating_point():
        raise ValueError(f"to_uint8: expected float images in [-1, 1] (or uint8), got dtype {x.dtype}")
    nans, infs = _count_non_finite(x)
    if nans or infs:
        raise ValueError(
            f"to_uint8: images contain {nans} NaN and {infs} Inf values; "
            "cannot quantise (diverged generator?)"
        )
    work_dtype = torch.float64 if x.dtype == torch.float64 else torch.float32
    return ((x.to(work_dtype) + 1.0) * 127.5).round_().clamp_(0, 255).to(torch.uint8)


def to_rgb(x: Tensor) -> Tensor:
    """Repeat 1-channel images to 3 channels; 3-channel images are returned as they are.

    Args:
        x: ``[B, C, H, W]`` or ``[C, H, W]`` with C in {1, 3}.

    Returns:
        ``[B, 3, H, W]`` (or ``[3, H, W]``), same dtype and device.
    """
    if x.dim() not in (3, 4):
        raise ValueError(f"to_rgb: expected images [B, C, H, W] or [C, H, W], got shape {tuple(x.shape)}")
    channel_dim = x.dim() - 3
    channels = x.shape[channel_dim]
    if channels == 3:
        return x
    if channels == 1:
        repeats = [1] * x.dim()
        repeats[channel_dim] = 3
        return x.repeat(*repeats)
    raise ValueError(f"to_rgb: expected 1 or 3 channels, got {channels} (shape {tuple(x.shape)})")
