"""k-nearest-neighbour manifold metrics of generated against real features (no network, no files).

- Improved precision and recall (Kynkaanniemi et al. 2019, "Improved precision and recall metric for
  assessing generative models", Eq. 1-3, k = 3): the real manifold is the union of balls around every real
  feature with the distance to its k-th nearest real neighbour as radius; precision is the share of generated
  features inside it, recall the share of real features inside the generated manifold built the same way.
- Density and coverage (Naeem et al. 2020, "Reliable fidelity and diversity metrics for generative models",
  Eq. 3-4, k = 5): density counts, per generated feature, the real balls that hold it (divided by k M);
  coverage is the share of real balls that hold at least one generated feature.

torchmetrics (1.9) has no class for either, hence this module. Distances are Euclidean, computed in chunks of
rows (never an N x M matrix in memory at once), in float64 so the counts do not depend on summation order.
"""

from __future__ import annotations

import torch
from torch import Tensor

CHUNK = 1024  # rows of a distance block


def _check(features: Tensor, name: str, k: int) -> Tensor:
    if features.dim() != 2:
        raise ValueError(f"{name} features must be [N, D], got {tuple(features.shape)}")
    if features.shape[0] <= k:
        raise ValueError(f"{name}: need more than k={k} features, got {features.shape[0]}")
    if not torch.isfinite(features).all():
        raise ValueError(f"{name} features contain NaN or Inf")
    return features.detach().to("cpu", torch.float64)


def kth_neighbour_radii(features: Tensor, k: int) -> Tensor:
    """``[N, D]`` -> ``[N]`` distance of every feature to its k-th nearest other feature."""
    radii = []
    for start in range(0, features.shape[0], CHUNK):
        block = torch.cdist(features[start : start + CHUNK], features)  # [c, N]; self-distance 0 is the 0-th
        radii.append(block.kthvalue(k + 1, dim=1).values)
    return torch.cat(radii)


def _inside_counts(points: Tensor, centres: Tensor, radii: Tensor) -> tuple[Tensor, Tensor]:
    """For ``points`` [M, D] and balls (``centres`` [N, D], ``radii`` [N]): per point the number of balls
    that hold it ``[M]``, and per ball whether any point is inside ``[N]`` (bool)."""
    per_point, per_ball = [], torch.zeros(centres.shape[0], dtype=torch.bool)
    for start in range(0, points.shape[0], CHUNK):
        inside = torch.cdist(points[start : start + CHUNK], centres) <= radii[None, :]  # [c, N]
        per_point.append(inside.sum(dim=1))
        per_ball |= inside.any(dim=0)
    return torch.cat(per_point), per_ball


def precision_recall(real: Tensor, fake: Tensor, k: int = 3) -> tuple[float, float]:
    """Improved precision and recall (Kynkaanniemi et al. 2019) of ``fake`` [M, D] against ``real`` [N, D]."""
    real, fake = _check(real, "real", k), _check(fake, "generated", k)
    in_real, _ = _inside_counts(fake, real, kth_neighbour_radii(real, k))
    in_fake, _ = _inside_counts(real, fake, kth_neighbour_radii(fake, k))
    return float((in_real > 0).double().mean()), float((in_fake > 0).double().mean())


def density_coverage(real: Tensor, fake: Tensor, k: int = 5) -> tuple[float, float]:
    """Density and coverage (Naeem et al. 2020) of ``fake`` [M, D] against ``real`` [N, D]."""
    real, fake = _check(real, "real", k), _check(fake, "generated", k)
    counts, covered = _inside_counts(fake, real, kth_neighbour_radii(real, k))
    density = float(counts.double().sum()) / (k * fake.shape[0])
    return density, float(covered.double().mean())
