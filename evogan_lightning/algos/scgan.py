"""Stochastic-crossover GAN (Alessi 2024; ALGORITHMS.md, "Stochastic-crossover GAN").

A population of mu >= 2 generators facing one discriminator. Per generation:

    for each parent G_i, for each of its k offspring c (a copy of G_i's weights AND Adam state):
        z_c ~ p(z), m samples
        with probability p_cross (crossover step), j ~ U({parents} \\ {i}):
            imitate:          loss = MSE(G_c(z_c), G_j(z_c).detach())
            relativistic:     loss = BCE(C(G_c(z_c)) - C(G_j(z_c)).detach(), 1)
            straight_through: x = G_c(z_c) + (G_j(z_c) - G_c(z_c)).detach();  loss = softplus(-C(x))
        otherwise (adversarial step):  loss = softplus(-C(G_c(z_c)))          # heuristic loss
        one Adam step of G_c on its loss (D frozen; all offspring in one fused update)
    F_c = mean C(G_c(z_eval)) on n noise vectors shared by all offspring        # raw mean logit
    parents <- the top-mu offspring by F ((mu, lambda) selection, lambda = k * mu)
    n_D D steps on the survivors' evaluation samples, shuffled (first n_D * m)

The crossover step replaces the offspring's adversarial step and costs one extra (no-grad) generator
forward of the partner. ``offspring_per_parent`` (k) defaults to 2 so that selection has something to
choose from; k = 1 is the literal "each parent produces one offspring" reading, where (mu, lambda) keeps
every offspring. Survivors are counted by operator (``adversarial`` / ``crossover``) and end up in
metrics.json as ``operator_share/*``.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor

from ..errors import ConfigError
from ..evolution.fitness import logit_fitness
from ..evolution.losses import heuristic_loss
from ..evolution.selection import top_mu
from .base import EvoGANModule, frozen

CROSSOVER_MODES = ("imitate", "relativistic", "straight_through")


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
        need = int(self.a("d_steps")) * int(self.a("batch_size"))
        if mu * n < need:
            raise ConfigError(
                f"the D steps need d_steps * batch_size = {need} fake samples but the survivors' evaluation "
                f"samples are only population_size * eval_batch_size = {mu * n}; raise algo.eval_batch_size"
            )

    def population_layout(self) -> tuple[int, int]:
        mu = int(self.a("population_size", 4))
        return mu, mu * int(self.a("offspring_per_parent", 2))

    def crossover_loss(self, x: Tensor, partner: Tensor) -> Tensor:
        """The crossover step's loss for offspring samples ``x`` [m, ...] given the partner's ``partner``
        [m, ...] on the same noise (no gradient flows into the partner)."""
        mode = self.a("crossover_mode", "imitate")
        partner = partner.detach()
        if mode == "imitate":
            return F.mse_loss(x, partner)
        d = self.discriminator
        if mode == "relativistic":
            return F.softplus(-(d(x) - d(partner).detach())).mean()  # BCE(C(x) - C(x_j), 1)
        return heuristic_loss(d(x + (partner - x).detach()))  # straight_through

    def generation_step(self, real: Tensor) -> dict[str, Tensor]:
        pop, d = self.generators, self.discriminator
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
                    losses.append(self.crossover_loss(x, x_partner))
                else:
                    losses.append(heuristic_loss(d(x)))
            loss = torch.stack(losses)
            loss.sum().backward()  # each offspring's gradient lands in its own row
        pop.adam_step(pop.children_rows)

        # Fitness on n noise vectors shared by all offspring; keep the samples for the D steps.
        z_eval = self.make_noise(n)
        with torch.no_grad():
            samples = torch.stack([pop.child(c)(z_eval) for c in range(lam)])  # [lam, n, ...]
            logits = torch.stack([d(samples[c]) for c in range(lam)])  # each offspring its own D call
        fitness = self.mean_over_ranks(logit_fitness(logits))  # CE-GAN's F = mean C(G(z)) [lam]
        top, finite = top_mu(fitness, mu)  # a diverged (NaN/Inf) offspring is never kept
        self.flag_survivors(finite)
        ranked = torch.where(finite, fitness, torch.full_like(fitness, float("-inf")))
        pop.select(top, fitness[top])
        self.count_operators(["crossover" if is_cross_l[c] else "adversarial" for c in top.tolist()])

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
