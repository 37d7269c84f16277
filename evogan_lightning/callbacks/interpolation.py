"""Latent interpolation figure G((1 - a) z1 + a z2), a in [0, 1], of the best individual (any algorithm).

The stochastic-crossover GAN paper (Alessi 2024) compares latent interpolations against E-GAN; this
callback draws that picture for every run at the end of training: for image data one row per noise pair
(columns = a from 0 to 1), for 2-d toy data the paths traced by each pair drawn over the real mixture.
"""

from __future__ import annotations

from pathlib import Path

import lightning as L
import torch
from torch import Tensor

from .samples import log_image, save_image_grid, toy_figure


def interpolate_latents(z1: Tensor, z2: Tensor, steps: int) -> Tensor:
    """Points (1 - a) z1 + a z2 for ``steps`` values of a evenly spaced in [0, 1].

    ``z1``, ``z2``: [R, latent]. Returns [R * steps, latent], row r's path contiguous (a increasing)."""
    if steps < 2:
        raise ValueError(f"interpolation needs at least 2 steps, got {steps}")
    a = torch.linspace(0.0, 1.0, steps, device=z1.device, dtype=z1.dtype).view(1, steps, 1)
    return ((1.0 - a) * z1.unsqueeze(1) + a * z2.unsqueeze(1)).reshape(-1, z1.shape[1])


def save_toy_paths(paths: Tensor, mixture_name: str, path: Path, title: str = "") -> None:
    """Generated paths [R, steps, 2] drawn as lines with markers over a sample of the real mixture."""
    import matplotlib.pyplot as plt

    cmap = plt.get_cmap("tab10")
    title = title or "latent interpolation (o: a=0, square: a=1)"
    with toy_figure(mixture_name, path, title, real_alpha=0.3) as (ax, _):
        for r, p in enumerate(paths):
            ax.plot(p[:, 0], p[:, 1], "-", lw=1, c=cmap(r % 10), alpha=0.8)
            ax.scatter(p[:, 0], p[:, 1], s=6, c=[cmap(r % 10)])
            ax.scatter(p[0, 0], p[0, 1], marker="o", s=30, facecolors="none", edgecolors="k")
            ax.scatter(p[-1, 0], p[-1, 1], marker="s", s=30, facecolors="none", edgecolors="k")


class LatentInterpolation(L.Callback):
    """At the end of training writes ``interpolation.png`` into ``out_dir`` (and logs it as
    ``interpolation``): ``num_pairs`` noise pairs from a fixed seed, ``num_steps`` values of a each."""

    def __init__(self, out_dir: str, num_pairs: int = 8, num_steps: int = 10, seed: int = 4321) -> None:
        if num_pairs < 1:
            raise ValueError(f"num_pairs must be >= 1, got {num_pairs}")
        if num_steps < 2:
            raise ValueError(f"num_steps must be >= 2, got {num_steps}")
        self.out_dir = Path(out_dir)
        self.num_pairs, self.num_steps, self.seed = int(num_pairs), int(num_steps), int(seed)

    def render(self, module, path: Path) -> Path:
        """Draw the figure for ``module`` (an EvoGANModule) into ``path``; returns ``path``."""
        gen = torch.Generator(device=module.device).manual_seed(self.seed)
        z1 = module.make_noise(self.num_pairs, gen)
        z2 = module.make_noise(self.num_pairs, gen)
        z = interpolate_latents(z1, z2, self.num_steps)
        x = module.sample(z.shape[0], z=z)  # the best individual, eval mode, on the CPU
        path.parent.mkdir(parents=True, exist_ok=True)
        title = f"{module.algo_name} - latent interpolation, generation {module.generation}"
        if module.data_info["kind"] == "toy":
            save_toy_paths(x.view(self.num_pairs, self.num_steps, -1), module.data_info["name"], path, title)
        else:
            save_image_grid(x, path, nrow=self.num_steps)
        return path

    def on_train_end(self, trainer: L.Trainer, module) -> None:
        if not trainer.is_global_zero:
            return
        path = self.render(module, self.out_dir / "interpolation.png")
        log_image(trainer, "interpolation", path, module.generation)
