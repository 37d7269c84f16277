"""Random images of any size and channel count, for tests and benchmarks (``data=fake``)."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor


class FakeImages:
    """``num_images`` smooth random images [C, H, W] in [-1, 1], generated once from ``seed``."""

    def __init__(self, num_images: int, shape: tuple[int, int, int], seed: int = 0) -> None:
        if num_images < 1:
            raise ValueError(f"data.num_images must be >= 1, got {num_images}")
        g = torch.Generator().manual_seed(seed)
        c, h, w = shape
        coarse = torch.rand(num_images, c, max(h // 4, 1), max(w // 4, 1), generator=g)
        self.images = (
            F.interpolate(coarse, size=(h, w), mode="bilinear", align_corners=False) * 2 - 1
        ).clamp(-1, 1)

    def __len__(self) -> int:
        return self.images.shape[0]

    def __getitem__(self, i: int) -> Tensor:
        return self.images[i]

    def get_batch(self, index: Tensor) -> Tensor:
        """Images at ``index`` (LongTensor [B]) -> [B, C, H, W]."""
        return self.images.index_select(0, index)
