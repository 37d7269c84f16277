"""Folders of image files (CelebA, any image folder), decoded lazily with PIL one batch at a time.

Each image is cropped to a centred square (``center_crop`` pixels of the original, default the largest
centred square), resized to ``image_size`` (bicubic, antialiased) and converted to 1 (L) or 3 (RGB)
channels; transparent images are composited onto white; 16-bit grayscale is scaled to 8 bits.
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from ..core.errors import ConfigError

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".gif", ".webp", ".tif", ".tiff", ".ppm", ".pgm")


def list_images(root: str | Path, recursive: bool = True) -> list[Path]:
    """Image files under ``root`` (by extension, case-insensitive), sorted so the order is reproducible."""
    root = Path(root)
    if not root.is_dir():
        return []
    if recursive:
        found = [
            Path(d) / f
            for d, _, files in os.walk(root, followlinks=True)
            for f in files
            if f.lower().endswith(IMAGE_EXTENSIONS)
        ]
    else:
        found = [
            Path(e.path)
            for e in os.scandir(root)
            if e.is_file() and e.name.lower().endswith(IMAGE_EXTENSIONS)
        ]
    return sorted(found)


def _to_mode(img, channels: int):
    """PIL image -> mode "L" (channels=1) or "RGB" (channels=3)."""
    from PIL import Image

    if img.mode in ("I;16", "I;16B", "I;16L", "I;16N"):
        img = Image.fromarray((np.asarray(img, dtype=np.float32) / 257.0).round().astype(np.uint8), "L")
    if img.mode in ("RGBA", "LA", "PA") or (img.mode == "P" and "transparency" in img.info):
        rgba = img.convert("RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        img = Image.alpha_composite(white, rgba)
    return img.convert("L" if channels == 1 else "RGB")


def load_image(path: str | Path, image_size: int, channels: int, center_crop: int | None = None) -> Tensor:
    """One image file -> float [channels, image_size, image_size] in [-1, 1]. ConfigError naming the file
    if it cannot be decoded."""
    from PIL import Image

    try:
        with Image.open(path) as img:
            w, h = img.size
            side = min(w, h) if not center_crop else min(int(center_crop), w, h)
            scale = image_size / side
            # JPEG: decode at the smallest power-of-two reduction that still covers the crop (much faster)
            img.draft(
                img.mode if img.mode in ("L", "RGB") else None, (math.ceil(w * scale), math.ceil(h * scale))
            )
            f = img.size[0] / w
            left, top = (w - side) / 2 * f, (h - side) / 2 * f
            img = _to_mode(img, channels)
            img = img.resize(
                (image_size, image_size),
                Image.Resampling.BICUBIC,
                box=(left, top, left + side * f, top + side * f),
            )
            arr = np.asarray(img, dtype=np.uint8)
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as err:
        raise ConfigError(
            f"cannot read image {path}: {err}; the file is corrupt or truncated - remove or replace it"
        ) from err
    x = torch.from_numpy(arr.copy())
    x = x[None] if x.ndim == 2 else x.permute(2, 0, 1)
    return x.float().div_(127.5).sub_(1.0)


class ImageFiles:
    """A lazily decoded list of image files: ``[i]`` -> [C, S, S], ``get_batch(index)`` -> [B, C, S, S],
    float in [-1, 1] (S = ``image_size``)."""

    def __init__(
        self, paths: Sequence[Path], image_size: int, channels: int, center_crop: int | None = None
    ) -> None:
        if not paths:
            raise ValueError("ImageFiles needs at least one file")
        self.paths = list(paths)
        self.image_size, self.channels = int(image_size), int(channels)
        self.center_crop = int(center_crop) if center_crop else None

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, i: int) -> Tensor:
        return load_image(self.paths[int(i)], self.image_size, self.channels, self.center_crop)

    def get_batch(self, index: Tensor) -> Tensor:
        """Images at ``index`` (LongTensor [B]) -> [B, C, S, S]."""
        return torch.stack([self[int(i)] for i in index])
