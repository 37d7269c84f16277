"""``python -m evogan_lightning [overrides]`` and the ``evogan`` script: the Hydra entry point (train one
configuration or a sweep). What a run does is :func:`evogan_lightning.tools.train_cli.train_or_exit`."""

from __future__ import annotations

import sys

import hydra
from omegaconf import DictConfig

from .algos.config import register_schemas
from .core.errors import ConfigError
from .run.config import config_dir
from .tools.preflight import preflight
from .tools.train_cli import train_or_exit

register_schemas()  # conf/algo/*.yaml compose on the algorithms' typed schemas (Hydra's ConfigStore)


@hydra.main(version_base="1.3", config_path=str(config_dir()), config_name="config")
def main(cfg: DictConfig) -> float | None:
    """Train ``cfg`` and return its main metric (for Hydra sweepers)."""
    return train_or_exit(cfg)


def run() -> None:
    """The command line: the pre-Hydra checks (``tools.preflight``), then Hydra."""
    try:
        preflight(sys.argv[1:])
    except ConfigError as err:
        print(f"evogan_lightning: error: {err}", file=sys.stderr)
        raise SystemExit(2) from None
    main()


if __name__ == "__main__":
    run()
