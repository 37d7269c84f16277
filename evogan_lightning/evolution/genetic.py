"""Genetic-algorithm operators on a population of discriminators (GAGAN; docs/algorithms.md, "GAGAN").

GAGAN (Konstantopoulou et al. 2024, as summarised by Khan & Siddiqui 2025) evolves P discriminators with a
plain GA every k_GA iterations: fitness, elitism, parent choice among the elites, crossover, Gaussian
mutation, and a rule for the Adam state of the offspring. Everything here works on flat gene rows
``[P, N]``: the genes of member ``i`` are all its learnable parameter tensors, concatenated (a
``Population``'s ``params[i]``); running batch-norm statistics are *not* genes (a child takes parent 1's
buffers). Every operator is pure: it returns new tensors and never modifies its inputs. ``genetic_step``
returns the plan of one GA generation (``GAStep``) and the population applies it
(``Population.apply_ga``), so this module knows nothing of the engine. All randomness comes from an
explicit ``torch.Generator`` so a run (and its resume) is reproducible.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

FITNESS_KINDS = ("paper", "neg_bce")
PARENT_SELECTIONS = ("uniform", "tournament")
CROSSOVER_MODES = ("per_tensor", "elementwise", "one_point")
OPTIMIZER_AFTER_GA = ("reset", "inherit")
MUTATION_SCOPES = ("weights", "all")


# ---------------------------------------------------------------------- fitness
def gagan_fitness(real_logits: Tensor, fake_logits: Tensor, kind: str = "paper") -> Tensor:
    """Fitness of P discriminators from their logits on one real batch [P, B] and one fake batch [P, B'].

    ``paper``: F = accuracy + 0.2 * (-2 * |W - 0.5|) - 0.5 * BCE, where
    accuracy = (mean[D(real) > 0.5] + mean[D(fake) < 0.5]) / 2, W = mean D(real) - mean D(fake)
    (probabilities D = sigmoid(logit)) and BCE = BCE(real, 1) + BCE(fake, 0), each a batch mean (the
    discriminator loss of the shared conventions). ``neg_bce``: F = -BCE. Returns [P]; a diverged D
    (non-finite logits) gets NaN.
    """
    if kind not in FITNESS_KINDS:
        raise ValueError(f"unknown GAGAN fitness {kind!r}; choose one of {list(FITNESS_KINDS)}")
    if real_logits.dim() != 2 or fake_logits.dim() != 2 or real_logits.shape[0] != fake_logits.shape[0]:
        raise ValueError(
            f"gagan_fitness needs logits [P, B] and [P, B'], got {tuple(real_logits.shape)} and "
            f"{tuple(fake_logits.shape)}"
        )
    real_logits, fake_logits = real_logits.float(), fake_logits.float()
    bce = F.softplus(-real_logits).mean(1) + F.softplus(fake_logits).mean(1)
    if kind == "neg_bce":
        return -bce
    p_real, p_fake = torch.sigmoid(real_logits), torch.sigmoid(fake_logits)
    accuracy = 0.5 * ((p_real > 0.5).float().mean(1) + (p_fake < 0.5).float().mean(1))
    w = p_real.mean(1) - p_fake.mean(1)
    fitness = accuracy + 0.2 * (-2.0 * (w - 0.5).abs()) - 0.5 * bce
    finite = torch.isfinite(real_logits).all(1) & torch.isfinite(fake_logits).all(1)
    return torch.where(finite, fitness, torch.full_like(fitness, float("nan")))


# ---------------------------------------------------------------------- elitism and parent choice
def num_elites(population: int, fraction: float) -> int:
    """Elites kept unchanged: round(fraction * P), at least 1 and at most P - 1 (so one slot evolves)."""
    if population < 2:
        raise ValueError(f"a GA needs at least 2 individuals, got {population}")
    if not 0.0 < fraction < 1.0:
        raise ValueError(f"elite_fraction must be in (0, 1), got {fraction}")
    return max(1, min(population - 1, round(fraction * population)))


def rank_by_fitness(fitness: Tensor) -> Tensor:
    """Indices [P] sorted by fitness, best first; NaN (diverged) counts as worst. Stable for ties."""
    f = torch.nan_to_num(fitness.float(), nan=float("-inf"))
    return torch.sort(f, descending=True, stable=True).indices


def choose_parents(
    elite_fitness: Tensor,
    n: int,
    method: str = "uniform",
    generator: torch.Generator | None = None,
    tournament_size: int = 3,
) -> tuple[Tensor, Tensor]:
    """Two parents per offspring, as indices into the elites ([n] each).

    ``uniform``: two *distinct* elites drawn uniformly (the same one twice only if there is one elite).
    ``tournament``: each parent is the fittest of ``tournament_size`` elites drawn uniformly with
    replacement (a tournament among the elites, so parents are always elites).
    """
    e = elite_fitness.numel()
    dev = elite_fitness.device
    if method == "uniform":
        first = torch.randint(e, (n,), generator=generator, device=dev)
        if e == 1:
            return first, first.clone()
        second = (first + torch.randint(1, e, (n,), generator=generator, device=dev)) % e
        return first, second
    if method == "tournament":
        if tournament_size < 1:
            raise ValueError(f"tournament_size must be >= 1, got {tournament_size}")
        f = torch.nan_to_num(elite_fitness.float(), nan=float("-inf"))
        picks = []
        for _ in range(2):
            contestants = torch.randint(e, (n, tournament_size), generator=generator, device=dev)
            winner = f[contestants].argmax(1)
            picks.append(contestants.gather(1, winner.unsqueeze(1)).squeeze(1))
        return picks[0], picks[1]
    raise ValueError(f"unknown parent_selection {method!r}; choose one of {list(PARENT_SELECTIONS)}")


# ---------------------------------------------------------------------- variation (pure)
def tensor_sizes(module: nn.Module) -> list[int]:
    """numel of each parameter tensor of ``module``, in the order a Population flattens them."""
    return [p.numel() for p in module.parameters()]


def weight_mask(module: nn.Module, scope: str = "weights") -> Tensor:
    """Bool [N] over the flat genes of ``module`` (Population order): True for the entries mutation may
    change. ``weights``: entries of weight matrices and kernels (parameters with >= 2 dims), not biases
    nor batch-norm scales/shifts (GAGAN's mutation, docs/algorithms.md); ``all``: every parameter."""
    if scope not in MUTATION_SCOPES:
        raise ValueError(f"unknown mutation scope {scope!r}; choose one of {list(MUTATION_SCOPES)}")
    parts = [
        torch.full((p.numel(),), scope == "all" or p.dim() >= 2, dtype=torch.bool)
        for p in module.parameters()
    ]
    return torch.cat(parts).to(next(module.parameters()).device)


def crossover(
    parent1: Tensor,
    parent2: Tensor,
    mode: str = "per_tensor",
    generator: torch.Generator | None = None,
    sizes: Sequence[int] | None = None,
) -> Tensor:
    """Children [n, N] from flat parent genes ``parent1``, ``parent2`` [n, N] (inputs are not modified).

    ``per_tensor``: every parameter tensor (segments of ``sizes``, which must sum to N) comes whole from
    parent 1 or parent 2 with probability 0.5 each. ``elementwise``: uniform crossover, each entry from
    either parent with probability 0.5. ``one_point``: a cut c uniform in [1, N - 1] over the flattened
    vector; entries [0, c) from parent 1, [c, N) from parent 2.
    """
    if parent1.shape != parent2.shape or parent1.dim() != 2:
        raise ValueError(
            f"parents must both be [n, N], got {tuple(parent1.shape)} and {tuple(parent2.shape)}"
        )
    n, length = parent1.shape
    dev = parent1.device
    if mode == "per_tensor":
        if sizes is None or sum(sizes) != length:
            raise ValueError(f"per_tensor crossover needs tensor sizes summing to {length}, got {sizes}")
        pick = torch.rand((n, len(sizes)), generator=generator, device=dev) < 0.5
        from_first = pick.repeat_interleave(torch.as_tensor(list(sizes), device=dev), dim=1)
    elif mode == "elementwise":
        from_first = torch.rand((n, length), generator=generator, device=dev) < 0.5
    elif mode == "one_point":
        if length < 2:
            return parent1.clone()
        cut = torch.randint(1, length, (n, 1), generator=generator, device=dev)
        from_first = torch.arange(length, device=dev).unsqueeze(0) < cut
    else:
        raise ValueError(f"unknown crossover {mode!r}; choose one of {list(CROSSOVER_MODES)}")
    return torch.where(from_first, parent1, parent2)


def mutate(
    genes: Tensor,
    rate: float,
    std: float,
    generator: torch.Generator | None = None,
    allowed: Tensor | None = None,
) -> Tensor:
    """Gaussian mutation: each entry of ``genes`` [n, N] gets N(0, std^2) noise with probability ``rate``
    (Bernoulli mask), only where ``allowed`` [N] (bool, ``weight_mask``; default: everywhere) is True.
    The random draws do not depend on ``allowed``. Returns a new tensor; ``genes`` is not modified."""
    if not 0.0 <= rate <= 1.0:
        raise ValueError(f"mutation_rate must be in [0, 1], got {rate}")
    if std < 0:
        raise ValueError(f"mutation_std must be >= 0, got {std}")
    mask = torch.rand(genes.shape, generator=generator, device=genes.device) < rate
    noise = torch.randn(genes.shape, generator=generator, device=genes.device, dtype=genes.dtype) * std
    if allowed is not None:
        mask = mask & allowed.to(mask.device)
    return genes + noise * mask


# ---------------------------------------------------------------------- one GA step
@dataclass
class GAStep:
    """The plan of one genetic step (LongTensors of slot indices, on the genes' device).
    ``Population.apply_ga`` carries it out."""

    elites: Tensor  # [E] slots that survive unchanged, best first
    replaced: Tensor  # [P - E] slots overwritten by offspring
    parent1: Tensor  # [P - E] slot of each offspring's first parent (its buffers/Adam state donor)
    parent2: Tensor  # [P - E] slot of each offspring's second parent
    genes: Tensor  # [P - E, N] the offspring's genes (crossover, then mutation)
    fitness: Tensor  # [P] the elites' fitness; NaN for offspring (not evaluated yet)
    reset_optimizer: bool  # every member (elites too) starts a fresh Adam


@torch.no_grad()
def genetic_step(
    genes: Tensor,
    fitness: Tensor,
    *,
    sizes: Sequence[int],
    allowed: Tensor | None = None,
    elite_fraction: float = 0.3,
    parent_selection: str = "uniform",
    tournament_size: int = 3,
    crossover_mode: str = "per_tensor",
    mutation_rate: float = 0.05,
    mutation_std: float = 0.05,
    optimizer_after_ga: str = "reset",
    generator: torch.Generator | None = None,
) -> GAStep:
    """Plan one GA generation for P individuals with genes [P, N] and ``fitness`` [P] (pure).

    The top ``round(elite_fraction * P)`` by fitness keep their slot, weights, buffers and Adam state.
    Every other slot becomes an offspring of two elites: crossover of their genes (``sizes``: the
    parameter tensors' numel, for ``per_tensor``), then Gaussian mutation where ``allowed`` [N]
    (``weight_mask``); its running buffers (not genes) come from parent 1. Adam state: ``inherit`` - the
    offspring takes parent 1's state and elites keep theirs; ``reset`` - every member starts a fresh Adam.
    """
    if optimizer_after_ga not in OPTIMIZER_AFTER_GA:
        raise ValueError(
            f"unknown optimizer_after_ga {optimizer_after_ga!r}; choose one of {list(OPTIMIZER_AFTER_GA)}"
        )
    size = genes.shape[0]
    if fitness.numel() != size:
        raise ValueError(f"fitness has {fitness.numel()} entries for {size} individuals")
    fitness = fitness.to(genes.device)
    order = rank_by_fitness(fitness)
    e = num_elites(size, elite_fraction)
    elites, replaced = order[:e], order[e:]
    i1, i2 = choose_parents(fitness[elites], size - e, parent_selection, generator, tournament_size)
    slot1, slot2 = elites[i1], elites[i2]
    children = crossover(genes[slot1], genes[slot2], crossover_mode, generator, sizes=sizes)
    children = mutate(children, mutation_rate, mutation_std, generator, allowed)
    new_fitness = fitness.clone().float()
    new_fitness[replaced] = float("nan")
    return GAStep(
        elites=elites,
        replaced=replaced,
        parent1=slot1,
        parent2=slot2,
        genes=children,
        fitness=new_fitness,
        reset_optimizer=optimizer_after_ga == "reset",
    )
