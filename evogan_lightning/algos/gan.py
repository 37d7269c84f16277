"""Single-loss baseline GANs: GAN-Minimax, GAN-Heuristic (NS-GAN/DCGAN), GAN-Least-square.

The comparison points of every evolutionary method (E-GAN, Wang et al. 2019, Sec. V): same nets, same
n_D, one generator trained with one fixed loss. Per generation (the same skeleton as E-GAN):

    z ~ p(z), m samples;  G <- Adam(G, grad L_loss(D(G(z))))          # D frozen
    x_fake = G(z'), n_D * m samples (no grad)
    repeat n_D: D <- Adam(D, grad [BCE(D(x_real), 1) + BCE(D(x_fake), 0)])
"""

from __future__ import annotations

import torch
from torch import Tensor

from ..evolution.losses import GENERATOR_LOSSES, generator_loss
from ..run.errors import ConfigError
from .base import EvoGANModule, frozen


class GAN(EvoGANModule):
    """One generator, one loss (``algo.loss``: minimax | heuristic | least_squares)."""

    algo_name = "gan"
    graph_capturable = True

    def validate(self) -> None:
        loss = self.a("loss", "heuristic")
        if loss not in GENERATOR_LOSSES:
            raise ConfigError(f"unknown algo.loss {loss!r}; choose one of {sorted(GENERATOR_LOSSES)}")
        if int(self.a("population_size", 1)) != 1:
            raise ConfigError("algo=gan trains exactly one generator; set algo.population_size=1")
        on = self.a("least_squares_on", "logit")
        if on not in ("logit", "prob"):
            raise ConfigError(f"algo.least_squares_on must be 'logit' or 'prob', got {on!r}")
        self.g_loss = generator_loss(self.a("loss", "heuristic"), on)

    def generation_step(self, real: Tensor) -> dict[str, Tensor]:
        pop, m, n_d = self.generators, int(self.a("batch_size")), int(self.a("d_steps"))
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
