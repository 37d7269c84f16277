"""The evaluation protocol for 28x28 images (README "Results", docs/results.md): one fixed feature network,
10,000 generated samples against the 10,000 test images, every number next to its floor and ceiling.

Feature network: ``metrics.classifier.SmallCNN`` trained by ``train_classifier`` with a pinned recipe
(``tools.classifier_cache``); its penultimate layer gives the features, its head the classes. On stacked
Fashion-MNIST (``data/stacked.py``) the Fashion-MNIST classifier reads each channel: the features are the
three channels' features side by side (3 x 128) and the mode is the class triple.

Metrics (``test/`` prefix: measured against the test split):

- ``test/classifier_fid``: Frechet distance (Heusel et al. 2017) in the classifier's features, torchmetrics'
  ``FrechetInceptionDistance``; ``test/classifier_kid`` (+ ``_std``): KID (Binkowski et al. 2018),
  torchmetrics' ``KernelInceptionDistance`` (100 subsets of 1000, seeded). Both are fed features that were
  computed once (a pass-through ``feature`` module), so every metric sees the same features.
- ``test/class_tvd``: total variation distance between the generated and the real class histograms,
  1/2 sum_c |f_gen(c) - f_real(c)| (Lipizzaner, Schmiedlechner et al. 2018), both as the classifier labels
  them (its errors cancel); on stacked data over the 1000 modes. torchmetrics has no such class.
- ``test/precision``, ``test/recall`` (k = 3; Kynkaanniemi et al. 2019) and ``test/density``,
  ``test/coverage`` (k = 5; Naeem et al. 2020): ``metrics.manifold`` (not in torchmetrics).
- stacked data only: ``test/modes_covered`` (of 1000) and ``test/mode_kl`` = KL(q || uniform) of the mode
  histogram q of 26,000 samples, as VEEGAN (Srivastava et al. 2017) and PacGAN (Lin et al. 2018, Table 2).

Generated samples come from the module's best individual with fixed noise (``NOISE_SEED``), are quantised to
uint8 like real images (``metrics.quantize.to_uint8``) and fed to the same classifier.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from ..core.errors import ConfigError
from .classifier import load_classifier, state_dict_sha256
from .evaluator import PassThrough
from .manifold import density_coverage, precision_recall
from .quantize import check_range, to_uint8

NUM_SAMPLES = 10_000  # generated images for every metric but the mode count
NUM_REAL = 10_000  # real test images (all of Fashion-MNIST's test split)
MODE_SAMPLES = 26_000  # stacked data: samples for the mode count and mode KL (VEEGAN, PacGAN)
NOISE_SEED = 2  # the generated samples' noise (as metrics.evaluator)
KID_SUBSETS, KID_SUBSET_SIZE = 100, 1000
PR_K, DC_K = 3, 5  # Kynkaanniemi et al. 2019; Naeem et al. 2020
STACKED = "stacked_fashion_mnist"
# data set -> the data set its classifier must have been trained on
CLASSIFIER_DATA = {STACKED: "fashion_mnist"}
NUM_CLASSES_STACKED = 1000


def classifier_data(dataset: str) -> str:
    """The data set whose classifier scores ``dataset`` (stacked Fashion-MNIST: Fashion-MNIST's)."""
    return CLASSIFIER_DATA.get(dataset, dataset)


class ImageProtocol:
    """Scores generators (or real images) against the test split in one classifier's features.

    Args:
        classifier: a file from ``evogan-train-classifier``.
        data_cfg: the ``data`` config of the runs (name, root, image_size, ...).
        num_samples, num_real, mode_samples: see the module constants.
        batch_size: images per chunk through the generator and the classifier.
    """

    def __init__(
        self,
        classifier: str | Path,
        data_cfg: Mapping[str, Any],
        num_samples: int = NUM_SAMPLES,
        num_real: int = NUM_REAL,
        mode_samples: int = MODE_SAMPLES,
        batch_size: int = 500,
    ) -> None:
        self.data_cfg = dict(data_cfg)
        self.dataset = str(self.data_cfg["name"])
        self.stacked = self.dataset == STACKED
        self.num_samples, self.num_real, self.batch_size = int(num_samples), int(num_real), int(batch_size)
        self.mode_samples = int(mode_samples) if self.stacked else 0
        if min(self.num_samples, self.num_real) <= DC_K:
            raise ConfigError(f"num_samples and num_real must be > {DC_K}, got {num_samples}, {num_real}")
        path = Path(str(classifier)).expanduser()
        if not path.is_file():
            raise ConfigError(
                f"classifier file {path} does not exist; train one with "
                f"evogan-train-classifier data={classifier_data(self.dataset)} data.root=... out={path}"
            )
        try:
            self.model, self.classifier_info = load_classifier(path)
        except (ValueError, RuntimeError, OSError) as err:
            raise ConfigError(f"{path} is not a classifier file of train_classifier: {err}") from err
        trained_on, wanted = self.classifier_info.get("dataset"), classifier_data(self.dataset)
        if trained_on != wanted:
            raise ConfigError(
                f"the classifier {path} was trained on data={trained_on}, but data={self.dataset} is scored with a "
                f"classifier of data={wanted}: evogan-train-classifier data={wanted} "
                f"data.root=... out=FILE"
            )
        self.classifier_path = path
        self.real: tuple[Tensor, Tensor] | None = None

    # ------------------------------------------------------------------ features and classes
    @torch.no_grad()
    def features(self, images: Tensor) -> tuple[Tensor, Tensor]:
        """Float images ``[B, C, 28, 28]`` in [-1, 1] -> (features ``[B, D]``, classes ``[B]``), after the
        uint8 quantisation; stacked data: per-channel features ``[B, 3 x 128]`` and modes ``[B]``."""
        try:
            check_range(images)
        except ValueError as err:
            raise ConfigError(f"images for the protocol: {err} (does the generator end in tanh?)") from err
        x = to_uint8(images).float() / 127.5 - 1.0
        channels = [x[:, c : c + 1] for c in range(x.shape[1])] if self.stacked else [x]
        feats, classes = [], []
        for part in channels:
            if part.shape[1] != self.model.in_channels:
                part = (
                    part.mean(dim=1, keepdim=True) if self.model.in_channels == 1 else part.repeat(1, 3, 1, 1)
                )
            f = self.model.features(part)
            feats.append(f)
            classes.append(self.model.head(f).argmax(dim=1))
        if self.stacked:
            from ..data.stacked import stack_modes

            return torch.cat(feats, dim=1), stack_modes(torch.stack(classes, dim=1))
        return feats[0], classes[0]

    def _score(self, batches: Iterator[Tensor]) -> tuple[Tensor, Tensor]:
        feats, classes = [], []
        for images in batches:
            if not torch.isfinite(images).all():
                raise ConfigError("the generated images contain NaN/Inf (training diverged)")
            f, c = self.features(images)
            feats.append(f)
            classes.append(c)
        return torch.cat(feats), torch.cat(classes)

    def _source(self, split: str, num_images: int | None = None) -> Any:
        from ..data.datamodule import GANDataModule

        cfg = {**self.data_cfg, "split": split}
        if self.stacked:
            cfg["num_images"] = num_images
        datamodule = GANDataModule(cfg, seed=0)
        try:
            datamodule.prepare_data()
            datamodule.setup("fit")
        except ValueError as err:
            raise ConfigError(str(err)) from err
        return datamodule.source

    def _real_batches(self, source: Any, n: int, seed: int) -> Iterator[Tensor]:
        order = torch.randperm(len(source), generator=torch.Generator().manual_seed(seed))[:n]
        for start in range(0, n, self.batch_size):
            yield source.get_batch(order[start : start + self.batch_size])

    def prepare(self) -> None:
        """Features and classes of the ``num_real`` test images (the reference of every metric)."""
        if self.real is not None:
            return
        source = self._source("test", self.num_real)
        if len(source) <= DC_K:
            raise ConfigError(
                f"data={self.dataset} has {len(source)} test images; the protocol needs more than {DC_K}"
            )
        self.num_real = min(
            self.num_real, len(source)
        )  # all of a smaller test split (recorded in protocol())
        self.real = self._score(self._real_batches(source, self.num_real, seed=0))

    # ------------------------------------------------------------------ the numbers
    def metrics(self, fake: tuple[Tensor, Tensor], fake_modes: Tensor | None = None) -> dict[str, float]:
        """All metrics of generated (features ``[N, D]``, classes ``[N]``) against the test images;
        ``fake_modes`` (stacked data): the modes of ``mode_samples`` generated images."""
        from torchmetrics.image.fid import FrechetInceptionDistance
        from torchmetrics.image.kid import KernelInceptionDistance

        self.prepare()
        assert self.real is not None
        real_f, real_c = self.real
        fake_f, fake_c = fake
        dim = real_f.shape[1]
        fid = FrechetInceptionDistance(feature=PassThrough(dim))
        with warnings.catch_warnings():  # "KID will save all extracted features": 10,000 x D floats, intended
            warnings.simplefilter("ignore", UserWarning)
            kid = KernelInceptionDistance(
                feature=PassThrough(dim),
                subsets=KID_SUBSETS,
                subset_size=min(KID_SUBSET_SIZE, fake_f.shape[0], real_f.shape[0]),
            )
        for metric in (fid, kid):
            metric.update(real_f, real=True)
            metric.update(fake_f, real=False)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(NOISE_SEED)  # KID's random subsets
            kid_mean, kid_std = kid.compute()
        out = {"test/classifier_fid": float(fid.compute()), "test/classifier_kid": float(kid_mean)}
        out["test/classifier_kid_std"] = float(kid_std)
        classes = NUM_CLASSES_STACKED if self.stacked else int(self.model.num_classes)
        real_hist = torch.bincount(real_c, minlength=classes).double() / real_c.numel()
        fake_hist = torch.bincount(fake_c, minlength=classes).double() / fake_c.numel()
        out["test/class_tvd"] = float(0.5 * (fake_hist - real_hist).abs().sum())
        out["test/precision"], out["test/recall"] = precision_recall(real_f, fake_f, PR_K)
        out["test/density"], out["test/coverage"] = density_coverage(real_f, fake_f, DC_K)
        if self.stacked:
            modes = fake_c if fake_modes is None else fake_modes
            out.update(mode_metrics(modes))
        return out

    def score_sampler(self, sample: Callable[[int], Tensor]) -> dict[str, float]:
        """Metrics of ``sample(k) -> [k, C, H, W]`` images in [-1, 1], called in chunks."""
        total = max(self.num_samples, self.mode_samples)
        feats, classes = self._score(
            sample(min(self.batch_size, total - start)) for start in range(0, total, self.batch_size)
        )
        modes = classes if self.stacked else None
        return self.metrics((feats[: self.num_samples], classes[: self.num_samples]), modes)

    def score_module(self, module: Any) -> dict[str, float]:
        """Metrics of ``module``'s best individual (``module.sample``) from fixed noise."""
        noise = torch.Generator(device=module.device).manual_seed(NOISE_SEED)
        return self.score_sampler(lambda k: module.sample(k, generator=noise, batch_size=self.batch_size))

    def score_real(self, split: str = "train") -> dict[str, float]:
        """The floor: real images of ``split`` (other images than the reference) scored as if generated."""
        source = self._source(split, max(self.num_samples, self.mode_samples))
        total = min(max(self.num_samples, self.mode_samples), len(source))
        if total <= DC_K:
            raise ConfigError(
                f"data={self.dataset} {split} holds {len(source)} images; the floor needs more than {DC_K}"
            )
        batches = self._real_batches(source, total, seed=1)
        feats, classes = self._score(batches)
        modes = classes if self.stacked else None
        return self.metrics((feats[: self.num_samples], classes[: self.num_samples]), modes)

    def protocol(self) -> str:
        """The protocol as one string, recorded next to every number."""
        parts = {
            "extractor": f"classifier:{self.classifier_info.get('dataset')}"
            + (":per_channel" if self.stacked else ""),
            "weights_sha256": state_dict_sha256(self.model),
            "classifier_test_accuracy": round(float(self.classifier_info.get("test_accuracy", math.nan)), 4),
            "n_fake": self.num_samples,
            "n_real": self.num_real,
            "real_split": "test",
            "dataset": self.dataset,
            "quantize": "uint8-round-clamp",
            "kid_subsets": f"{KID_SUBSETS}x{KID_SUBSET_SIZE}",
            "pr_k": PR_K,
            "dc_k": DC_K,
        }
        if self.stacked:
            parts["mode_samples"] = self.mode_samples
        return ";".join(f"{k}={v}" for k, v in parts.items())


def mode_metrics(modes: Tensor, num_modes: int = NUM_CLASSES_STACKED) -> dict[str, float]:
    """``[N]`` mode indices -> modes covered (at least one sample) and KL(q || uniform) of their histogram
    (VEEGAN / PacGAN's reverse KL; 0 for a perfectly uniform histogram, log(num_modes) for one mode)."""
    counts = torch.bincount(modes.long(), minlength=num_modes).double()
    q = counts / counts.sum()
    nonzero = q > 0
    kl = float((q[nonzero] * (q[nonzero] * num_modes).log()).sum())
    return {"test/modes_covered": float(nonzero.sum()), "test/mode_kl": kl}
