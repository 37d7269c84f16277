"""Checks of the tools' arguments before any work starts (device, seed, matmul precision, output folder),
and writing an output file so that a full or read-only disk is a ConfigError naming the folder and the fix
instead of a traceback (and leaves no partial file)."""

from __future__ import annotations

import errno
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any, BinaryIO

import torch

from ..core.errors import ConfigError

MATMUL_PRECISIONS = ("highest", "high", "medium")  # torch.set_float32_matmul_precision


def check_device(device: Any, key: str = "device") -> torch.device:
    """``device`` (``cpu``, ``cuda`` or ``cuda:N``) as a torch device, or a ConfigError when it is not one or
    names a CUDA device that is not visible."""
    try:
        dev = torch.device(str(device))
    except (RuntimeError, TypeError) as err:
        raise ConfigError(f"{key} must be cpu, cuda or cuda:N, got {device!r}") from err
    if dev.type not in ("cpu", "cuda"):
        raise ConfigError(f"{key} must be cpu, cuda or cuda:N, got {device!r}")
    if dev.type == "cuda":
        count = torch.cuda.device_count()
        if count == 0:
            raise ConfigError(
                f"{key}={device} but no CUDA device is visible (torch.cuda.is_available() is False; check the "
                f"driver and CUDA_VISIBLE_DEVICES); run on the CPU with {key}=cpu"
            )
        if dev.index is not None and dev.index >= count:
            raise ConfigError(
                f"{key}={device} but only {count} CUDA device(s) are visible; use {key}=cuda:0"
                + (f" to {key}=cuda:{count - 1}" if count > 1 else "")
            )
    return dev


def check_seed(seed: Any, key: str = "seed") -> int:
    """A seed: a whole number in [0, 2**32) (what every seeded generator of a run accepts)."""
    if not (isinstance(seed, int) and not isinstance(seed, bool) and 0 <= seed < 2**32):
        raise ConfigError(f"{key} must be a whole number in [0, 2**32), got {seed!r}")
    return seed


def check_generations(value: Any, key: str = "generations") -> int:
    """The number of generations to train to: a whole number >= 1."""
    if not (isinstance(value, int) and not isinstance(value, bool) and value >= 1):
        raise ConfigError(f"{key} must be an integer >= 1, got {value!r}")
    return value


def check_run_values(cfg: Any) -> None:
    """The checks of a run's top-level values that need neither Lightning nor the data (generations, seed,
    matmul precision): ``tools.train_cli`` runs them before the Lightning import (about 6 s), so a typo is
    refused at once. ``cfg``: the composed config (a DictConfig or a plain mapping)."""
    check_generations(cfg.get("generations"))
    check_seed(cfg.get("seed"))
    check_matmul_precision(cfg.get("matmul_precision", "highest"))


def check_matmul_precision(value: Any) -> str:
    """``matmul_precision``: one of ``MATMUL_PRECISIONS`` (torch only warns about another value)."""
    if value not in MATMUL_PRECISIONS:
        raise ConfigError(
            f"matmul_precision must be one of {', '.join(MATMUL_PRECISIONS)} (highest = exact fp32, high = "
            f"TF32 on Ampere+ GPUs), got {value!r}"
        )
    return str(value)


def _folder_problem(folder: Path, err: OSError, key: str) -> ConfigError:
    """The ConfigError for an output ``folder`` that cannot be written (``err``), with the fix."""
    why = {
        errno.EROFS: "is on a read-only file system",
        errno.ENOSPC: "is on a full disk (no space left)",
        errno.EDQUOT: "is over the disk quota",
        errno.ENOTDIR: "cannot be created: a file is in its place or in the place of a folder above it",
        errno.EEXIST: "cannot be created: a file is in its place",
        errno.EACCES: "is not writable (permission denied)",
        errno.EPERM: "is not writable (operation not permitted)",
    }.get(err.errno or 0, f"cannot be written ({err.strerror or err})")
    fix = "free disk space or choose" if err.errno in (errno.ENOSPC, errno.EDQUOT) else "choose"
    return ConfigError(f"the output folder {folder} {why}; {fix} another with {key}=PATH")


def check_writable_folder(folder: str | Path, key: str = "out") -> Path:
    """Create ``folder`` if needed and prove a file can be written in it (a probe file, removed at once);
    ConfigError naming the folder and ``key`` otherwise. Run it before the work whose result goes there."""
    folder = Path(folder)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        fd, probe = tempfile.mkstemp(prefix=".write_test", dir=folder)
        os.close(fd)
        os.unlink(probe)
    except OSError as err:
        raise _folder_problem(folder, err, key) from err
    return folder


def write_output(path: str | Path, write: Callable[[BinaryIO], object], key: str = "out") -> Path:
    """Call ``write(file)`` on a temporary file next to ``path`` and rename it to ``path``: a failed write
    (disk full, read-only) leaves neither a partial file nor a temporary one and raises a ConfigError."""
    path = Path(path)
    folder = check_writable_folder(path.parent, key)
    tmp = folder / f".{path.name}.tmp"
    try:
        with open(tmp, "wb") as f:
            write(f)
        os.replace(tmp, path)
    except OSError as err:
        tmp.unlink(missing_ok=True)
        raise _folder_problem(folder, err, key) from err
    return path
