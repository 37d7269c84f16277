"""GAGAN: genetic-algorithm-guided discriminators (Konstantopoulou et al. 2024; summary by Khan & Siddiqui 2025).

A population of P discriminators (each with its own Adam) and one generator trained by backprop.
Per iteration (docs/algorithms.md, "GAGAN"):

    x_fake = G(z), m samples (no grad)
    repeat n_D: every D_p <- Adam(D_p, grad BCE(D_p(x_real), 1) + BCE(D_p(x_fake), 0))   # one fused step
    F_p = acc_p + 0.2 * (-2 |W_p - 0.5|) - 0.5 BCE_p      on this batch, after the D steps
    every k_GA iterations: elites (top 30%) stay; other slots <- mutate(crossover(elite, elite))
    G <- Adam(G, grad softplus(-C_best(G(z'))))          # best D by fitness (option: mean over all Ds)

The Ds live in a :class:`Population` (flat rows with per-row Adam), so the GA, ``reset``/``inherit`` of the
optimizer state and checkpoints of every D with its Adam state are row operations; running batch-norm
buffers are in ``buffers_flat`` and are not genes.
"""

from __future__ import annotations

import contextlib
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor

from ..engine.population import Population
from ..evolution import genetic
from ..evolution.losses import gradient_penalty, heuristic_loss, r1_penalty
from .base import EvoGANModule, frozen
from .config import GAGANConfig


class GAGAN(EvoGANModule):
    """P discriminators evolved by a GA every ``ga_every`` iterations; one generator by backprop."""

    records = ("last_ga",)  # the last GA step for the logs: NaN before the first one, not training state

    algo_name = "gagan"
    config_class = GAGANConfig
    hp: GAGANConfig

    @property
    def num_discriminators(self) -> int:
        return self.hp.num_discriminators

    # ------------------------------------------------------------------ construction
    def build_discriminator(self) -> Population:
        """The D population: P parents, no child slots (the GA rewrites non-elite rows in place)."""
        return Population(
            lambda: self.net_spec.build_discriminator(self.shape),
            num_parents=self.num_discriminators,
            num_children=0,
            lr=self.hp.lr_d,
            betas=tuple(self.hp.betas),
            independent_init=self.hp.independent_init_d,
        )

    def __init__(self, cfg) -> None:
        super().__init__(cfg)
        p = self.num_discriminators
        # Identity of each D (a GA offspring gets a fresh id) to measure elite turnover; in the checkpoint.
        self.register_buffer("d_ids", torch.arange(p))
        self.register_buffer("next_id", torch.tensor(p))
        self.register_buffer("prev_elite_ids", torch.full((genetic.num_elites(p, self.elite_fraction),), -1))
        # Stats of the most recent GA step, repeated in every logged row until the next one.
        self.register_buffer("last_ga", torch.full((4,), float("nan")))  # generation, turnover, best, mean

    @property
    def elite_fraction(self) -> float:
        return self.hp.elite_fraction

    def configure_optimizers(self) -> list:
        """No Lightning optimizer: every D and the generator keep their Adam state in their Population rows.
        An empty list, not None: for None Lightning warns ("returned `None`") and installs a mock optimizer."""
        return []

    def architecture(self) -> dict[str, Any]:
        return {**super().architecture(), "num_discriminators": self.num_discriminators}

    # ------------------------------------------------------------------ helpers
    def _noisy(self, x: Tensor) -> Tensor:
        """Instance noise on D inputs: x + N(0, sigma^2) (off at sigma = 0)."""
        sigma = self.hp.input_noise or 0.0
        if sigma <= 0:
            return x
        return x + sigma * torch.randn(x.shape, generator=self.rng, device=x.device, dtype=x.dtype)

    def _real_target(self) -> float:
        smooth = self.hp.label_smoothing
        return 1.0 if smooth is None else smooth

    def d_step(self, real: Tensor, fake: Tensor) -> Tensor:
        """Every D takes one Adam step on BCE(D(real), t) + BCE(D(fake), 0) (t = 0.9 with one-sided label
        smoothing, else 1) on the same batch; one backward and one fused update for all P.
        Returns the per-D losses [P] (detached)."""
        ds, t = self.discriminator, self._real_target()
        gp, r1 = self.hp.gradient_penalty, self.hp.r1_penalty
        real, fake = self._noisy(real), self._noisy(fake.detach())
        losses = []
        for i in range(ds.num_parents):
            d = ds.member(i)
            r, f = d(real), d(fake)  # separate calls: batch-norm statistics never mix
            loss = t * F.softplus(-r).mean() + (1.0 - t) * F.softplus(r).mean() + F.softplus(f).mean()
            if gp > 0:
                loss = loss + gp * gradient_penalty(d, real, fake, rng=self.rng)
            if r1 > 0:
                loss = loss + 0.5 * r1 * r1_penalty(d, real)
            losses.append(loss)
        losses_t = torch.stack(losses)
        ds.zero_grad(ds.parent_rows)
        losses_t.sum().backward()  # each D's gradient lands in its own row (a diverged D spoils only its own)
        ds.adam_step(ds.parent_rows)
        return losses_t.detach()

    def d_steps(self, real: Tensor, fake: Tensor) -> Tensor:
        m, n_d = self.hp.batch_size, self.hp.d_steps
        losses = [self.d_step(real[i * m : (i + 1) * m], fake[i * m : (i + 1) * m]) for i in range(n_d)]
        return torch.stack(losses).mean(0)

    @torch.no_grad()
    def fitness(self, real: Tensor, fake: Tensor) -> Tensor:
        """Fitness [P] of every D on (real, fake) [m, ...] (clean inputs, each D in its own calls)."""
        ds = self.discriminator
        r = torch.stack([ds.member(i)(real) for i in range(ds.num_parents)])
        f = torch.stack([ds.member(i)(fake) for i in range(ds.num_parents)])
        fitness = genetic.gagan_fitness(r, f, self.hp.fitness)
        return self.mean_over_ranks(fitness)  # every rank ranks the Ds alike (same elites, same G target)

    def ga_step(self, fitness: Tensor) -> dict[str, Tensor]:
        """Elitism, parent choice, crossover, mutation and the optimizer-state rule on the D population."""
        hp = self.hp
        ds = self.discriminator
        step = genetic.genetic_step(
            ds.params[ds.parent_rows],
            fitness,
            sizes=genetic.tensor_sizes(ds.member(0)),
            allowed=genetic.weight_mask(ds.member(0), hp.mutation_scope),
            elite_fraction=self.elite_fraction,
            parent_selection=hp.parent_selection,
            tournament_size=hp.tournament_size,
            crossover_mode=hp.crossover,
            mutation_rate=hp.mutation_rate,
            mutation_std=hp.mutation_std,
            optimizer_after_ga=hp.optimizer_after_ga,
            generator=self.shared_rng,  # every rank makes the same GA choices
        )
        ds.apply_ga(step)
        elite_ids = self.d_ids[step.elites]
        turnover = (~torch.isin(elite_ids, self.prev_elite_ids)).float().mean()
        self.prev_elite_ids.copy_(elite_ids)
        k = step.replaced.numel()
        self.d_ids.index_copy_(0, step.replaced, self.next_id + torch.arange(k, device=self.d_ids.device))
        self.next_id.add_(k)
        finite = torch.nan_to_num(fitness, nan=float("-inf"))
        self.last_ga.copy_(
            torch.stack(
                [
                    torch.tensor(float(self.generation + 1), device=fitness.device),
                    turnover,
                    finite.max(),
                    fitness.nanmean(),
                ]
            )
        )
        return {"ga/elite_turnover": turnover}

    def generator_step(self, fitness: Tensor) -> tuple[Tensor, Tensor]:
        """One Adam step of G on the non-saturating loss against the best D by ``fitness`` [P] (or the mean
        over all current Ds with a finite loss). Returns (loss, index of the D trained against; -1 for the ensemble)."""
        pop, ds, m = self.generators, self.discriminator, self.hp.batch_size
        g = pop.parent(0)
        pop.zero_grad(pop.parent_rows)
        x = self._noisy(g(self.make_noise(m)))
        if self.hp.generator_target == "best":
            target = int(torch.argmax(torch.nan_to_num(fitness, nan=float("-inf"))))
            with frozen(ds.member(target)):
                loss = heuristic_loss(ds.member(target)(x))
            target_t = torch.tensor(float(target), device=x.device)
        else:
            # a diverged D (it is replaced at the next GA step) is left out: its NaN would reach G's gradient
            healthy = [i for i, ok in enumerate(torch.isfinite(ds.params).all(1).tolist()) if ok] or [0]
            with contextlib.ExitStack() as stack:
                for i in healthy:
                    stack.enter_context(frozen(ds.member(i)))
                loss = torch.stack([heuristic_loss(ds.member(i)(x)) for i in healthy]).mean()
            target_t = torch.tensor(-1.0, device=x.device)
        loss.backward()
        clip = self.hp.g_grad_clip or 0.0
        if clip > 0:
            grads = pop.grads[pop.parent_rows]
            norm = grads.norm(dim=1, keepdim=True)
            grads.mul_((clip / (norm + 1e-6)).clamp(max=1.0))
        pop.adam_step(pop.parent_rows)
        return loss.detach(), target_t

    # ------------------------------------------------------------------ one iteration
    def generation_step(self, real: Tensor) -> dict[str, Tensor]:
        m, n_d = self.hp.batch_size, self.hp.d_steps
        g = self.generators.parent(0)
        # 1. every D takes its step(s) on the same real/fake batch
        with torch.no_grad():
            fake = g(self.make_noise(n_d * m))
        d_losses = self.d_steps(real, fake)
        # fitness AFTER this iteration's D steps, on the current (last) batch
        fitness = self.fitness(real[(n_d - 1) * m : n_d * m], fake[(n_d - 1) * m : n_d * m])
        self.discriminator.fitness.copy_(fitness)
        stats: dict[str, Tensor] = {
            "fitness/best": torch.nan_to_num(fitness, nan=float("-inf")).max(),
            "fitness/mean": fitness.nanmean(),
            "fitness/worst": torch.nan_to_num(fitness, nan=float("inf")).min(),
            "fitness/diverged": (~torch.isfinite(fitness)).float().sum(),
        }
        # 2. genetic step every k_GA iterations (elites, the best D among them, keep their slots unchanged)
        if (self.generation + 1) % self.hp.ga_every == 0:
            stats.update(self.ga_step(fitness))
        # 3. the generator trains against the best D by this iteration's fitness
        g_loss, target = self.generator_step(fitness)
        ok = torch.isfinite(d_losses)
        stats.update(
            {
                "loss/g": g_loss,
                # NaN only if every D diverged (a single diverged D is replaced by the next GA step)
                "loss/d": torch.where(ok, d_losses, torch.full_like(d_losses, float("nan"))).nanmean(),
                "d/target": target,
                "ga/last_generation": self.last_ga[0],
                "ga/last_elite_turnover": self.last_ga[1],
                "ga/last_best_fitness": self.last_ga[2],
                "ga/last_mean_fitness": self.last_ga[3],
            }
        )
        return stats
