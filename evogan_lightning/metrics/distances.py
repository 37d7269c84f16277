"""FID, KID and the Inception Score from features or logits (the maths; no network, no files).

- FID (Heusel et al. 2017, "GANs trained by a two time-scale update rule converge to a local Nash
  equilibrium"): ``||mu1 - mu2||^2 + tr(S1 + S2 - 2 (S1 S2)^(1/2))``.
- KID (Binkowski et al. 2018, "Demystifying MMD GANs"): unbiased MMD^2 with the polynomial kernel
  ``k(x, y) = (x.y / d + 1)^3``, averaged over random subsets.
- IS (Salimans et al. 2016): ``exp(E_x KL(p(y|x) || p(y)))`` over splits.
"""

from __future__ import annotations

import math
from typing import Any, Literal

import numpy as np
import scipy.linalg
import torch
from torch import Tensor


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


def check_features(features: Tensor, name: str) -> None:
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
    check_features(features1, "kernel_inception_distance: features1")
    check_features(features2, "kernel_inception_distance: features2")
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
