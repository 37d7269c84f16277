"""Generator losses (E-GAN's "mutations"), the discriminator loss and the gradient penalty.

All losses take raw discriminator logits ``d = C(x)`` (D(x) = sigmoid(C(x))) so they are AMP-safe.
References: Goodfellow et al. 2014 (minimax / heuristic), Mao et al. 2017 (least squares),
Wang et al. 2019 (E-GAN, Eq. 3-5), Gulrajani et al. 2017 (gradient penalty).
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import Tensor


def minimax_loss(d_fake: Tensor) -> Tensor:
    """Saturating minimax loss E[log(1 - D(G(z)))], minimised. ``d_fake``: logits [B]. Returns a scalar.

    log(1 - sigmoid(d)) = -softplus(d), computed stably.
    """
    return -F.softplus(d_fake).mean()


def heuristic_loss(d_fake: Tensor) -> Tensor:
    """Non-saturating (heuristic) loss -E[log D(G(z))] = E[softplus(-d)]. ``d_fake``: logits [B]."""
    return F.softplus(-d_fake).mean()


def least_squares_loss(d_fake: Tensor, on: str = "logit") -> Tensor:
    """Least-squares loss E[(d - 1)^2], on the logit (E-GAN PyTorch reference) or on sigmoid(d)
    (``on="prob"``, the E-GAN paper's Eq. 5). ``d_fake``: logits [B]."""
    if on == "logit":
        return (d_fake - 1.0).pow(2).mean()
    if on == "prob":
        return (torch.sigmoid(d_fake) - 1.0).pow(2).mean()
    raise ValueError(f"least_squares 'on' must be 'logit' or 'prob', got {on!r}")


GENERATOR_LOSSES: dict[str, Callable[[Tensor], Tensor]] = {
    "minimax": minimax_loss,
    "heuristic": heuristic_loss,
    "least_squares": least_squares_loss,
}


def generator_loss(name: str, least_squares_on: str = "logit") -> Callable[[Tensor], Tensor]:
    """Look up a generator loss by name; raises ValueError listing the valid names."""
    if name not in GENERATOR_LOSSES:
        raise ValueError(
            f"unknown generator loss {name!r}; choose one of {sorted(GENERATOR_LOSSES)} "
            "(e.g. algo.loss=heuristic or algo.mutations=[minimax,heuristic,least_squares])"
        )
    if name == "least_squares":
        return lambda d: least_squares_loss(d, on=least_squares_on)
    return GENERATOR_LOSSES[name]


def discriminator_loss(d_real: Tensor, d_fake: Tensor) -> Tensor:
    """BCE(real, 1) + BCE(fake, 0), each a batch mean. ``d_real`` [B], ``d_fake`` [B'] logits."""
    return F.softplus(-d_real).mean() + F.softplus(d_fake).mean()


def r1_penalty(discriminator: Callable[[Tensor], Tensor], real: Tensor) -> Tensor:
    """Zero-centred gradient penalty on real data, R1 = E_real ||grad_x C(x)||^2 (Mescheder et al., ICML 2018,
    Eq. 9; the D loss adds (weight / 2) * R1). Keeps D flat on the data, which makes the GAN game converge
    locally instead of oscillating. ``real`` [B, ...]. Returns a scalar with a graph to D's parameters."""
    x = real.detach().requires_grad_(True)
    (grad,) = torch.autograd.grad(discriminator(x).sum(), x, create_graph=True)
    return grad.flatten(1).pow(2).sum(dim=1).mean()


def gradient_penalty(
    discriminator: Callable[[Tensor], Tensor], real: Tensor, fake: Tensor, rng=None
) -> Tensor:
    """WGAN-GP penalty E[(||grad_x C(x_hat)||_2 - 1)^2] on per-sample interpolates x_hat (Gulrajani 2017).

    ``real``, ``fake``: [B, ...] (same shape). Returns a scalar with a graph to D's parameters.
    """
    n = min(real.shape[0], fake.shape[0])
    real, fake = real[:n], fake[:n].detach()
    alpha_shape = (n,) + (1,) * (real.dim() - 1)
    alpha = torch.rand(alpha_shape, device=real.device, dtype=real.dtype, generator=rng)
    x_hat = (alpha * real + (1 - alpha) * fake).requires_grad_(True)
    out = discriminator(x_hat)
    (grad,) = torch.autograd.grad(out.sum(), x_hat, create_graph=True)
    return (grad.flatten(1).norm(2, dim=1) - 1.0).pow(2).mean()
