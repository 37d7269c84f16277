"""Algorithms of the collection, one LightningModule each, looked up by ``algo.name``.

Lightning is imported when an algorithm class is asked for, not with the package: the command line composes
and checks a configuration (``algos.config``) and reports a bad override in about a third of the time."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from ..core.errors import ConfigError

if TYPE_CHECKING:
    from .base import EvoGANModule

ALGORITHMS = {
    "gan": "evogan_lightning.algos.gan:GAN",
    "egan": "evogan_lightning.algos.egan:EGAN",
    "cegan": "evogan_lightning.algos.cegan:CEGAN",
    "gagan": "evogan_lightning.algos.gagan:GAGAN",
    "scgan": "evogan_lightning.algos.scgan:SCGAN",
}

CLASS_NAMES = {"gan": "GAN", "egan": "EGAN", "cegan": "CEGAN", "gagan": "GAGAN", "scgan": "SCGAN"}


def get_algorithm(name: str) -> type[EvoGANModule]:
    """The LightningModule class of algorithm ``name`` (clear error for unknown or unavailable names)."""
    if name not in ALGORITHMS:
        raise ConfigError(f"unknown algorithm {name!r}; choose one of {sorted(ALGORITHMS)} (algo=...)")
    module, cls = ALGORITHMS[name].split(":")
    try:
        return getattr(importlib.import_module(module), cls)
    except ModuleNotFoundError as err:
        if err.name == module:
            raise ConfigError(f"algorithm {name!r} is not implemented in this version") from err
        raise


def __getattr__(name: str) -> Any:
    if name == "EvoGANModule":
        from .base import EvoGANModule

        return EvoGANModule
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = ["ALGORITHMS", "CLASS_NAMES", "EvoGANModule", "get_algorithm"]
