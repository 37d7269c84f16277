"""Multi-device sanity check: every rank must hold the same survivors and discriminator each generation."""

from __future__ import annotations

import lightning as L
import torch

from ..evolution.population import Population


def state_checksum(module: L.LightningModule) -> torch.Tensor:
    """float64 [k] fingerprint of all populations' parents (weights, Adam state) and every other parameter."""
    parts = []
    for m in module.modules():
        if isinstance(m, Population):
            mu = m.num_parents
            for flat in (m.params, m.exp_avg, m.exp_avg_sq):
                rows = flat[:mu].double()
                parts += [
                    rows.sum(),
                    (rows * torch.arange(1, rows.shape[1] + 1, device=rows.device)).sum() / rows.shape[1],
                ]
            parts.append(m.step[:mu].double().sum())
    for p in module.parameters():
        parts.append(p.detach().double().sum())
    return torch.stack(parts)


class RankConsistencyCheck(L.Callback):
    """Every ``every_n_generations``: all-gather the checksum of the evolving state and stop with an error if
    any rank differs (``rtol`` allows for reduction-order noise in all-reduced gradients)."""

    def __init__(self, every_n_generations: int = 1, rtol: float = 0.0) -> None:
        self.every, self.rtol = int(every_n_generations), float(rtol)
        self.checks = 0

    def on_train_batch_end(self, trainer, module, outputs, batch, batch_idx) -> None:
        if trainer.world_size == 1 or module.generation % self.every:
            return
        local = state_checksum(module)
        everyone = trainer.strategy.all_gather(local)  # [world, k]
        if not torch.allclose(everyone, everyone[0:1].expand_as(everyone), rtol=self.rtol, atol=0.0):
            raise RuntimeError(
                f"ranks disagree on the evolving state at generation {module.generation}: "
                f"checksums {everyone[:, :4].tolist()}"
            )
        self.checks += 1
        module.consistency_checks = self.checks
