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


def auto_family(shape: tuple[int, ...]) -> str:
    """The family that fits data of ``shape``: toy vectors -> mlp, 28 -> mnist28, 32 -> egan32, 64/128 -> dcgan64."""
    if len(shape) == 1:
        return "mlp"
    size = shape[-1]
    by_size = {28: "mnist28", 32: "egan32", 64: "dcgan64", 128: "dcgan64"}
    if len(shape) == 3 and size in by_size:
        return by_size[size]
    raise ValueError(
        f"net=auto has no network family for data of shape {tuple(shape)}; supported image sizes are "
        f"{sorted(by_size)} (set data.image_size) or pick a net explicitly (net=...)"
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
