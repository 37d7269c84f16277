"""Frechet distance, streaming feature statistics, KID, a real-statistics cache and Inception FID/IS.

Formulas:
- FID (Heusel et al. 2017, "GANs trained by a two time-scale update rule converge to a local Nash
  equilibrium"): ``||mu1 - mu2||^2 + tr(S1 + S2 - 2 (S1 S2)^(1/2))``.
- KID (Binkowski et al. 2018, "Demystifying MMD GANs"): unbiased MMD^2 with the polynomial kernel
  ``k(x, y) = (x.y / d + 1)^3``, averaged over random subsets.

Inception weights: torchmetrics builds its extractor from torch-fidelity's ``FeatureExtractorInceptionV3``,
which loads ``feature_extractor_weights_path`` with ``torch.load`` when given and otherwise calls
``torch.hub.load_state_dict_from_url(INCEPTION_WEIGHTS_URL)``; torch hub caches the file as
``torch.hub.get_dir()/checkpoints/weights-inception-2015-12-05-6726825d.pth`` (``$TORCH_HOME/hub``,
``$TORCH_HOME`` defaulting to ``$XDG_CACHE_HOME/torch`` or ``~/.cache/torch``).
"""

from __future__ import annotations

import contextlib
import hashlib
import inspect
import json
import math
import os
import pickle
import warnings
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any, Literal

import numpy as np
import scipy.linalg
import torch
from torch import Tensor

__all__ = [
    "INCEPTION_WEIGHTS_ENV",
    "INCEPTION_WEIGHTS_URL",
    "FeatureStats",
    "StatsCache",
    "frechet_distance",
    "kernel_inception_distance",
    "sha256_file",
    "inception_weights_cache_path",
    "inception_available",
    "make_inception_fid",
    "make_inception_score",
    "make_inception_extractor",
    "InceptionFeatures",
    "inception_score_from_logits",
]

INCEPTION_WEIGHTS_ENV = "EVOGAN_INCEPTION_WEIGHTS"
# The file torch-fidelity (and so torchmetrics) downloads: TF Inception (2015-12-05) converted to PyTorch.
INCEPTION_WEIGHTS_URL = "https://github.com/toshas/torch-fidelity/releases/download/v0.2.0/weights-inception-2015-12-05-6726825d.pth"
INCEPTION_WEIGHTS_FILENAME = "weights-inception-2015-12-05-6726825d.pth"
INCEPTION_EXTRACTOR_NAME = "inception-v3-compat"


def sha256_file(path: str | os.PathLike, length: int | None = 16) -> str:
    """SHA-256 of a file's bytes as hex, cut to ``length`` characters (``None``: all 64)."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    hexdigest = digest.hexdigest()
    return hexdigest if length is None else hexdigest[:length]


# --------------------------------------------------------------------------------------------------
# Frechet distance and KID
# --------------------------------------------------------------------------------------------------


def _as_float64(x: Any, name: str) -> np.ndarray:
    if isinstance(x, Tensor):
        x = x.detach().to("cpu", torch.float64).numpy()
    array = np.asarray(x, dtype=np.float64)
    if not np.isfinite(array).all():
        raise ValueError(f"frechet_distance: {name} contains NaN or Inf")
    return array


def _sqrt_psd(matrix: np.ndarray) -> np.ndarray:
    """Square root of a symmetric positive semi-definite matrix via eigh (negative round-off clipped)."""
    eigenvalues, eigenvectors = np.linalg.eigh(matrix)
    return (eigenvectors * np.sqrt(np.clip(eigenvalues, 0.0, None))) @ eigenvectors.T


def _trace_sqrt_product_eigh(sigma1: np.ndarray, sigma2: np.ndarray) -> float:
    # tr((S1 S2)^(1/2)) = sum sqrt(eig(S1 S2)) and eig(S1 S2) = eig(S1^(1/2) S2 S1^(1/2)) (AB and BA share
    # eigenvalues). The latter matrix is symmetric PSD, so eigvalsh is exact up to round-off and needs no
    # eps offset, also for singular covariances (fewer samples than features).
    root1 = _sqrt_psd(sigma1)
    middle = root1 @ sigma2 @ root1
    middle = (middle + middle.T) / 2
    return float(np.sqrt(np.clip(np.linalg.eigvalsh(middle), 0.0, None)).sum())


def _trace_sqrt_product_sqrtm(sigma1: np.ndarray, sigma2: np.ndarray, eps: float) -> float:
    # The classic route: scipy sqrtm of the (non-symmetric) product, an eps * I offset on both
    # covariances when the root is not finite (singular product), and the real part when the imaginary
    # part is round-off.
    covmean = scipy.linalg.sqrtm(sigma1 @ sigma2)
    if not np.isfinite(covmean).all():
        offset = np.eye(sigma1.shape[0]) * eps
        covmean = scipy.linalg.sqrtm((sigma1 + offset) @ (sigma2 + offset))
    if np.iscomplexobj(covmean):
        max_imag = float(np.max(np.abs(covmean.imag)))
        if max_imag > 1e-3:
            raise ValueError(f"frechet_distance: sqrtm has a large imaginary component ({max_imag:.3g})")
        covmean = covmean.real
    return float(np.trace(covmean))


def frechet_distance(
    mu1: Tensor | np.ndarray,
    sigma1: Tensor | np.ndarray,
    mu2: Tensor | np.ndarray,
    sigma2: Tensor | np.ndarray,
    method: Literal["eigh", "sqrtm"] = "eigh",
    eps: float = 1e-6,
) -> float:
    """Frechet distance between N(mu1, sigma1) and N(mu2, sigma2) in float64 (Heusel et al. 2017).

    ``d^2 = ||mu1 - mu2||^2 + tr(sigma1) + tr(sigma2) - 2 tr((sigma1 sigma2)^(1/2))``.

    Args:
        mu1, mu2: ``[D]`` means.
        sigma1, sigma2: ``[D, D]`` covariances (symmetrised before use).
        method: ``"eigh"`` (default) uses symmetric eigendecompositions, exact for singular covariances;
            ``"sqrtm"`` the classic ``scipy.linalg.sqrtm`` route with an ``eps`` diagonal offset fallback.
        eps: diagonal offset of the ``"sqrtm"`` fallback.

    Returns:
        The squared Frechet distance, clamped at 0 against round-off.
    """
    m1, m2 = _as_float64(mu1, "mu1"), _as_float64(mu2, "mu2")
    s1, s2 = _as_float64(sigma1, "sigma1"), _as_float64(sigma2, "sigma2")
    if m1.ndim != 1 or m1.shape != m2.shape:
        raise ValueError(f"frechet_distance: means must both be [D], got {m1.shape} and {m2.shape}")
    dim = m1.shape[0]
    if s1.shape != (dim, dim) or s2.shape != (dim, dim):
        raise ValueError(
            f"frechet_distance: covariances must be [{dim}, {dim}], got {s1.shape} and {s2.shape}"
        )
    s1, s2 = (s1 + s1.T) / 2, (s2 + s2.T) / 2
    if method == "eigh":
        tr_covmean = _trace_sqrt_product_eigh(s1, s2)
    elif method == "sqrtm":
        tr_covmean = _trace_sqrt_product_sqrtm(s1, s2, eps)
    else:
        raise ValueError(f"frechet_distance: unknown method {method!r} (use 'eigh' or 'sqrtm')")
    diff = m1 - m2
    value = float(diff @ diff + np.trace(s1) + np.trace(s2) - 2.0 * tr_covmean)
    return max(value, 0.0)


def _check_features(features: Tensor, name: str) -> None:
    if not isinstance(features, Tensor) or features.dim() != 2:
        shape = tuple(features.shape) if isinstance(features, Tensor) else type(features).__name__
        raise ValueError(f"{name} must be a [N, D] tensor, got {shape}")


def kernel_inception_distance(
    features1: Tensor,
    features2: Tensor,
    subsets: int = 100,
    subset_size: int = 1000,
    degree: int = 3,
    gamma: float | None = None,
    coef: float = 1.0,
    generator: torch.Generator | None = None,
) -> tuple[float, float]:
    """Kernel Inception Distance: unbiased MMD^2 with a polynomial kernel (Binkowski et al. 2018).

    ``k(x, y) = (gamma x.y + coef)^degree`` with ``gamma = 1 / D`` by default. For each of ``subsets``
    random subsets of ``m = min(subset_size, N1, N2)`` rows from each set,
    ``MMD^2 = sum_{i!=j} k(x_i, x_j) / (m(m-1)) + sum_{i!=j} k(y_i, y_j) / (m(m-1))
    - 2 sum_{i,j} k(x_i, y_j) / m^2``.

    Args:
        features1: ``[N1, D]`` features of one set; features2: ``[N2, D]`` of the other.
        generator: CPU generator for the subset draws (reproducible results).

    Returns:
        ``(mean, std)`` of the subset estimates. ``std`` is NaN when the subsets cannot differ (a single
        subset, or ``subset_size >= N1`` and ``>= N2``: every subset is the whole sets), rather than a
        spread of 0 that would claim an exact value.
    """
    _check_features(features1, "kernel_inception_distance: features1")
    _check_features(features2, "kernel_inception_distance: features2")
    if features1.shape[1] != features2.shape[1]:
        raise ValueError(
            f"kernel_inception_distance: feature sizes differ ({features1.shape[1]} vs {features2.shape[1]})"
        )
    m = min(subset_size, features1.shape[0], features2.shape[0])
    if m < 2:
        raise ValueError("kernel_inception_distance: need at least 2 samples per set")
    if subsets < 1:
        raise ValueError(f"kernel_inception_distance: subsets must be >= 1, got {subsets}")
    x_all = features1.detach().to(torch.float64)
    y_all = features2.detach().to(torch.float64).to(x_all.device)
    gamma = 1.0 / x_all.shape[1] if gamma is None else gamma

    def kernel(a: Tensor, b: Tensor) -> Tensor:
        return (gamma * (a @ b.T) + coef) ** degree

    estimates = []
    for _ in range(subsets):
        x = x_all[torch.randperm(x_all.shape[0], generator=generator)[:m].to(x_all.device)]
        y = y_all[torch.randperm(y_all.shape[0], generator=generator)[:m].to(y_all.device)]
        k_xx, k_yy, k_xy = kernel(x, x), kernel(y, y), kernel(x, y)
        within = (k_xx.sum() - k_xx.diagonal().sum() + k_yy.sum() - k_yy.diagonal().sum()) / (m * (m - 1))
        estimates.append(within - 2.0 * k_xy.sum() / (m * m))
    values = torch.stack(estimates)
    whole_sets = m == features1.shape[0] and m == features2.shape[0]
    std = float(values.std().item()) if subsets > 1 and not whole_sets else float("nan")
    return float(values.mean().item()), std


# --------------------------------------------------------------------------------------------------
# Streaming statistics
# --------------------------------------------------------------------------------------------------


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
        _check_features(features, "FeatureStats.update: features")
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


def inception_weights_cache_path() -> Path:
    """Where torch hub (used by torch-fidelity) caches the Inception weights download."""
    return Path(torch.hub.get_dir()) / "checkpoints" / INCEPTION_WEIGHTS_FILENAME


def _torch_fidelity_available() -> bool:
    from torchmetrics.utilities.imports import _TORCH_FIDELITY_AVAILABLE

    return bool(_TORCH_FIDELITY_AVAILABLE)


def _resolve_weights(weights_path: str | os.PathLike | None) -> tuple[Path | None, str]:
    """Explicit path, else ``$EVOGAN_INCEPTION_WEIGHTS``, else the torch hub cache; with its source."""
    if weights_path:
        return Path(weights_path).expanduser(), "the weights_path argument"
    from_env = os.environ.get(INCEPTION_WEIGHTS_ENV)
    if from_env:
        return Path(from_env).expanduser(), f"${INCEPTION_WEIGHTS_ENV}"
    cached = inception_weights_cache_path()
    if cached.is_file():
        return cached, "the torch hub cache"
    return None, "nowhere"


def _how_to_provide_weights() -> str:
    return (
        f"pass a local file (training: callbacks.fid.weights_path=FILE; evaluate: weights_path=FILE) or set "
        f"{INCEPTION_WEIGHTS_ENV}=/path/to/{INCEPTION_WEIGHTS_FILENAME}; torch-fidelity downloads that file "
        f"from {INCEPTION_WEIGHTS_URL} into {inception_weights_cache_path()} (needs internet). Without "
        "Inception weights use the classifier-feature FID (callbacks=[default,classifier_fid] during "
        "training, classifier=FILE in evaluate; labelled classifier_fid)"
    )


def inception_available(weights_path: str | os.PathLike | None = None) -> tuple[bool, str]:
    """Whether Inception FID/IS can be built without network access, and why (or why not).

    Counts an explicit file, ``$EVOGAN_INCEPTION_WEIGHTS`` and a file already in the torch hub cache.
    A download that has not happened yet counts as unavailable (it may still succeed online).
    """
    if not _torch_fidelity_available():
        return False, "torch-fidelity is not installed (pip install torch-fidelity, or torchmetrics[image])"
    path, source = _resolve_weights(weights_path)
    if path is None:
        return False, f"no local Inception weights and no cached download; {_how_to_provide_weights()}"
    if not path.is_file():
        return False, f"Inception weights file {path} (from {source}) does not exist"
    return True, f"Inception weights at {path} (from {source})"


def _obtain_weights(weights_path: str | os.PathLike | None, allow_download: bool) -> tuple[Path, str]:
    """Resolve a local weights file or download it into the torch hub cache; RuntimeError otherwise."""
    problems = []
    if not _torch_fidelity_available():
        problems.append(
            "torch-fidelity is not installed (pip install torch-fidelity, or torchmetrics[image])"
        )
    path, source = _resolve_weights(weights_path)
    if path is not None:
        if not path.is_file():
            problems.append(f"the Inception weights file {path} (from {source}) does not exist")
    elif not allow_download:
        problems.append("no local Inception weights were given and none are cached (downloads disabled)")
    elif problems:
        problems.append("no local Inception weights were given and none are cached")
    else:
        cached = inception_weights_cache_path()
        try:
            cached.parent.mkdir(parents=True, exist_ok=True)
            torch.hub.download_url_to_file(INCEPTION_WEIGHTS_URL, str(cached), progress=True)
            path, source = cached, "a fresh download"
        except Exception as error:  # no network, proxy, HTTP error: all end in the same advice
            problems.append(f"downloading the Inception weights failed ({type(error).__name__}: {error})")
    if problems:
        raise RuntimeError(
            "Inception FID/IS unavailable: "
            + "; ".join(problems)
            + ". To fix: "
            + _how_to_provide_weights()
            + "."
        )
    return path, source


@contextlib.contextmanager
def _clear_load_errors(path: Path, source: str) -> Iterator[None]:
    """Turn a failure to load the weights file (truncated download, wrong file) into a clear error."""
    try:
        yield
    except (RuntimeError, OSError, EOFError, KeyError, pickle.UnpicklingError) as error:
        raise RuntimeError(
            f"Inception FID/IS unavailable: loading the weights file {path} (from {source}) failed "
            f"({type(error).__name__}: {error}); it should be {INCEPTION_WEIGHTS_FILENAME} from "
            f"{INCEPTION_WEIGHTS_URL}. To fix: {_how_to_provide_weights()}."
        ) from error


def _extractor_info(path: Path, source: str, feature: int | str, antialias: bool | None) -> dict[str, Any]:
    return {
        "extractor": f"{INCEPTION_EXTRACTOR_NAME}-{feature}",
        "weights_path": str(path),
        "weights_source": source,
        "weights_sha256": sha256_file(path),
        "antialias": antialias,
    }


def make_inception_fid(
    weights_path: str | os.PathLike | None = None,
    feature: int = 2048,
    antialias: bool = False,
    allow_download: bool = True,
    **metric_kwargs: Any,
) -> Any:
    """torchmetrics ``FrechetInceptionDistance`` on torch-fidelity's Inception with local or cached weights.

    Feed it ``uint8`` 3-channel images (``to_rgb(to_uint8(x))``; ``normalize`` stays False).
    ``antialias=False`` (TF-1-compatible bilinear resize to 299, as in the original FID code) is passed
    when the installed torchmetrics supports the option. The returned metric carries ``extractor_info``
    (extractor name, weights file, its SHA-256 prefix, antialias) to record next to every number.

    Raises:
        RuntimeError: at construction when torch-fidelity or the weights are missing (and, with
            ``allow_download``, the download fails); the message names ``weights_path`` and
            ``$EVOGAN_INCEPTION_WEIGHTS``.
    """
    from torchmetrics.image.fid import FrechetInceptionDistance

    path, source = _obtain_weights(weights_path, allow_download)
    parameters = inspect.signature(FrechetInceptionDistance.__init__).parameters
    kwargs = dict(metric_kwargs)
    if "feature_extractor_weights_path" not in parameters:
        raise RuntimeError(
            "the installed torchmetrics cannot load Inception weights from a local file "
            "(no feature_extractor_weights_path); upgrade torchmetrics (>= 1.4)"
        )
    kwargs["feature_extractor_weights_path"] = str(path)
    applied_antialias: bool | None = None
    if "antialias" in parameters:
        kwargs["antialias"] = antialias
        applied_antialias = antialias
    with _clear_load_errors(path, source):
        metric = FrechetInceptionDistance(feature=feature, **kwargs)
    metric.extractor_info = _extractor_info(path, source, feature, applied_antialias)
    return metric


def make_inception_score(
    weights_path: str | os.PathLike | None = None,
    splits: int = 10,
    antialias: bool = False,
    allow_download: bool = True,
    **metric_kwargs: Any,
) -> Any:
    """torchmetrics ``InceptionScore`` (logits_unbiased) with local/cached weights and explicit antialias.

    torchmetrics 1.9's ``InceptionScore`` takes neither a weights path nor ``antialias``, so the extractor
    (torchmetrics' ``NoTrainInceptionV3``) is built here and passed as ``feature``. Feed ``uint8`` RGB.
    Raises ``RuntimeError`` like :func:`make_inception_fid`.
    """
    from torchmetrics.image.fid import NoTrainInceptionV3
    from torchmetrics.image.inception import InceptionScore

    path, source = _obtain_weights(weights_path, allow_download)
    parameters = inspect.signature(NoTrainInceptionV3.__init__).parameters
    extractor_kwargs: dict[str, Any] = {}
    if "feature_extractor_weights_path" not in parameters:
        raise RuntimeError(
            "the installed torchmetrics cannot load Inception weights from a local file; upgrade it"
        )
    extractor_kwargs["feature_extractor_weights_path"] = str(path)
    applied_antialias: bool | None = None
    if "antialias" in parameters:
        extractor_kwargs["antialias"] = antialias
        applied_antialias = antialias
    with _clear_load_errors(path, source):
        extractor = NoTrainInceptionV3(
            name=INCEPTION_EXTRACTOR_NAME, features_list=["logits_unbiased"], **extractor_kwargs
        )
    metric = InceptionScore(feature=extractor, splits=splits, **metric_kwargs)
    metric.extractor_info = _extractor_info(path, source, "logits_unbiased", applied_antialias)
    return metric


class InceptionFeatures(torch.nn.Module):
    """One Inception pass giving both FID features and IS logits (torch-fidelity's TF-compatible net).

    ``forward``: ``[B, 3, H, W]`` uint8 -> ``([B, 2048] pool features, [B, 1008] unbiased logits)``, float32.
    Always in eval mode. Build it with :func:`make_inception_extractor`; ``extractor_info`` records the
    protocol (extractor name, weights SHA-256 prefix, antialias).
    """

    def __init__(self, network: torch.nn.Module, info: dict[str, Any]) -> None:
        super().__init__()
        self.network = network
        self.num_features = 2048
        self.extractor_info = info

    def train(self, mode: bool = True) -> InceptionFeatures:
        return super().train(False)

    @torch.no_grad()
    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        if x.dtype != torch.uint8 or x.dim() != 4 or x.shape[1] != 3:
            raise ValueError(
                f"InceptionFeatures: expected uint8 images [B, 3, H, W], got {x.dtype} {tuple(x.shape)}"
            )
        pool, logits = self.network._torch_fidelity_forward(x)
        return pool.reshape(x.shape[0], -1).float(), logits.reshape(x.shape[0], -1).float()


def make_inception_extractor(
    weights_path: str | os.PathLike | None = None, antialias: bool = False, allow_download: bool = True
) -> InceptionFeatures:
    """:class:`InceptionFeatures` on local/cached weights (one network for FID and IS).

    Raises ``RuntimeError`` like :func:`make_inception_fid` when torch-fidelity or the weights are missing.
    """
    path, source = _obtain_weights(weights_path, allow_download)
    from torchmetrics.image.fid import NoTrainInceptionV3

    parameters = inspect.signature(NoTrainInceptionV3.__init__).parameters
    if "feature_extractor_weights_path" not in parameters:
        raise RuntimeError(
            "the installed torchmetrics cannot load Inception weights from a local file; upgrade it"
        )
    kwargs: dict[str, Any] = {"feature_extractor_weights_path": str(path)}
    applied_antialias: bool | None = None
    if "antialias" in parameters:
        kwargs["antialias"] = antialias
        applied_antialias = antialias
    with _clear_load_errors(path, source):
        network = NoTrainInceptionV3(
            name=INCEPTION_EXTRACTOR_NAME, features_list=["2048", "logits_unbiased"], **kwargs
        )
    return InceptionFeatures(network, _extractor_info(path, source, 2048, applied_antialias))


def inception_score_from_logits(logits: Tensor, splits: int = 10) -> tuple[float, float]:
    """Inception Score (Salimans et al. 2016): ``exp(E_x KL(p(y|x) || p(y)))`` per split, mean and std.

    Args:
        logits: ``[N, K]`` classifier logits of N generated images (in generation order; not shuffled).
        splits: number of equal consecutive splits (``N >= splits`` required).
    """
    if logits.dim() != 2:
        raise ValueError(f"inception_score_from_logits: logits must be [N, K], got {tuple(logits.shape)}")
    if splits < 1 or logits.shape[0] < splits:
        raise ValueError(
            f"inception_score_from_logits: need 1 <= splits <= N, got splits={splits}, N={logits.shape[0]}"
        )
    log_p = torch.log_softmax(logits.to(torch.float64), dim=1)
    scores = []
    for chunk in log_p.chunk(splits, dim=0):
        log_marginal = torch.logsumexp(chunk, dim=0) - math.log(chunk.shape[0])
        kl = (chunk.exp() * (chunk - log_marginal)).sum(dim=1).mean()
        scores.append(kl.exp())
    values = torch.stack(scores)
    std = float(values.std(unbiased=True)) if splits > 1 else 0.0
    return float(values.mean()), std
