"""2-d Gaussian mixtures used as the standard toy benchmark (E-GAN, Wang et al. 2019, Sec. V-A; VEEGAN).

Geometry is fixed so numbers compare across papers: ``ring8`` = 8 Gaussians evenly spaced on a circle of
radius 2 with std 0.02; ``grid25`` = 25 Gaussians on {-4, -2, 0, 2, 4}^2 with std 0.05; equal weights.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor


class ToyMixture:
    """A procedural dataset: ``sample(n, generator)`` draws n points [n, 2] from the mixture."""

    def __init__(self, name: str, centers: Tensor, std: float) -> None:
        self.name, self.centers, self.std = name, centers.float(), float(std)

    @property
    def shape(self) -> tuple[int, ...]:
        return (2,)

    def sample(self, n: int, generator: torch.Generator | None = None) -> Tensor:
        """Draw ``n`` points; mode chosen uniformly, then isotropic Gaussian noise. Returns [n, 2]."""
        idx = torch.randint(len(self.centers), (n,), generator=generator)
        return self.centers[idx] + self.std * torch.randn(n, 2, generator=generator)


def ring8() -> ToyMixture:
    angles = torch.arange(8, dtype=torch.float64) * (2 * math.pi / 8)
    centers = 2.0 * torch.stack([torch.cos(angles), torch.sin(angles)], dim=1)
    return ToyMixture("ring8", centers, 0.02)


def grid25() -> ToyMixture:
    axis = torch.tensor([-4.0, -2.0, 0.0, 2.0, 4.0])
    centers = torch.cartesian_prod(axis, axis)
    return ToyMixture("grid25", centers, 0.05)


TOY_MIXTURES = {"ring8": ring8, "grid25": grid25}
