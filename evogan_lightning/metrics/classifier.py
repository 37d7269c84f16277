"""A small CNN classifier whose penultimate layer serves as an FID feature space when no Inception
weights are available (the "classifier FID" of the evaluation protocol; label numbers as such).

The Frechet distance itself is Heusel et al. 2017; only the feature extractor differs from Inception.
:class:`ClassifierFeatures` plugs into torchmetrics' ``FrechetInceptionDistance(feature=...)``: torchmetrics
reads the feature size from its ``num_features`` attribute (no dummy forward) and passes ``update``'s
images to it unchanged (``normalize`` only matters for the built-in Inception), so feed it ``uint8``
0..255 (preferred, see :func:`evogan_lightning.metrics.quantize.to_uint8`) or floats in [-1, 1].
"""

from __future__ import annotations

import hashlib
import os
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from tqdm.auto import tqdm

__all__ = [
    "SmallCNN",
    "ClassifierFeatures",
    "train_classifier",
    "evaluate_classifier",
    "save_classifier",
    "load_classifier",
    "state_dict_sha256",
]

CLASSIFIER_FORMAT = "evogan-classifier-v1"
SUPPORTED_CHANNELS = (1, 3)
SUPPORTED_SIZES = (28, 32)
POOLED_SIZE = 3  # spatial grid kept before the feature layer (7x7 or 8x8 -> 3x3), so layout matters


def _conv_block(in_channels: int, out_channels: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(in_channels, out_channels, 3, padding=1, bias=False),
        nn.BatchNorm2d(out_channels),
        nn.ReLU(inplace=True),
    )


class SmallCNN(nn.Module):
    """Three conv blocks (width w, 2w, 4w; 2x2 max-pool after the first two), average pool to 3x3,
    a ``num_features``-wide hidden layer (the feature layer) and a linear classifier.

    Input ``[B, C, S, S]`` in [-1, 1] with C in {1, 3}, S in {28, 32}; ``forward`` gives ``[B, classes]``
    logits, ``features`` the ``[B, num_features]`` penultimate activations.
    """

    def __init__(
        self,
        in_channels: int = 1,
        num_classes: int = 10,
        image_size: int = 28,
        width: int = 32,
        num_features: int = 128,
    ) -> None:
        super().__init__()
        if in_channels not in SUPPORTED_CHANNELS:
            raise ValueError(f"SmallCNN: in_channels must be 1 or 3, got {in_channels}")
        if image_size not in SUPPORTED_SIZES:
            raise ValueError(f"SmallCNN: image_size must be 28 or 32, got {image_size}")
        if num_classes < 2:
            raise ValueError(f"SmallCNN: need at least 2 classes, got {num_classes}")
        self.in_channels = in_channels
        self.num_classes = num_classes
        self.image_size = image_size
        self.width = width
        self.num_features = num_features
        self.body = nn.Sequential(
            _conv_block(in_channels, width),
            nn.MaxPool2d(2),
            _conv_block(width, 2 * width),
            nn.MaxPool2d(2),
            _conv_block(2 * width, 4 * width),
            nn.AdaptiveAvgPool2d(POOLED_SIZE),
            nn.Flatten(),
            nn.Linear(4 * width * POOLED_SIZE**2, num_features),
            nn.ReLU(inplace=True),
        )
        self.head = nn.Linear(num_features, num_classes)

    def config(self) -> dict[str, int]:
        """Constructor arguments (stored with the weights)."""
        return {
            "in_channels": self.in_channels,
            "num_classes": self.num_classes,
            "image_size": self.image_size,
            "width": self.width,
            "num_features": self.num_features,
        }

    def check_input(self, x: Tensor) -> None:
        expected = (self.in_channels, self.image_size, self.image_size)
        if x.dim() != 4 or tuple(x.shape[1:]) != expected:
            raise ValueError(
                f"SmallCNN: expected images [B, {', '.join(map(str, expected))}], got {tuple(x.shape)}"
            )

    def features(self, x: Tensor) -> Tensor:
        """``[B, C, S, S]`` images in [-1, 1] -> ``[B, num_features]`` penultimate features."""
        self.check_input(x)
        return self.body(x)

    def forward(self, x: Tensor) -> Tensor:
        """``[B, C, S, S]`` images in [-1, 1] -> ``[B, num_classes]`` logits."""
        return self.head(self.features(x))


def state_dict_sha256(model: nn.Module, length: int | None = 16) -> str:
    """SHA-256 over the names, dtypes, shapes and bytes of a model's state dict (independent of how the
    file was serialised), cut to ``length`` hex characters."""
    digest = hashlib.sha256()
    for name, tensor in sorted(model.state_dict().items()):
        data = tensor.detach().cpu().contiguous()
        digest.update(f"{name}|{data.dtype}|{tuple(data.shape)}|".encode())
        digest.update(data.reshape(-1).view(torch.uint8).numpy().tobytes())
    hexdigest = digest.hexdigest()
    return hexdigest if length is None else hexdigest[:length]


def _check_dataset(x: Tensor, y: Tensor, name: str) -> None:
    if not isinstance(x, Tensor) or x.dim() != 4:
        raise ValueError(
            f"train_classifier: {name}_x must be [N, C, H, W], got {getattr(x, 'shape', type(x))}"
        )
    channels, height, width = x.shape[1:]
    if channels not in SUPPORTED_CHANNELS or height != width or height not in SUPPORTED_SIZES:
        raise ValueError(
            f"train_classifier: {name}_x images must have 1 or 3 channels and 28x28 or 32x32 pixels, "
            f"got {tuple(x.shape[1:])}"
        )
    if not x.is_floating_point():
        raise ValueError(f"train_classifier: {name}_x must be float images in [-1, 1], got {x.dtype}")
    if not isinstance(y, Tensor) or y.dim() != 1 or y.shape[0] != x.shape[0]:
        raise ValueError(
            f"train_classifier: {name}_y must be [N] labels matching {name}_x ({x.shape[0]} images)"
        )
    if y.is_floating_point() or y.numel() == 0 or int(y.min()) < 0:
        raise ValueError(f"train_classifier: {name}_y must be non-empty non-negative integer labels")
    x_min, x_max = float(x.min()), float(x.max())
    if x_min < -1.05 or x_max > 1.05:
        raise ValueError(
            f"train_classifier: {name}_x spans [{x_min:.3g}, {x_max:.3g}]; images must be in [-1, 1]"
        )


@torch.no_grad()
def evaluate_classifier(model: SmallCNN, x: Tensor, y: Tensor, batch_size: int = 512) -> float:
    """Accuracy of ``model`` on ``[N, C, H, W]`` images in [-1, 1] with ``[N]`` labels."""
    was_training = model.training
    model.eval()
    device = next(model.parameters()).device
    correct = 0
    for start in range(0, x.shape[0], batch_size):
        batch = x[start : start + batch_size].to(device)
        labels = y[start : start + batch_size].to(device)
        correct += int((model(batch).argmax(dim=1) == labels).sum())
    model.train(was_training)
    return correct / max(x.shape[0], 1)


def train_classifier(
    train_x: Tensor,
    train_y: Tensor,
    test_x: Tensor,
    test_y: Tensor,
    epochs: int = 5,
    batch_size: int = 128,
    lr: float = 2e-3,
    seed: int = 0,
    progress: bool = True,
    device: str | torch.device | None = None,
    width: int = 32,
    num_features: int = 128,
) -> tuple[SmallCNN, dict[str, Any]]:
    """Train a :class:`SmallCNN` with Adam and cross-entropy on in-memory tensors.

    Args:
        train_x, test_x: ``[N, C, S, S]`` float images in [-1, 1] (C in {1, 3}, S in {28, 32}).
        train_y, test_y: ``[N]`` integer labels ``0..K-1``.
        seed: seeds the initialisation and the shuffling (global RNG state is left untouched).
        progress: show a tqdm bar over batches.

    Returns:
        The model in eval mode and metadata: ``test_accuracy``, ``train_accuracy``, ``num_classes``,
        ``image_shape``, ``epochs``, ``batch_size``, ``lr``, ``seed``, ``num_train``, ``num_test``,
        ``architecture``, ``num_features`` and ``weights_sha256``.
    """
    _check_dataset(train_x, train_y, "train")
    _check_dataset(test_x, test_y, "test")
    if tuple(train_x.shape[1:]) != tuple(test_x.shape[1:]):
        raise ValueError(
            f"train_classifier: train images {tuple(train_x.shape[1:])} vs test {tuple(test_x.shape[1:])}"
        )
    if epochs < 1 or batch_size < 1:
        raise ValueError(f"train_classifier: epochs and batch_size must be >= 1, got {epochs}, {batch_size}")
    num_classes = int(max(int(train_y.max()), int(test_y.max()))) + 1
    if num_classes < 2:
        raise ValueError("train_classifier: labels hold a single class; need at least 2")
    channels, size = train_x.shape[1], train_x.shape[2]
    device = torch.device(device) if device is not None else train_x.device

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = SmallCNN(channels, num_classes, size, width=width, num_features=num_features)
    model.to(device).train()
    num_train = train_x.shape[0]
    steps_per_epoch = (num_train + batch_size - 1) // batch_size
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    scheduler = torch.optim.lr_scheduler.OneCycleLR(
        optimizer, max_lr=lr, total_steps=epochs * steps_per_epoch
    )
    generator = torch.Generator().manual_seed(seed)
    bar = tqdm(total=epochs * steps_per_epoch, desc="classifier", disable=not progress, leave=False)
    for epoch in range(epochs):
        order = torch.randperm(num_train, generator=generator)
        for start in range(0, num_train, batch_size):
            index = order[start : start + batch_size]
            batch = train_x[index].to(device, non_blocking=True)
            labels = train_y[index].to(device, non_blocking=True).long()
            loss = F.cross_entropy(model(batch), labels)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            scheduler.step()
            bar.update(1)
            bar.set_postfix(epoch=epoch + 1, loss=f"{loss.item():.3f}")
    bar.close()
    model.eval()

    metadata: dict[str, Any] = {
        "architecture": "SmallCNN",
        "test_accuracy": evaluate_classifier(model, test_x, test_y),
        "train_accuracy": evaluate_classifier(model, train_x, train_y),
        "num_classes": num_classes,
        "image_shape": [int(channels), int(size), int(size)],
        "epochs": epochs,
        "batch_size": batch_size,
        "lr": lr,
        "seed": seed,
        "num_train": int(num_train),
        "num_test": int(test_x.shape[0]),
        "num_features": num_features,
        "weights_sha256": state_dict_sha256(model),
    }
    return model, metadata


def save_classifier(path: str | os.PathLike, model: SmallCNN, metadata: dict[str, Any] | None = None) -> str:
    """Save weights, constructor config and metadata (plain Python values) to ``path``.

    ``metadata["weights_sha256"]`` is (re)computed from the weights. Returns that hash.
    """
    metadata = dict(metadata or {})
    metadata["weights_sha256"] = state_dict_sha256(model)
    state = {k: v.detach().cpu() for k, v in model.state_dict().items()}
    torch.save(
        {"format": CLASSIFIER_FORMAT, "config": model.config(), "state_dict": state, "metadata": metadata},
        path,
    )
    return metadata["weights_sha256"]


def load_classifier(
    path: str | os.PathLike, map_location: str | torch.device = "cpu"
) -> tuple[SmallCNN, dict[str, Any]]:
    """Load a classifier saved by :func:`save_classifier`; returns ``(model in eval mode, metadata)``.

    Raises ``ValueError`` for a file of another format or whose weights no longer match the stored hash.
    """
    try:
        payload = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as err:  # a text file, a truncated copy, another pickle: say what the file is not
        raise ValueError(
            f"load_classifier: {path} is not a classifier file of train_classifier (torch.load: "
            f"{type(err).__name__}); train one with evogan-train-classifier data=... out=FILE"
        ) from err
    if not isinstance(payload, dict) or payload.get("format") != CLASSIFIER_FORMAT:
        raise ValueError(f"load_classifier: {path} is not an evogan classifier file ({CLASSIFIER_FORMAT})")
    model = SmallCNN(**payload["config"])
    model.load_state_dict(payload["state_dict"])
    metadata = dict(payload["metadata"])
    actual = state_dict_sha256(model)
    if metadata.get("weights_sha256") != actual:
        raise ValueError(
            f"load_classifier: weights hash {actual} differs from the stored {metadata.get('weights_sha256')}"
        )
    return model.eval(), metadata


class ClassifierFeatures(nn.Module):
    """Frozen feature extractor around a :class:`SmallCNN` for torchmetrics FID (``feature=`` module).

    ``forward``: ``[B, C, S, S]`` uint8 0..255 or float in [-1, 1] -> ``[B, num_features]`` float32.
    A 3-channel input to a 1-channel classifier is averaged to gray (exact for repeated grayscale),
    a 1-channel input to a 3-channel classifier is repeated. With ``per_channel=C`` (stacked data, whose
    channels are separate gray images) a 1-channel classifier reads each of the C channels and the features
    are theirs side by side: ``[B, C x model.num_features]``. Always in eval mode, no gradients.
    """

    def __init__(self, model: SmallCNN, name: str = "classifier", per_channel: int = 0) -> None:
        super().__init__()
        if per_channel and model.in_channels != 1:
            raise ValueError("ClassifierFeatures: per_channel needs a 1-channel classifier")
        self.model = model.eval()
        self.model.requires_grad_(False)
        self.per_channel = int(per_channel)
        self.num_features: int = model.num_features * max(self.per_channel, 1)
        self.name = name
        self.weights_sha256 = state_dict_sha256(model)

    def train(self, mode: bool = True) -> ClassifierFeatures:
        """Stay in eval mode (batch-norm statistics are part of the feature definition)."""
        return super().train(False)

    def _prepare(self, x: Tensor) -> Tensor:
        if x.dim() != 4:
            raise ValueError(f"ClassifierFeatures: expected images [B, C, H, W], got {tuple(x.shape)}")
        if x.dtype == torch.uint8:
            x = x.float() / 127.5 - 1.0
        elif not x.is_floating_point():
            raise ValueError(f"ClassifierFeatures: expected uint8 or float images, got {x.dtype}")
        channels = x.shape[1]
        if self.per_channel:
            if channels != self.per_channel:
                raise ValueError(f"ClassifierFeatures: expected {self.per_channel} channels, got {channels}")
        elif channels == 3 and self.model.in_channels == 1:
            x = x.mean(dim=1, keepdim=True)
        elif channels == 1 and self.model.in_channels == 3:
            x = x.repeat(1, 3, 1, 1)
        return x.to(next(self.model.parameters()).dtype)

    @torch.no_grad()
    def forward(self, x: Tensor) -> Tensor:
        x = self._prepare(x)
        if self.per_channel:
            return torch.cat([self.model.features(x[:, c : c + 1]) for c in range(x.shape[1])], dim=1).float()
        return self.model.features(x).float()
