"""Stacked Fashion-MNIST (``data=stacked_fashion_mnist``): three random Fashion-MNIST images as the three
channels of one 28x28 image, so 10^3 = 1000 modes (class triples).

The mode-collapse benchmark of VEEGAN (Srivastava et al. 2017, Sec. 5.2) and PacGAN (Lin et al. 2018,
Table 2), built there on MNIST digits; here on Fashion-MNIST, the real image set available offline. The
triples are a fixed table drawn once from ``STACK_SEED`` (the same data set for every run seed); the run
seed only orders the batches, as for every other data set. Mode of an image: ``100 c_0 + 10 c_1 + c_2``
with ``c_k`` the class of channel k (``metrics.image_protocol`` classifies each channel with the
Fashion-MNIST classifier).
"""

from __future__ import annotations

import torch
from torch import Tensor

STACK_SEED = 2017  # the triple table: fixed, independent of the run seed (VEEGAN's year)
STACK_CHANNELS = 3


class StackedImages:
    """``num_images`` triples of a gray image set, stacked as channels; batches are float in [-1, 1].

    Args:
        base: uint8 ``[N, 1, H, W]`` gray images (e.g. the 60,000 Fashion-MNIST training images).
        num_images: how many stacked images (triples) the data set holds; None: ``N``.
        seed: seeds the triple table (default ``STACK_SEED``).
    """

    def __init__(self, base: Tensor, num_images: int | None = None, seed: int = STACK_SEED) -> None:
        if base.dtype != torch.uint8 or base.ndim != 4 or base.shape[1] != 1:
            raise ValueError(
                f"StackedImages: base must be uint8 [N, 1, H, W], got {base.dtype} {list(base.shape)}"
            )
        n = base.shape[0] if num_images is None else int(num_images)
        if n < 1:
            raise ValueError(f"data.num_images must be >= 1 (or null for one triple per base image), got {n}")
        self.base = base
        gen = torch.Generator().manual_seed(int(seed))
        self.triples = torch.randint(0, base.shape[0], (n, STACK_CHANNELS), generator=gen)  # [n, 3]

    def __len__(self) -> int:
        return self.triples.shape[0]

    def uint8_batch(self, index: Tensor) -> Tensor:
        """Stacked images at ``index`` (LongTensor [B]) -> uint8 [B, 3, H, W]."""
        rows = self.triples.index_select(0, index)  # [B, 3]
        return self.base.index_select(0, rows.reshape(-1)).reshape(
            rows.shape[0], STACK_CHANNELS, *self.base.shape[-2:]
        )

    def get_batch(self, index: Tensor) -> Tensor:
        """Stacked images at ``index`` (LongTensor [B]) -> float [B, 3, H, W] in [-1, 1]."""
        return self.uint8_batch(index).float().div_(127.5).sub_(1.0)

    def __getitem__(self, i: int) -> Tensor:
        return self.get_batch(torch.tensor([int(i)]))[0]

    def mode_labels(self, base_labels: Tensor) -> Tensor:
        """``[N]`` class labels of the base images (0..9) -> ``[len]`` modes ``100 c_0 + 10 c_1 + c_2``."""
        if base_labels.shape[0] != self.base.shape[0]:
            raise ValueError(
                f"StackedImages.mode_labels: {base_labels.shape[0]} labels for {self.base.shape[0]} base images"
            )
        return stack_modes(base_labels[self.triples])


def stack_modes(channel_classes: Tensor, num_classes: int = 10) -> Tensor:
    """``[B, 3]`` per-channel classes -> ``[B]`` mode index ``c_0 K^2 + c_1 K + c_2`` (K = ``num_classes``)."""
    weights = torch.tensor([num_classes**2, num_classes, 1], device=channel_classes.device)
    return (channel_classes.long() * weights).sum(dim=1)
