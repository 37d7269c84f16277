"""Stochastic-crossover GAN (Alessi 2024; docs/algorithms.md, "Stochastic-crossover GAN").

A population of mu >= 2 generators facing one discriminator. Per generation:

    for each parent G_i, for each of its k offspring c (a copy of G_i's weights AND Adam state):
        z_c ~ p(z), m samples
        with probability p_cross (crossover step), j ~ U({parents} \\ {i}):
            imitate:          loss = MSE(G_c(z_c), G_j(z_c).detach())
            relativistic:     loss = BCE(C(G_c(z_c)) - C(G_j(z_c)).detach(), 1)
            straight_through: x = G_c(z_c) + (G_j(z_c) - G_c(z_c)).detach();  loss = softplus(-C(x))
        otherwise (adversarial step):  loss = M_c(C(G_c(z_c)))     # M_c = mutations[c mod n_m]
        one Adam step of G_c on its loss (D frozen; all offspring in one fused update)
    F_c = mean C(G_c(z_eval)) on n noise vectors shared by all offspring        # fitness=logit
       or F_q + gamma F_d (E-GAN Eq. 6-8, one real-gradient per generation)    # fitness=egan
    parents <- the top-mu offspring by F ((mu, lambda) selection, lambda = k * mu)
    n_D D steps on the survivors' evaluation samples, shuffled (first n_D * m)

The crossover step replaces the offspring's adversarial step and costs one extra (no-grad) generator
forward of the partner. ``offspring_per_parent`` (k) defaults to 2 so that selection has something to
choose from; k = 1 is the literal "each parent produces one offspring" reading, where (mu, lambda) keeps
every offspring. Survivors are counted by operator (``adversarial`` / ``crossover``; with several
mutations, the mutation's name) and end up in metrics.json as ``operator_share/*``.

Skeletons: the default is the single-loss one (``mutations: [heuristic]``, ``fitness: logit``); Alessi
adds the operator to E-GAN, which is ``mutations: [minimax, heuristic, least_squares]``,
``offspring_per_parent: 3`` (every parent x every mutation) and ``fitness: egan`` with ``gamma``.
"""

from __future__ import annotations

import functools
from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import Tensor

from ..evolution.fitness import (
    combined_fitness,
    diversity_fitness,
    logit_fitness,
    quality_fitness,
    real_loss_grad,
)
from ..evolution.losses import generator_loss
from ..evolution.selection import top_mu, valid_fitness
from .base import EvoGANModule, frozen
from .config import SCGANConfig


def draw_partners(parent_of: Tensor, mu: int, generator: torch.Generator) -> Tensor:
    """A crossover partner for each offspring: a parent j != parent_of[c], uniform over the other mu - 1
    parents. ``parent_of``: LongTensor [lambda] with values in [0, mu). Returns LongTensor [lambda]."""
    shift = torch.randint(1, mu, parent_of.shape, generator=generator, device=generator.device)
    return (parent_of + shift.to(parent_of.device)) % mu


class SCGAN(EvoGANModule):
    """mu generators, each offspring updated adversarially or (with probability p_cross) by crossover."""

    algo_name = "scgan"
    config_class = SCGANConfig
    hp: SCGANConfig

    @property
    def mutation_names(self) -> list[str]:
        """The adversarial losses (``algo.mutations``); offspring c uses entry c mod n_m."""
        return list(self.hp.mutations)

    @functools.cached_property
    def mutation_losses(self) -> list[Callable[[Tensor], Tensor]]:
        return [generator_loss(name) for name in self.hp.mutations]

    def population_layout(self) -> tuple[int, int]:
        mu = self.hp.population_size
        return mu, mu * self.hp.offspring_per_parent

    @property
    def reals_per_generation(self) -> int:
        """n_D * m reals for the D steps, plus n for F_d with ``fitness=egan``."""
        extra = self.hp.eval_batch_size if self.hp.fitness == "egan" else 0
        return self.hp.d_steps * self.hp.batch_size + extra

    def operator_name(self, c: int, crossed: bool) -> str:
        """The operator that made offspring ``c``: crossover, or its mutation (``adversarial`` when there is one)."""
        if crossed:
            return "crossover"
        return (
            self.mutation_names[c % len(self.mutation_names)]
            if len(self.mutation_names) > 1
            else "adversarial"
        )

    def fitness(self, samples: Tensor, real_fit: Tensor) -> tuple[Tensor, Tensor]:
        """(fitness [lam], logits [lam, n]) of the offspring's evaluation ``samples`` [lam, n, ...]: CE-GAN's
        mean logit, or E-GAN's F_q + gamma F_d against the n reals ``real_fit``. Each offspring its own D call."""
        d = self.discriminator
        if self.hp.fitness == "logit":
            with torch.no_grad():
                logits = torch.stack([d(x) for x in samples])
            return logit_fitness(logits), logits
        real_grad = real_loss_grad(d, real_fit)
        f_d, logits = zip(*(diversity_fitness(d, x, real_grad) for x in samples))
        logits = torch.stack(logits)
        f_q = self.mean_over_ranks(quality_fitness(logits))
        return combined_fitness(f_q, self.mean_over_ranks(torch.stack(f_d)), self.hp.gamma), logits

    def crossover_loss(self, x: Tensor, partner: Tensor, c: int = 0) -> Tensor:
        """The crossover step's loss for offspring samples ``x`` [m, ...] given the partner's ``partner``
        [m, ...] on the same noise (no gradient flows into the partner)."""
        mode = self.hp.crossover_mode
        partner = partner.detach()
        if mode == "imitate":
            return F.mse_loss(x, partner)
        d = self.discriminator
        if mode == "relativistic":
            return F.softplus(-(d(x) - d(partner).detach())).mean()  # BCE(C(x) - C(x_j), 1)
        return self.mutation_losses[c % len(self.mutation_losses)](
            d(x + (partner - x).detach())
        )  # straight_through

    def generation_step(self, real: Tensor) -> dict[str, Tensor]:
        pop, d = self.generators, self.discriminator
        n_real = self.hp.d_steps * self.hp.batch_size
        real, real_fit = real[:n_real], real[n_real:]
        mu, lam = pop.num_parents, pop.num_children
        m, n_d, n = self.hp.batch_size, self.hp.d_steps, self.hp.eval_batch_size
        dev = pop.params.device
        # Offspring c belongs to parent c // k and starts from its weights and Adam state.
        parent_of = torch.arange(mu, device=dev).repeat_interleave(lam // mu)
        pop.spawn(parent_of)
        choices = self.shared_rng  # every rank flips the same coins and draws the same partners
        is_cross = torch.rand(lam, generator=choices, device=choices.device) < self.hp.p_cross
        partner = draw_partners(parent_of, mu, choices)
        is_cross_l, partner_l = is_cross.tolist(), partner.tolist()  # one host sync per generation
        z = self.make_noise(lam * m).view(lam, m, -1)

        pop.zero_grad(pop.children_rows)
        losses = []
        with frozen(d):
            for c in range(lam):
                x = pop.child(c)(z[c])
                if is_cross_l[c]:
                    with torch.no_grad():
                        x_partner = pop.parent(partner_l[c])(z[c])
                    losses.append(self.crossover_loss(x, x_partner, c))
                else:
                    losses.append(self.mutation_losses[c % len(self.mutation_losses)](d(x)))
            loss = torch.stack(losses)
            loss.sum().backward()  # each offspring's gradient lands in its own row
        pop.adam_step(pop.children_rows)

        # Fitness on n noise vectors shared by all offspring; keep the samples for the D steps.
        z_eval = self.make_noise(n)
        with torch.no_grad():
            samples = torch.stack([pop.child(c)(z_eval) for c in range(lam)])  # [lam, n, ...]
        fitness = self.mean_over_ranks(self.fitness(samples, real_fit)[0])
        top, finite = top_mu(fitness, mu)  # a diverged (NaN/-inf) offspring is never kept
        self.flag_survivors(finite)
        ranked = torch.where(valid_fitness(fitness), fitness, torch.full_like(fitness, float("-inf")))
        pop.select(top, fitness[top])
        self.count_operators([self.operator_name(c, is_cross_l[c]) for c in top.tolist()])

        fake = samples[top].reshape(mu * n, *samples.shape[2:])
        order = torch.randperm(mu * n, generator=self.rng, device=self.rng.device)[: n_d * m]
        d_loss = self.d_steps(real, fake[order.to(fake.device)])
        finite = torch.isfinite(loss)
        return {
            # NaN only when every offspring diverged (a diverged one simply loses selection)
            "loss/g": torch.where(finite, loss, torch.full_like(loss, float("nan"))).nanmean(),
            "loss/d": d_loss,
            "fitness/best": ranked.max(),
            "fitness/mean_survivors": fitness[top].mean(),
            "crossover/offspring_share": is_cross.float().mean(),
            "crossover/survivor_share": is_cross[top].float().mean(),
        }
