"""Image network families: egan32 (E-GAN/CE-GAN CIFAR pair), mnist28 (IE-GAN 28x28 pair), dcgan64 (DCGAN)."""

from __future__ import annotations

import pytest
import torch
from conftest import REPO
from omegaconf import OmegaConf
from torch import nn

from evogan_lightning.nets import dcgan64, egan32, mnist28, resolve_net

CONF = REPO / "conf" / "net"
FAMILIES = {
    "egan32": (egan32, (3, 32, 32)),
    "mnist28": (mnist28, (1, 28, 28)),
    "dcgan64": (dcgan64, (3, 64, 64)),
}


def n_params(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def meta_counts(mod, shape, **options) -> tuple[int, int]:
    """Parameter counts of (G, D) built on the meta device (no memory, no init cost)."""
    with torch.device("meta"):
        g = mod.build_generator(shape, mod.LATENT_DIM, **options)
        d = mod.build_discriminator(shape, **options)
    return n_params(g), n_params(d)


@pytest.mark.parametrize(
    "mod, shape, g_count, d_count",
    [
        (egan32, (3, 32, 32), 3_447_683, 2_638_209),  # docs/algorithms.md, E-GAN PyTorch CIFAR pair
        (mnist28, (1, 28, 28), 1_257_345, 1_029_121),  # docs/algorithms.md, IE-GAN 28x28 pair
        (dcgan64, (3, 64, 64), 3_576_704, 2_765_568),  # DCGAN-64 with ngf = ndf = 64, bias-free convs
    ],
)
def test_reference_parameter_counts(mod, shape, g_count, d_count):
    assert meta_counts(mod, shape) == (g_count, d_count)


def test_interface_constants():
    assert (egan32.LATENT_DIM, egan32.NOISE) == (100, "uniform")
    assert (mnist28.LATENT_DIM, mnist28.NOISE) == (100, "normal")
    assert (dcgan64.LATENT_DIM, dcgan64.NOISE) == (100, "normal")


@pytest.mark.parametrize(
    "mod, shape, options",
    [
        (egan32, (3, 32, 32), {"g_width": 16, "d_width": 16}),
        (egan32, (1, 32, 32), {"g_width": 16, "d_width": 16}),
        (mnist28, (1, 28, 28), {"g_width": 8, "d_width": 8}),
        (mnist28, (3, 28, 28), {"g_width": 8, "d_width": 8}),
        (dcgan64, (3, 64, 64), {"g_width": 8, "d_width": 8}),
        (dcgan64, (1, 64, 64), {"g_width": 8, "d_width": 8}),
        (dcgan64, (3, 128, 128), {"g_width": 4, "d_width": 4}),
    ],
)
def test_shapes_range_and_gradients(mod, shape, options):
    torch.manual_seed(0)
    g = mod.build_generator(shape, 7, **options)
    d = mod.build_discriminator(shape, **options)
    z = torch.randn(4, 7)
    x = g(z)
    assert x.shape == (4, *shape)
    assert x.abs().max() <= 1.0  # Tanh output
    assert x.std() > 0  # not a constant image
    logits = d(x)
    assert logits.shape == (4,)
    assert d(torch.rand(3, *shape) * 2 - 1).shape == (3,)
    # One backward pass reaches every parameter of both nets with a finite, non-zero gradient.
    nn.functional.softplus(-logits).mean().backward()
    for net in (g, d):
        for name, p in net.named_parameters():
            assert p.grad is not None, name
            assert torch.isfinite(p.grad).all(), name
            assert p.grad.abs().sum() > 0, name


def test_dcgan_128_adds_one_block_at_default_width():
    g64, d64 = meta_counts(dcgan64, (3, 64, 64))
    g128, d128 = meta_counts(dcgan64, (3, 128, 128))
    # The extra block continues the channel doubling: G starts at 16w = 1024, D ends at 16w = 1024.
    assert g128 == 100 * 1024 * 16 + 1024 * 2 + 1024 * 512 * 16 + (g64 - 100 * 512 * 16)
    assert d128 == d64 - 512 * 16 + 512 * 1024 * 16 + 1024 * 2 + 1024 * 16
    with torch.device("meta"):
        g = dcgan64.build_generator((3, 128, 128), 100)
        d = dcgan64.build_discriminator((3, 128, 128))
        x = g(torch.empty(2, 100))
        assert x.shape == (2, 3, 128, 128)
        assert d(x).shape == (2,)


def test_egan32_reference_init():
    torch.manual_seed(0)
    g = egan32.build_generator((3, 32, 32), 100)
    d = egan32.build_discriminator((3, 32, 32))
    assert not any(isinstance(m, nn.BatchNorm2d) for m in g.modules())  # reference G has no batch norm
    layers = [
        m
        for net in (g, d)
        for m in net.modules()
        if isinstance(m, nn.Conv2d | nn.ConvTranspose2d | nn.Linear)
    ]
    assert len(layers) == 8
    for m in layers:
        assert abs(m.weight.mean().item()) < 0.002
        assert abs(m.weight.std().item() - 0.02) < 0.002
        assert m.bias is not None and torch.all(m.bias == 0)
    norms = [m for m in d.modules() if isinstance(m, nn.BatchNorm2d)]
    assert [m.num_features for m in norms] == [256, 512]
    for m in norms:
        assert abs(m.weight.mean().item() - 1.0) < 0.01
        assert abs(m.weight.std().item() - 0.02) < 0.006
        assert torch.all(m.bias == 0)


def test_dcgan_init_and_mnist_default_init():
    torch.manual_seed(0)
    d = dcgan64.build_discriminator((3, 64, 64))
    for m in d.modules():
        if isinstance(m, nn.Conv2d):
            assert m.bias is None
            assert abs(m.weight.std().item() - 0.02) < 0.002
        elif isinstance(m, nn.BatchNorm2d):
            assert abs(m.weight.mean().item() - 1.0) < 0.01 and m.weight.std() > 0
    # mnist28 keeps PyTorch's default init: BN weights exactly 1, conv weights U(+-1/sqrt(fan_in)).
    g = mnist28.build_generator((1, 28, 28), 100)
    for m in g.modules():
        if isinstance(m, nn.BatchNorm2d):
            assert torch.all(m.weight == 1)
    first, bound = g.net[0], 1 / (256 * 9) ** 0.5  # ConvTranspose fan_in = out_channels * k * k
    assert first.weight.abs().max() <= bound and first.weight.abs().max() > 0.99 * bound
    assert abs(first.weight.std().item() - bound / 3**0.5) < 0.02 * bound  # uniform, not N(0, 0.02)


@pytest.mark.parametrize(
    "mod, shape, expect",
    [
        (
            egan32,
            (3, 64, 64),
            ["net=egan32", "(3, 64, 64)", "(3, 32, 32)", "data.image_size=32", "net=dcgan64"],
        ),
        (egan32, (3, 28, 28), ["(3, 28, 28)", "data.image_size=32", "net=mnist28"]),
        (egan32, (4, 32, 32), ["(4, 32, 32)", "1 or 3 channels", "data.channels"]),
        (egan32, (32, 32, 3), ["(32, 32, 3)", "data.image_size=32"]),
        (egan32, (2,), ["(2,)", "toy data: use net=mlp (or net=auto)"]),
        (mnist28, (2,), ["(2,)", "toy data: use net=mlp"]),
        (dcgan64, (2,), ["(2,)", "toy data: use net=mlp"]),
        (
            mnist28,
            (1, 32, 32),
            ["net=mnist28", "(1, 32, 32)", "(1, 28, 28)", "data.image_size=28", "net=egan32"],
        ),
        (mnist28, (2, 28, 28), ["(2, 28, 28)", "data.channels"]),
        (dcgan64, (3, 32, 32), ["net=dcgan64", "(3, 32, 32)", "128", "data.image_size=64", "net=egan32"]),
        (dcgan64, (3, 96, 96), ["(3, 96, 96)", "data.image_size=64 or 128"]),
        (dcgan64, (5, 64, 64), ["(5, 64, 64)", "data.channels"]),
        (dcgan64, (3, 64, 128), ["(3, 64, 128)"]),
    ],
)
def test_check_shape_errors(mod, shape, expect):
    for call in (
        lambda: mod.check_shape(shape),
        lambda: mod.build_generator(shape, 100),
        lambda: mod.build_discriminator(shape),
    ):
        with pytest.raises(ValueError) as err:
            call()
        for text in expect:
            assert text in str(err.value), (text, str(err.value))


@pytest.mark.parametrize("name", sorted(FAMILIES))
def test_unknown_and_bad_options(name):
    mod, shape = FAMILIES[name]
    mod.check_shape(shape)  # the reference shape is accepted
    for build in (
        lambda **o: mod.build_generator(shape, 100, **o),
        lambda **o: mod.build_discriminator(shape, **o),
    ):
        with pytest.raises(ValueError, match=r"g_widht.*valid: \['d_width', 'g_width'\]"):
            build(g_widht=64)
        with pytest.raises(ValueError, match="net.d_width must be a positive integer"):
            build(d_width=0)
        with pytest.raises(ValueError, match="net.g_width must be a positive integer"):
            build(g_width=32.5)


def test_width_options_change_parameter_count():
    def egan_g(w: int) -> int:  # ConvT with bias: in * out * 16 + out
        chans = [100, 4 * w, 2 * w, w, 3]
        return sum(a * b * 16 + b for a, b in zip(chans[:-1], chans[1:]))

    g, d = meta_counts(egan32, (3, 32, 32), g_width=64, d_width=128)
    assert g == egan_g(64) and egan_g(128) == 3_447_683
    assert d == 2_638_209  # d_width untouched; g_width does not reach D
    assert meta_counts(egan32, (3, 32, 32), d_width=64)[1] < 2_638_209
    for mod, shape in ((mnist28, (1, 28, 28)), (dcgan64, (3, 64, 64)), (dcgan64, (3, 128, 128))):
        g_ref, d_ref = meta_counts(mod, shape)
        g_small, d_same = meta_counts(mod, shape, g_width=32)
        g_same, d_big = meta_counts(mod, shape, d_width=128)
        assert g_small < g_ref and d_same == d_ref
        assert g_same == g_ref and d_big > d_ref


@pytest.mark.parametrize("name", sorted(FAMILIES))
def test_yaml_configs_resolve(name):
    mod, shape = FAMILIES[name]
    cfg = OmegaConf.to_container(OmegaConf.load(CONF / f"{name}.yaml"))
    assert cfg["name"] == name and cfg["latent_dim"] == mod.LATENT_DIM and cfg["noise"] == mod.NOISE
    spec = resolve_net(cfg, shape)
    assert spec.name == name and spec.options == {
        "g_width": mod.DEFAULTS["g_width"],
        "d_width": mod.DEFAULTS["d_width"],
    }
    with torch.device("meta"):
        g = spec.generator_factory(shape)()
        d = spec.build_discriminator(shape)
    assert (n_params(g), n_params(d)) == meta_counts(mod, shape)
