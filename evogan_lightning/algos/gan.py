"""Single-loss baseline GANs: GAN-Minimax, GAN-Heuristic (NS-GAN/DCGAN), GAN-Least-square.

The comparison points of every evolutionary method (E-GAN, Wang et al. 2019, Sec. V): same nets, same
n_D, one generator trained with one fixed loss. Per generation (the same skeleton as E-GAN):

    z ~ p(z), m samples;  G <- Adam(G, grad L_loss(D(G(z))))          # D frozen
    x_fake = G(z'), n_D * m samples (no grad)
    repeat n_D: D <- Adam(D, grad [BCE(D(x_real), 1) + BCE(D(x_fake), 0)])
"""

from __future__ import annotations

import functools
from collections.abc import Callable

import torch
from torch import Tensor

from ..evolution.losses import generator_loss
from .base import EvoGANModule, frozen
from .config import GANConfig


class GAN(EvoGANModule):
    """One generator, one loss (``algo.loss``: minimax | heuristic | least_squares)."""

    algo_name = "gan"
    config_class = GANConfig
    hp: GANConfig

    @functools.cached_property
    def g_loss(self) -> Callable[[Tensor], Tensor]:
        """The generator loss ``algo.loss`` on D's logits."""
        return generator_loss(self.hp.loss, self.hp.least_squares_on)

    def generation_step(self, real: Tensor) -> dict[str, Tensor]:
        pop, m, n_d = self.generators, self.hp.batch_size, self.hp.d_steps
        g = pop.parent(0)
        # Generator step (in place: the single parent is its own child).
        with frozen(self.discriminator):
            pop.zero_grad(pop.parent_rows)
            g_loss = self.g_loss(self.discriminator(g(self.make_noise(m))))
            g_loss.backward()
            pop.adam_step(pop.parent_rows)
        # n_D discriminator steps on fresh samples of the updated generator.
        with torch.no_grad():
            fake = g(self.make_noise(n_d * m))
        d_loss = self.d_steps(real, fake)
        return {"loss/g": g_loss.detach(), "loss/d": d_loss}
