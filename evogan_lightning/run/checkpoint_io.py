"""Reading a run's checkpoint file, with one clear error for each way it can be unusable: missing, a folder,
empty, cut short (an interrupted copy or save), damaged, or not a checkpoint at all (another file passed by
mistake). The one reader of ``tools.cli_common.load_module`` (sample, evaluate, study) and of resuming a run."""

from __future__ import annotations

import zipfile
from pathlib import Path
from typing import Any

import torch

from ..algos.checkpointing import CHECKPOINT_KEY, upgrade_checkpoint
from ..core.errors import EXPLODED, ConfigError, within_bound

FIX = "pass a checkpoints/last.ckpt written by a run"
ZIP_MAGIC = b"PK\x03\x04"  # torch.save writes a zip archive


def unreadable_reason(path: Path) -> str:
    """Why ``torch.load`` could not read the file at ``path``, in words (``is truncated ...``)."""
    size = path.stat().st_size
    if size == 0:
        return "is empty (0 bytes)"
    with open(path, "rb") as f:
        head = f.read(len(ZIP_MAGIC))
    if head != ZIP_MAGIC:
        return "is not a checkpoint (not a file written by torch.save)"
    if not zipfile.is_zipfile(path):
        return f"is truncated ({size} bytes, its end is missing: the copy or save was cut short)"
    return "is damaged (a torch.save archive that cannot be read back)"


def read_checkpoint(path: str | Path) -> dict[str, Any]:
    """The checkpoint at ``path`` loaded on the CPU and upgraded to this version (``upgrade_checkpoint``);
    ConfigError naming the file, the problem and the fix when it is not a readable evogan_lightning one."""
    p = Path(path)
    if p.is_dir():
        raise ConfigError(f"checkpoint {p} is a folder; {FIX} (e.g. {p / 'checkpoints' / 'last.ckpt'})")
    if not p.is_file():
        raise ConfigError(f"checkpoint {p} does not exist; {FIX}")
    try:
        ckpt = torch.load(p, map_location="cpu", weights_only=False)
    except Exception as err:  # zip, pickle and torch errors alike: say what is wrong with the file
        raise ConfigError(f"checkpoint {p} {unreadable_reason(p)}; {FIX}") from err
    if not isinstance(ckpt, dict) or CHECKPOINT_KEY not in ckpt:
        raise ConfigError(f"{p} is not an evogan_lightning checkpoint (no '{CHECKPOINT_KEY}' section); {FIX}")
    return upgrade_checkpoint(ckpt)


POPULATION_ROWS = ("params", "exp_avg", "exp_avg_sq", "buffers_flat")  # engine.population: one row per slot


def damaged_tensors(ckpt: dict[str, Any]) -> list[str]:
    """Names of the checkpoint's weights, buffers and optimizer moments that are NaN/Inf or beyond
    ``EXPLODED`` (Adam's second moments: its square). Fitness values are left out (NaN = not scored yet)."""
    bad = []
    state = ckpt.get("state_dict", {})
    for name, t in state.items():
        if torch.is_tensor(t) and t.is_floating_point() and "fitness" not in name:
            prefix, _, field = name.rpartition(".")
            parents = state.get(
                f"{prefix}.fitness"
            )  # a population: its parents' rows only (children: scratch)
            if parents is not None and field in POPULATION_ROWS:
                t = t[: parents.shape[0]]
            if not bool(within_bound(t, square=field == "exp_avg_sq")):
                bad.append(name)
    for k, opt in enumerate(ckpt.get("optimizer_states", [])):
        for pid, state in opt.get("state", {}).items():
            for key, t in state.items():
                if torch.is_tensor(t) and t.is_floating_point():
                    if not bool(within_bound(t, square=key == "exp_avg_sq")):
                        bad.append(f"optimizer {k}, parameter {pid}, {key}")
    return bad


def check_resumable(ckpt: dict[str, Any], path: str | Path) -> None:
    """ConfigError when the checkpoint at ``path`` holds a damaged (NaN/Inf or exploded) state: resuming it
    could only diverge, and the cause is the file, not the learning rate."""
    bad = damaged_tensors(ckpt)
    if bad:
        shown = ", ".join(bad[:3]) + (f" and {len(bad) - 3} more" if len(bad) > 3 else "")
        raise ConfigError(
            f"checkpoint {path} is damaged: {shown} hold NaN/Inf or values beyond {EXPLODED:.0e}, so it cannot be "
            "resumed. Resume an earlier snapshot (checkpoints/gen_*.ckpt, written with "
            "callbacks.checkpoint.keep_every=N) or start a new run."
        )
