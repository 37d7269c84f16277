"""The one LightningDataModule: toy mixtures, fake images and the image datasets behind one interface.

The module hands the algorithm one real batch per generation (``GenerationStream``); the algorithm says
how many real samples a generation needs (``reals_per_generation``), ``train()`` passes it on here.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from typing import Any

import lightning as L
from torch.utils.data import DataLoader

from ..core.errors import ConfigError
from .fake import FakeImages
from .stream import GenerationStream, StreamLoader
from .toy import TOY_MIXTURES

IMAGE_DATASETS = ("cifar10", "mnist", "fashion_mnist", "stacked_fashion_mnist", "celeba", "image_folder")
DATASETS = (*TOY_MIXTURES, "fake", *IMAGE_DATASETS)
_IMAGES_MODULE = "evogan_lightning.data.images"


def _images():
    return importlib.import_module(_IMAGES_MODULE)


def data_shape(cfg: Mapping[str, Any]) -> tuple[int, ...]:
    """Shape of one sample, known from the config alone (no file is read): (2,) or (C, H, W)."""
    name = cfg["name"]
    if name in TOY_MIXTURES:
        return (2,)
    if name == "fake":
        return (int(cfg.get("channels", 3)), int(cfg.get("image_size", 32)), int(cfg.get("image_size", 32)))
    if name in IMAGE_DATASETS:
        return tuple(_images().dataset_shape(name, cfg))
    raise ValueError(f"unknown dataset {name!r}; choose one of {list(DATASETS)} (data=...)")


class GANDataModule(L.LightningDataModule):
    """Serves ``data=<name>`` as one real batch per generation.

    Args:
        cfg: the ``data`` config group (``name``, ``root``, ``download``, ``image_size``, ``channels``, ...).
        seed: the run seed; batch g is a pure function of (seed, g).
        num_workers: DataLoader workers (the stream is identical for any count).
    """

    def __init__(
        self, cfg: Mapping[str, Any], seed: int = 0, num_workers: int = 0, batch_size: int | None = None
    ) -> None:
        super().__init__()
        self.cfg = dict(cfg)
        self.name = self.cfg["name"]
        if self.name not in DATASETS:
            raise ValueError(f"unknown dataset {self.name!r}; choose one of {list(DATASETS)} (data=...)")
        self.seed, self.num_workers = int(seed), int(num_workers)
        # real samples per generation: the algorithm's reals_per_generation (None: taken from it at fit time;
        # a different number is refused there, never fed silently)
        given = batch_size if batch_size is not None else self.cfg.get("batch_size")
        self.batch_size: int | None = int(given) if given is not None else None
        self.start_generation, self.stop_generation = 0, 1
        self.source = None

    # ------------------------------------------------------------------ facts about the data
    @property
    def is_toy(self) -> bool:
        return self.name in TOY_MIXTURES

    @property
    def shape(self) -> tuple[int, ...]:
        return data_shape(self.cfg)

    def info(self) -> dict[str, Any]:
        """What a model needs to know about the data, stored in checkpoints (no dataset needed later)."""
        return {"name": self.name, "shape": list(self.shape), "kind": "toy" if self.is_toy else "image"}

    # ------------------------------------------------------------------ Lightning hooks
    def prepare_data(self) -> None:
        if self.name in IMAGE_DATASETS:
            _images().prepare_dataset(self.name, self.cfg)

    def setup(self, stage: str | None = None) -> None:
        if self.source is not None:
            return
        if self.is_toy:
            self.source = TOY_MIXTURES[self.name]()
        elif self.name == "fake":
            try:
                self.source = FakeImages(int(self.cfg.get("num_images", 512)), self.shape, seed=self.seed)
            except ValueError as err:
                raise ConfigError(str(err)) from err
        else:
            self.source = _images().build_dataset(self.name, self.cfg)

    def check_enough_data(self) -> None:
        """Raise ConfigError now (before the Trainer starts) if the dataset cannot fill one generation."""
        self.setup()
        GenerationStream(self.source, self.batch_size or 64, self.seed, 0, 0)

    def train_dataloader(self) -> DataLoader:
        """One batch per generation; a worker's ConfigError (a corrupt image) keeps its own message."""
        self.setup()
        trainer = getattr(self, "trainer", None)
        module = getattr(trainer, "lightning_module", None) if trainer is not None else None
        need = getattr(module, "reals_per_generation", None)
        if need is not None and self.batch_size is not None and int(need) != self.batch_size:
            raise ConfigError(
                f"the data module feeds {self.batch_size} real samples per generation but {type(module).__name__} "
                f"needs {need} (reals_per_generation: algo.d_steps x algo.batch_size); build it with "
                f"model.datamodule() or GANDataModule(..., batch_size={need})"
            )
        if self.batch_size is None:
            self.batch_size = int(need) if need is not None else 64
        start = int(getattr(module, "generation", self.start_generation))
        stop = int(getattr(module, "max_generations", self.stop_generation))
        rank = int(getattr(trainer, "global_rank", 0) or 0) if trainer is not None else 0
        world = int(getattr(trainer, "world_size", 1) or 1) if trainer is not None else 1
        stream = GenerationStream(
            self.source, self.batch_size, self.seed, start, stop, rank=rank, world_size=world
        )
        on_gpu = module is not None and module.device.type == "cuda"
        return StreamLoader(
            stream,
            batch_size=None,
            num_workers=self.num_workers,
            persistent_workers=False,
            pin_memory=on_gpu,  # page-locked batches: the copy to the GPU does not wait for its queue
        )
