"""evogan_lightning: evolutionary GANs as PyTorch Lightning modules, one per algorithm.

    from evogan_lightning import CEGAN, EGAN, GAGAN, GAN, SCGAN, load_checkpoint, __version__

    model = CEGAN.create(data="ring8", generations=2000)        # the command line's defaults, no Hydra
    lightning.Trainer(max_epochs=-1).fit(model, model.datamodule())
    model = load_checkpoint("RUN/checkpoints/last.ckpt")        # any algorithm, ready to .sample(n)
    metrics = train("algo=egan", "data=grid25", output_dir="runs/egan")  # a whole CLI run, in process

The algorithm classes are imported on first use (``import evogan_lightning`` stays light); the
command-line tools are ``python -m evogan_lightning[.<tool>]`` (README).
"""

from __future__ import annotations

from importlib import metadata

try:
    __version__ = metadata.version("evogan_lightning")
except metadata.PackageNotFoundError:  # a source tree that was not installed
    __version__ = "0+unknown"

_ALGORITHM_CLASSES = {"GAN": "gan", "EGAN": "egan", "CEGAN": "cegan", "GAGAN": "gagan", "SCGAN": "scgan"}


def __getattr__(name: str):
    if name in _ALGORITHM_CLASSES:
        from .algos import get_algorithm

        return get_algorithm(_ALGORITHM_CLASSES[name])
    if name == "load_checkpoint":
        from .tools.cli_common import load_module

        return load_module
    if name == "train":
        return _train
    raise AttributeError(f"module 'evogan_lightning' has no attribute {name!r}")


def _train(*overrides: str, output_dir: str) -> dict:
    """What ``python -m evogan_lightning OVERRIDES hydra.run.dir=OUTPUT_DIR`` does, in this process: the same
    configs, callbacks and run folder; returns the run's ``metrics.json`` as a dict."""
    import json
    from pathlib import Path

    from .run.config import compose
    from .run.train import train as run_training

    run_training(compose(list(overrides), output_dir=str(output_dir)))
    return json.loads((Path(output_dir) / "metrics.json").read_text())


__all__ = ["CEGAN", "EGAN", "GAGAN", "GAN", "SCGAN", "__version__", "load_checkpoint", "train"]
