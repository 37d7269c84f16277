"""The image datasets behind ``data=cifar10|mnist|fashion_mnist|stacked_fashion_mnist|celeba|image_folder``.

``datamodule.py`` calls three functions: ``dataset_shape`` (from the config alone), ``prepare_dataset``
(find the files, download them with torchvision when missing and allowed, else a ConfigError that says
which files were looked for where) and ``build_dataset`` (an object with ``__len__``, ``__getitem__`` and
``get_batch(index) -> [B, C, H, W]`` float in [-1, 1]).

Where the files are looked for (``data.root``, default ``data``; torchvision's layout or a flat folder):

- mnist / fashion_mnist / stacked_fashion_mnist: ``train-images-idx3-ubyte[.gz]`` (split=train), ``t10k-images-idx3-ubyte[.gz]``
  (split=test) in ``root`` or ``root/MNIST/raw`` / ``root/FashionMNIST/raw``.
- cifar10: ``data_batch_1`` ... ``data_batch_5`` (train), ``test_batch`` (test) in
  ``root/cifar-10-batches-py`` or ``root``.
- celeba: the ``*.jpg`` files of ``root/celeba/img_align_celeba``, ``root/img_align_celeba`` or ``root``.
- image_folder: every image under ``root`` (recursive; see ``image_files.IMAGE_EXTENSIONS``).

MNIST-like data and CIFAR-10 are decoded once into a uint8 tensor (resized once when ``image_size``
differs from the native size); CelebA and image folders are decoded per batch.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor

from ..core.errors import ConfigError
from .image_files import IMAGE_EXTENSIONS, ImageFiles, list_images
from .readers import read_cifar_batch, read_idx_images
from .stacked import STACK_CHANNELS, StackedImages

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ImageDatasetSpec:
    """Facts about one named dataset: default shape, where torchvision puts it, and its files per split."""

    title: str
    channels: int
    image_size: int
    subdirs: tuple[str, ...]  # candidate folders under root, in order ("" = root itself)
    splits: Mapping[str, tuple[str, ...]] | None = None  # split -> required files (None: image folders)


_MNIST_SPLITS = {
    "train": ("train-images-idx3-ubyte",),
    "test": ("t10k-images-idx3-ubyte",),
    "all": ("train-images-idx3-ubyte", "t10k-images-idx3-ubyte"),
}
_CIFAR_TRAIN = tuple(f"data_batch_{i}" for i in range(1, 6))
SPECS: dict[str, ImageDatasetSpec] = {
    "mnist": ImageDatasetSpec("MNIST", 1, 28, ("", "MNIST/raw"), _MNIST_SPLITS),
    "fashion_mnist": ImageDatasetSpec("Fashion-MNIST", 1, 28, ("", "FashionMNIST/raw"), _MNIST_SPLITS),
    # three Fashion-MNIST images as the channels of one (data/stacked.py): the same files
    "stacked_fashion_mnist": ImageDatasetSpec(
        "Fashion-MNIST (stacked)", STACK_CHANNELS, 28, ("", "FashionMNIST/raw"), _MNIST_SPLITS
    ),
    "cifar10": ImageDatasetSpec(
        "CIFAR-10",
        3,
        32,
        ("cifar-10-batches-py", ""),
        {"train": _CIFAR_TRAIN, "test": ("test_batch",), "all": (*_CIFAR_TRAIN, "test_batch")},
    ),
    "celeba": ImageDatasetSpec("CelebA", 3, 64, ("celeba/img_align_celeba", "img_align_celeba", "")),
    "image_folder": ImageDatasetSpec("image folder", 3, 64, ("",)),
}
_IDX = ("mnist", "fashion_mnist", "stacked_fashion_mnist")
STACKED = "stacked_fashion_mnist"


# ---------------------------------------------------------------------------------------------- config
def _spec(name: str) -> ImageDatasetSpec:
    if name not in SPECS:
        raise ValueError(f"unknown image dataset {name!r}; choose one of {sorted(SPECS)} (data=...)")
    return SPECS[name]


def _positive_int(cfg: Mapping[str, Any], key: str, default: int) -> int:
    value = cfg.get(key)
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"data.{key} must be a positive integer, got {value!r}")
    return value


def dataset_shape(name: str, cfg: Mapping[str, Any]) -> tuple[int, int, int]:
    """(C, H, W) of one sample, from the config alone: ``data.channels`` (1 or 3) and ``data.image_size``
    (square), defaulting to the dataset's native values. ValueError for bad values."""
    spec = _spec(name)
    channels = _positive_int(cfg, "channels", spec.channels)
    size = _positive_int(cfg, "image_size", spec.image_size)
    if channels not in (1, 3):
        raise ValueError(f"data.channels must be 1 (grayscale) or 3 (RGB), got {channels}")
    if name == STACKED and channels != STACK_CHANNELS:
        raise ValueError(
            f"data={STACKED} stacks three Fashion-MNIST images as the 3 channels of one image, so its nets are "
            f"3-channel: set data.channels=3 (got {channels}); net=auto or net=mnist28 build 3-channel nets from "
            "it. For 1-channel images use data=fashion_mnist"
        )
    if spec.splits is not None and cfg.get("split", "train") not in spec.splits:
        raise ValueError(f"data.split must be one of {sorted(spec.splits)}, got {cfg.get('split')!r}")
    return channels, size, size


def _root(name: str, cfg: Mapping[str, Any]) -> Path:
    root = cfg.get("root")
    if not root:
        example = "DIR" if name == "image_folder" else "data"
        raise ConfigError(
            f"data={name} needs a data root: set data.root={example} (the folder holding the images)"
        )
    return Path(str(root)).expanduser()


# ---------------------------------------------------------------------------------------------- locating
def _find_file(folder: Path, stem: str) -> Path | None:
    """``folder/stem`` or ``folder/stem.gz`` (IDX files may be either), else None."""
    for candidate in (folder / stem, folder / f"{stem}.gz"):
        if candidate.is_file():
            return candidate
    return None


def locate(name: str, cfg: Mapping[str, Any]) -> tuple[list[Path] | None, list[Path]]:
    """(files, folders searched): the data files of ``data=name``'s split, or None when not found."""
    spec, root = _spec(name), _root(name, cfg)
    folders = [root / sub if sub else root for sub in spec.subdirs]
    if spec.splits is None:  # image folders: celeba's folder directly, any folder recursively
        recursive = name == "image_folder"
        for folder in folders:
            files = list_images(folder, recursive=recursive)
            if files:
                return files, folders
        return None, folders
    wanted = spec.splits[cfg.get("split", "train")]
    for folder in folders:
        found = [_find_file(folder, stem) if name in _IDX else folder / stem for stem in wanted]
        if all(f is not None and f.is_file() for f in found):
            return found, folders  # type: ignore[return-value]
    return None, folders


def _missing_message(name: str, cfg: Mapping[str, Any], folders: list[Path]) -> str:
    spec = _spec(name)
    where = ", ".join(str(f) for f in folders)
    if spec.splits is None:
        what = "image files (" + ", ".join(IMAGE_EXTENSIONS) + ")"
        if name == "image_folder":
            what += " anywhere below"
    else:
        stems = spec.splits[cfg.get("split", "train")]
        what = ", ".join(f"{s}[.gz]" if name in _IDX else s for s in stems)
    return f"data={name}: no {spec.title} data found. Looked for {what} in: {where} (data.root={cfg.get('root')})."


_HOW_TO_FIX = (
    " Download the files on a machine with internet (or let torchvision do it there), copy them here and "
    "point data.root=DIR at the folder that holds them."
)


def torchvision_download(name: str, root: Path) -> None:
    """Download ``name`` into ``root`` with torchvision's own dataset classes (their layout under root)."""
    from torchvision import datasets  # imported here: only needed to download

    root.mkdir(parents=True, exist_ok=True)
    if name == "mnist":
        datasets.MNIST(str(root), train=True, download=True)
    elif name in ("fashion_mnist", STACKED):
        datasets.FashionMNIST(str(root), train=True, download=True)
    elif name == "cifar10":
        datasets.CIFAR10(str(root), train=True, download=True)
    elif name == "celeba":  # Google Drive via gdown (pip install gdown)
        datasets.CelebA(str(root), split="all", target_type=[], download=True)
    else:
        raise ValueError(f"data={name} cannot be downloaded")


def prepare_dataset(name: str, cfg: Mapping[str, Any]) -> None:
    """Make sure the files of ``data=name`` exist: download them with torchvision when they are missing and
    ``data.download`` is true; otherwise (or when the download fails) raise ConfigError naming the files
    and the folders searched."""
    files, folders = locate(name, cfg)
    if files is not None:
        return
    message = _missing_message(name, cfg, folders)
    if name in ("fashion_mnist", STACKED):  # offline: Debian packages the four files
        message += (
            " On Debian/Ubuntu, `apt-get install dataset-fashion-mnist` installs them under "
            "/usr/share/datasets/fashion-mnist (then data.root=/usr/share/datasets/fashion-mnist)."
        )
    if name == "image_folder":
        raise ConfigError(message + " Point data.root=DIR at a folder of images.")
    if not cfg.get("download", True):
        raise ConfigError(
            message
            + " Set data.download=true to download them with torchvision (needs internet)."
            + _HOW_TO_FIX
        )
    root = _root(name, cfg)
    log.info("data=%s: files not found, downloading with torchvision into %s ...", name, root)
    try:
        torchvision_download(name, root)
    except Exception as err:  # no network, DNS, checksum, missing gdown, broken torchvision, ...
        raise ConfigError(
            message
            + f" data.download=true, but downloading failed ({type(err).__name__}: {err})."
            + _HOW_TO_FIX
        ) from err
    files, folders = locate(name, cfg)
    if files is None:
        raise ConfigError(
            _missing_message(name, cfg, folders) + " (after a download with torchvision)." + _HOW_TO_FIX
        )


# ---------------------------------------------------------------------------------------------- datasets
_LUMA = torch.tensor([0.299, 0.587, 0.114])  # ITU-R BT.601, as PIL's convert("L")


def _convert(images: Tensor, channels: int, size: int, chunk: int = 4096) -> Tensor:
    """uint8 [N, C, H, W] -> uint8 [N, C', size, size]: RGB -> luma when ``channels`` is 1 (gray stays 1
    channel; it is repeated at batch time when 3 are wanted), bilinear antialiased resize when needed."""
    to_gray = channels == 1 and images.shape[1] == 3
    resize = tuple(images.shape[-2:]) != (size, size)
    if not (to_gray or resize):
        return images
    out = []
    for part in images.split(chunk):
        x = part.float()
        if to_gray:
            x = (x * _LUMA.view(1, 3, 1, 1)).sum(1, keepdim=True)
        if resize:
            x = F.interpolate(x, size=(size, size), mode="bilinear", antialias=True, align_corners=False)
        out.append(x.round_().clamp_(0, 255).to(torch.uint8))
    return torch.cat(out)


class InMemoryImages:
    """A decoded image dataset held as uint8 [N, C, H, W]; batches are float in [-1, 1].

    Args:
        images: uint8 [N, 1 or 3, H, W].
        channels: channels of the output (1 -> 3 repeats the gray channel).
    """

    def __init__(self, images: Tensor, channels: int) -> None:
        if images.dtype != torch.uint8 or images.ndim != 4:
            raise ValueError(f"expected uint8 [N, C, H, W] images, got {images.dtype} {list(images.shape)}")
        self.images, self.channels = images, int(channels)

    def __len__(self) -> int:
        return self.images.shape[0]

    def _scale(self, x: Tensor) -> Tensor:
        x = x.float().div_(127.5).sub_(1.0)
        if x.shape[-3] != self.channels:
            x = x.expand(*x.shape[:-3], self.channels, *x.shape[-2:]).contiguous()
        return x

    def __getitem__(self, i: int) -> Tensor:
        return self._scale(self.images[int(i)])

    def get_batch(self, index: Tensor) -> Tensor:
        """Images at ``index`` (LongTensor [B]) -> float [B, C, H, W] in [-1, 1]."""
        return self._scale(self.images.index_select(0, index))


def build_dataset(name: str, cfg: Mapping[str, Any]) -> InMemoryImages | ImageFiles | StackedImages:
    """The dataset of ``data=name`` (files must exist: call ``prepare_dataset`` first)."""
    channels, size, _ = dataset_shape(name, cfg)
    files, folders = locate(name, cfg)
    if files is None:
        raise ConfigError(_missing_message(name, cfg, folders) + _HOW_TO_FIX)
    if name == STACKED:
        base = _convert(torch.cat([read_idx_images(f) for f in files]), 1, size)
        return StackedImages(base, cfg.get("num_images"))
    if name in _IDX:
        images = torch.cat([read_idx_images(f) for f in files])
    elif name == "cifar10":
        images = torch.cat([read_cifar_batch(f) for f in files])
    else:
        crop = cfg.get("center_crop")
        if crop is not None and (isinstance(crop, bool) or not isinstance(crop, int) or crop < 1):
            raise ConfigError(f"data.center_crop must be a positive number of pixels or null, got {crop!r}")
        dataset = ImageFiles(files, size, channels, crop)
        dataset[0]  # fail before training if the images cannot be decoded at all
        return dataset
    return InMemoryImages(_convert(images, channels, size), channels)
