"""The population store: preallocated generator (or discriminator) slots with their own Adam states.

Slots ``[0, mu)`` hold the parents, slots ``[mu, mu + K)`` the children of the current generation.
Every slot is a real ``nn.Module`` of the same architecture, but its parameters, floating buffers and
gradients are *views* into rows of flat ``[S, N]`` tensors. This makes every evolutionary copy a single
row gather (``index_select`` / ``index_copy_``) that stays on the device, lets one fused Adam update
serve all children at once, and lets a batched (``torch.func``/``vmap``) backend see the whole population
as stacked parameters without copying. The references instead ``deepcopy`` state dicts and Adam states for
every child, every generation (E-GAN/CE-GAN public code); here nothing is ever allocated in the loop.

Checkpoints hold only the parents (children are scratch space, overwritten before use each generation).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

import torch
from torch import Tensor, nn

from ..core.errors import within_bound

if TYPE_CHECKING:
    from ..evolution.genetic import GAStep

Rows = slice | Tensor


def _flatten_into(groups: Sequence[Sequence[Tensor]], like: Tensor) -> Tensor:
    """Copy ``groups[i]`` (one list of tensors per slot) into a new flat [S, N] tensor and rebind each
    tensor's ``.data`` to its view in row i. Returns the flat tensor."""
    n = sum(t.numel() for t in groups[0])
    flat = torch.empty(len(groups), n, dtype=like.dtype, device=like.device)
    for i, tensors in enumerate(groups):
        off = 0
        for t in tensors:
            k = t.numel()
            flat[i, off : off + k].copy_(t.detach().reshape(-1))
            t.data = flat[i, off : off + k].view(t.shape)
            off += k
    return flat


def _rebind(flat: Tensor, groups: Sequence[Sequence[Tensor]]) -> None:
    """Point every tensor of ``groups[i]`` at its view in row i of ``flat`` (after a device move)."""
    for i, tensors in enumerate(groups):
        off = 0
        for t in tensors:
            k = t.numel()
            t.data = flat[i, off : off + k].view(t.shape)
            off += k


def _average_across_ranks(t: Tensor) -> None:
    """In-place mean over all processes (data-parallel gradients); no-op on one process."""
    import torch.distributed as dist

    if dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1:
        dist.all_reduce(t)
        t.div_(dist.get_world_size())


class Population(nn.Module):
    """``num_parents`` parents and ``num_children`` child slots of one architecture, each with Adam state.

    Args:
        factory: builds one member (called once per slot; the nets must be identical in structure).
        num_parents: mu, the members kept between generations (>= 1).
        num_children: scratch slots for offspring (>= 0). A baseline GAN uses ``num_children=0`` and trains
            its single parent in place.
        lr, betas, eps: Adam hyper-parameters (Kingma & Ba 2015), shared by all members.
        independent_init: initialise every parent independently instead of copying member 0
            (docs/algorithms.md: "mu copies of one initialised generator" is the default).
    """

    def __init__(
        self,
        factory: Callable[[], nn.Module],
        num_parents: int,
        num_children: int = 0,
        lr: float = 2e-4,
        betas: Sequence[float] = (0.5, 0.999),
        eps: float = 1e-8,
        independent_init: bool = False,
    ) -> None:
        super().__init__()
        if num_parents < 1:
            raise ValueError(f"population_size must be >= 1, got {num_parents}")
        if num_children < 0:
            raise ValueError(f"num_children must be >= 0, got {num_children}")
        self.num_parents, self.num_children = int(num_parents), int(num_children)
        self.lr, self.betas, self.eps = float(lr), (float(betas[0]), float(betas[1])), float(eps)
        slots = [factory() for _ in range(self.num_slots)]
        if not independent_init:
            state = slots[0].state_dict()
            for s in slots[1:]:
                s.load_state_dict(state)
        # Slots are deliberately NOT registered as submodules: their storage is managed here.
        self._slots: list[nn.Module] = slots
        self._param_groups = [list(s.parameters()) for s in slots]
        if not self._param_groups[0]:
            raise ValueError("population members have no parameters")
        dtypes = {p.dtype for p in self._param_groups[0]}
        if len(dtypes) != 1:
            raise ValueError(f"all parameters of a member must share one dtype, got {dtypes}")
        self._buffer_groups = [[b for b in s.buffers() if b.is_floating_point()] for s in slots]
        self._int_buffer_groups = [[b for b in s.buffers() if not b.is_floating_point()] for s in slots]
        self.params = _flatten_into(self._param_groups, self._param_groups[0][0])
        self.buffers_flat = (
            _flatten_into(self._buffer_groups, self._buffer_groups[0][0]) if self._buffer_groups[0] else None
        )
        # integer buffers (batch norm's num_batches_tracked) get flat rows too when they share one dtype, so
        # copies stay on the device (no host sync); mixed integer dtypes fall back to per-tensor copies
        ints = self._int_buffer_groups[0]
        self.int_buffers_flat = (
            _flatten_into(self._int_buffer_groups, ints[0])
            if ints and len({b.dtype for b in ints}) == 1
            else None
        )
        self.grads = torch.zeros_like(self.params)
        self.exp_avg = torch.zeros_like(self.params)
        self.exp_avg_sq = torch.zeros_like(self.params)
        self.step = torch.zeros(self.num_slots, dtype=torch.float32, device=self.params.device)
        self._bind_grads()
        self.register_buffer("fitness", torch.full((self.num_parents,), float("nan")))

    # ------------------------------------------------------------------ layout
    @property
    def num_slots(self) -> int:
        return self.num_parents + self.num_children

    @property
    def num_parameters(self) -> int:
        """Parameters of one member."""
        return self.params.shape[1]

    @property
    def parent_rows(self) -> slice:
        return slice(0, self.num_parents)

    @property
    def children_rows(self) -> slice:
        return slice(self.num_parents, self.num_slots)

    def member(self, slot: int) -> nn.Module:
        """The module living in ``slot`` (parents first, then children)."""
        return self._slots[slot]

    def parent(self, i: int) -> nn.Module:
        return self._slots[i]

    def child(self, j: int) -> nn.Module:
        return self._slots[self.num_parents + j]

    def parents(self) -> list[nn.Module]:
        return self._slots[: self.num_parents]

    # ------------------------------------------------------------------ copies (all in place, on device)
    def _flats(self) -> list[Tensor]:
        out = [self.params, self.exp_avg, self.exp_avg_sq, self.step]
        if self.buffers_flat is not None:
            out.append(self.buffers_flat)
        if self.int_buffers_flat is not None:
            out.append(self.int_buffers_flat)
        return out

    @torch.no_grad()
    def copy_slots(self, dst: Rows, src: Tensor) -> None:
        """Copy weights, buffers and Adam state of slots ``src`` (LongTensor [k]) into ``dst`` (a slice of k
        rows or a LongTensor [k]). Sources are gathered first, so overlapping src/dst are safe."""
        src = src.to(self.params.device)
        for flat in self._flats():
            gathered = flat.index_select(0, src)
            if isinstance(dst, slice):
                flat[dst].copy_(gathered)
            else:
                flat.index_copy_(0, dst.to(flat.device), gathered)
        if self._int_buffer_groups[0] and self.int_buffers_flat is None:  # mixed integer dtypes: host-side
            dst_list = range(self.num_slots)[dst] if isinstance(dst, slice) else dst.tolist()
            for d, s in zip(dst_list, src.tolist()):
                torch._foreach_copy_(self._int_buffer_groups[d], self._int_buffer_groups[s])

    def spawn(self, parent_index: Tensor) -> None:
        """Fill the child slots from parents: child j gets parent ``parent_index[j]``'s weights AND Adam
        state (moments and step count). ``parent_index``: LongTensor [num_children], values in [0, mu)."""
        if parent_index.numel() != self.num_children:
            raise ValueError(f"spawn needs {self.num_children} parent indices, got {parent_index.numel()}")
        self.copy_slots(self.children_rows, parent_index)

    def replace_parents(self, slots: Tensor, fitness: Tensor) -> None:
        """Parents <- members in ``slots`` (LongTensor [mu] of population slots, parents or children), with
        their weights, buffers and Adam state; ``fitness`` [mu] becomes the parents' fitness (E-GAN's and
        CE-GAN's survivor selection, ``evolution.selection.top_mu``)."""
        self.copy_slots(self.parent_rows, slots)
        self.fitness.copy_(fitness.detach().to(self.fitness))

    @torch.no_grad()
    def apply_ga(self, step: GAStep) -> None:
        """Carry out one genetic step on the parents (``evolution.genetic.genetic_step``'s plan): the
        replaced slots take their first parent's buffers and Adam state and the offspring's genes; with
        ``reset_optimizer`` every parent starts a fresh Adam; the fitness becomes the plan's."""
        self.copy_slots(step.replaced, step.parent1)  # weights are overwritten next
        self.params.index_copy_(0, step.replaced.to(self.params.device), step.genes.to(self.params))
        if step.reset_optimizer:
            self.reset_adam(self.parent_rows)
        self.fitness.copy_(step.fitness.to(self.fitness))

    def select(self, child_index: Tensor, fitness: Tensor | None = None) -> None:
        """(mu, lambda) replacement: parent i becomes child ``child_index[i]`` (LongTensor [mu], indices
        into the children). ``fitness`` [mu], if given, is stored as the new parents' fitness."""
        if child_index.numel() != self.num_parents:
            raise ValueError(f"select needs {self.num_parents} child indices, got {child_index.numel()}")
        self.copy_slots(self.parent_rows, child_index.to(self.params.device) + self.num_parents)
        if fitness is not None:
            self.fitness.copy_(fitness.detach().to(self.fitness))

    # ------------------------------------------------------------------ optimisation
    def _bind_grads(self) -> None:
        for i, group in enumerate(self._param_groups):
            off = 0
            for p in group:
                k = p.numel()
                p.grad = self.grads[i, off : off + k].view(p.shape)
                off += k

    @torch.no_grad()
    def zero_grad(self, rows: Rows) -> None:
        """Zero the gradients of ``rows`` (and make sure every parameter's .grad is its flat view)."""
        if any(p.grad is None for p in self._param_groups[0]):
            self._bind_grads()
        self.grads[rows].zero_() if isinstance(rows, slice) else self.grads.index_fill_(0, rows, 0.0)

    @torch.no_grad()
    def adam_step(self, rows: slice) -> None:
        """One Adam update (Kingma & Ba 2015, Alg. 1, as torch.optim.Adam) of every slot in ``rows`` at once,
        each with its own step count and moments. Gradients are read from the flat grad rows (averaged over
        processes first when training on several devices: one all-reduce for all children)."""
        b1, b2 = self.betas
        p, g = self.params[rows], self.grads[rows]
        _average_across_ranks(g)
        m, v, s = self.exp_avg[rows], self.exp_avg_sq[rows], self.step[rows]
        s.add_(1.0)
        m.lerp_(g, 1.0 - b1)
        v.mul_(b2).addcmul_(g, g, value=1.0 - b2)
        bc1 = 1.0 - torch.pow(b1, s)
        bc2_sqrt = (1.0 - torch.pow(b2, s)).sqrt()
        denom = (v.sqrt() / bc2_sqrt.unsqueeze(1)).add_(self.eps)
        p.addcdiv_(m * (self.lr / bc1).unsqueeze(1), denom, value=-1.0)

    @torch.no_grad()
    def reset_adam(self, rows: Rows) -> None:
        """Fresh Adam state (zero moments, step 0) for ``rows`` (a slice or LongTensor [k]); weights stay."""
        for flat in (self.exp_avg, self.exp_avg_sq, self.step):
            if isinstance(rows, slice):
                flat[rows].zero_()
            else:
                flat.index_fill_(0, rows.to(flat.device), 0.0)

    @torch.no_grad()
    def state_finite(self) -> Tensor:
        """True (a 0-dim bool tensor on the device, no sync) when the parents' weights, float buffers and Adam
        moments are finite and within ``core.errors.EXPLODED`` (second moments: its square) and no fitness is -inf (a diverged member). NaN means "not scored yet" (algorithms
        without a fitness; GAGAN's offspring until their first evaluation) and +inf is the zero-gradient F_d,
        the best fitness. Children rows are scratch space and may hold a diverged candidate that was not
        selected."""
        rows = self.parent_rows
        flats = [self.params[rows], self.exp_avg[rows]]
        if self.buffers_flat is not None:
            flats.append(self.buffers_flat[rows])
        ok = torch.stack(
            [*(within_bound(f) for f in flats), within_bound(self.exp_avg_sq[rows], square=True)]
        ).all()
        return ok & ~(self.fitness == float("-inf")).any()

    def grad_norm(self, rows: slice) -> Tensor:
        """L2 norm of each slot's gradient, [k]."""
        return self.grads[rows].norm(dim=1)

    @torch.no_grad()
    def broadcast_parents(self, src: int = 0) -> None:
        """Make every rank's parents (weights, buffers, Adam state, fitness) equal to rank ``src``'s:
        survivors are decided on one rank and broadcast (multi-device training). No-op without
        torch.distributed or with one process."""
        import torch.distributed as dist

        if not (dist.is_available() and dist.is_initialized()) or dist.get_world_size() == 1:
            return
        mu = self.num_parents
        for flat in self._flats():
            rows = flat[:mu].contiguous()
            dist.broadcast(rows, src)
            flat[:mu].copy_(rows)
        dist.broadcast(self.fitness, src)
        for group in self._int_buffer_groups[:mu] if self.int_buffers_flat is None else ():
            for b in group:
                dist.broadcast(b, src)

    # ------------------------------------------------------------------ queries
    def best_index(self) -> int:
        """Index of the fittest parent (NaN fitness counts as worst; parent 0 when none is known)."""
        f = torch.nan_to_num(self.fitness, nan=float("-inf"))
        return int(torch.argmax(f).item()) if (f > float("-inf")).any() else 0

    def adam_state(self, slot: int) -> dict[str, Tensor]:
        """Copies of one slot's Adam state (for inspection and tests)."""
        return {
            "step": self.step[slot].clone(),
            "exp_avg": self.exp_avg[slot].clone(),
            "exp_avg_sq": self.exp_avg_sq[slot].clone(),
        }

    def flat_parameters(self, slot: int) -> Tensor:
        """A copy of one slot's parameters as a flat vector [N]."""
        return self.params[slot].detach().clone()

    # ------------------------------------------------------------------ nn.Module plumbing
    def train(self, mode: bool = True) -> Population:
        super().train(mode)
        for s in self._slots:
            s.train(mode)
        return self

    def _apply(self, fn, recurse: bool = True):  # device / dtype moves keep the views intact
        super()._apply(fn, recurse)
        self.params = fn(self.params)
        self.grads = fn(self.grads)
        self.exp_avg = fn(self.exp_avg)
        self.exp_avg_sq = fn(self.exp_avg_sq)
        self.step = self.step.to(self.params.device)
        _rebind(self.params, self._param_groups)
        self._bind_grads()
        if self.buffers_flat is not None:
            self.buffers_flat = fn(self.buffers_flat)
            _rebind(self.buffers_flat, self._buffer_groups)
        if self.int_buffers_flat is not None:
            self.int_buffers_flat = self.int_buffers_flat.to(self.params.device)
            _rebind(self.int_buffers_flat, self._int_buffer_groups)
        else:
            for group in self._int_buffer_groups:
                for b in group:
                    b.data = b.data.to(self.params.device)
        return self

    _STATE_KEYS = ("params", "exp_avg", "exp_avg_sq", "step", "buffers_flat")

    def _save_to_state_dict(self, destination, prefix, keep_vars):
        super()._save_to_state_dict(destination, prefix, keep_vars)
        mu = self.num_parents
        for key in self._STATE_KEYS:
            flat = getattr(self, key)
            if flat is not None:
                destination[prefix + key] = flat[:mu].detach().clone()
        for i, group in enumerate(self._int_buffer_groups[:mu]):
            for j, b in enumerate(group):
                destination[f"{prefix}int_buffers.{i}.{j}"] = b.detach().clone()

    def _load_from_state_dict(
        self, state_dict, prefix, local_metadata, strict, missing_keys, unexpected_keys, error_msgs
    ):
        mu = self.num_parents
        for key in self._STATE_KEYS:
            flat = getattr(self, key)
            if flat is None:
                continue
            full = prefix + key
            if full not in state_dict:
                missing_keys.append(full)
                continue
            value = state_dict[full]
            if tuple(value.shape) != tuple(flat[:mu].shape):
                error_msgs.append(
                    f"size mismatch for {full}: checkpoint has {tuple(value.shape)}, this population "
                    f"{tuple(flat[:mu].shape)} (population_size or network architecture differ)"
                )
                continue
            with torch.no_grad():
                flat[:mu].copy_(value)
        for i, group in enumerate(self._int_buffer_groups[:mu]):
            for j, b in enumerate(group):
                full = f"{prefix}int_buffers.{i}.{j}"
                if full in state_dict:
                    with torch.no_grad():
                        b.copy_(state_dict[full])
        own = {prefix + k for k in self._STATE_KEYS} | {
            k for k in state_dict if k.startswith(prefix + "int_buffers.")
        }
        rest = {k: v for k, v in state_dict.items() if k not in own}
        super()._load_from_state_dict(
            rest, prefix, local_metadata, strict, missing_keys, unexpected_keys, error_msgs
        )
