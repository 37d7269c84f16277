"""Generator/discriminator families, chosen by name (``net=...``) or from the data (``net=auto``).

Every family module provides ``LATENT_DIM``, ``NOISE``, ``check_shape(shape)``,
``build_generator(shape, latent_dim, **options)`` (z [B, latent] -> x [B, *shape]) and
``build_discriminator(shape, **options)`` (x [B, *shape] -> logits [B]).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import ModuleType

from torch import nn

FAMILIES = {
    "mlp": "evogan_lightning.nets.mlp",
    "egan32": "evogan_lightning.nets.egan32",
    "mnist28": "evogan_lightning.nets.mnist28",
    "dcgan64": "evogan_lightning.nets.dcgan64",
}
_RESERVED = {"name", "latent_dim", "noise"}


def family(name: str) -> ModuleType:
    """Import a network family module by name (clear error for unknown names)."""
    if name not in FAMILIES:
        raise ValueError(f"unknown net {name!r}; choose one of {['auto', *sorted(FAMILIES)]} (net=...)")
    return importlib.import_module(FAMILIES[name])


IMAGE_FAMILY_BY_SIZE = {28: "mnist28", 32: "egan32", 64: "dcgan64", 128: "dcgan64"}  # what net=auto picks


def auto_family(shape: tuple[int, ...]) -> str:
    """The family that fits data of ``shape``: toy vectors -> mlp, 28 -> mnist28, 32 -> egan32, 64/128 -> dcgan64."""
    if len(shape) == 1:
        return "mlp"
    size = shape[-1]
    if len(shape) == 3 and size in IMAGE_FAMILY_BY_SIZE:
        return IMAGE_FAMILY_BY_SIZE[size]
    raise ValueError(
        f"net=auto has no network family for data of shape {tuple(shape)}; supported image sizes are "
        f"{sorted(IMAGE_FAMILY_BY_SIZE)} (set data.image_size) or pick a net explicitly (net=...)"
    )


def check_image_shape(
    name: str, shape: tuple[int, ...], sizes: tuple[int, ...], usual_channels: int = 3
) -> None:
    """The image families' ``check_shape``: return if ``shape`` is (C, S, S) with C in {1, 3} and S in
    ``sizes``; else raise a ValueError naming the family, the shape and the fix (the data option to change,
    or the family that models that size)."""
    shape = tuple(shape)
    square = len(shape) == 3 and shape[1] == shape[2]
    if square and shape[0] in (1, 3) and shape[1] in sizes:
        return
    other = IMAGE_FAMILY_BY_SIZE.get(shape[-1]) if square and shape[-1] not in sizes else None
    size_text = " or ".join(map(str, sizes))
    if len(shape) == 1:
        fix = "this is 2-d toy data: use net=mlp (or net=auto)"
    elif square and shape[1] in sizes:
        fix = f"set data.channels={usual_channels} (or {4 - usual_channels})"
    elif other:
        first = f"{sizes[0]}" + "".join(f" (or {s})" for s in sizes[1:])
        fix = f"set data.image_size={first} or choose net={other} (or net=auto)"
    else:
        fix = f"set data.image_size={size_text} (and data.channels to 1 or 3), or choose net=auto"
    if len(sizes) == 1:
        allowed = (
            f"({usual_channels}, {sizes[0]}, {sizes[0]}) or ({4 - usual_channels}, {sizes[0]}, {sizes[0]})"
        )
    else:
        allowed = " or ".join(f"(C, {s}, {s})" for s in sizes) + ", C in {1, 3}"
    raise ValueError(
        f"net={name} models {' or '.join(f'{s}x{s}' for s in sizes)} images with 1 or 3 channels (shape "
        f"{allowed}), got data of shape {shape}; {fix}"
    )


@dataclass
class NetSpec:
    """A resolved network choice: family name, latent size, noise law and builder options."""

    name: str
    latent_dim: int
    noise: str
    options: dict

    def generator_factory(self, shape: tuple[int, ...]) -> Callable[[], nn.Module]:
        mod = family(self.name)
        return lambda: mod.build_generator(tuple(shape), self.latent_dim, **self.options)

    def build_discriminator(self, shape: tuple[int, ...]) -> nn.Module:
        return family(self.name).build_discriminator(tuple(shape), **self.options)


def resolve_net(net_cfg: Mapping, shape: tuple[int, ...]) -> NetSpec:
    """Turn the ``net`` config group into a NetSpec for data of ``shape``; validates the shape early."""
    cfg = dict(net_cfg)
    name = cfg.get("name", "auto")
    if name == "auto":
        name = auto_family(shape)
    mod = family(name)
    mod.check_shape(tuple(shape))
    options = {k: v for k, v in cfg.items() if k not in _RESERVED}
    latent = cfg.get("latent_dim")
    latent = mod.LATENT_DIM if latent is None else latent  # null: the family's default; 0 is an error
    noise = cfg.get("noise") or mod.NOISE
    if noise not in ("normal", "uniform"):
        raise ValueError(f"net.noise must be 'normal' or 'uniform', got {noise!r}")
    if isinstance(latent, bool) or not isinstance(latent, int) or latent < 1:
        raise ValueError(
            f"net.latent_dim must be a whole number >= 1, got {latent!r} (net={name}: default {mod.LATENT_DIM})"
        )
    spec = NetSpec(name=name, latent_dim=int(latent), noise=noise, options=options)
    # Build once on the meta device to surface option typos before training starts.
    import torch

    with torch.device("meta"):
        spec.generator_factory(shape)()
        spec.build_discriminator(shape)
    return spec


def effective_options(name: str, options: Mapping) -> dict:
    """``options`` with the family's defaults filled in: ``net=auto`` (no options) and an explicit family
    config that spells out the defaults describe the same networks."""
    try:
        defaults = getattr(family(name), "DEFAULTS", {})
    except ValueError:  # a family this version does not know: compare as given
        defaults = {}
    return {**defaults, **options}


def width_options(family_name: str, defaults: Mapping[str, int], options: Mapping) -> dict:
    """``defaults`` merged with ``options`` for the image families; unknown names or widths that are not
    positive integers raise ValueError naming the family and the valid keys."""
    unknown = set(options) - set(defaults)
    if unknown:
        raise ValueError(
            f"unknown option(s) {sorted(unknown)} for net={family_name}; valid: {sorted(defaults)}"
        )
    merged = {**defaults, **options}
    for key, value in merged.items():
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"net.{key} must be a positive integer, got {value!r}")
    return merged


def dcgan_init(module: nn.Module) -> None:
    """DCGAN initialisation (Radford et al. 2016, Sec. 4), used by egan32 and dcgan64: conv, transposed-conv and
    linear weights N(0, 0.02), biases 0; batch-norm weights N(1, 0.02), biases 0."""
    for m in module.modules():
        if isinstance(m, nn.Conv2d | nn.ConvTranspose2d | nn.Linear):
            nn.init.normal_(m.weight, 0.0, 0.02)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.BatchNorm2d):
            nn.init.normal_(m.weight, 1.0, 0.02)
            nn.init.zeros_(m.bias)
