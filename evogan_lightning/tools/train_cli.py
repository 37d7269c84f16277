"""``python -m evogan_lightning [overrides]``: the Hydra entry point (train one configuration or a sweep)."""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import hydra
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig

from .config import config_dir
from .errors import ConfigError, DivergedError, StoppedByUser


def remove_if_empty(cfg: DictConfig) -> None:
    """A run rejected before training leaves a folder holding only Hydra's ``.hydra/`` (and the
    ``config.yaml`` written before a late check): remove it."""
    try:
        out = Path(str(cfg.output_dir))
        if out.is_dir() and {p.name for p in out.iterdir()} <= {
            ".hydra",
            "config.yaml",
            f"{HydraConfig.get().job.name}.log",
        }:
            shutil.rmtree(out)
    except Exception:  # never hide the real error behind a clean-up problem
        pass


@hydra.main(version_base="1.3", config_path=str(config_dir()), config_name="config")
def main(cfg: DictConfig) -> float | None:
    """Train ``cfg`` and return its main metric (for Hydra sweepers)."""
    from .train import train

    try:
        return train(cfg)
    except StoppedByUser as stop:  # checkpoint saved; exit like an interrupted program (also ends a sweep)
        print(stop, file=sys.stderr)
        sys.exit(stop.exit_code)
    except (ConfigError, FileNotFoundError, DivergedError) as err:
        if not isinstance(err, DivergedError):
            remove_if_empty(cfg)
        if os.environ.get("EVOGAN_TRACEBACK"):
            raise
        kind = "diverged" if isinstance(err, DivergedError) else "error"
        print(f"evogan_lightning: {kind}: {err}", file=sys.stderr)
        print("(set EVOGAN_TRACEBACK=1 for the full traceback)", file=sys.stderr)
        sys.exit(1 if isinstance(err, DivergedError) else 2)


if __name__ == "__main__":
    main()
