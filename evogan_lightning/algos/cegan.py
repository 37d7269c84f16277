"""CE-GAN: E-GAN with crossover based knowledge distillation (Li et al.; docs/algorithms.md, "CE-GAN").

The E-GAN skeleton (``EGAN``) plus a crossover and a cheaper fitness. Per generation:

    for each parent G_i: z_i ~ p(z), m samples, shared by its n_m mutations
        for each mutation M_h: mutant <- copy of G_i (weights + Adam);  one Adam step on M_h(C(mutant(z_i)))
    z* ~ p(z), n samples shared by ALL mutants;  F = mean C(G(z*))   (raw logit; keep samples and logits)
    pairs (p, q) of mutants ranked by F_p + F_q; crossover child r uses pair r (wrap around):
        child <- copy of the fitter parent (weights + Adam)       [crossover_start, crossover_optimizer]
        teacher_i = G_p(z*_i) if C(G_p(z*_i)) > C(G_q(z*_i)) else G_q(z*_i)     (C-filtered, ties -> q;
                    crossover_teacher=split: G_p on the even rows, G_q on the odd ones)
        one Adam step on sum_i ||child(z*_i) - teacher_i||^2 (Eq. 10; distill_reduction=mean: the
        reference code's MSE; distill_step=line_search: a steepest-descent step of fitted length instead,
        the Adam moments untouched);  F_child on fresh n noise
    parents <- top-mu of mutants + crossover children ("comprehensive selection")
    n_D D steps on the survivors' evaluation samples, shuffled (first n_D * m)

Variants (each named for what it does; the defaults are chosen by the toy study, README "Results"):
``distill_reduction: sum | mean`` (Eq. 10 | reference MSE), ``crossover_start: fitter | worse`` (CE-GAN |
PDERL), ``crossover_optimizer: inherit | reset`` (the start parent's Adam state, or a fresh one, so the
step is pure distillation), ``crossover_teacher: filtered | split`` (D picks each row's teacher | each
parent teaches half the rows), ``distill_step: adam | line_search`` (one Adam step | one step of the
length that minimises the distillation loss along its gradient, so the child lands between its parents
whatever the loss scale or the inherited momentum). Options: ``fitness: egan`` (F_q + gamma F_d, the paper's fitness ablation), ``selection: children_only``
(only the crossover children compete; needs n_c >= mu) or ``with_parents`` (the parents, re-evaluated on
z*, compete too).
"""

from __future__ import annotations

from torch import Tensor

from ..evolution.crossover import (
    other_parent_share,
    p_teaches,
    rank_pairs,
    start_parent,
    teacher_samples,
)
from .config import CEGANConfig
from .egan import EGAN, Candidates


class CEGAN(EGAN):
    """CE-GAN: ``n_c`` crossover children per generation, logit fitness, comprehensive selection."""

    algo_name = "cegan"
    config_class = CEGANConfig
    hp: CEGANConfig

    @property
    def n_c(self) -> int:
        return self.hp.n_c

    def population_layout(self) -> tuple[int, int]:
        return self.mu, self.num_mutants + self.n_c

    def mutation_noise(self) -> Tensor:
        """CE-GAN: one z batch (m) per parent, shared by its n_m mutations: [mu * n_m, m, latent]."""
        m, n_m = self.hp.batch_size, len(self.mutation_names)
        z = self.make_noise(self.mu * m).view(self.mu, 1, m, -1)
        return z.expand(self.mu, n_m, m, z.shape[-1]).reshape(self.num_mutants, m, -1)

    def crossover(
        self, mutants: Candidates, z_shared: Tensor, real_grad: Tensor | None
    ) -> tuple[Candidates, Tensor, Tensor]:
        """The n_c crossover children (C-filtered knowledge distillation), evaluated on fresh noise.
        Reads the mutants' cached samples/logits on ``z_shared`` [n, latent]; never modifies the mutants.
        Returns (candidates, distillation losses [n_c], share of rows taught by the other parent)."""
        pop, n_c = self.generators, self.n_c
        pairs = rank_pairs(mutants.fitness, n_c)  # [n_c, 2]
        start = start_parent(pairs, mutants.fitness, self.hp.crossover_start)  # [n_c] mutants
        rows = self.rows(self.num_mutants, n_c)
        pop.copy_slots(rows, mutants.slots[start])  # weights AND Adam state of the start parent
        if self.hp.crossover_optimizer == "reset":
            pop.reset_adam(rows)  # the step is then pure distillation, no inherited momentum
        p, q = pairs[:, 0], pairs[:, 1]
        d_p, d_q = mutants.logits[p], mutants.logits[q]  # [n_c, n]
        p_rows = p_teaches(d_p, d_q, self.hp.crossover_teacher)  # [n_c, n]
        teacher = teacher_samples(mutants.samples[p], mutants.samples[q], p_rows)
        z = z_shared.expand(n_c, *z_shared.shape)
        loss = self.backend.distill(rows, z, teacher, self.hp.distill_reduction, self.hp.distill_step)
        cand = self.evaluate(rows, self.evaluation_noise(n_c), ["crossover"] * n_c, real_grad)
        return cand, loss, other_parent_share(pairs, start, p_rows)

    def generation_step(self, real: Tensor) -> dict[str, Tensor]:
        real_d, real_fit = self.split_real(real)
        real_grad = self.real_gradient(real_fit)  # None for the logit fitness
        g_loss = self.mutate()  # variation: mu * n_m mutants (one z per parent)
        z_shared = self.make_noise(self.hp.eval_batch_size)  # shared by all mutants
        k = self.num_mutants
        mutants = self.evaluate(
            self.rows(0, k), z_shared.expand(k, *z_shared.shape), self.mutation_names * self.mu, real_grad
        )
        parts = [mutants]
        stats: dict[str, Tensor] = {}
        if self.n_c > 0:
            children, x_loss, other = self.crossover(mutants, z_shared, real_grad)
            parts.append(children)
            stats["loss/crossover"] = x_loss.mean()
            stats["crossover/other_parent_share"] = other
        selection = self.hp.selection
        if selection == "children_only":
            parts = parts[1:]
        elif selection == "with_parents":
            pr = self.generators.parent_rows
            parents = self.evaluate(
                pr, z_shared.expand(self.mu, *z_shared.shape), ["parent"] * self.mu, real_grad
            )
            parts.append(parents)
        cand = Candidates.cat(parts)
        top = self.select(cand)  # top-mu of the candidates
        d_loss = self.train_discriminator(real_d, cand, top)
        return {**self.stats(cand, top, g_loss, d_loss), **stats}
