"""``evogan-sample ckpt_path=RUN/checkpoints/last.ckpt num_samples=N out=samples.npz``

Writes N samples of the best individual (or ``individual=i``) as array ``samples`` (float32; toy
coordinates [N, 2] or images in [-1, 1] [N, C, H, W]) plus ``generation`` and ``individual``. Needs no
Trainer and no dataset: the network is rebuilt from the checkpoint's own config.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import torch

from ..core.errors import ConfigError
from ..run.checks import check_seed, write_output
from .cli_common import load_module, parse_args

USAGE = (
    "usage: evogan-sample ckpt_path=PATH [num_samples=N] [out=FILE.npz] "
    "[individual=I] [seed=S] [device=cpu|cuda]"
)


def check_sample_memory(n: int, shape: tuple[int, ...]) -> None:
    """ConfigError before sampling when ``n`` samples of ``shape`` (float32, held twice: the tensor and the
    array written) cannot fit in the RAM available now."""
    from ..algos.memory import available_ram

    need = 2 * 4 * n * int(np.prod(shape))
    free = available_ram()
    if free is not None and need > 0.8 * free:
        most = int(0.8 * free / (2 * 4 * int(np.prod(shape))))
        raise ConfigError(
            f"num_samples={n} samples of shape {shape} need about {need / 2**30:.1f} GiB, more than the "
            f"{free / 2**30:.1f} GiB of RAM available now; use num_samples<={most} (or several calls with seed=)"
        )


def check_sample_disk(n: int, shape: tuple[int, ...], out: Path) -> None:
    """ConfigError before sampling when the ``.npz`` of ``n`` float32 samples of ``shape`` would not fit on
    the disk that holds ``out``."""
    import shutil

    folder = next((p for p in [out.resolve().parent, *out.resolve().parents] if p.is_dir()), Path("/"))
    need = 4 * n * int(np.prod(shape))
    free = shutil.disk_usage(folder).free
    if need > 0.9 * free:
        most = int(0.9 * free / (4 * int(np.prod(shape))))
        raise ConfigError(
            f"num_samples={n} samples of shape {shape} make a {need / 2**30:.1f} GiB file, more than the "
            f"{free / 2**30:.1f} GiB free on {folder}; use num_samples<={most} or another out="
        )


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
            USAGE,
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
        check_sample_memory(n, tuple(module.shape))
        check_sample_disk(n, tuple(module.shape), out)
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
        print(f"evogan-sample: error: {err}", file=sys.stderr)
        return 2
    print(
        f"wrote {n} samples of shape {tuple(samples.shape[1:])} (generation {module.generation}, individual {individual}) to {out}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
