"""Inception v3 (torch-fidelity's FID network) as a feature extractor, and where its weights come from.

torchmetrics builds its extractor from torch-fidelity's ``FeatureExtractorInceptionV3``, which loads
``feature_extractor_weights_path`` with ``torch.load`` when given and otherwise calls
``torch.hub.load_state_dict_from_url(INCEPTION_WEIGHTS_URL)``; torch hub caches the file as
``torch.hub.get_dir()/checkpoints/weights-inception-2015-12-05-6726825d.pth`` (``$TORCH_HOME/hub``,
``$TORCH_HOME`` defaulting to ``$XDG_CACHE_HOME/torch`` or ``~/.cache/torch``).
"""

from __future__ import annotations

import contextlib
import hashlib
import inspect
import os
import pickle
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

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
