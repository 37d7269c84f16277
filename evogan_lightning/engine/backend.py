"""The per-child work of E-GAN/CE-GAN behind one small interface (``algo.backend``).

An algorithm file says *what* happens to a block of child rows (mutate with these losses, distil towards
these teachers, evaluate on this noise); a backend says *how*. ``LoopBackend`` runs the children one after
another (fastest on a CPU); every gradient lands in the child's own row of ``Population.grads`` and all
children of a block take ONE fused ``Population.adam_step``. A batched backend (stacked parameters with
``torch.func`` + ``vmap``, see ``engine/functional.py``) can implement the same methods without
touching the algorithm files.

Shapes: ``rows`` is a slice of k population slots; noise ``z`` is [k, B, latent] (row j for slot
``rows.start + j``); samples are [k, B, *sample_shape]; logits [k, B].
"""

from __future__ import annotations

import logging
from collections.abc import Callable

import torch
from torch import Tensor, nn

from ..core.errors import ConfigError
from ..evolution.crossover import distillation_loss, parabola_step, trial_step
from ..evolution.fitness import diversity_fitness
from .functional import (
    NotVmappable,
    batched_egan_fitness,
    batched_logit_fitness,
    batched_mutation_grads,
    check_vmappable,
    loss_codes,
    vmapped_generate,
)
from .population import Population, _average_across_ranks

log = logging.getLogger(__name__)

BACKENDS = ("auto", "loop", "batched")

# The distillation step of a CE-GAN crossover child (algo.distill_step), after its gradient is in its row:
# the one place that lists the choices, holds the code-side default and dispatches (algos/config.py takes
# its choices and default from here). Each: (backend, rows, losses [k] at theta, loss_at(delta)) -> None.
DistillUpdate = Callable[["LoopBackend", slice, Tensor, Callable[[Tensor], Tensor]], None]
DISTILL_STEPS: dict[str, DistillUpdate] = {
    "adam": lambda backend, rows, l0, loss_at: backend.pop.adam_step(rows),  # CE-GAN: one Adam step
    "line_search": lambda backend, rows, l0, loss_at: backend._line_search_step(rows, l0, loss_at),
}
DEFAULT_DISTILL_STEP = (
    "adam"  # what a checkpoint without the option ran with (the YAML default is line_search)
)


def distill_update(step: str) -> DistillUpdate:
    """The update of ``algo.distill_step=step``; ValueError naming the choices for anything else."""
    if step not in DISTILL_STEPS:
        raise ValueError(f"unknown algo.distill_step {step!r}; choose one of {list(DISTILL_STEPS)}")
    return DISTILL_STEPS[step]


class LoopBackend:
    """Children one at a time; D stays in train mode and each child's batch goes through D in its own
    call (batch-norm statistics never mix). D's parameter gradients are never computed or touched."""

    name = "loop"

    def __init__(self, population: Population, discriminator: nn.Module) -> None:
        self.pop, self.d = population, discriminator

    def _slots(self, rows: slice) -> range:
        return range(rows.start, rows.stop)

    def _step(self, rows: slice, losses: list[Tensor]) -> Tensor:
        """Backpropagate each child's loss into its own gradient row, then one fused Adam step."""
        pop = self.pop
        pop.zero_grad(rows)
        loss = torch.stack(losses)
        params = [p for s in self._slots(rows) for p in pop.member(s).parameters()]
        loss.sum().backward(inputs=params)  # grads of D are not computed (D is frozen for G steps)
        pop.adam_step(rows)
        return loss.detach()

    def mutate(self, rows: slice, losses: list[Callable[[Tensor], Tensor]], z: Tensor) -> Tensor:
        """One Adam step of child ``rows.start + j`` on ``losses[j](C(G_j(z[j])))`` (E-GAN Eq. 3-5),
        D frozen. ``z`` [k, m, latent]. Returns the losses [k] (before the step)."""
        pop, d = self.pop, self.d
        out = [fn(d(pop.member(s)(z[j]))) for j, (s, fn) in enumerate(zip(self._slots(rows), losses))]
        return self._step(rows, out)

    def distill(
        self,
        rows: slice,
        z: Tensor,
        teacher: Tensor,
        reduction: str = "mean",
        step: str = DEFAULT_DISTILL_STEP,
    ) -> Tensor:
        """One step of each child on the distillation loss of G_j(z[j]) towards teacher[j] (CE-GAN
        crossover; ``reduction`` sum | mean, ``crossover.distillation_loss``): the gradient into each child's
        row, then the update ``DISTILL_STEPS[step]`` (an Adam step, or a line-search step). ``z``
        [k, n, latent], ``teacher`` [k, n, ...]. Returns the losses [k] (before the step)."""
        update = distill_update(step)
        pop = self.pop

        def losses() -> list[Tensor]:
            return [
                distillation_loss(pop.member(s)(z[j]), teacher[j], reduction)
                for j, s in enumerate(self._slots(rows))
            ]

        pop.zero_grad(rows)
        loss = torch.stack(losses())
        params = [p for s in self._slots(rows) for p in pop.member(s).parameters()]
        loss.sum().backward(inputs=params)

        @torch.no_grad()
        def loss_at(delta: Tensor) -> Tensor:
            start = pop.params[rows].clone()
            pop.params[rows].sub_(delta)
            out = torch.stack(losses())
            pop.params[rows].copy_(start)  # exact restore (p - d + d need not equal p)
            return out

        update(self, rows, loss.detach(), loss_at)
        return loss.detach()

    @torch.no_grad()
    def _line_search_step(self, rows: slice, l0: Tensor, loss_at: Callable[[Tensor], Tensor]) -> None:
        """theta <- theta - a* g for every child in ``rows``, with g its gradient row and a* from one extra
        loss evaluation at a trial step (``crossover.trial_step``, ``crossover.parabola_step``). The
        children's Adam moments and step counts are not touched. ``l0`` [k] losses at theta;
        ``loss_at(delta [k, P])`` returns the losses [k] at theta - delta without changing theta."""
        pop = self.pop
        g = pop.grads[rows]
        _average_across_ranks(g)
        g_sq = (g * g).sum(dim=1)
        trial = trial_step(g_sq, pop.lr, pop.num_parameters)
        both = torch.stack([l0, loss_at(trial.unsqueeze(1) * g)])
        _average_across_ranks(both)  # every rank takes the same step
        alpha = parabola_step(both[0], both[1], g_sq, trial)
        pop.params[rows].sub_(alpha.unsqueeze(1) * g)

    @torch.no_grad()
    def generate(self, rows: slice, z: Tensor) -> Tensor:
        """Samples [k, n, ...] of the k members on their own noise ``z`` [k, n, latent]."""
        return torch.stack([self.pop.member(s)(z[j]) for j, s in enumerate(self._slots(rows))])

    def evaluate_logits(self, rows: slice, z: Tensor) -> tuple[Tensor, Tensor]:
        """(samples [k, n, ...], logits [k, n]) with each member's batch in its own D call."""
        samples = self.generate(rows, z)
        with torch.no_grad():
            logits = torch.stack([self.d(x) for x in samples])
        return samples, logits

    def evaluate_egan(self, rows: slice, z: Tensor, real_grad: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """(samples [k, n, ...], logits [k, n], F_d [k]) with F_d = -log||g_real + g_fake|| per member
        (E-GAN Eq. 7; ``real_grad`` [P_D] computed once per generation)."""
        samples = self.generate(rows, z)
        f_d, logits = zip(*(diversity_fitness(self.d, x, real_grad) for x in samples))
        return samples, torch.stack(logits), torch.stack(f_d)


class BatchedBackend(LoopBackend):
    """All k children in one vmapped call per operation (``torch.func.functional_call`` + ``vmap`` over the
    population's zero-copy stacked parameter views, engine/functional.py): one forward/backward for all
    mutation steps, one for all distillation steps, one for all fitness evaluations (each child's batch
    still gets its own D batch statistics), followed by the same fused Adam update as the loop. Needs a
    generator without running batch-norm statistics (e.g. egan32); pays off on a GPU, where the loop is
    launch-latency bound."""

    name = "batched"

    def __init__(self, population: Population, discriminator: nn.Module) -> None:
        super().__init__(population, discriminator)
        check_vmappable(population)
        self._codes: dict[tuple[int, ...], tuple[list, Tensor]] = {}

    def mutate(self, rows: slice, losses: list[Callable[[Tensor], Tensor]], z: Tensor) -> Tensor:
        key = tuple(id(f) for f in losses)
        if key not in self._codes or self._codes[key][1].device != z.device:  # first generation only
            self._codes[key] = loss_codes(losses, z.device)
        out = batched_mutation_grads(self.pop, rows, self.d, losses, z, self._codes[key])
        self.pop.adam_step(rows)
        return out

    def distill(
        self,
        rows: slice,
        z: Tensor,
        teacher: Tensor,
        reduction: str = "mean",
        step: str = DEFAULT_DISTILL_STEP,
    ) -> Tensor:
        update = distill_update(step)
        pop = self.pop

        def losses(flat: Tensor) -> Tensor:  # [k], one op per stage for all children
            x = vmapped_generate(pop, flat, z)
            return torch.vmap(lambda s, t: distillation_loss(s, t, reduction))(x, teacher)

        flat = pop.params[rows].detach().requires_grad_(True)
        per_child = losses(flat)
        (grad,) = torch.autograd.grad(per_child.sum(), flat)
        with torch.no_grad():
            pop.grads[rows].copy_(grad)
        update(self, rows, per_child.detach(), torch.no_grad()(lambda d: losses(pop.params[rows] - d)))
        return per_child.detach()

    @torch.no_grad()
    def generate(self, rows: slice, z: Tensor) -> Tensor:
        return vmapped_generate(self.pop, self.pop.params[rows], z)

    def evaluate_logits(self, rows: slice, z: Tensor) -> tuple[Tensor, Tensor]:
        _, samples, logits = batched_logit_fitness(self.pop, rows, self.d, z)
        return samples, logits

    def evaluate_egan(self, rows: slice, z: Tensor, real_grad: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        _, _, f_d, samples, logits = batched_egan_fitness(self.pop, rows, self.d, z, real_grad, gamma=0.0)
        return samples, logits, f_d.detach()


def make_backend(name: str, population: Population, discriminator: nn.Module) -> LoopBackend:
    """The backend named by ``algo.backend``: ``loop``, ``batched``, or ``auto`` (batched on CUDA when the
    generator can be vmapped, loop otherwise - on a CPU the loop is faster)."""
    if name == "loop":
        return LoopBackend(population, discriminator)
    if name == "batched":
        try:
            return BatchedBackend(population, discriminator)
        except NotVmappable as err:
            raise ConfigError(str(err)) from err
    if name == "auto":
        if population.params.device.type == "cuda":
            try:
                return BatchedBackend(population, discriminator)
            except NotVmappable as err:
                log.warning("algo.backend=auto: using the loop backend (%s)", err)
        return LoopBackend(population, discriminator)
    raise ValueError(f"unknown algo.backend {name!r}; choose one of {list(BACKENDS)}")
