"""DCGAN pair for 64x64 and 128x128 images (Radford et al. 2016; docs/algorithms.md, "Networks", CelebA 64x64).

Convolutions without bias (batch norm follows them), kernel 4, as in the DCGAN reference. At 64x64 with
``g_width=d_width=64`` and 3 channels: G 3,576,704 and D 2,765,568 parameters::

    G: z [B, latent] -> [B, latent, 1, 1] -> ConvT s1 p0 -> 8w x 4x4 -> BN -> ReLU -> ConvT s2 p1 -> 4w x 8x8
       -> BN -> ReLU -> 2w x 16x16 -> BN -> ReLU -> w x 32x32 -> BN -> ReLU -> ConvT -> C x 64x64 -> Tanh
    D: x [B, C, 64, 64] -> Conv s2 p1 -> w x 32x32 -> LReLU(0.2) -> 2w x 16x16 -> BN -> LReLU(0.2)
       -> 4w x 8x8 -> BN -> LReLU(0.2) -> 8w x 4x4 -> BN -> LReLU(0.2) -> Conv 4x4 s1 p0 -> logits [B]

At 128x128 each network gets one more up/down-sampling block at the deep end, continuing the channel
doubling: G starts at 16w x 4x4, D ends at 16w x 4x4.

Options (``conf/net/dcgan64.yaml``): ``g_width`` (G width w of the last hidden block, default 64) and
``d_width`` (D width w of the first block, default 64). Init: conv weights N(0, 0.02); batch-norm
weights N(1, 0.02), biases 0.
"""

from __future__ import annotations

from torch import Tensor, nn

from . import check_image_shape, dcgan_init, width_options

LATENT_DIM = 100
NOISE = "normal"
SIZES = (64, 128)
DEFAULTS = {"g_width": 64, "d_width": 64}


def check_shape(shape: tuple[int, ...]) -> None:
    """Raise ValueError unless ``shape`` is (C, 64, 64) or (C, 128, 128) with C in {1, 3}."""
    check_image_shape("dcgan64", shape, SIZES, usual_channels=3)


def _options(options: dict) -> dict:
    """Defaults merged with ``options`` (shared validation: nets.width_options)."""
    return width_options("dcgan64", DEFAULTS, options)


def _num_blocks(size: int) -> int:
    """Hidden feature maps between 4x4 and the image: 4 at 64x64 (4, 8, 16, 32), 5 at 128x128."""
    return size.bit_length() - 3


class DCGANGenerator(nn.Module):
    """z [B, latent_dim] -> images [B, channels, size, size] in [-1, 1], size 64 or 128."""

    def __init__(
        self, latent_dim: int = LATENT_DIM, channels: int = 3, size: int = 64, g_width: int = 64
    ) -> None:
        super().__init__()
        n = _num_blocks(size)
        widths = [g_width * 2 ** (n - 1 - i) for i in range(n)]  # 8w, 4w, 2w, w at 64x64
        layers: list[nn.Module] = [nn.ConvTranspose2d(latent_dim, widths[0], 4, 1, 0, bias=False)]
        for c_in, c_out in zip(widths[:-1], widths[1:]):
            layers += [nn.BatchNorm2d(c_in), nn.ReLU(), nn.ConvTranspose2d(c_in, c_out, 4, 2, 1, bias=False)]
        layers += [nn.BatchNorm2d(widths[-1]), nn.ReLU()]
        layers += [nn.ConvTranspose2d(widths[-1], channels, 4, 2, 1, bias=False), nn.Tanh()]
        self.net = nn.Sequential(*layers)
        dcgan_init(self)

    def forward(self, z: Tensor) -> Tensor:
        return self.net(z[:, :, None, None])


class DCGANDiscriminator(nn.Module):
    """images [B, channels, size, size] -> logits [B], size 64 or 128."""

    def __init__(self, channels: int = 3, size: int = 64, d_width: int = 64) -> None:
        super().__init__()
        n = _num_blocks(size)
        widths = [d_width * 2**i for i in range(n)]  # w, 2w, 4w, 8w at 64x64
        layers: list[nn.Module] = [nn.Conv2d(channels, widths[0], 4, 2, 1, bias=False), nn.LeakyReLU(0.2)]
        for c_in, c_out in zip(widths[:-1], widths[1:]):
            layers += [nn.Conv2d(c_in, c_out, 4, 2, 1, bias=False), nn.BatchNorm2d(c_out), nn.LeakyReLU(0.2)]
        layers.append(nn.Conv2d(widths[-1], 1, 4, 1, 0, bias=False))
        self.net = nn.Sequential(*layers)
        dcgan_init(self)

    def forward(self, x: Tensor) -> Tensor:
        logits = self.net(x)
        return logits.reshape(logits.shape[0])


def build_generator(shape: tuple[int, ...], latent_dim: int, **options) -> nn.Module:
    """Generator for data of ``shape`` (C, S, S), S in {64, 128}; ``options``: g_width, d_width (unused)."""
    check_shape(shape)
    opts = _options(options)
    return DCGANGenerator(latent_dim, shape[0], shape[1], opts["g_width"])


def build_discriminator(shape: tuple[int, ...], **options) -> nn.Module:
    """Discriminator for data ``shape`` (C, S, S), S in {64, 128}; ``options``: d_width, g_width (unused)."""
    check_shape(shape)
    opts = _options(options)
    return DCGANDiscriminator(shape[0], shape[1], opts["d_width"])
