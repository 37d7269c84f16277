"""Sample snapshots from fixed noise: a scatter over the real mixture (toy data) or an image grid."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator
from pathlib import Path

import lightning as L
import torch
from torch import Tensor

from ..data.toy import TOY_MIXTURES

log = logging.getLogger(__name__)


@contextlib.contextmanager
def toy_figure(mixture_name: str, path: Path, title: str, real_alpha: float = 0.35) -> Iterator[tuple]:
    """A 5x5-inch figure with 2000 points of the real mixture drawn in blue; yields ``(ax, mixture)`` for
    the caller's layers, then fixes the limits (1.6x the outermost centre), titles it and writes the PNG."""
    import matplotlib.pyplot as plt  # no backend switch here: a notebook keeps its own (figures are closed)

    mixture = TOY_MIXTURES[mixture_name]()
    real = mixture.sample(2000, torch.Generator().manual_seed(0))
    fig, ax = plt.subplots(figsize=(5, 5), dpi=100)
    try:
        ax.scatter(real[:, 0], real[:, 1], s=4, c="tab:blue", alpha=real_alpha, label="real")
        yield ax, mixture
        lim = float(mixture.centers.abs().max()) * 1.6
        ax.set_xlim(-lim, lim)
        ax.set_ylim(-lim, lim)
        ax.set_aspect("equal")
        ax.set_title(title)
        fig.tight_layout()
        fig.savefig(path)
    finally:
        plt.close(fig)


def save_toy_scatter(points: Tensor, mixture_name: str, path: Path, title: str = "") -> None:
    """Scatter of generated points [N, 2] over a sample of the real mixture, written as PNG."""
    with toy_figure(mixture_name, path, title or mixture_name) as (ax, mixture):
        ax.scatter(points[:, 0], points[:, 1], s=4, c="tab:red", alpha=0.5, label="generated")
        ax.scatter(
            mixture.centers[:, 0], mixture.centers[:, 1], marker="x", c="k", s=25, label="mode centres"
        )
        ax.legend(loc="upper right", fontsize=7)


def save_image_grid(images: Tensor, path: Path, nrow: int = 8) -> None:
    """Grid PNG of images [N, C, H, W] in [-1, 1]."""
    from torchvision.utils import save_image

    save_image(images.clamp(-1, 1), str(path), nrow=nrow, normalize=True, value_range=(-1, 1))


def log_image(trainer: L.Trainer, key: str, path: Path, step: int) -> None:
    """Send a PNG to the active loggers that take images (W&B, TensorBoard)."""
    for logger in trainer.loggers:
        name = type(logger).__name__
        try:
            if name == "WandbLogger":
                logger.log_image(key=key, images=[str(path)], step=step)
            elif name == "TensorBoardLogger":
                import numpy as np
                from PIL import Image

                arr = np.asarray(Image.open(path).convert("RGB"))
                logger.experiment.add_image(key, arr, global_step=step, dataformats="HWC")
        except Exception as err:  # a logging failure must never stop training
            log.warning("could not log %s to %s: %s", key, name, err)


class SampleSnapshots(L.Callback):
    """Every ``every_n_generations`` (and at the end): samples of the best individual from fixed noise,
    saved as ``samples/gen_XXXXXXX.png`` and ``samples.png`` (latest) in the output directory."""

    def __init__(
        self, out_dir: str, every_n_generations: int = 500, num_samples: int = 64, toy_samples: int = 2000
    ):
        if every_n_generations < 1:
            raise ValueError(f"every_n_generations must be >= 1, got {every_n_generations}")
        self.out_dir = Path(out_dir)
        self.every, self.num_images, self.toy_samples = (
            int(every_n_generations),
            int(num_samples),
            int(toy_samples),
        )
        self._z: Tensor | None = None

    def snapshot(self, trainer: L.Trainer, module) -> Path | None:
        if not trainer.is_global_zero:
            return None
        toy = module.data_info["kind"] == "toy"
        n = self.toy_samples if toy else self.num_images
        if self._z is None or self._z.shape[0] != n:
            self._z = module.make_noise(n, torch.Generator(device=module.device).manual_seed(12345)).cpu()
        samples = module.sample(n, z=self._z)
        folder = self.out_dir / "samples"
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"gen_{module.generation:07d}.png"
        if toy:
            save_toy_scatter(
                samples,
                module.data_info["name"],
                path,
                f"{module.algo_name} - generation {module.generation}",
            )
        else:
            save_image_grid(samples, path, nrow=int(n**0.5) or 1)
        latest = self.out_dir / "samples.png"
        latest.write_bytes(path.read_bytes())
        log_image(trainer, "samples", path, module.generation)
        return path

    def on_train_batch_end(self, trainer, module, outputs, batch, batch_idx) -> None:
        if module.generation % self.every == 0:
            self.snapshot(trainer, module)

    def on_train_end(self, trainer, module) -> None:
        if module.generation % self.every != 0:  # else the last generation's grid is already saved
            self.snapshot(trainer, module)
