"""``python -m evogan_lightning.sample ckpt_path=RUN/checkpoints/last.ckpt num_samples=N out=samples.npz``

Writes N samples of the best individual (or ``individual=i``) as array ``samples`` (float32; toy
coordinates [N, 2] or images in [-1, 1] [N, C, H, W]) plus ``generation`` and ``individual``. Needs no
Trainer and no dataset: the network is rebuilt from the checkpoint's own config.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import numpy as np
import torch
from omegaconf import OmegaConf

from .algos import get_algorithm
from .algos.base import EvoGANModule
from .checkpoint_io import FIX as CHECKPOINT_FIX
from .checkpoint_io import read_checkpoint
from .checks import check_device, check_seed, write_output
from .errors import ConfigError

USAGE = (
    "usage: python -m evogan_lightning.sample ckpt_path=PATH [num_samples=N] [out=FILE.npz] "
    "[individual=I] [seed=S] [device=cpu|cuda]"
)


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


def parse_args(argv: list[str], defaults: dict[str, Any], usage: str = USAGE) -> dict[str, Any]:
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


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    try:
        args = parse_args(
            argv,
            {
                "ckpt_path": None,
                "num_samples": 1000,
                "out": "samples.npz",
                "individual": None,
                "seed": 0,
                "device": "cpu",
            },
        )
        if not args["ckpt_path"]:
            raise ConfigError(f"ckpt_path is required\n{USAGE}")
        n = int(args["num_samples"])
        if n < 1:
            raise ConfigError(f"num_samples must be >= 1, got {n}")
        if Path(args["out"]).suffix != ".npz":  # np.savez would silently append .npz
            raise ConfigError(
                f"out must name a .npz file (numpy archive with array `samples`), got {args['out']}"
            )
        seed = check_seed(args["seed"])
        module = load_module(args["ckpt_path"], args["device"])
        out = Path(args["out"])
        gen = torch.Generator(device=module.device).manual_seed(seed)
        samples = module.sample(n, individual=args["individual"], generator=gen)
        individual = module.best_individual() if args["individual"] is None else int(args["individual"])
        arrays = {
            "samples": samples.cpu().numpy().astype(np.float32),
            "generation": module.generation,
            "individual": individual,
        }
        write_output(out, lambda f: np.savez(f, **arrays), "out")
    except (ConfigError, ValueError) as err:
        print(f"evogan_lightning.sample: error: {err}", file=sys.stderr)
        return 2
    print(
        f"wrote {n} samples of shape {tuple(samples.shape[1:])} (generation {module.generation}, individual {individual}) to {out}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
