"""MNIST-like 28x28 pair (IE-GAN's settings; docs/algorithms.md, "Networks"). PyTorch default init, N(0, 1) noise.

Generator (every layer with bias), at ``g_width=64`` and 1 channel 1,257,345 parameters::

    z [B, latent] -> [B, latent, 1, 1] -> ConvT k3 s1 p0 -> 4w x 3x3 -> BN -> ReLU -> ConvT k5 s2 p1
    -> 2w x 7x7 -> BN -> ReLU -> ConvT k5 s2 p2 op1 -> w x 14x14 -> BN -> ReLU -> ConvT k5 s2 p2 op1
    -> C x 28x28 -> Tanh

Discriminator (logit output, every conv with bias), at ``d_width=64`` and 1 channel 1,029,121 parameters::

    x [B, C, 28, 28] -> Conv k5 s2 p2 -> w x 14x14 -> LReLU(0.2) -> Conv k5 s2 p2 -> 2w x 7x7 -> BN
    -> LReLU(0.2) -> Conv k5 s2 p1 -> 4w x 3x3 -> BN -> LReLU(0.2) -> Conv k3 s1 p0 -> 1 x 1x1 -> logits [B]

Options (``conf/net/mnist28.yaml``): ``g_width`` (G base width w, default 64: channels 256, 128, 64) and
``d_width`` (D base width w, default 64: channels 64, 128, 256).
"""

from __future__ import annotations

from torch import Tensor, nn

from . import check_image_shape, width_options

LATENT_DIM = 100
NOISE = "normal"
SIZE = 28
DEFAULTS = {"g_width": 64, "d_width": 64}


def check_shape(shape: tuple[int, ...]) -> None:
    """Raise ValueError unless ``shape`` is (1, 28, 28) or (3, 28, 28)."""
    check_image_shape("mnist28", shape, (SIZE,), usual_channels=1)


def _options(options: dict) -> dict:
    """Defaults merged with ``options`` (shared validation: nets.width_options)."""
    return width_options("mnist28", DEFAULTS, options)


class MNIST28Generator(nn.Module):
    """z [B, latent_dim] -> images [B, channels, 28, 28] in [-1, 1]."""

    def __init__(self, latent_dim: int = LATENT_DIM, channels: int = 1, g_width: int = 64) -> None:
        super().__init__()
        w = g_width
        self.net = nn.Sequential(
            nn.ConvTranspose2d(latent_dim, 4 * w, 3, 1, 0),
            nn.BatchNorm2d(4 * w),
            nn.ReLU(),
            nn.ConvTranspose2d(4 * w, 2 * w, 5, 2, 1),
            nn.BatchNorm2d(2 * w),
            nn.ReLU(),
            nn.ConvTranspose2d(2 * w, w, 5, 2, 2, output_padding=1),
            nn.BatchNorm2d(w),
            nn.ReLU(),
            nn.ConvTranspose2d(w, channels, 5, 2, 2, output_padding=1),
            nn.Tanh(),
        )

    def forward(self, z: Tensor) -> Tensor:
        return self.net(z[:, :, None, None])


class MNIST28Discriminator(nn.Module):
    """images [B, channels, 28, 28] -> logits [B]."""

    def __init__(self, channels: int = 1, d_width: int = 64) -> None:
        super().__init__()
        w = d_width
        self.net = nn.Sequential(
            nn.Conv2d(channels, w, 5, 2, 2),
            nn.LeakyReLU(0.2),
            nn.Conv2d(w, 2 * w, 5, 2, 2),
            nn.BatchNorm2d(2 * w),
            nn.LeakyReLU(0.2),
            nn.Conv2d(2 * w, 4 * w, 5, 2, 1),
            nn.BatchNorm2d(4 * w),
            nn.LeakyReLU(0.2),
            nn.Conv2d(4 * w, 1, 3, 1, 0),
        )

    def forward(self, x: Tensor) -> Tensor:
        logits = self.net(x)
        return logits.reshape(logits.shape[0])


def build_generator(shape: tuple[int, ...], latent_dim: int, **options) -> nn.Module:
    """Generator for data of ``shape`` (C, 28, 28); ``options``: g_width, d_width (unused here)."""
    check_shape(shape)
    opts = _options(options)
    return MNIST28Generator(latent_dim, shape[0], opts["g_width"])


def build_discriminator(shape: tuple[int, ...], **options) -> nn.Module:
    """Discriminator for data of ``shape`` (C, 28, 28); ``options``: d_width, g_width (unused here)."""
    check_shape(shape)
    opts = _options(options)
    return MNIST28Discriminator(shape[0], opts["d_width"])
