"""E-GAN / CE-GAN 32x32 pair (E-GAN PyTorch code, also used by CE-GAN and IE-GAN; docs/algorithms.md, "Networks").

Generator (no batch norm, every layer with bias), at ``g_width=128`` and 3 channels 3,447,683 parameters::

    z [B, latent] -> [B, latent, 1, 1] -> ConvT k4 s1 p0 -> 4w x 4x4 -> ReLU -> ConvT k4 s2 p1 -> 2w x 8x8
    -> ReLU -> ConvT k4 s2 p1 -> w x 16x16 -> ReLU -> ConvT k4 s2 p1 -> C x 32x32 -> Tanh

Discriminator (logit output, convs with bias), at ``d_width=128`` and 3 channels 2,638,209 parameters::

    x [B, C, 32, 32] -> Conv k4 s2 p1 -> w x 16x16 -> LReLU(0.2) -> Conv -> 2w x 8x8 -> BN -> LReLU(0.2)
    -> Conv -> 4w x 4x4 -> BN -> LReLU(0.2) -> flatten (16 * 4w) -> Linear -> logits [B]

Options (``conf/net/egan32.yaml``): ``g_width`` (G base width w, default 128: channels 512, 256, 128) and
``d_width`` (D base width w, default 128: channels 128, 256, 512). Initialisation as the reference: conv and
linear weights N(0, 0.02), biases 0; batch-norm weights N(1, 0.02), biases 0. Reference noise U(-1, 1)^100.
"""

from __future__ import annotations

from torch import Tensor, nn

from . import check_image_shape, dcgan_init, width_options

LATENT_DIM = 100
NOISE = "uniform"
SIZE = 32
DEFAULTS = {"g_width": 128, "d_width": 128}


def check_shape(shape: tuple[int, ...]) -> None:
    """Raise ValueError unless ``shape`` is (1, 32, 32) or (3, 32, 32)."""
    check_image_shape("egan32", shape, (SIZE,), usual_channels=3)


def _options(options: dict) -> dict:
    """Defaults merged with ``options`` (shared validation: nets.width_options)."""
    return width_options("egan32", DEFAULTS, options)


class EGAN32Generator(nn.Module):
    """z [B, latent_dim] -> images [B, channels, 32, 32] in [-1, 1]; no batch norm."""

    def __init__(self, latent_dim: int = LATENT_DIM, channels: int = 3, g_width: int = 128) -> None:
        super().__init__()
        w = g_width
        self.net = nn.Sequential(
            nn.ConvTranspose2d(latent_dim, 4 * w, 4, 1, 0),
            nn.ReLU(),
            nn.ConvTranspose2d(4 * w, 2 * w, 4, 2, 1),
            nn.ReLU(),
            nn.ConvTranspose2d(2 * w, w, 4, 2, 1),
            nn.ReLU(),
            nn.ConvTranspose2d(w, channels, 4, 2, 1),
            nn.Tanh(),
        )
        dcgan_init(self)

    def forward(self, z: Tensor) -> Tensor:
        return self.net(z[:, :, None, None])


class EGAN32Discriminator(nn.Module):
    """images [B, channels, 32, 32] -> logits [B]."""

    def __init__(self, channels: int = 3, d_width: int = 128) -> None:
        super().__init__()
        w = d_width
        self.features = nn.Sequential(
            nn.Conv2d(channels, w, 4, 2, 1),
            nn.LeakyReLU(0.2),
            nn.Conv2d(w, 2 * w, 4, 2, 1),
            nn.BatchNorm2d(2 * w),
            nn.LeakyReLU(0.2),
            nn.Conv2d(2 * w, 4 * w, 4, 2, 1),
            nn.BatchNorm2d(4 * w),
            nn.LeakyReLU(0.2),
        )
        self.head = nn.Linear(4 * w * 4 * 4, 1)
        dcgan_init(self)

    def forward(self, x: Tensor) -> Tensor:
        logits = self.head(self.features(x).flatten(1))
        return logits.reshape(logits.shape[0])


def build_generator(shape: tuple[int, ...], latent_dim: int, **options) -> nn.Module:
    """Generator for data of ``shape`` (C, 32, 32); ``options``: g_width, d_width (unused here)."""
    check_shape(shape)
    opts = _options(options)
    return EGAN32Generator(latent_dim, shape[0], opts["g_width"])


def build_discriminator(shape: tuple[int, ...], **options) -> nn.Module:
    """Discriminator for data of ``shape`` (C, 32, 32); ``options``: d_width, g_width (unused here)."""
    check_shape(shape)
    opts = _options(options)
    return EGAN32Discriminator(shape[0], opts["d_width"])
