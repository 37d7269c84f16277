"""What ``python -m evogan_lightning [overrides]`` does with the composed config: train it (one configuration or
one job of a sweep) and turn the run's user-facing errors into a message and an exit status. The Hydra
decorator stays in ``evogan_lightning/__main__.py``, so Hydra's job name (``__main__``, the run's log file)
is what it always was."""

from __future__ import annotations

import json
import os
import shutil
import sys
import time
from pathlib import Path

from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig

from ..core.errors import ConfigError, DivergedError, StoppedByUser
from ..run.checks import check_run_values


def remove_if_empty(cfg: DictConfig) -> None:
    """A run rejected before training leaves a folder that is empty or holds only ``.hydra/`` (and the
    ``config.yaml`` written before a late check): remove it, and ``outputs/<date>/`` when that is empty."""
    try:
        out = Path(str(cfg.output_dir))
        if out.is_dir() and {p.name for p in out.iterdir()} <= {
            ".hydra",
            "config.yaml",
            f"{HydraConfig.get().job.name}.log",
        }:
            shutil.rmtree(out)
            for parent in (out.parent, out.parent.parent):  # outputs/<date>/ when it held only this run
                parent.rmdir()
    except Exception:  # never hide the real error behind a clean-up problem
        pass


FAILED_NAME = "failed.json"  # a sweep job that was refused or diverged: its error (tools/summarize reads it)


def in_sweep() -> bool:
    try:
        from hydra.types import RunMode

        return HydraConfig.get().mode == RunMode.MULTIRUN
    except Exception:
        return False


def record_failure(cfg: DictConfig, err: BaseException) -> Path | None:
    """Write ``failed.json`` (kind, error, overrides) into the job's folder: the sweep goes on, and
    ``summarize`` counts and names the failed jobs."""
    try:
        out = Path(str(cfg.output_dir))
        out.mkdir(parents=True, exist_ok=True)
        kind = "diverged" if isinstance(err, DivergedError) else "error"
        record = {
            "kind": kind,
            "error": str(err),
            "overrides": list(HydraConfig.get().overrides.task),
            "time": time.strftime("%Y-%m-%d %H:%M:%S"),
        }
        (out / FAILED_NAME).write_text(json.dumps(record, indent=2))
        return out / FAILED_NAME
    except Exception:  # never hide the job's own error behind the record
        return None


def train_or_exit(cfg: DictConfig) -> float | None:
    """Train ``cfg`` and return its main metric (for Hydra sweepers). In a sweep, a job that is refused or
    diverges is recorded (``failed.json`` in its folder) and the sweep goes on with the next job."""
    try:
        check_run_values(cfg)  # before the slow Lightning import that run.train brings
        from ..run.train import train

        return train(cfg)
    except StoppedByUser as stop:  # checkpoint saved; exit like an interrupted program (also ends a sweep)
        print(stop, file=sys.stderr)
        sys.exit(stop.exit_code)
    except (ConfigError, FileNotFoundError, DivergedError) as err:
        if in_sweep() and not os.environ.get("EVOGAN_TRACEBACK"):
            path = record_failure(cfg, err)
            kind = "diverged" if isinstance(err, DivergedError) else "error"
            print(
                f"evogan_lightning: job {HydraConfig.get().job.num} {kind}: {err}\n(recorded in {path}; the sweep goes on)",
                file=sys.stderr,
            )
            return None
        if not isinstance(err, DivergedError):
            remove_if_empty(cfg)
        if os.environ.get("EVOGAN_TRACEBACK"):
            raise
        kind = "diverged" if isinstance(err, DivergedError) else "error"
        print(f"evogan_lightning: {kind}: {err}", file=sys.stderr)
        print("(set EVOGAN_TRACEBACK=1 for the full traceback)", file=sys.stderr)
        sys.exit(1 if isinstance(err, DivergedError) else 2)
