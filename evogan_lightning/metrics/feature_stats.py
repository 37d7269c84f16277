"""Streaming feature statistics (mean, covariance, a KID subset) and the on-disk cache of the real data's
statistics, keyed by dataset, split, resolution, extractor and its weights hash."""

from __future__ import annotations

import hashlib
import json
import os
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from .distances import check_features, frechet_distance


class FeatureStats:
    """Streaming float64 accumulator of ``n``, ``sum x`` and ``sum x x^T`` of ``[B, D]`` feature batches.

    The same sufficient statistics as torchmetrics' ``FrechetInceptionDistance`` state, so they can be
    cached, merged across batches/ranks and copied into a metric (``copy_into_fid_metric``).
    """

    def __init__(self, num_features: int | None = None) -> None:
        self.num_features = num_features
        self.n = 0
        self.sum: Tensor | None = None
        self.outer_sum: Tensor | None = None

    def update(self, features: Tensor) -> FeatureStats:
        """Add a ``[B, D]`` batch (a ``[D]`` vector counts as one row). Accumulates on its device."""
        if isinstance(features, Tensor) and features.dim() == 1:
            features = features.unsqueeze(0)
        check_features(features, "FeatureStats.update: features")
        if not torch.isfinite(features).all():
            raise ValueError("FeatureStats.update: features contain NaN or Inf")
        if self.num_features is None:
            self.num_features = features.shape[1]
        if features.shape[1] != self.num_features:
            raise ValueError(
                f"FeatureStats.update: expected {self.num_features} features, got {features.shape[1]}"
            )
        f = features.detach().to(torch.float64)
        if self.sum is None:
            self.sum = torch.zeros(self.num_features, dtype=torch.float64, device=f.device)
            self.outer_sum = torch.zeros(
                self.num_features, self.num_features, dtype=torch.float64, device=f.device
            )
        f = f.to(self.sum.device)
        self.sum += f.sum(dim=0)
        self.outer_sum += f.T @ f
        self.n += f.shape[0]
        return self

    def merge(self, other: FeatureStats) -> FeatureStats:
        """Add another accumulator's statistics into this one."""
        if other.n == 0:
            return self
        if self.n == 0:
            self.num_features = other.num_features
            self.sum, self.outer_sum, self.n = other.sum.clone(), other.outer_sum.clone(), other.n
            return self
        if other.num_features != self.num_features:
            raise ValueError(f"FeatureStats.merge: {self.num_features} vs {other.num_features} features")
        self.sum += other.sum.to(self.sum.device)
        self.outer_sum += other.outer_sum.to(self.sum.device)
        self.n += other.n
        return self

    def _require(self, minimum: int, what: str) -> None:
        if self.n < minimum:
            raise RuntimeError(f"FeatureStats.{what}: needs at least {minimum} samples, have {self.n}")

    def mean(self) -> Tensor:
        """``[D]`` float64 mean."""
        self._require(1, "mean")
        return self.sum / self.n

    def cov(self) -> Tensor:
        """``[D, D]`` float64 unbiased covariance ``(sum x x^T - n mu mu^T) / (n - 1)``."""
        self._require(2, "cov")
        mu = self.mean()
        cov = (self.outer_sum - self.n * torch.outer(mu, mu)) / (self.n - 1)
        return (cov + cov.T) / 2

    def frechet_distance(self, other: FeatureStats, **kwargs: Any) -> float:
        """Frechet distance between the Gaussians fitted to this and ``other``."""
        return frechet_distance(self.mean(), self.cov(), other.mean(), other.cov(), **kwargs)

    def state_dict(self) -> dict[str, Any]:
        """CPU tensors and ints only (loadable with ``torch.load(weights_only=True)``)."""
        return {
            "n": self.n,
            "num_features": self.num_features,
            "sum": None if self.sum is None else self.sum.cpu(),
            "outer_sum": None if self.outer_sum is None else self.outer_sum.cpu(),
        }

    @classmethod
    def from_state_dict(cls, state: Mapping[str, Any]) -> FeatureStats:
        """Inverse of :meth:`state_dict`."""
        stats = cls(state["num_features"])
        stats.n = int(state["n"])
        stats.sum = None if state["sum"] is None else state["sum"].to(torch.float64)
        stats.outer_sum = None if state["outer_sum"] is None else state["outer_sum"].to(torch.float64)
        return stats

    @classmethod
    def from_fid_metric(cls, metric: Any, real: bool = True) -> FeatureStats:
        """Statistics held by a torchmetrics ``FrechetInceptionDistance`` (real or fake side)."""
        side = "real" if real else "fake"
        stats = cls()
        stats.sum = getattr(metric, f"{side}_features_sum").detach().to(torch.float64).clone()
        stats.outer_sum = getattr(metric, f"{side}_features_cov_sum").detach().to(torch.float64).clone()
        stats.n = int(getattr(metric, f"{side}_features_num_samples").item())
        stats.num_features = stats.sum.shape[0]
        return stats

    def copy_into_fid_metric(self, metric: Any, real: bool = True) -> None:
        """Overwrite one side of a torchmetrics FID state (build it with ``reset_real_features=False``
        so cached real statistics survive ``reset()``)."""
        self._require(2, "copy_into_fid_metric")
        side = "real" if real else "fake"
        target_sum = getattr(metric, f"{side}_features_sum")
        if target_sum.shape[0] != self.num_features:
            raise ValueError(
                f"copy_into_fid_metric: metric has {target_sum.shape[0]} features, stats {self.num_features}"
            )
        target_sum.copy_(self.sum)
        getattr(metric, f"{side}_features_cov_sum").copy_(self.outer_sum)
        getattr(metric, f"{side}_features_num_samples").fill_(self.n)


# --------------------------------------------------------------------------------------------------
# Cache of real-data statistics
# --------------------------------------------------------------------------------------------------


class StatsCache:
    """Real-image :class:`FeatureStats` saved as ``.pt`` files in ``root``, keyed by a dict.

    The key must name at least ``dataset, split, resolution, extractor, weights_sha256, n`` (values: JSON
    scalars or lists). Its SHA-256 names the file (``stats-<hash>.pt``) and the key itself is stored in the
    file; :meth:`load` returns ``None`` unless the stored key equals the requested one and the stored
    sample count equals ``key["n"]``, so mismatched statistics are never returned.
    """

    REQUIRED_KEYS = ("dataset", "split", "resolution", "extractor", "weights_sha256", "n")
    FORMAT = "evogan-feature-stats-v1"

    def __init__(self, root: str | os.PathLike) -> None:
        self.root = Path(root).expanduser()

    @classmethod
    def normalize_key(cls, key: Mapping[str, Any]) -> dict[str, Any]:
        """Validate ``key`` and return its canonical JSON form (sorted keys, tuples as lists)."""
        if not isinstance(key, Mapping):
            raise TypeError(f"StatsCache key must be a mapping, got {type(key).__name__}")
        missing = [name for name in cls.REQUIRED_KEYS if name not in key]
        if missing:
            raise ValueError(f"StatsCache key is missing {missing}; required: {list(cls.REQUIRED_KEYS)}")
        try:
            return json.loads(json.dumps(dict(key), sort_keys=True))
        except TypeError as error:
            raise ValueError(f"StatsCache key values must be JSON scalars or lists: {error}") from error

    @classmethod
    def key_hash(cls, key: Mapping[str, Any]) -> str:
        """First 16 hex characters of the SHA-256 of the canonical key."""
        canonical = json.dumps(cls.normalize_key(key), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(canonical.encode()).hexdigest()[:16]

    def path(self, key: Mapping[str, Any]) -> Path:
        """File that holds (or would hold) the statistics for ``key``."""
        return self.root / f"stats-{self.key_hash(key)}.pt"

    def save(self, key: Mapping[str, Any], stats: FeatureStats) -> Path:
        """Write ``stats`` under ``key`` (atomically: temporary file, then rename). Returns the path."""
        canonical = self.normalize_key(key)
        if stats.n != canonical["n"]:
            raise ValueError(
                f"StatsCache.save: key says n={canonical['n']} but the statistics hold {stats.n}"
            )
        target = self.path(canonical)
        self.root.mkdir(parents=True, exist_ok=True)
        temporary = target.with_name(f"{target.name}.tmp-{os.getpid()}")
        payload = {"format": self.FORMAT, "key": canonical, "stats": stats.state_dict()}
        torch.save(payload, temporary)
        os.replace(temporary, target)
        return target

    def load(self, key: Mapping[str, Any]) -> FeatureStats | None:
        """Statistics stored for exactly ``key``, or ``None`` (missing, unreadable or mismatched file)."""
        canonical = self.normalize_key(key)
        target = self.path(canonical)
        if not target.is_file():
            return None
        try:
            payload = torch.load(target, map_location="cpu", weights_only=True)
        except Exception as error:  # a truncated or foreign file is a cache miss, not a crash
            warnings.warn(f"StatsCache: ignoring unreadable {target}: {error}", stacklevel=2)
            return None
        if (
            not isinstance(payload, dict)
            or payload.get("format") != self.FORMAT
            or payload.get("key") != canonical
        ):
            warnings.warn(f"StatsCache: {target} holds statistics for another key; ignoring it", stacklevel=2)
            return None
        stats = FeatureStats.from_state_dict(payload["stats"])
        if stats.n != canonical["n"]:
            return None
        return stats


# --------------------------------------------------------------------------------------------------
# Inception FID / IS through torchmetrics
# --------------------------------------------------------------------------------------------------
