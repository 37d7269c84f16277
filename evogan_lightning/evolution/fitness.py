"""Fitness functions of the evolutionary GANs (pure, Lightning-free).

E-GAN (Wang et al., IEEE TEVC 2019, Eq. 6-8):
    F_q = E_z[D(G(z))] = mean sigmoid(C(G(z)))                                 quality
    F_d = -log || grad_{theta_D} L_D(x_fake, x_real) ||_2                      diversity
    F   = F_q + gamma * F_d
with L_D = BCE(C(x_real), 1) + BCE(C(x_fake), 0). L_D is a sum of a real and a fake term, so its gradient
is g_real + g_fake: the real part is computed ONCE per generation (``real_loss_grad``) and each child
only adds its own fake part (``diversity_fitness``). First-order only (no create_graph), over ALL
parameters of D.

CE-GAN (Li et al., "E-GAN with crossover based knowledge distillation"): F_CGAN = mean C(G(z)), the raw
logit, no sigmoid and no diversity term (``logit_fitness``).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn


def quality_fitness(logits: Tensor) -> Tensor:
    """F_q = mean sigmoid(C(G(z))) (E-GAN Eq. 6). ``logits`` [..., n] -> [...]."""
    return torch.sigmoid(logits.float()).mean(dim=-1)


def logit_fitness(logits: Tensor) -> Tensor:
    """F_CGAN = mean C(G(z)) (CE-GAN). ``logits`` [..., n] -> [...]."""
    return logits.float().mean(dim=-1)


def combined_fitness(f_q: Tensor, f_d: Tensor, gamma: float) -> Tensor:
    """F = F_q + gamma * F_d (E-GAN Eq. 8). ``gamma = 0`` gives F_q exactly (also where F_d = +inf, the
    zero-gradient case, where 0 * inf would be NaN)."""
    if gamma == 0:
        return f_q.clone()
    return f_q + gamma * f_d


def _flat_grad(loss: Tensor, params: list[Tensor]) -> Tensor:
    grads = torch.autograd.grad(loss, params, allow_unused=True)
    return torch.cat(
        [(g if g is not None else torch.zeros_like(p)).reshape(-1) for g, p in zip(grads, params)]
    )


def real_loss_grad(discriminator: nn.Module, real: Tensor) -> Tensor:
    """g_real = grad_{theta_D} BCE(C(x_real), 1) over all D parameters, flattened [P_D] (detached).

    ``real``: [n, ...]. Leaves D's ``.grad`` untouched (autograd.grad)."""
    params = list(discriminator.parameters())
    with torch.enable_grad():
        loss = F.softplus(-discriminator(real)).mean()
        return _flat_grad(loss, params).detach()


def diversity_fitness(discriminator: nn.Module, fake: Tensor, real_grad: Tensor) -> tuple[Tensor, Tensor]:
    """F_d = -log ||g_real + grad_{theta_D} BCE(C(x_fake), 0)||_2 (E-GAN Eq. 7), first order.

    ``fake``: [n, ...] (detached samples of one child); ``real_grad``: [P_D] from ``real_loss_grad``.
    Returns (F_d scalar, logits [n] of the fake batch, detached) so the caller gets F_q for free."""
    params = list(discriminator.parameters())
    with torch.enable_grad():
        logits = discriminator(fake.detach())
        g_fake = _flat_grad(F.softplus(logits).mean(), params)
    return -torch.log((real_grad + g_fake).norm()), logits.detach()
