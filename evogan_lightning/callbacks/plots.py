"""Training plots at the end of a run, drawn from ``module.history`` (the logged rows, kept in checkpoints).

Written to ``<out_dir>/plots/``: ``losses.png`` (``loss/*``), ``fitness.png`` (``fitness/*``, when the
algorithm logs fitness), ``quality.png`` (``val/*`` FID/KID/IS, when an evaluation callback ran),
``toy_metrics.png`` (``toy/*`` curves), ``crossover.png`` (CE-GAN: share of rows taught by the other parent) and, for image data, ``intensity_histogram.png`` (real vs generated
pixel intensities). Each PNG also goes to W&B / TensorBoard through ``samples.log_image``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import lightning as L
import torch
from torch import Tensor

from .figures import wrap_title
from .samples import log_image

# history key prefix -> (file stem, figure title)
HISTORY_PLOTS = {
    "loss/": ("losses", "losses"),
    "fitness/": ("fitness", "fitness over generations"),
    "val/": ("quality", "sample quality (FID / KID / IS)"),
    "toy/": ("toy_metrics", "toy mixture metrics"),
    "crossover/": ("crossover", "crossover: share of rows taught by the other parent"),
}


def _pyplot():
    import matplotlib.pyplot as plt  # no backend switch here: a notebook keeps its own (figures are closed)

    return plt


def history_series(history: Sequence[Mapping[str, float]], prefix: str) -> dict[str, tuple[list, list]]:
    """``{key: (generations, values)}`` for every key starting with ``prefix`` (rows may be sparse;
    non-finite values are skipped; a generation logged twice keeps its last value)."""
    series: dict[str, dict[float, float]] = {}
    for row in history:
        g = row.get("generation")
        for key, value in row.items():
            if key.startswith(prefix) and g is not None and isinstance(value, (int, float)):
                if math.isfinite(float(value)):
                    series.setdefault(key, {})[float(g)] = float(value)
    return {k: (sorted(v), [v[g] for g in sorted(v)]) for k, v in sorted(series.items())}


def plot_history(
    history: Sequence[Mapping[str, float]], prefix: str, path: Path, title: str = ""
) -> Path | None:
    """One panel per metric family (the part after ``prefix`` up to the next ``/`` or ``_std``), x =
    generation. Returns ``path``, or None when the history holds no key with ``prefix``."""
    series = history_series(history, prefix)
    series = {k: v for k, v in series.items() if not k.endswith("_std")}
    if not series:
        return None
    plt = _pyplot()
    groups: dict[str, list[str]] = {}
    for key in series:
        rest = key[len(prefix) :]
        groups.setdefault(rest.split("/")[0] if "/" in rest else rest, []).append(key)
    n = len(groups)
    cols = min(n, 3)
    rows = math.ceil(n / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(4.5 * cols, 3.2 * rows), dpi=100, squeeze=False)
    for ax, (group, keys) in zip(axes.flat, groups.items()):
        for key in keys:
            xs, ys = series[key]
            ax.plot(xs, ys, marker="o" if len(xs) < 30 else None, ms=3, label=key)
        ax.set_title(group, fontsize=9)
        ax.set_xlabel("generation")
        ax.legend(fontsize=7)
        ax.grid(alpha=0.3)
    for ax in list(axes.flat)[n:]:
        ax.axis("off")
    fig.suptitle(wrap_title(title or prefix.rstrip("/"), fig.get_figwidth(), 11), fontsize=11)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)
    return path


def plot_intensity_histogram(real: Tensor, fake: Tensor, path: Path, bins: int = 64) -> Path:
    """Histogram of pixel intensities of real vs generated images (``[N, C, H, W]`` in [-1, 1]), per
    channel for RGB, as densities."""
    plt = _pyplot()
    channels = real.shape[1]
    fig, axes = plt.subplots(1, channels, figsize=(4.5 * channels, 3.2), dpi=100, squeeze=False)
    names = ["gray"] if channels == 1 else ["red", "green", "blue"][:channels]
    for c, ax in enumerate(axes.flat):
        for data, label, color in ((real, "real", "tab:blue"), (fake, "generated", "tab:red")):
            values = data[:, c].reshape(-1).clamp(-1, 1).numpy()
            ax.hist(values, bins=bins, range=(-1, 1), density=True, histtype="step", color=color, label=label)
        ax.set_title(f"pixel intensity ({names[c]})", fontsize=9)
        ax.set_xlabel("value in [-1, 1]")
        ax.legend(fontsize=7)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)
    return path


class TrainingPlots(L.Callback):
    """At the end of training (rank 0): the plots listed in the module docstring into ``out_dir/plots``.

    Args:
        out_dir: the run's output directory.
        histogram_samples: real and generated images for the intensity histogram (image data).
    """

    def __init__(self, out_dir: str, histogram_samples: int = 1000) -> None:
        self.out_dir = Path(out_dir)
        self.histogram_samples = int(histogram_samples)
        self.written: list[Path] = []

    def make_plots(self, module: Any, real_source: Any = None) -> list[Path]:
        """Write every plot that has data; returns their paths."""
        folder = self.out_dir / "plots"
        written = []
        for prefix, (stem, title) in HISTORY_PLOTS.items():
            path = plot_history(
                module.history, prefix, folder / f"{stem}.png", f"{module.algo_name}: {title}"
            )
            if path is not None:
                written.append(path)
        if module.data_info["kind"] == "image" and real_source is not None and self.histogram_samples > 0:
            n = min(self.histogram_samples, len(real_source))
            index = torch.randperm(len(real_source), generator=torch.Generator().manual_seed(0))[:n]
            real = (
                real_source.get_batch(index)
                if hasattr(real_source, "get_batch")
                else torch.stack([real_source[int(i)] for i in index])
            )
            fake = module.sample(
                n, generator=torch.Generator(device=module.device).manual_seed(module.seed + 3)
            )
            written.append(
                plot_intensity_histogram(real.float().cpu(), fake, folder / "intensity_histogram.png")
            )
        return written

    def on_train_end(self, trainer: L.Trainer, pl_module: Any) -> None:
        if not trainer.is_global_zero:
            return
        source = getattr(getattr(trainer, "datamodule", None), "source", None)
        self.written = self.make_plots(pl_module, source)
        for path in self.written:
            log_image(trainer, f"plots/{path.stem}", path, pl_module.generation)
