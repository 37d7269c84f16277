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

import math

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
from ..evolution.losses import GENERATOR_LOSSES, generator_loss
from ..evolution.selection import top_mu, valid_fitness
from ..run.errors import ConfigError
from ..run.memory import check_eval_batch_size
from .base import EvoGANModule, frozen

CROSSOVER_MODES = ("imitate", "relativistic", "straight_through")
FITNESS = ("logit", "egan")


def draw_partners(parent_of: Tensor, mu: int, generator: torch.Generator) -> Tensor:
    """A crossover partner for each offspring: a parent j != parent_of[c], uniform over the other mu - 1
    parents. ``parent_of``: LongTensor [lambda] with values in [0, mu). Returns LongTensor [lambda]."""
    shift = torch.randint(1, mu, parent_of.shape, generator=generator, device=generator.device)
    return (parent_of + shift.to(parent_of.device)) % mu


class SCGAN(EvoGANModule):
    """mu generators, each offspring updated adversarially or (with probability p_cross) by crossover."""

    algo_name = "scgan"

    def validate(self) -> None:
        mu = self.a("population_size", 4)
        if not isinstance(mu, int) or isinstance(mu, bool) or mu < 2:
            raise ConfigError(
                f"algo=scgan needs algo.population_size >= 2 (crossover takes a partner from the other "
                f"parents), got {mu!r}"
            )
        p = float(self.a("p_cross", 0.2))
        if not (0.0 <= p <= 1.0 and math.isfinite(p)):
            raise ConfigError(f"algo.p_cross must be a probability in [0, 1], got {p}")
        mode = self.a("crossover_mode", "imitate")
        if mode not in CROSSOVER_MODES:
            raise ConfigError(f"unknown algo.crossover_mode {mode!r}; choose one of {list(CROSSOVER_MODES)}")
        k = self.a("offspring_per_parent", 2)
        if not isinstance(k, int) or isinstance(k, bool) or k < 1:
            raise ConfigError(f"algo.offspring_per_parent must be an integer >= 1, got {k!r}")
        n = self.a("eval_batch_size", 256)
        if not isinstance(n, int) or isinstance(n, bool) or n < 1:
            raise ConfigError(f"algo.eval_batch_size must be an integer >= 1, got {n!r}")
        check_eval_batch_size(n)
        muts = self.a("mutations", ["heuristic"])
        if not isinstance(muts, list | tuple) or not muts or any(m not in GENERATOR_LOSSES for m in muts):
            raise ConfigError(
                f"algo.mutations must be a non-empty list of {sorted(GENERATOR_LOSSES)}, got {muts!r}"
            )
        fitness = self.a("fitness", "logit")
        if fitness not in FITNESS:
            raise ConfigError(f"unknown algo.fitness {fitness!r}; choose one of {list(FITNESS)}")
        gamma = self.a("gamma", 0.01)
        if (
            not isinstance(gamma, int | float)
            or isinstance(gamma, bool)
            or not (math.isfinite(gamma) and gamma >= 0)
        ):
            raise ConfigError(
                f"algo.gamma (the diversity weight of fitness=egan) must be >= 0, got {gamma!r}"
            )
        self.mutation_names: list[str] = list(muts)
        self.mutation_losses = [generator_loss(name) for name in muts]
        need = int(self.a("d_steps")) * int(self.a("batch_size"))
        if mu * n < need:
            raise ConfigError(
                f"the D steps need d_steps * batch_size = {need} fake samples but the survivors' evaluation "
                f"samples are only population_size * eval_batch_size = {mu * n}; raise algo.eval_batch_size"
            )

    def population_layout(self) -> tuple[int, int]:
        mu = int(self.a("population_size", 4))
        return mu, mu * int(self.a("offspring_per_parent", 2))

    @property
    def reals_per_generation(self) -> int:
        """n_D * m reals for the D steps, plus n for F_d with ``fitness=egan``."""
        extra = int(self.a("eval_batch_size", 256)) if self.a("fitness", "logit") == "egan" else 0
        return int(self.a("d_steps")) * int(self.a("batch_size")) + extra

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
        if self.a("fitness", "logit") == "logit":
            with torch.no_grad():
                logits = torch.stack([d(x) for x in samples])
            return logit_fitness(logits), logits
        real_grad = real_loss_grad(d, real_fit)
        f_d, logits = zip(*(diversity_fitness(d, x, real_grad) for x in samples))
        logits = torch.stack(logits)
        f_q = self.mean_over_ranks(quality_fitness(logits))
        return combined_fitness(
            f_q, self.mean_over_ranks(torch.stack(f_d)), float(self.a("gamma", 0.01))
        ), logits

    def crossover_loss(self, x: Tensor, partner: Tensor, c: int = 0) -> Tensor:
        """The crossover step's loss for offspring samples ``x`` [m, ...] given the partner's ``partner``
        [m, ...] on the same noise (no gradient flows into the partner)."""
        mode = self.a("crossover_mode", "imitate")
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
        n_real = int(self.a("d_steps")) * int(self.a("batch_size"))
        real, real_fit = real[:n_real], real[n_real:]
        mu, lam = pop.num_parents, pop.num_children
        m, n_d, n = int(self.a("batch_size")), int(self.a("d_steps")), int(self.a("eval_batch_size", 256))
        dev = pop.params.device
        # Offspring c belongs to parent c // k and starts from its weights and Adam state.
        parent_of = torch.arange(mu, device=dev).repeat_interleave(lam // mu)
        pop.spawn(parent_of)
        choices = self.shared_rng  # every rank flips the same coins and draws the same partners
        is_cross = torch.rand(lam, generator=choices, device=choices.device) < float(self.a("p_cross", 0.2))
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
