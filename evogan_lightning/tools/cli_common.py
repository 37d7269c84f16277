"""What the command-line tools share: one ``key=value`` argument parser and one loader that rebuilds an
algorithm module from a checkpoint without a Trainer or a dataset (``sample``, ``evaluate``, ``study``,
``benchmark``, ``train_classifier``)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from omegaconf import OmegaConf

from ..algos import get_algorithm
from ..algos.base import EvoGANModule
from ..core.errors import ConfigError
from ..run.checkpoint_io import FIX as CHECKPOINT_FIX
from ..run.checkpoint_io import read_checkpoint
from ..run.checks import check_device


def load_module(ckpt_path: str | Path, device: str = "cpu") -> EvoGANModule:
    """Rebuild the algorithm module stored in a checkpoint (weights, population, generation) on ``device``.
    ConfigError for a device that is not visible or a file that is not a readable checkpoint."""
    dev = check_device(device)
    ckpt = read_checkpoint(ckpt_path)
    try:
        cfg = ckpt["hyper_parameters"]["cfg"]
    except (KeyError, TypeError) as err:
        raise ConfigError(
            f"{ckpt_path} is not an evogan_lightning checkpoint (no hyper_parameters.cfg); {CHECKPOINT_FIX}"
        ) from err
    module = get_algorithm(cfg["algo"]["name"])(cfg)
    module.on_load_checkpoint(ckpt)
    module.load_state_dict(ckpt["state_dict"])
    return module.to(dev).eval()


def parse_args(argv: list[str], defaults: dict[str, Any], usage: str) -> dict[str, Any]:
    """``key=value`` arguments (Hydra style) over ``defaults``; unknown keys are an error. ``-h``/``--help``
    prints the calling command's ``usage`` and exits."""
    if any(a in ("-h", "--help") for a in argv):
        print(usage)
        sys.exit(0)
    bad = [a for a in argv if "=" not in a]
    if bad:
        raise ConfigError(f"arguments must look like key=value, got {bad}\n{usage}")
    given = OmegaConf.to_container(OmegaConf.from_dotlist(argv))
    unknown = set(given) - set(defaults)
    if unknown:
        raise ConfigError(f"unknown argument(s) {sorted(unknown)}; valid: {sorted(defaults)}")
    for key, value in given.items():  # a value must have its default's type (ints: whole numbers)
        default = defaults[key]
        if isinstance(default, bool) and not isinstance(value, bool):
            raise ConfigError(f"{key} must be true or false, got {value!r}")
        if type(default) is int and not (isinstance(value, int) and not isinstance(value, bool)):
            raise ConfigError(f"{key} must be a whole number, got {value!r}")
    return {**defaults, **given}
