"""FID (Heusel et al. 2017), KID (Binkowski et al. 2018) and the Inception Score (Salimans et al. 2016) of a
module's best individual against the real train split, without Lightning. FID and KID are torchmetrics'
``FrechetInceptionDistance`` and ``KernelInceptionDistance``, fed features computed once by our extractor (a
pass-through ``feature`` module; the real statistics come from our cache into FID's state). The Inception
Score stays ``metrics.distances.inception_score_from_logits``: torchmetrics' ``InceptionScore`` shuffles the
samples with the global RNG before splitting them, where the reference (Salimans et al.) splits them in
order, so its numbers would change from run to run with the RNG state
(docs/algorithms.md, "Evaluation protocol"). ``callbacks.evaluation.ImageQuality`` runs it during training,
``evogan-evaluate`` on a checkpoint.

The N generated samples are streamed in chunks (never all on the device), quantised to uint8 by
``metrics.quantize`` (round + clamp), grayscale repeated to RGB for Inception, antialias off. Real statistics
are cached by ``metrics.feature_stats.StatsCache`` under a key naming dataset, split, resolution, extractor and its
weights hash, so statistics of another resolution or extractor are never mixed in. The feature extractor is
Inception (``feature="inception"``), a classifier trained on the same dataset (``feature="classifier"``,
numbers labelled ``classifier_fid``) or any ``nn.Module`` with ``num_features`` (``[B, C, H, W]`` uint8 ->
``[B, D]``).
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from ..core.errors import ConfigError, DivergedError
from .fid import (
    FeatureStats,
    StatsCache,
    inception_score_from_logits,
    make_inception_extractor,
)
from .quantize import check_range, to_rgb, to_uint8

STATS_CACHE_ENV = "EVOGAN_STATS_CACHE"
INCEPTION_MIN_SAMPLES = 2048  # fewer samples than feature dimensions: a singular covariance, biased FID
SPLIT_DATASETS = (
    "mnist",
    "fashion_mnist",
    "stacked_fashion_mnist",
    "cifar10",
)  # datasets with a train/test split
REAL_SELECTION_SEED = 0  # real images for the statistics: a fixed permutation, independent of the run


def default_cache_dir() -> Path:
    """``$EVOGAN_STATS_CACHE`` or ``~/.cache/evogan_lightning/feature_stats``."""
    env = os.environ.get(STATS_CACHE_ENV)
    return Path(env).expanduser() if env else Path.home() / ".cache" / "evogan_lightning" / "feature_stats"


def _real_source(data_cfg: Mapping[str, Any], split: str, seed: int, source: Any = None) -> Any:
    """The indexable real dataset of ``data_cfg`` at ``split`` (reuses ``source`` when it is that split)."""
    from ..data.datamodule import GANDataModule

    cfg = dict(data_cfg)
    if cfg["name"] in SPLIT_DATASETS:
        if cfg.get("split", "train") != split:
            source = None
        cfg["split"] = split
    if source is None:
        datamodule = GANDataModule(cfg, seed=seed)
        datamodule.prepare_data()
        datamodule.setup("fit")
        source = datamodule.source
    return source


class PassThrough(nn.Module):
    """torchmetrics' ``feature`` module when the features are computed already: ``[B, D]`` -> ``[B, D]``."""

    def __init__(self, num_features: int) -> None:
        super().__init__()
        self.num_features = int(num_features)

    def forward(self, x: Tensor) -> Tensor:
        return x


def torchmetrics_fid(real: FeatureStats, fake: FeatureStats) -> float:
    """FID of two feature statistics with torchmetrics' ``FrechetInceptionDistance`` (float64 state)."""
    from torchmetrics.image.fid import FrechetInceptionDistance

    metric = FrechetInceptionDistance(feature=PassThrough(int(real.num_features)), reset_real_features=False)
    real.copy_into_fid_metric(metric, real=True)
    fake.copy_into_fid_metric(metric, real=False)
    # the state came from our (cached, streamed) statistics rather than update(): say what update() records
    metric.orig_dtype = torch.float32
    metric._update_count = 2
    return max(float(metric.compute()), 0.0)


def torchmetrics_kid(
    real: Tensor, fake: Tensor, subsets: int, subset_size: int, seed: int
) -> tuple[float, float]:
    """KID (mean, std over subsets) of ``[N, D]`` real and ``[M, D]`` generated features with torchmetrics'
    ``KernelInceptionDistance``, in float64, its random subsets drawn from ``seed`` (the global RNG is left as it
    was). The std is torchmetrics' (population std over subsets); NaN when every subset is the whole sets."""
    from torchmetrics.image.kid import KernelInceptionDistance

    m = min(int(subset_size), real.shape[0], fake.shape[0])
    with warnings.catch_warnings():  # "KID will save all extracted features": intended
        warnings.simplefilter("ignore", UserWarning)
        metric = KernelInceptionDistance(
            feature=PassThrough(real.shape[1]), subsets=int(subsets), subset_size=m
        )
    metric.update(real.to(torch.float64), real=True)
    metric.update(fake.to(torch.float64), real=False)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(int(seed))
        mean, std = metric.compute()
    whole_sets = m == real.shape[0] and m == fake.shape[0]
    return float(mean), (float("nan") if whole_sets or subsets < 2 else float(std))


def _batch(source: Any, index: Tensor) -> Tensor:
    if hasattr(source, "get_batch"):
        return source.get_batch(index)
    return torch.stack([source[int(i)] for i in index])


class ImageEvaluator:
    """FID / KID / IS of generated images against real statistics, streamed in chunks.

    Args:
        feature: ``"inception"``, ``"classifier"`` (needs ``classifier``, a file from
            ``evogan-train-classifier``) or an ``nn.Module`` with ``num_features``.
        classifier: path of the classifier file (``feature="classifier"``).
        weights_path: local Inception weights (else ``$EVOGAN_INCEPTION_WEIGHTS`` or the torch hub cache).
        num_samples: N generated (and at most N real) images per evaluation.
        batch_size: images per chunk through the generator and the extractor.
        inception_score: also compute IS (Inception only), over ``is_splits`` splits.
        kid: also compute KID (``kid_subsets`` subsets of ``kid_subset_size``).
        real_split: the data split of the real statistics (protocol: ``train``).
        cache_dir: where real statistics are cached (default :func:`default_cache_dir`).
        allow_download: let torch-fidelity download the Inception weights when none are local.
    """

    def __init__(
        self,
        feature: str | nn.Module = "inception",
        classifier: str | None = None,
        weights_path: str | None = None,
        num_samples: int = 10_000,
        batch_size: int = 250,
        inception_score: bool = True,
        is_splits: int = 10,
        kid: bool = True,
        kid_subsets: int = 100,
        kid_subset_size: int = 1000,
        real_split: str = "train",
        cache_dir: str | None = None,
        allow_download: bool = True,
        seed: int = 2,
    ) -> None:
        if isinstance(feature, str) and feature not in ("inception", "classifier"):
            raise ConfigError(f"feature must be 'inception', 'classifier' or an nn.Module, got {feature!r}")
        if feature == "classifier" and not classifier:
            raise ConfigError(
                "feature=classifier needs a classifier file: callbacks.classifier_fid.classifier=PATH "
                "(train one with evogan-train-classifier data=... out=PATH)"
            )
        if int(num_samples) < 2:
            raise ConfigError(f"FID needs at least 2 samples (num_samples), got {num_samples}")
        if int(batch_size) < 1:
            raise ConfigError(f"batch_size must be >= 1, got {batch_size}")
        self.feature, self.classifier_path, self.weights_path = feature, classifier, weights_path
        self.num_samples, self.batch_size = int(num_samples), int(batch_size)
        self.inception_score = bool(inception_score) and feature == "inception"
        if self.inception_score and not 1 <= int(is_splits) <= self.num_samples:
            raise ConfigError(
                f"is_splits must be between 1 and num_samples ({self.num_samples}), got {is_splits}"
            )
        if feature == "inception" and self.num_samples < INCEPTION_MIN_SAMPLES:
            warnings.warn(
                f"Inception FID with num_samples={self.num_samples} < {INCEPTION_MIN_SAMPLES} (the feature "
                "dimension) is strongly biased; report it only next to runs with the same N",
                stacklevel=2,
            )
        self.is_splits, self.kid = int(is_splits), bool(kid)
        self.kid_subsets, self.kid_subset_size = int(kid_subsets), int(kid_subset_size)
        if self.kid and (self.kid_subsets < 1 or self.kid_subset_size < 2):
            raise ConfigError(
                f"KID needs kid_subsets >= 1 and kid_subset_size >= 2, got {kid_subsets} and {kid_subset_size}"
            )
        self.real_split = str(real_split)
        self.cache = StatsCache(cache_dir or default_cache_dir())
        self.allow_download, self.seed = bool(allow_download), int(seed)
        self.extractor: nn.Module | None = None
        self.info: dict[str, Any] = {}
        self.real_stats: FeatureStats | None = None
        self.real_features: Tensor | None = None
        self.device = torch.device("cpu")

    # ------------------------------------------------------------------ names
    @property
    def label(self) -> str:
        """``fid`` for Inception, ``classifier_fid`` for the classifier, ``<name>_fid`` otherwise."""
        if self.feature == "inception":
            return "fid"
        if self.feature == "classifier":
            return "classifier_fid"
        return f"{getattr(self.feature, 'name', 'feature')}_fid"

    @property
    def kid_label(self) -> str:
        return self.label.replace("fid", "kid")

    # ------------------------------------------------------------------ set-up (before training)
    def build_extractor(self, image_shape: tuple[int, ...], dataset: str | None = None) -> None:
        """Build the feature extractor; ConfigError when it is unavailable or does not fit the data
        (``dataset``: the data's name, to refuse a classifier of another data set and to read stacked
        Fashion-MNIST one channel at a time)."""
        if self.extractor is not None:
            return
        channels, height, width = image_shape
        if self.feature == "inception":
            try:
                extractor = make_inception_extractor(self.weights_path, allow_download=self.allow_download)
            except RuntimeError as err:
                raise ConfigError(
                    f"{err} (Training: drop the fid callback or use callbacks=[default,classifier_fid]; "
                    "evaluate: classifier=FILE.pt.)"
                ) from err
            self.info = {**extractor.extractor_info}
        elif self.feature == "classifier":
            from ..metrics.classifier import ClassifierFeatures, load_classifier

            path = Path(str(self.classifier_path)).expanduser()
            if not path.is_file():
                raise ConfigError(
                    f"classifier file {path} does not exist; train one with "
                    "evogan-train-classifier data=<this dataset> out=PATH"
                )
            try:
                model, metadata = load_classifier(path)
            except ValueError as err:
                raise ConfigError(str(err)) from err
            if model.image_size != height:
                raise ConfigError(
                    f"the classifier {path} was trained on {model.image_size}x{model.image_size} images but "
                    f"the data are {height}x{width}; train one at this resolution (train_classifier "
                    f"data.image_size={height})"
                )
            from ..metrics.image_protocol import STACKED, classifier_data

            trained_on = metadata.get("dataset")
            if dataset is not None and trained_on is not None and trained_on != classifier_data(dataset):
                raise ConfigError(
                    f"the classifier {path} was trained on data={trained_on}, but data={dataset} needs a "
                    f"classifier of data={classifier_data(dataset)}: evogan-train-classifier "
                    f"data={classifier_data(dataset)} data.root=... out=FILE"
                )
            per_channel = channels if dataset == STACKED and model.in_channels == 1 else 0
            extractor = ClassifierFeatures(model, per_channel=per_channel)
            self.info = {
                "extractor": f"classifier:{metadata.get('dataset', 'unknown')}"
                + (":per_channel" if per_channel else ""),
                "weights_sha256": extractor.weights_sha256,
                "classifier_test_accuracy": metadata.get("test_accuracy"),
                "antialias": None,
            }
        else:
            extractor = self.feature
            if not hasattr(extractor, "num_features"):
                raise ConfigError("a custom feature module needs a num_features attribute")
            from ..metrics.classifier import state_dict_sha256

            self.info = {
                "extractor": f"module:{type(extractor).__name__}",
                "weights_sha256": getattr(extractor, "weights_sha256", None) or state_dict_sha256(extractor),
                "antialias": None,
            }
        self.extractor = extractor.eval()

    def to(self, device: torch.device | str) -> ImageEvaluator:
        self.device = torch.device(device)
        if self.extractor is not None:
            self.extractor.to(self.device)
        return self

    def _features(self, images: Tensor) -> tuple[Tensor, Tensor | None]:
        """Float images [B, C, H, W] in [-1, 1] -> (features [B, D], IS logits [B, K] or None)."""
        x = to_uint8(images)
        if self.feature == "inception":
            x = to_rgb(x)
        out = self.extractor(x.to(self.device))
        if isinstance(out, tuple):
            return out[0], out[1]
        return out, None

    def stats_key(self, data_cfg: Mapping[str, Any], image_shape: tuple[int, ...], n: int) -> dict[str, Any]:
        """What real statistics depend on (the StatsCache key)."""
        key = {
            "dataset": data_cfg["name"],
            "split": self.real_split,
            "resolution": int(image_shape[-1]),
            "channels": int(image_shape[0]),
            "extractor": self.info["extractor"],
            "weights_sha256": self.info["weights_sha256"],
            "antialias": self.info.get("antialias"),
            "n": int(n),
            "selection_seed": REAL_SELECTION_SEED,
            "root": str(data_cfg.get("root")) if data_cfg.get("root") else None,
        }
        if data_cfg["name"] == "fake":  # generated from the run seed
            key["fake"] = [int(data_cfg.get("num_images", 512)), int(data_cfg.get("_seed", 0))]
        return key

    def prepare(
        self,
        data_cfg: Mapping[str, Any],
        image_shape: tuple[int, ...],
        device: torch.device | str = "cpu",
        seed: int = 0,
        source: Any = None,
    ) -> None:
        """Extractor and real statistics (from the cache, else from the data, then cached)."""
        self.build_extractor(tuple(image_shape), data_cfg["name"])
        self.to(device)
        from ..metrics.image_protocol import classifier_data

        parts = str(self.info["extractor"]).split(":")  # "classifier:<data set>"; Inception has no data set
        trained_on = parts[1] if len(parts) > 1 else "unknown"
        if self.feature == "classifier" and trained_on not in ("unknown", classifier_data(data_cfg["name"])):
            warnings.warn(
                f"the FID classifier was trained on {trained_on}, the data are {data_cfg['name']}; "
                "classifier FID is only meaningful with a classifier of the same dataset",
                stacklevel=2,
            )
        data_cfg = {**data_cfg, "_seed": int(seed)}
        real = _real_source(
            {k: v for k, v in data_cfg.items() if k != "_seed"}, self.real_split, seed, source
        )
        n = min(self.num_samples, len(real))
        if n < 2:
            raise ConfigError(f"the real data hold {len(real)} images; FID needs at least 2")
        key = self.stats_key(data_cfg, image_shape, n)
        stats = self.cache.load(key)
        features = self._load_real_features(key) if self.kid else None
        if stats is None or (self.kid and features is None):
            stats, features = self._real_statistics(real, n)
            self.cache.save(key, stats)
            if self.kid:
                torch.save({"key": StatsCache.normalize_key(key), "features": features}, self._kid_path(key))
        self.real_stats, self.real_features, self.info["n_real"] = stats, features, n
        self.info.update(split=self.real_split, dataset=data_cfg["name"])

    def _kid_path(self, key: Mapping[str, Any]) -> Path:
        return self.cache.path(key).with_name(f"kid-features-{StatsCache.key_hash(key)}.pt")

    def _load_real_features(self, key: Mapping[str, Any]) -> Tensor | None:
        path = self._kid_path(key)
        if not path.is_file():
            return None
        try:
            payload = torch.load(path, map_location="cpu", weights_only=True)
        except Exception:
            return None
        return payload["features"] if payload.get("key") == StatsCache.normalize_key(key) else None

    @torch.no_grad()
    def _real_statistics(self, real: Any, n: int) -> tuple[FeatureStats, Tensor | None]:
        order = torch.randperm(len(real), generator=torch.Generator().manual_seed(REAL_SELECTION_SEED))[:n]
        stats, kept = FeatureStats(), []
        for start in range(0, n, self.batch_size):
            images = _batch(real, order[start : start + self.batch_size]).float()
            try:
                check_range(images)
            except ValueError as err:
                raise ConfigError(f"real images for FID: {err}") from err
            features, _ = self._features(images)
            stats.update(features)
            if self.kid:
                kept.append(features.float().cpu())
        return stats, (torch.cat(kept) if self.kid else None)

    # ------------------------------------------------------------------ one evaluation
    @torch.no_grad()
    def evaluate(self, module: Any, generation: int | None = None) -> dict[str, float]:
        """Metrics of ``module``'s best individual (``module.sample``), N samples from fixed noise."""
        if self.real_stats is None:
            raise RuntimeError("ImageEvaluator.evaluate: call prepare() first")
        generation = module.generation if generation is None else generation
        noise = torch.Generator(device=module.device).manual_seed(self.seed)
        stats, kept, logits = FeatureStats(), [], []
        for start in range(0, self.num_samples, self.batch_size):
            k = min(self.batch_size, self.num_samples - start)
            images = module.sample(k, generator=noise, batch_size=self.batch_size)
            if not torch.isfinite(images).all():
                raise DivergedError(
                    f"generation {generation}: the best individual's samples contain NaN/Inf; "
                    "cannot compute FID (training diverged; the last good checkpoint was kept)"
                )
            try:
                check_range(images)
            except ValueError as err:
                raise ConfigError(
                    f"generation {generation}: {err} (does the generator end in tanh?)"
                ) from err
            features, batch_logits = self._features(images)
            stats.update(features)
            if self.kid:
                kept.append(features.float().cpu())
            if self.inception_score and batch_logits is not None:
                logits.append(batch_logits.cpu())
        out = {f"val/{self.label}": torchmetrics_fid(self.real_stats, stats)}
        if self.kid:
            kid, kid_std = torchmetrics_kid(
                self.real_features, torch.cat(kept), self.kid_subsets, self.kid_subset_size, self.seed
            )
            out[f"val/{self.kid_label}"], out[f"val/{self.kid_label}_std"] = kid, kid_std
        if logits:
            out["val/is_mean"], out["val/is_std"] = inception_score_from_logits(
                torch.cat(logits), self.is_splits
            )
        return out

    def protocol(self) -> str:
        """The protocol as one compact string, recorded next to every number."""
        parts = {
            "extractor": self.info.get("extractor"),
            "weights_sha256": self.info.get("weights_sha256"),
            "antialias": self.info.get("antialias"),
            "n_fake": self.num_samples,
            "n_real": self.info.get("n_real"),
            "split": self.real_split,
            "dataset": self.info.get("dataset"),
            "quantize": "uint8-round-clamp",
        }
        if self.kid:
            parts["kid_subsets"] = f"{self.kid_subsets}x{min(self.kid_subset_size, self.num_samples)}"
        if self.info.get("classifier_test_accuracy") is not None:
            parts["classifier_test_accuracy"] = round(float(self.info["classifier_test_accuracy"]), 4)
        return ";".join(f"{k}={v}" for k, v in parts.items())
