"""CE-GAN crossover: C-filtered knowledge distillation (Li et al., "E-GAN with crossover based knowledge
distillation"; docs/algorithms.md, "CE-GAN").

    pairs (p, q), p < q, of all mutants, ranked by W = F_p + F_q (descending); child r uses pair r (wrap)
    child <- copy of the FITTER parent (weights and Adam state)    [crossover_start=fitter; PDERL: worse]
    per noise row i: teacher_i = x_p[i] if C(x_p[i]) > C(x_q[i]) else x_q[i]     (ties -> second parent q;
        teacher=split: p teaches the even rows, q the odd ones, without asking D)
    one Adam step on the distillation loss: sum_i ||child(z_i) - teacher_i||^2 (the paper's Eq. 10,
    ``reduction="sum"``) or the mean over all elements (the reference code, ``reduction="mean"``);
    distill_step=line_search: one steepest-descent step whose length minimises a parabola fitted to the
    loss along -g (``trial_step``, ``parabola_step``) instead of the Adam step

Crossover only reads its parents' cached samples and logits; it never modifies them.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor


def max_crossover_children(num_mutants: int) -> int:
    """C(num_mutants, 2): the number of distinct mutant pairs."""
    return math.comb(num_mutants, 2)


def rank_pairs(fitness: Tensor, n_c: int) -> Tensor:
    """Parent pairs [n_c, 2] (LongTensor, p < q) for the n_c crossover children.

    All pairs of the K mutants are ranked by W = F_p + F_q, descending (stable: equal W keep the order
    (0,1), (0,2), ..., (1,2), ...); child r uses pair r mod C(K, 2). NaN and -inf fitness rank last, +inf
    (a zero-gradient F_d, the best score) first.
    ``fitness``: [K]."""
    k = fitness.numel()
    if k < 2:
        raise ValueError(f"crossover needs at least two mutants, got {k}")
    pairs = torch.triu_indices(k, k, offset=1, device=fitness.device).T  # [C(K,2), 2], p < q, row-major
    f = torch.nan_to_num(fitness.float(), nan=float("-inf"), posinf=torch.finfo(torch.float32).max)
    w = f[pairs[:, 0]] + f[pairs[:, 1]]
    w = torch.nan_to_num(w, nan=float("-inf"))
    order = torch.sort(w, descending=True, stable=True).indices
    r = torch.arange(n_c, device=fitness.device) % pairs.shape[0]
    return pairs[order[r]]


def fitter_parent(pairs: Tensor, fitness: Tensor) -> Tensor:
    """The fitter parent of each pair [n_c, 2] -> [n_c] mutant indices (ties -> the first parent)."""
    f = torch.nan_to_num(fitness.float(), nan=float("-inf"))
    first_wins = f[pairs[:, 0]] >= f[pairs[:, 1]]
    return torch.where(first_wins, pairs[:, 0], pairs[:, 1])


CROSSOVER_START = ("fitter", "worse")


def start_parent(pairs: Tensor, fitness: Tensor, start: str = "fitter") -> Tensor:
    """The parent each crossover child starts from (weights, optionally Adam state) [n_c]: the ``fitter``
    one (CE-GAN) or the ``worse`` one (PDERL, Bodnar et al. 2020: the child then learns the fitter
    parent's behaviour by distillation instead of inheriting it). Ties: fitter -> first, worse -> second."""
    fitter = fitter_parent(pairs, fitness)
    if start == "fitter":
        return fitter
    if start == "worse":
        return pairs.sum(dim=1) - fitter
    raise ValueError(f"unknown crossover start {start!r}; choose one of {list(CROSSOVER_START)}")


CROSSOVER_TEACHERS = ("filtered", "split")


def p_teaches(d_p: Tensor, d_q: Tensor, rule: str = "filtered") -> Tensor:
    """Which noise rows the first parent p teaches: bool [..., n] (the rest are taught by q).

    ``filtered`` (CE-GAN's C-filter): row i where C(x_p[i]) > C(x_q[i]) (ties go to q). It asks D which
    sample is better, so the teacher is a row-wise argmax of D: mode-seeking.
    ``split``: p teaches the even rows, q the odd ones, whatever D says: a uniform crossover in output
    space (the noise rows are i.i.d., so a fixed half is as good as a random one and needs no RNG).
    ``d_p``, ``d_q``: [..., n] logits."""
    if rule == "filtered":
        return d_p > d_q
    if rule == "split":
        even = torch.arange(d_p.shape[-1], device=d_p.device) % 2 == 0
        return even.expand(d_p.shape)
    raise ValueError(f"unknown crossover teacher {rule!r}; choose one of {list(CROSSOVER_TEACHERS)}")


def teacher_samples(x_p: Tensor, x_q: Tensor, p_rows: Tensor) -> Tensor:
    """Per-row teacher: x_p[i] where ``p_rows[i]`` (``p_teaches``), else x_q[i].

    ``x_p``, ``x_q``: [..., n, *sample_shape] samples of the two parents on the same noise rows;
    ``p_rows``: bool [..., n]. Returns [..., n, *sample_shape] (no copy of the parents)."""
    wins = p_rows.view(*p_rows.shape, *([1] * (x_p.dim() - p_rows.dim())))
    return torch.where(wins, x_p, x_q)


def other_parent_share(pairs: Tensor, start: Tensor, p_rows: Tensor) -> Tensor:
    """Share of noise rows whose teacher is the parent a child did NOT start from (a diagnostic).

    ``pairs`` [n_c, 2]; ``start`` [n_c] (``start_parent``); ``p_rows`` bool [n_c, n] (``p_teaches``).
    0 means the start parent taught every row: the teacher equals the child's own output, the
    distillation loss is 0 and the child differs from that parent only by Adam's momentum step. Returns a
    scalar tensor (no host sync)."""
    started_from_p = (start == pairs[:, 0]).unsqueeze(1)
    return (p_rows != started_from_p).float().mean()


DISTILL_REDUCTIONS = ("sum", "mean")


def distillation_loss(student: Tensor, teacher: Tensor, reduction: str = "mean") -> Tensor:
    """Distillation loss of ``student`` towards ``teacher`` [n, *sample_shape]; no gradient flows into the
    teacher. ``sum``: sum_i ||student_i - teacher_i||^2, the CE-GAN paper's Eq. 10; ``mean``: the mean
    over all elements (MSE, the reference code). The two differ by the factor n * prod(sample_shape), which
    decides how much the distillation gradient weighs against the Adam moments the child inherits."""
    sq = (student - teacher.detach()).pow(2)
    if reduction == "sum":
        return sq.sum()
    if reduction == "mean":
        return sq.mean()
    raise ValueError(
        f"unknown distillation reduction {reduction!r}; choose one of {list(DISTILL_REDUCTIONS)}"
    )


def trial_step(g_sq: Tensor, lr: float, num_params: int, eps: float = 1e-12) -> Tensor:
    """Trial step length a1 [k] along -g for ``parabola_step``: a1 * ||g|| = lr * sqrt(P), the length of an
    Adam step that moves every one of the P parameters by lr. ``g_sq``: ||g||^2 [k]."""
    return lr * math.sqrt(num_params) / g_sq.sqrt().clamp_min(eps)


def parabola_step(l0: Tensor, l1: Tensor, g_sq: Tensor, trial: Tensor, max_scale: float = 4.0) -> Tensor:
    """Step length a* [k] along -g that minimises the parabola through the loss L(0) = ``l0``, the slope
    L'(0) = -||g||^2 and L(a1) = ``l1`` at the trial step a1 = ``trial`` (a line search with one extra
    loss evaluation, Nocedal & Wright 2006, Sec. 3.5, quadratic interpolation):

        L(a) ~ l0 - ||g||^2 a + c a^2,   c = (l1 - l0 + ||g||^2 a1) / a1^2,   a* = ||g||^2 / (2 c)

    For a least-squares loss of a model linear in its parameters the parabola is exact (a Gauss-Newton
    step). a* is clamped to [0, max_scale * a1]; where c <= 0 (no minimum along -g) a* = a1. The step
    a* g does not depend on the loss's scale, so sum and mean reductions take the same step.
    All inputs [k]; returns [k] (tensor ops only, no host sync)."""
    curvature = (l1 - l0 + g_sq * trial) / trial.square()
    best = g_sq / (2.0 * curvature.clamp_min(torch.finfo(curvature.dtype).tiny))
    best = torch.minimum(best, max_scale * trial)
    return torch.where(curvature > 0, best, trial)
