"""Mode metrics for 2-d Gaussian-mixture toy data (ring of 8, grid of 25).

Protocol (VEEGAN, Srivastava et al. 2017; used by E-GAN, Wang et al. 2019): a sample is *high quality*
when it lies within 3 standard deviations of its nearest mode centre. A mode is *covered* when it holds
at least a quarter of its fair share (``n_hq / K``) of the high-quality samples (the project's protocol,
docs/algorithms.md). ``mode_kl`` is the "reverse KL" of PacGAN (Lin et al. 2018): KL(p || U) of the
histogram ``p`` of high-quality samples over the K modes against the uniform distribution ``U``.
The mixtures themselves (centres, std) live in ``evogan_lightning.data.toy``.
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import Tensor

__all__ = ["TOY_EVAL_SAMPLES", "evaluate_toy", "toy_metrics", "toy_protocol"]

# A mode is covered when it holds at least this fraction of its fair share of high-quality samples.
COVERAGE_FRACTION = 0.25
# Samples per evaluation: the curve during training, metrics.json at the end and `evaluate` all use it.
TOY_EVAL_SAMPLES = 10_000


def _check_inputs(samples: Tensor, centers: Tensor, std: float) -> None:
    if not isinstance(samples, Tensor) or samples.dim() != 2 or samples.shape[1] != 2:
        shape = tuple(samples.shape) if isinstance(samples, Tensor) else type(samples).__name__
        raise ValueError(f"toy_metrics: samples must be a tensor of shape [N, 2], got {shape}")
    if not isinstance(centers, Tensor) or centers.dim() != 2 or centers.shape[1] != 2 or centers.shape[0] < 1:
        shape = tuple(centers.shape) if isinstance(centers, Tensor) else type(centers).__name__
        raise ValueError(f"toy_metrics: centers must be a tensor of shape [K, 2] with K >= 1, got {shape}")
    if samples.shape[0] < 1:
        raise ValueError("toy_metrics: samples is empty (N = 0)")
    if not (isinstance(std, (int, float)) and math.isfinite(std) and std > 0):
        raise ValueError(f"toy_metrics: std must be a positive finite number, got {std!r}")
    if not torch.isfinite(centers).all():
        raise ValueError("toy_metrics: centers contain NaN or Inf")


@torch.no_grad()
def toy_metrics(samples: Tensor, centers: Tensor, std: float) -> dict[str, float]:
    """Mode coverage, sample quality and mode-histogram KL of 2-d samples.

    Args:
        samples: ``[N, 2]`` generated points (any device, any float dtype); NaN/Inf rows count as
            low-quality samples.
        centers: ``[K, 2]`` mode centres of the true mixture.
        std: standard deviation of each (isotropic) mixture component.

    Returns:
        ``modes_covered`` (count, as float), ``num_modes`` (K), ``high_quality_share`` (fraction of samples
        within ``3 * std`` of their nearest centre) and ``mode_kl`` = sum_k p_k log(K p_k) with ``p`` the
        histogram of high-quality samples over modes (0 for a uniform histogram, at most log K, reached
        when all high-quality samples sit in one mode; log K as well when there is no high-quality sample).
    """
    _check_inputs(samples, centers, std)
    num_modes = centers.shape[0]
    points = samples.to(torch.float64)
    centres = centers.to(device=points.device, dtype=torch.float64)

    finite = torch.isfinite(points).all(dim=1)  # NaN/Inf samples (diverged G) count as low quality
    distances = torch.cdist(torch.where(finite[:, None], points, 0.0), centres)  # [N, K]
    nearest_distance, nearest_mode = distances.min(dim=1)
    high_quality = (nearest_distance <= 3.0 * std) & finite
    counts = torch.bincount(nearest_mode[high_quality], minlength=num_modes).to(torch.float64)  # [K]
    num_hq = counts.sum()

    if num_hq.item() == 0:
        modes_covered = 0.0
        mode_kl = math.log(num_modes)
    else:
        fair_share = num_hq / num_modes
        modes_covered = float(((counts > 0) & (counts >= COVERAGE_FRACTION * fair_share)).sum().item())
        p = counts / num_hq
        # xlogy gives 0 * log(0) = 0, so a dropped mode contributes 0 and the value stays finite.
        mode_kl = float(torch.special.xlogy(p, p * num_modes).sum().clamp_min(0.0).item())

    return {
        "modes_covered": modes_covered,
        "num_modes": float(num_modes),
        "high_quality_share": float(high_quality.to(torch.float64).mean().item()),
        "mode_kl": mode_kl,
    }


def toy_protocol(num_samples: int, seed: int) -> str:
    """The protocol of ``evaluate_toy`` as one string, recorded next to its numbers."""
    return f"n={num_samples};high_quality=3std;covered=quarter_fair_share;seed={seed + 1}"


def evaluate_toy(module: Any, num_samples: int = TOY_EVAL_SAMPLES) -> dict[str, float]:
    """``toy/modes_covered``, ``toy/high_quality_share``, ``toy/mode_kl`` and ``toy/num_modes`` of
    ``module``'s best individual on ``num_samples`` points drawn with a generator seeded ``module.seed + 1``
    (fixed noise, so the curve, ``metrics.json`` and ``evaluate`` agree on the same weights). ``module``: a
    trained EvoGANModule on a toy mixture."""
    from ..data.toy import TOY_MIXTURES

    mixture = TOY_MIXTURES[module.data_info["name"]]()
    noise = torch.Generator(device=module.device).manual_seed(module.seed + 1)
    samples = module.sample(num_samples, generator=noise)
    metrics = toy_metrics(samples, mixture.centers, mixture.std)
    return {f"toy/{k}": float(v) for k, v in metrics.items()}
