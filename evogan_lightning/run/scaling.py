"""Multi-device and sweep plumbing: strategy checks before training, one GPU per parallel Hydra job, and
W&B grouping of sweep jobs."""

from __future__ import annotations

import os
from typing import Any

import torch
from lightning.pytorch.strategies import DDPStrategy
from torch.nn.parallel import DistributedDataParallel

from ..core.errors import ConfigError

SUPPORTED_STRATEGIES = ("auto", "ddp", "ddp_find_unused_parameters_true")
ACCELERATORS = ("auto", "cpu", "gpu", "cuda", "mps")


class PopulationDDPStrategy(DDPStrategy):
    """Lightning's DDP, except that a module whose every trainable tensor lives in a ``Population`` (GAGAN:
    the generator and all discriminators) is not wrapped: torch's DDP refuses modules without parameters, and
    the populations already average their gradients over the ranks themselves (``Population.adam_step``).
    Modules with ordinary parameters (the E-GAN/CE-GAN discriminator) are wrapped as usual."""

    def _setup_model(self, model: torch.nn.Module) -> torch.nn.Module:
        if not any(p.requires_grad for p in model.parameters()):
            return model
        return super()._setup_model(model)

    def _register_ddp_hooks(self) -> None:
        if isinstance(self.model, DistributedDataParallel):
            super()._register_ddp_hooks()


def _count(devices: Any) -> int:
    if isinstance(devices, (list, tuple)):
        return len(devices)
    if devices in (None, "auto"):
        return 1
    if isinstance(devices, str) and devices.strip() == "-1":
        return torch.cuda.device_count() or 1
    try:
        n = int(devices)
    except (TypeError, ValueError) as err:
        raise ConfigError(
            f"trainer.devices must be an integer, a list of GPU ids or 'auto', got {devices!r}"
        ) from err
    if n < 1 and n != -1:
        raise ConfigError(f"trainer.devices must be >= 1 (or -1 / 'auto': every device), got {devices!r}")
    return n


def check_gpu_ids(devices: Any, gpus: int) -> None:
    """A list of GPU ids in ``trainer.devices`` must name visible GPUs (``gpus``: 0 for a CPU run)."""
    if not isinstance(devices, (list, tuple)):
        return
    if gpus == 0:
        raise ConfigError(
            f"trainer.devices={list(devices)} lists GPU ids but this run is on the CPU (no CUDA device is "
            "visible or trainer.accelerator=cpu); use trainer.devices=N (a number of processes)"
        )
    bad = [d for d in devices if not (isinstance(d, int) and 0 <= d < gpus)]
    if bad:
        raise ConfigError(
            f"trainer.devices={list(devices)} names GPU(s) {bad} but the visible GPUs are 0..{gpus - 1}"
        )


# fp16 with a gradient scaler: only the discriminator's step goes through Lightning's manual_backward (and
# so its GradScaler); the populations' steps (every generator, GAGAN's discriminators) backpropagate and
# take their fused Adam step themselves, so their fp16 gradients would be unscaled and underflow.
UNSCALED_PRECISIONS = ("16-mixed", "16")


def check_precision(precision: Any) -> None:
    """Reject ``trainer.precision`` values whose loss scaling the populations cannot honour."""
    if str(precision) in UNSCALED_PRECISIONS:
        raise ConfigError(
            f"trainer.precision={precision} needs loss scaling, which only the discriminator step would get (the "
            "populations take their own Adam steps, so their fp16 gradients would underflow); use "
            "trainer.precision=bf16-mixed (no scaling needed) or 32-true"
        )


def resolve_trainer_kwargs(
    trainer: dict[str, Any], job_num: int | None = None, parallel_jobs: bool = False
) -> dict[str, Any]:
    """Validate multi-device settings before training and fill in the strategy.

    - More GPUs than exist: ConfigError naming the count found.
    - Several devices: strategy ``ddp`` (one process per device, launched by Lightning; works under Hydra),
      as a ``PopulationDDPStrategy`` instance.
      Strategies that re-pickle the module (``ddp_spawn``, notebooks) or shard it (FSDP, DeepSpeed) are
      rejected: the population store keeps views into flat tensors that only ``ddp`` preserves.
    - ``parallel_jobs`` (a joblib sweep) with one device per job and several GPUs: job k gets GPU k mod N.
    """
    out = dict(trainer)
    accel = str(out.get("accelerator", "auto"))
    if accel not in ACCELERATORS:
        raise ConfigError(f"trainer.accelerator must be one of {', '.join(ACCELERATORS)}, got {accel!r}")
    n = _count(out.get("devices", 1))
    gpus = torch.cuda.device_count()
    wants_gpu = accel in ("gpu", "cuda") or (accel == "auto" and gpus > 0)
    if accel in ("gpu", "cuda") and gpus == 0:
        raise ConfigError(
            f"trainer.accelerator={accel} but no CUDA device is visible; use trainer.accelerator=cpu"
        )
    check_gpu_ids(out.get("devices", 1), gpus if wants_gpu else 0)
    if wants_gpu and n > gpus:
        raise ConfigError(
            f"trainer.devices={out.get('devices')} asks for {n} GPUs but {gpus} exist; use trainer.devices<={gpus}"
        )
    check_precision(out.get("precision", "32-true"))
    strategy = str(out.get("strategy", "auto"))
    if strategy not in SUPPORTED_STRATEGIES:
        raise ConfigError(
            f"trainer.strategy={strategy} is not supported; use {' or '.join(SUPPORTED_STRATEGIES[:2])} "
            "(DDP keeps every rank's population in sync; spawn/sharded strategies cannot)"
        )
    if n > 1:
        out["strategy"] = PopulationDDPStrategy(
            find_unused_parameters=strategy == "ddp_find_unused_parameters_true"
        )
    if (
        parallel_jobs
        and wants_gpu
        and n == 1
        and gpus > 1
        and job_num is not None
        and out.get("devices") in (1, "1")
    ):
        out["devices"] = [job_num % gpus]
    return out


def local_rank() -> int:
    """This process's rank on its node as set by a multi-process launcher (Lightning's DDP launcher,
    torchrun, SLURM); 0 when none is set."""
    for var in ("LOCAL_RANK", "SLURM_LOCALID"):
        value = os.environ.get(var)
        if value not in (None, ""):
            return int(value)
    return 0


def prepare_early(datamodule: Any) -> bool:
    """Find (and, when allowed, download) the data and build the dataset before the Trainer starts, so a
    missing file is a ConfigError before any process is launched. Only on local rank 0: ranks started at the
    same time by torchrun/SLURM would race on a download; they get the data through Lightning's own
    ``prepare_data`` (local rank 0, then a barrier) and ``setup`` hooks. Returns whether it ran here."""
    if local_rank() != 0:
        return False
    datamodule.prepare_data()
    datamodule.setup("fit")
    datamodule.check_enough_data()
    return True


def hydra_job() -> dict[str, Any]:
    """Facts about the current Hydra job (empty outside Hydra): mode, job number, sweep dir, launcher."""
    try:
        from hydra.core.hydra_config import HydraConfig

        hc = HydraConfig.get()
    except Exception:
        return {}
    launcher = str(hc.launcher.get("_target_", "")) if hc.launcher is not None else ""
    return {
        "multirun": str(hc.mode) == "RunMode.MULTIRUN",
        "job_num": int(hc.job.num) if hc.job.get("num") is not None else None,
        "sweep_dir": str(hc.sweep.dir),
        "override_dirname": str(hc.job.override_dirname),
        "parallel": "joblib" in launcher.lower(),
    }
