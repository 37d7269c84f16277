"""MLP pair for 2-d toy mixtures. Default 128 units (the toy study's fast nets, README "Results"); the E-GAN
toy experiments used 512-unit layers with batch norm in D (``experiment=egan_toy``)."""

from __future__ import annotations

from torch import Tensor, nn

LATENT_DIM = 2
NOISE = "normal"
DEFAULTS = {"hidden": 128, "g_layers": 3, "d_layers": 3, "d_batch_norm": False}
# The defaults of checkpoints written before 2026-12-03 (checkpoint version 1), when the width was 512.
LEGACY_DEFAULTS = {"hidden": 512, "g_layers": 3, "d_layers": 3, "d_batch_norm": False}
_OPTIONS = set(DEFAULTS)


def check_shape(shape: tuple[int, ...]) -> None:
    """The MLP family models flat vectors only (toy data of shape (2,))."""
    if len(shape) != 1:
        raise ValueError(
            f"net=mlp models flat vectors (toy data, shape (D,)), got data of shape {tuple(shape)}; "
            "for images choose net=auto (or egan32 / mnist28 / dcgan64)"
        )


def _check_options(options: dict) -> None:
    unknown = set(options) - _OPTIONS
    if unknown:
        raise ValueError(f"unknown option(s) {sorted(unknown)} for net=mlp; valid: {sorted(_OPTIONS)}")
    for key in ("hidden", "g_layers", "d_layers"):
        value = options.get(key, 1)
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(
                f"net.{key} must be a whole number >= 1, got {value!r} (default {DEFAULTS[key]})"
            )


class MLPGenerator(nn.Module):
    """z [B, latent_dim] -> x [B, D]: ``g_layers`` ReLU layers of ``hidden`` units, linear output."""

    def __init__(self, latent_dim: int, out_dim: int, hidden: int = 128, g_layers: int = 3) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        width = latent_dim
        for _ in range(g_layers):
            layers += [nn.Linear(width, hidden), nn.ReLU()]
            width = hidden
        layers.append(nn.Linear(width, out_dim))
        self.net = nn.Sequential(*layers)

    def forward(self, z: Tensor) -> Tensor:
        return self.net(z)


class MLPDiscriminator(nn.Module):
    """x [B, D] -> logits [B]: ``d_layers`` ReLU layers (optionally batch-normed) of ``hidden`` units."""

    def __init__(self, in_dim: int, hidden: int = 128, d_layers: int = 3, d_batch_norm: bool = False) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        width = in_dim
        for i in range(d_layers):
            layers.append(nn.Linear(width, hidden))
            if d_batch_norm and i > 0:
                layers.append(nn.BatchNorm1d(hidden))
            layers.append(nn.ReLU())
            width = hidden
        layers.append(nn.Linear(width, 1))
        self.net = nn.Sequential(*layers)

    def forward(self, x: Tensor) -> Tensor:
        return self.net(x).squeeze(-1)


def build_generator(shape: tuple[int, ...], latent_dim: int, **options) -> nn.Module:
    check_shape(shape)
    _check_options(options)
    o = {**DEFAULTS, **options}
    return MLPGenerator(latent_dim, shape[0], o["hidden"], o["g_layers"])


def build_discriminator(shape: tuple[int, ...], **options) -> nn.Module:
    check_shape(shape)
    _check_options(options)
    o = {**DEFAULTS, **options}
    return MLPDiscriminator(shape[0], o["hidden"], o["d_layers"], bool(o["d_batch_norm"]))
