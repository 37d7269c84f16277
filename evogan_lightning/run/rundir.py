"""A run's output folder: one run at a time (a lock), resumed runs continue it, and the exact command that
continues it.

- ``run_lock(folder)``: ``folder/.run.lock`` holds the pid, host and start time of the run using the folder;
  a second run into it fails at once, and a lock left by a killed run (same host, pid gone) is taken over.
- ``continue_folder(ckpt_path)``: ``ckpt_path=RUN/checkpoints/last.ckpt`` continues in ``RUN`` (logs,
  samples and plots go on in one place) unless ``hydra.run.dir``/``output_dir`` was typed.
- ``requeue_slurm_job()`` (after SIGUSR1) and ``slurm_requeued_checkpoint(folder)``: a job that SLURM
  requeued resumes by itself from the ``last.ckpt`` its earlier attempt wrote into the same folder.
- ``continue_command(last, generations)``: a command that can be pasted as it is (quoted paths).
- ``claim_folder(folder, ...)``: a folder belongs to one run; a new run into a folder that holds another run
  (its checkpoint or metrics) is refused unless it resumes that checkpoint or ``overwrite=true``.
- ``record_invocation(folder, ...)``: the ``.hydra/`` files (composed config, overrides), written by us after
  the lock and the folder check (Hydra's own are off: ``hydra.output_subdir: null``), so a refused run never
  touches another run's files.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shlex
import shutil
import socket
import time
from collections.abc import Iterator
from pathlib import Path

from ..core.errors import ConfigError
from .console import is_rank_zero

LOCK_NAME = ".run.lock"


def _alive(holder: dict) -> bool:
    """Whether the run that wrote ``holder`` may still be running (another host: assume it is)."""
    if holder.get("host") != socket.gethostname():
        return True
    try:
        os.kill(int(holder.get("pid", -1)), 0)
    except ProcessLookupError:
        return False
    except (PermissionError, ValueError, OverflowError):
        return True
    return True


def _read(path: Path) -> dict:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return {}  # half-written or unreadable: the run that wrote it died while writing


@contextlib.contextmanager
def run_lock(folder: Path) -> Iterator[None]:
    """Hold ``folder/.run.lock`` while the block runs; ConfigError if a live run holds it already."""
    if not is_rank_zero():
        yield
        return
    path = folder / LOCK_NAME
    mine = {"pid": os.getpid(), "host": socket.gethostname(), "started": time.strftime("%Y-%m-%d %H:%M:%S")}
    for _ in range(3):
        try:
            fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        except FileExistsError:
            holder = _read(path)
            if holder and _alive(holder):
                raise ConfigError(
                    f"another run (pid {holder.get('pid')} on {holder.get('host')}, started "
                    f"{holder.get('started')}) is using the output folder {folder}; wait for it to end or "
                    f"choose another folder with hydra.run.dir=PATH. If that run is gone (e.g. on another "
                    f"machine), delete {path}."
                ) from None
            path.unlink(missing_ok=True)  # stale: left by a killed run; take it over
            continue
        with os.fdopen(fd, "w") as handle:
            json.dump(mine, handle)
        break
    else:
        raise ConfigError(f"could not take the lock {path}; another run keeps creating it")
    try:
        yield
    finally:
        if _read(path).get("pid") == mine["pid"]:
            path.unlink(missing_ok=True)


def typed_keys() -> set[str] | None:
    """Keys typed on the command line of this Hydra run (task and hydra overrides); None outside a single
    Hydra run (a sweep, the compose API)."""
    try:
        from hydra.core.hydra_config import HydraConfig
        from hydra.types import RunMode

        hc = HydraConfig.get()
        if hc.mode != RunMode.RUN:
            return None
        return {str(o).split("=", 1)[0].lstrip("+~") for o in (*hc.overrides.task, *hc.overrides.hydra)}
    except Exception:
        return None


def continue_folder(ckpt_path: str) -> Path | None:
    """The run folder that ``ckpt_path`` belongs to (``RUN/checkpoints/last.ckpt`` with ``RUN/config.yaml``),
    when a resume should continue in it: a single Hydra run without ``hydra.run.dir``/``output_dir`` typed."""
    keys = typed_keys()
    if keys is None or {"hydra.run.dir", "output_dir"} & keys:
        return None
    run = Path(ckpt_path).resolve().parent.parent
    return run if (run / "config.yaml").is_file() else None


def adopt_folder(fresh: Path, run: Path) -> None:
    """Hydra made ``fresh`` for this invocation; the run continues in ``run`` (``record_invocation`` keeps
    this invocation's overrides there): remove ``fresh`` (and its empty parents, e.g. ``outputs/<date>``)
    if it holds nothing else."""
    if fresh.resolve() == run.resolve() or not fresh.is_dir():
        return
    with contextlib.suppress(OSError):
        if {p.name for p in fresh.iterdir()} <= {".hydra"}:
            shutil.rmtree(fresh)
            for parent in (fresh.parent, fresh.parent.parent):  # outputs/<date>/ when they held only it
                parent.rmdir()


RUN_MARKERS = ("checkpoints/last.ckpt", "metrics.json")  # a folder holding either holds a run


def claim_folder(folder: Path, resume_from: str | None, overwrite: bool) -> None:
    """Make sure ``folder`` may take this run (call with the lock held). A folder that holds another run is
    refused with the ways out, unless this run resumes that run's checkpoint, or ``overwrite`` empties it
    (every file but the lock)."""
    held = [folder / m for m in RUN_MARKERS if (folder / m).is_file()]
    if not held:
        return
    last = folder / "checkpoints" / "last.ckpt"
    if resume_from and Path(resume_from).resolve().parent.parent == folder.resolve():
        return
    if overwrite:
        for item in folder.iterdir():
            if item.name == LOCK_NAME:
                continue
            shutil.rmtree(item) if item.is_dir() and not item.is_symlink() else item.unlink()
        return
    ways = "choose another folder (hydra.run.dir=PATH) or replace that run with overwrite=true"
    if last.is_file():
        ways = f"continue it with ckpt_path={hydra_value(str(last))} (and generations=N), " + ways
    raise ConfigError(f"the output folder {folder} holds another run ({held[0].relative_to(folder)}); {ways}")


def record_invocation(folder: Path, cfg, resumed_here: bool) -> None:
    """Write ``.hydra/config.yaml`` and ``.hydra/overrides.yaml`` (a new run) or
    ``.hydra/resume-<time>-overrides.yaml`` (a run continued in its folder); nothing outside Hydra."""
    try:
        from hydra.core.hydra_config import HydraConfig
        from omegaconf import OmegaConf

        hc = HydraConfig.get()
    except Exception:  # the compose API / train(cfg) from Python: no invocation to record
        return
    hydra_dir = folder / ".hydra"
    hydra_dir.mkdir(parents=True, exist_ok=True)
    overrides = OmegaConf.to_yaml(list(hc.overrides.task))
    if resumed_here and (hydra_dir / "config.yaml").is_file():
        (hydra_dir / f"resume-{time.strftime('%Y%m%d-%H%M%S')}-overrides.yaml").write_text(overrides)
        return
    task = OmegaConf.create(OmegaConf.to_container(cfg, resolve=False))
    (hydra_dir / "config.yaml").write_text(OmegaConf.to_yaml(task))
    (hydra_dir / "overrides.yaml").write_text(overrides)


def requeue_slurm_job() -> str:
    """Ask SLURM to requeue this job (after SIGUSR1, the time-limit warning of ``sbatch --signal=USR1@N``);
    the requeued job resumes from its checkpoint (``slurm_requeued_checkpoint``). Returns what happened,
    in words, for the stop message ("" outside SLURM)."""
    job = os.environ.get("SLURM_ARRAY_JOB_ID")
    job = f"{job}_{os.environ['SLURM_ARRAY_TASK_ID']}" if job and "SLURM_ARRAY_TASK_ID" in os.environ else job
    job = job or os.environ.get("SLURM_JOB_ID")
    if not job:
        return ""
    import subprocess

    try:
        done = subprocess.run(["scontrol", "requeue", job], capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired) as err:
        return f"Could not requeue SLURM job {job} ({err}); resubmit it."
    if done.returncode != 0:
        return f"Could not requeue SLURM job {job} ({done.stderr.strip()}); resubmit it."
    return f"SLURM job {job} was requeued and will resume from this checkpoint."


def slurm_requeued_checkpoint(folder: Path) -> Path | None:
    """``folder/checkpoints/last.ckpt`` when this is a SLURM job that was requeued (``SLURM_RESTART_COUNT`` >
    0) and its earlier attempt left a checkpoint there: the job resumes by itself."""
    last = folder / "checkpoints" / "last.ckpt"
    try:
        restarted = int(os.environ.get("SLURM_RESTART_COUNT", "0")) > 0
    except ValueError:
        restarted = False
    return last if restarted and last.is_file() else None


_PLAIN = re.compile(r"[\w./-]+")


def hydra_value(text: str) -> str:
    """``text`` as a Hydra override value: as it is when plain, else single-quoted with escapes."""
    if _PLAIN.fullmatch(text):
        return text
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


def continue_command(last: Path, generations: int) -> str:
    """``python -m evogan_lightning ckpt_path=... generations=N``, quoted for the shell and for Hydra."""
    args = [f"ckpt_path={hydra_value(str(last))}", f"generations={generations}"]
    return "python -m evogan_lightning " + " ".join(shlex.quote(a) for a in args)
