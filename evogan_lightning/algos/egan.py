"""E-GAN: evolutionary GAN (Wang et al., "Evolutionary Generative Adversarial Networks", IEEE TEVC 2019).

mu parents face one discriminator. Per generation (Algorithm 1 of the paper; docs/algorithms.md, "E-GAN"):

    for each parent G_i, for each mutation M_h in {minimax, heuristic, least_squares}:
        child <- copy of G_i (weights AND Adam state)
        z ~ p(z), m samples;   child <- Adam(child, grad M_h(C(child(z))))        # D frozen
        z' ~ p(z), n samples;  F_q = mean sigmoid(C(child(z')))                   # Eq. 6
        F_d = -log || grad_{theta_D} L_D(child(z'), x_real) ||                    # Eq. 7
        F = F_q + gamma * F_d                                                     # Eq. 8
    parents <- the mu fittest children ((mu, lambda): parents are never kept)
    n_D D steps on the survivors' evaluation samples, shuffled (first n_D * m)

All children of a generation take one fused Adam step; copies, fitness and selection stay on the device.
The per-child work runs through ``algo.backend`` (engine/backend.py).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import Tensor

from ..engine.backend import make_backend
from ..evolution.fitness import combined_fitness, logit_fitness, quality_fitness, real_loss_grad
from ..evolution.losses import generator_loss
from ..evolution.selection import top_mu, valid_fitness
from .base import EvoGANModule
from .config import EGANConfig


@dataclass
class Candidates:
    """Evaluated candidates of one generation: population ``slots`` [k], the operator that made each,
    fitness F [k], quality F_q [k], diversity F_d [k] (None for the logit fitness), evaluation samples
    [k, n, ...] and their logits [k, n]."""

    slots: Tensor
    operators: list[str]
    fitness: Tensor
    quality: Tensor
    diversity: Tensor | None
    samples: Tensor
    logits: Tensor

    @staticmethod
    def cat(parts: list[Candidates]) -> Candidates:
        div = [p.diversity for p in parts]
        return Candidates(
            torch.cat([p.slots for p in parts]),
            [o for p in parts for o in p.operators],
            torch.cat([p.fitness for p in parts]),
            torch.cat([p.quality for p in parts]),
            None if any(d is None for d in div) else torch.cat(div),  # type: ignore[arg-type]
            torch.cat([p.samples for p in parts]),
            torch.cat([p.logits for p in parts]),
        )


def _finite_mean(x: Tensor) -> Tensor:
    return torch.where(torch.isfinite(x), x, torch.full_like(x, float("nan"))).nanmean()


def _finite_max(x: Tensor) -> Tensor:
    return torch.where(torch.isfinite(x), x, torch.full_like(x, float("-inf"))).max()


class EGAN(EvoGANModule):
    """E-GAN with ``algo.mutations`` (n_m losses), ``population_size`` (mu) and fitness F_q + gamma F_d."""

    algo_name = "egan"
    config_class: type[EGANConfig] = EGANConfig
    hp: EGANConfig

    # ------------------------------------------------------------------ config
    @property
    def mutation_names(self) -> list[str]:
        """The n_m generator losses (``algo.mutations``), in order."""
        return list(self.hp.mutations)

    @functools.cached_property
    def mutation_losses(self) -> list[Callable[[Tensor], Tensor]]:
        return [generator_loss(name, self.hp.least_squares_on) for name in self.hp.mutations]

    @property
    def mu(self) -> int:
        return self.hp.population_size

    @property
    def num_mutants(self) -> int:
        """mu * n_m children made by mutation, in child slots [0, mu * n_m)."""
        return self.mu * len(self.mutation_names)

    @property
    def fitness_kind(self) -> str:
        return self.hp.fitness

    def population_layout(self) -> tuple[int, int]:
        return self.mu, self.num_mutants

    @property
    def reals_per_generation(self) -> int:
        """n_D * m reals for the D steps, plus n for F_d (the same n reals for every child)."""
        extra = self.hp.eval_batch_size if self.fitness_kind == "egan" else 0
        return self.hp.d_steps * self.hp.batch_size + extra

    def build_generators(self):
        pop = super().build_generators()
        if self.hp.backend == "batched":
            make_backend("batched", pop, self.discriminator)  # fails before training if nets can't be vmapped
        return pop

    def on_fit_start(self) -> None:
        self._backend = None  # re-pick after the device move (auto: batched on CUDA)
        super().on_fit_start()

    @property
    def backend(self):
        if getattr(self, "_backend", None) is None:
            self._backend = make_backend(self.hp.backend, self.generators, self.discriminator)
        return self._backend

    # ------------------------------------------------------------------ the steps of a generation
    def rows(self, start: int, count: int) -> slice:
        """Population slots of children ``[start, start + count)``."""
        first = self.generators.num_parents + start
        return slice(first, first + count)

    def mutation_noise(self) -> Tensor:
        """E-GAN: fresh noise for every child, [mu * n_m, m, latent]."""
        m = self.hp.batch_size
        return self.make_noise(self.num_mutants * m).view(self.num_mutants, m, -1)

    def evaluation_noise(self, k: int) -> Tensor:
        """E-GAN: n fresh noise vectors for each of ``k`` children, [k, n, latent]."""
        n = self.hp.eval_batch_size
        return self.make_noise(k * n).view(k, n, -1)

    def mutate(self) -> Tensor:
        """Every parent x every mutation: child c = parent c // n_m with mutation c % n_m takes one Adam
        step (D frozen). Returns the mutation losses [mu * n_m]."""
        pop, n_m = self.generators, len(self.mutation_names)
        parent_of = torch.arange(self.num_mutants, device=pop.params.device) // n_m
        rows = self.rows(0, self.num_mutants)
        pop.copy_slots(rows, parent_of)
        return self.backend.mutate(rows, self.mutation_losses * self.mu, self.mutation_noise())

    def evaluate(self, rows: slice, z: Tensor, operators: list[str], real_grad: Tensor | None) -> Candidates:
        """Fitness of the members in ``rows`` on noise ``z`` [k, n, latent]: E-GAN's F_q + gamma F_d
        (``real_grad`` = the real part of grad L_D) or CE-GAN's mean logit (``real_grad`` None).
        With several ranks the fitness terms are averaged over them, so every rank selects alike."""
        slots = torch.arange(rows.start, rows.stop, device=self.generators.params.device)
        reduce = self.mean_over_ranks
        if real_grad is not None:
            samples, logits, f_d = self.backend.evaluate_egan(rows, z, real_grad)
            f_q, f_d = reduce(quality_fitness(logits)), reduce(f_d)
            f = combined_fitness(f_q, f_d, self.hp.gamma)
            return Candidates(slots, operators, f, f_q, f_d, samples, logits)
        samples, logits = self.backend.evaluate_logits(rows, z)
        return Candidates(
            slots,
            operators,
            reduce(logit_fitness(logits)),
            reduce(quality_fitness(logits)),
            None,
            samples,
            logits,
        )

    def real_gradient(self, real_fit: Tensor) -> Tensor | None:
        """The real part of grad_{theta_D} L_D on the generation's n fitness reals (once per generation),
        or None for the logit fitness."""
        return real_loss_grad(self.discriminator, real_fit) if self.fitness_kind == "egan" else None

    def select(self, cand: Candidates) -> Tensor:
        """(mu, lambda) truncation: the top-mu candidates become the parents (weights + Adam state);
        diverged candidates are dropped (the run stops at the next check if all diverged). Returns the chosen
        indices [mu]. Stays on the device (no host sync)."""
        top, finite = top_mu(cand.fitness, self.mu)
        self.flag_survivors(finite)
        self.generators.replace_parents(cand.slots[top], cand.fitness[top])
        self.count_survivors(cand.operators, top)
        return top

    def train_discriminator(self, real_d: Tensor, cand: Candidates, top: Tensor) -> Tensor:
        """n_D D steps; fakes = the survivors' evaluation samples, shuffled with the run's RNG, first n_D * m."""
        fake = cand.samples[top].flatten(0, 1)
        order = torch.randperm(fake.shape[0], generator=self.rng, device=self.rng.device)
        need = self.hp.d_steps * self.hp.batch_size
        return self.d_steps(real_d, fake[order[:need].to(fake.device)])

    def split_real(self, real: Tensor) -> tuple[Tensor, Tensor]:
        """(reals for the D steps [n_D * m], reals for the fitness [n or 0])."""
        need = self.hp.d_steps * self.hp.batch_size
        return real[:need], real[need:]

    def stats(self, cand: Candidates, top: Tensor, g_loss: Tensor, d_loss: Tensor) -> dict[str, Tensor]:
        out = {
            "loss/g": _finite_mean(g_loss),
            "loss/d": d_loss,
            "fitness/best": _finite_max(cand.fitness),
            "fitness/mean": _finite_mean(cand.fitness),
            "fitness/quality": _finite_mean(cand.quality),
            "fitness/survivors": cand.fitness[top].mean(),
            "fitness/survivors_quality": cand.quality[top].mean(),
            "diverged/children": (~valid_fitness(cand.fitness)).sum().float(),
        }
        if cand.diversity is not None:
            out["fitness/diversity"] = _finite_mean(cand.diversity)
            out["fitness/survivors_diversity"] = cand.diversity[top].mean()
        return out

    # ------------------------------------------------------------------ one generation
    def generation_step(self, real: Tensor) -> dict[str, Tensor]:
        real_d, real_fit = self.split_real(real)
        g_loss = self.mutate()  # variation: mu * n_m children
        cand = self.evaluate(  # fitness on fresh noise per child
            self.rows(0, self.num_mutants),
            self.evaluation_noise(self.num_mutants),
            self.mutation_names * self.mu,
            self.real_gradient(real_fit),
        )
        top = self.select(cand)  # (mu, lambda)
        d_loss = self.train_discriminator(real_d, cand, top)
        return self.stats(cand, top, g_loss, d_loss)
