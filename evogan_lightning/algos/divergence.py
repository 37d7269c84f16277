"""Divergence checks (``EvoGANModule`` inherits them): flags kept on the device during a generation (no host
sync), read at logging steps and before every checkpoint. An exploded state (beyond ``core.errors.EXPLODED``) is a
diverged state."""

from __future__ import annotations

import torch
from torch import Tensor

from ..core.errors import DIVERGENCE_ADVICE, EXPLODED, DivergedError, within_bound
from ..engine.population import Population
from ..evolution.selection import ALL_DIVERGED


class DivergenceMixin:
    """``flag_survivors``, ``check_finite`` and ``state_is_finite``."""

    records: tuple[str, ...] = ()  # buffers that only hold statistics for the logs (NaN = not yet)

    def _flags_to(self, device: torch.device) -> None:
        if self._nonfinite.device != device:
            self._nonfinite = self._nonfinite.to(device)
            self._no_survivor = self._no_survivor.to(device)

    def flag_survivors(self, finite: Tensor) -> None:
        """Note (on the device, no sync) whether any candidate of this generation was finite (``finite`` [K]
        from ``top_mu``); ``check_finite`` stops the run if none was."""
        self._flags_to(finite.device)
        self._no_survivor.logical_or_(~finite.any())

    def check_finite(self) -> None:
        """Raise DivergedError if any loss since the start went NaN/Inf or every candidate of a generation
        diverged (one sync with the device; run at logging and before every checkpoint). With several ranks
        the flags are max-reduced first, so all ranks stop together."""
        flags = torch.stack([self._nonfinite, self._no_survivor.to(self._nonfinite.device)])
        if self.world_size > 1:
            flags = self.trainer.strategy.reduce(flags.float(), reduce_op="max") > 0
        nonfinite, no_survivor = flags.tolist()
        if no_survivor:
            raise DivergedError(f"{ALL_DIVERGED} (detected at generation {self.generation})")
        if nonfinite:
            raise DivergedError(
                f"training diverged (a NaN/Inf loss, or one beyond {EXPLODED:.0e}) by generation "
                f"{self.generation}. {DIVERGENCE_ADVICE}"
            )

    @torch.no_grad()
    def state_is_finite(self) -> bool:
        """Whether everything a checkpoint would hold can be trusted (one host sync; run before each save):
        every population's parents (``Population.state_finite``), the discriminator's parameters and buffers,
        and the moments of every optimizer (not the ``records`` buffers: log statistics, NaN until set). A
        finite loss does not prove it (a 1e36 loss passes)."""
        checks = [m.state_finite() for m in self.modules() if isinstance(m, Population)]
        populated = {
            id(t)
            for m in self.modules()
            if isinstance(m, Population)
            for t in (*m.parameters(), *m.buffers())
        }
        tensors = [
            t
            for name, t in (*self.named_parameters(), *self.named_buffers())
            if id(t) not in populated and name not in self.records
        ]
        squared = []
        if self._trainer is not None:
            for opt in self.trainer.optimizers:
                for state in opt.state.values():
                    for key, v in state.items():
                        if torch.is_tensor(v):
                            (squared if key == "exp_avg_sq" else tensors).append(v)
        checks += [within_bound(t) for t in tensors if t.is_floating_point()]
        checks += [within_bound(t, square=True) for t in squared if t.is_floating_point()]
        return bool(torch.stack([c.to(self._nonfinite.device) for c in checks]).all()) if checks else True
