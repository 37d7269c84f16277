"""Operator-selection chart: which operator produced the survivors over training (CE-GAN, Li et al.,
Fig. 6: stacked bars of the selections per training phase).

The callback keeps a compact record, survivor counts per operator in bins of ``resolution`` generations
(read from the module's running ``operator_counts``), saved with the checkpoint so a resumed run keeps
its history. At the end of training it writes ``operators.png`` (``num_bars`` stacked bars of the share
of survivors per operator) and logs it as ``operators``. Algorithms that count no operators get no chart.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import lightning as L

from .samples import log_image


def operator_shares(
    bins: dict[int, dict[str, int]], resolution: int, num_bars: int, generations: int
) -> tuple[list[tuple[int, int]], list[str], list[list[float]]]:
    """Merge fine bins (bin b = generations [b * resolution, (b + 1) * resolution)) into at most
    ``num_bars`` bars over ``generations`` generations.

    Returns (generation ranges [start, stop) per bar, operator names (sorted), shares[bar][operator]);
    each bar's shares sum to 1, or are all 0 for a bar without survivors."""
    names = sorted({op for counts in bins.values() for op in counts})
    n_fine = max(1, math.ceil(generations / resolution), max(bins, default=0) + 1)
    per_bar = math.ceil(n_fine / max(1, num_bars))
    n_bars = math.ceil(n_fine / per_bar)
    ranges, shares = [], []
    for bar in range(n_bars):
        lo, hi = bar * per_bar, (bar + 1) * per_bar
        totals = dict.fromkeys(names, 0)
        for b in range(lo, hi):
            for op, c in bins.get(b, {}).items():
                totals[op] += c
        s = sum(totals.values())
        shares.append([totals[n] / s if s else 0.0 for n in names])
        start, stop = lo * resolution, hi * resolution
        ranges.append((start, min(stop, generations) if generations > start else stop))
    return ranges, names, shares


def save_operator_chart(
    ranges: list[tuple[int, int]], names: list[str], shares: list[list[float]], path: Path, title: str = ""
) -> None:
    """Stacked bar chart of survivor shares per operator (one bar per generation range)."""
    import matplotlib.pyplot as plt  # no backend switch here: a notebook keeps its own (figures are closed)

    fig, ax = plt.subplots(figsize=(max(5.0, 0.4 * len(ranges) + 2), 4), dpi=100)
    x = list(range(len(ranges)))
    bottom = [0.0] * len(ranges)
    cmap = plt.get_cmap("tab10")
    for j, name in enumerate(names):
        h = [row[j] for row in shares]
        ax.bar(x, h, bottom=bottom, color=cmap(j % 10), label=name, width=0.85)
        bottom = [b + v for b, v in zip(bottom, h)]
    ax.set_xticks(x)
    ax.set_xticklabels([f"{lo}-{hi}" for lo, hi in ranges], rotation=60, ha="right", fontsize=7)
    ax.set_xlabel("generations")
    ax.set_ylabel("share of survivors")
    ax.set_ylim(0, 1)
    ax.set_title(title or "operators selected")
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


class OperatorChart(L.Callback):
    """Writes ``operators.png`` into ``out_dir`` at the end of training (see module docstring)."""

    def __init__(self, out_dir: str, resolution: int = 10, num_bars: int = 20) -> None:
        if resolution < 1:
            raise ValueError(f"resolution must be >= 1, got {resolution}")
        if num_bars < 1:
            raise ValueError(f"num_bars must be >= 1, got {num_bars}")
        self.out_dir = Path(out_dir)
        self.resolution, self.num_bars = int(resolution), int(num_bars)
        self.bins: dict[int, dict[str, int]] = {}
        self.seen: dict[str, int] = {}
        self._module = None

    def setup(self, trainer, module, stage: str) -> None:
        self._module = module

    def update(self, module) -> None:
        """Add the survivors counted since the last update to the bin of the latest generation."""
        counts: dict[str, int] = dict(getattr(module, "operator_counts", {}) or {})
        delta = {k: v - self.seen.get(k, 0) for k, v in counts.items() if v != self.seen.get(k, 0)}
        if delta:
            b = max(0, module.generation - 1) // self.resolution
            row = self.bins.setdefault(b, {})
            for k, v in delta.items():
                row[k] = row.get(k, 0) + v
        self.seen = counts

    def on_train_batch_end(self, trainer, module, outputs, batch, batch_idx) -> None:
        # Read the counts (a device sync) once per bin, at its last generation: everything counted since the
        # previous read belongs to this bin. Checkpoints (state_dict) and the end of training read them too.
        if module.generation % self.resolution == 0:
            self.update(module)

    def state_dict(self) -> dict[str, Any]:
        if self._module is not None:  # checkpoints may be written before this callback's batch-end hook
            self.update(self._module)
        return {
            "resolution": self.resolution,
            "bins": {int(b): dict(c) for b, c in self.bins.items()},
            "seen": dict(self.seen),
        }

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        res = int(state_dict.get("resolution", self.resolution))
        bins: dict[int, dict[str, int]] = {}
        for b, counts in state_dict.get("bins", {}).items():  # re-bin if the resolution changed
            nb = int(b) * res // self.resolution
            row = bins.setdefault(nb, {})
            for k, v in counts.items():
                row[k] = row.get(k, 0) + int(v)
        self.bins, self.seen = bins, dict(state_dict.get("seen", {}))

    def render(self, module, path: Path) -> Path | None:
        """Draw the chart for the record so far into ``path``; None when no operator was counted."""
        if not any(self.bins.values()):
            return None
        ranges, names, shares = operator_shares(self.bins, self.resolution, self.num_bars, module.generation)
        path.parent.mkdir(parents=True, exist_ok=True)
        save_operator_chart(ranges, names, shares, path, f"{module.algo_name} - operators of the survivors")
        return path

    def on_train_end(self, trainer, module) -> None:
        self.update(module)
        if not trainer.is_global_zero:
            return
        path = self.render(module, self.out_dir / "operators.png")
        if path is not None:
            log_image(trainer, "operators", path, module.generation)
