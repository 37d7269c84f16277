"""Multi-device sanity check: every rank must hold the same survivors and discriminator each generation."""

from __future__ import annotations

import zlib

import lightning as L
import torch

from ..engine.population import Population


def state_checksum(module: L.LightningModule) -> torch.Tensor:
    """float64 [k] fingerprint of every population slot (parents AND this generation's children: weights,
    Adam state), every other parameter, and which operators have won so far. Checked after the survivors
    are broadcast, so equal children and operator counts show the ranks also *decided* alike."""
    parts = []
    for m in module.modules():
        if isinstance(m, Population):
            for flat in (m.params, m.exp_avg, m.exp_avg_sq):
                rows = flat.double()
                parts += [
                    rows.sum(),
                    (rows * torch.arange(1, rows.shape[1] + 1, device=rows.device)).sum() / rows.shape[1],
                ]
            parts.append(m.step.double().sum())
    for p in module.parameters():
        parts.append(p.detach().double().sum())
    counts = getattr(module, "operator_counts", {})
    won = sum(n * (zlib.crc32(op.encode()) % 1_000_003) for op, n in counts.items())
    parts.append(torch.tensor(float(won), dtype=torch.float64, device=parts[0].device if parts else None))
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
            bad = (everyone != everyone[0:1]).any(0).nonzero().flatten()[:4].tolist()
            raise RuntimeError(
                f"ranks disagree on the evolving state at generation {module.generation}: "
                f"checksum entries {bad} differ: {everyone[:, bad].tolist()}"
            )
        self.checks += 1
        module.consistency_checks = self.checks
