"""Survivor selection on the device: (mu, lambda) truncation with diverged individuals dropped.

E-GAN (Wang et al. 2019, Sec. III-D) keeps the mu best children by fitness and never the parents;
CE-GAN's "comprehensive selection" ranks mutants and crossover children together (and, as an option,
re-evaluated parents). Candidates with NaN or -inf fitness (diverged) are never selected; +inf is the
best possible score (E-GAN's F_d = -log ||grad|| of a zero gradient), not a divergence. The operators
choose; the population carries the choice out (``Population.replace_parents``).
"""

from __future__ import annotations

import torch
from torch import Tensor

from ..core.errors import DIVERGENCE_ADVICE, DivergedError

ALL_DIVERGED = "every candidate of a generation diverged (NaN/Inf loss or fitness). " + DIVERGENCE_ADVICE


def valid_fitness(fitness: Tensor) -> Tensor:
    """Bool mask of candidates that may be selected: not NaN and not -inf. +inf counts as valid (and best):
    E-GAN's diversity F_d = -log ||grad L_D|| is +inf when D's gradient vanishes, which is the ideal."""
    return ~torch.isnan(fitness) & (fitness != float("-inf"))


def top_mu(fitness: Tensor, mu: int) -> tuple[Tensor, Tensor]:
    """Indices [mu] of the mu fittest candidates (descending; ties go to the lower index), and the valid
    mask [K] (``valid_fitness``).

    ``fitness``: [K] with K >= mu. NaN/-inf candidates rank below every valid one; +inf ranks first. If fewer than mu are
    finite, the best finite ones fill the remaining places in turn (a diverged individual is never kept
    while one finite candidate exists). No host sync (CUDA-graph safe): the caller checks
    ``finite.any()`` (``check_survivors``) and stops the run when every candidate diverged."""
    if fitness.dim() != 1 or fitness.numel() < mu:
        raise ValueError(
            f"need a fitness vector with at least mu={mu} entries, got shape {tuple(fitness.shape)}"
        )
    finite = valid_fitness(fitness)
    ranked = torch.where(finite, fitness, torch.full_like(fitness, float("-inf")))
    # stable sort: exact ties (common in generation 1, where Adam's first step is lr*sign(grad) for every
    # mutation loss) go to the lower index on every device, unlike topk whose tie order is unspecified
    order = torch.sort(ranked, descending=True, stable=True).indices
    # place i takes the (i mod n_ok)-th best: the finite survivors repeat rather than a diverged one
    n_ok = finite.sum().clamp(min=1)
    place = torch.arange(mu, device=fitness.device)
    return order[torch.where(place < n_ok, place, place % n_ok)], finite


def check_survivors(finite: Tensor) -> None:
    """Raise DivergedError when no candidate is finite (one host sync; ``finite`` [K] from ``top_mu``)."""
    if not bool(finite.any()):
        raise DivergedError(ALL_DIVERGED)
