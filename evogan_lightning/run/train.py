"""``train(cfg)``: build data, algorithm, loggers, callbacks and the Trainer from a composed config, run,
and write ``metrics.json`` and the resolved config into the output directory."""

from __future__ import annotations

import contextlib
import json
import logging
import math
import signal
import sys
import time
from pathlib import Path
from typing import Any

import lightning as L
import torch
from hydra.errors import InstantiationException
from hydra.utils import instantiate
from lightning.pytorch.callbacks import Checkpoint
from lightning.pytorch.utilities.exceptions import SIGTERMException
from omegaconf import DictConfig, OmegaConf

from ..algos import get_algorithm
from ..algos.base import EvoGANModule
from ..algos.checkpointing import CHECKPOINT_KEY, check_architecture
from ..algos.memory import check_generation_memory
from ..callbacks.checkpoint import GenerationCheckpoint
from ..core.errors import ConfigError, DivergedError, StoppedByUser
from ..data.datamodule import GANDataModule
from .checkpoint_io import check_resumable, read_checkpoint
from .checks import check_generations, check_matmul_precision, check_seed
from .config import check_keys
from .console import (
    StopState,
    quiet_warnings,
    setup_logging,
    stop_on_signals,
    tidy_lightning_logging,
)
from .resume import resume_config, typed_overrides
from .rundir import (
    adopt_folder,
    claim_folder,
    continue_command,
    continue_folder,
    record_invocation,
    requeue_slurm_job,
    run_lock,
    slurm_requeued_checkpoint,
)
from .scaling import hydra_job, prepare_early, resolve_trainer_kwargs

log = logging.getLogger(__name__)


def ensure_writable(out_dir: Path) -> None:
    """Fail early, with the fix, when the output directory cannot be written."""
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        probe = out_dir / ".write_test"
        probe.write_text("ok")
        probe.unlink()
    except OSError as err:
        raise ConfigError(
            f"cannot write to the output directory {out_dir} ({err.strerror}); choose another with "
            "hydra.run.dir=PATH (or output_dir=PATH)"
        ) from err


# What to do about a required value (``???`` in conf/) that was left unset.

REQUIRED_HINTS = {
    "callbacks.classifier_fid.classifier": "the classifier file from `evogan-train-classifier "
    "data=... out=classifier.pt`",
}


def check_required(cfg: DictConfig) -> None:
    """Fail before anything runs when a required config value (``???``) was not given on the command line."""
    missing = sorted(OmegaConf.missing_keys(cfg))
    if missing:
        hints = [f"{key}=... ({REQUIRED_HINTS.get(key, 'required')})" for key in missing]
        raise ConfigError(f"missing required value(s); add {', '.join(hints)} to the command line")


def checkpoint_note(out_dir: Path) -> str:
    """Where the run's last checkpoint is (and its generation), or that it has none; for error messages."""
    last = out_dir / "checkpoints" / "last.ckpt"
    if not last.is_file():
        return f"No checkpoint was written before that (output directory: {out_dir})."
    try:
        generation = torch.load(last, map_location="cpu", weights_only=False)[CHECKPOINT_KEY]["generation"]
    except Exception:  # unreadable: still say where it is
        return f"The last good checkpoint is {last}."
    return f"The last good checkpoint is {last} (generation {generation})."


def module_config(cfg: dict[str, Any], data_info: dict[str, Any]) -> dict[str, Any]:
    """The part of the run config an algorithm module needs (and stores in its checkpoints)."""
    return {
        "algo": cfg["algo"],
        "net": cfg["net"],
        "data_info": data_info,
        "data": cfg["data"],
        "seed": int(cfg["seed"]),
        "generations": int(cfg["generations"]),
        "log_every_n_generations": int(cfg.get("log_every_n_generations", 10)),
    }


def load_checkpoint_meta(path: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """A checkpoint's evogan section and the module config it was trained with (read on the CPU); a
    ConfigError naming the file when it is missing, truncated, not a checkpoint or damaged (NaN/Inf or
    exploded weights or moments)."""
    ckpt = read_checkpoint(path)
    check_resumable(ckpt, path)
    return ckpt[CHECKPOINT_KEY], dict(ckpt.get("hyper_parameters", {}).get("cfg", {}))


def warn_schedule_change(plain: dict[str, Any], trained_with: dict[str, Any], generation: int) -> None:
    """A linearly decaying lr is lr0 (1 - g / generations): resuming with another ``generations`` rescales
    the rest of the decay (a finished run extended to twice its length restarts at 50% of lr0). Say so, with
    the numbers and the ways to keep the old schedule."""
    old = trained_with.get("generations")
    if plain["algo"].get("lr_schedule") != "linear" or not old or int(old) == int(plain["generations"]):
        return
    new = int(plain["generations"])
    before, after = max(0.0, 1 - generation / int(old)), 1 - generation / new
    keep = (
        f"To keep the old schedule, resume with generations={int(old)}; for"
        if generation < int(old)
        else "The old schedule had ended (lr 0). For"
    )
    log.warning(
        "algo.lr_schedule=linear: this run's learning rates decayed over generations=%d; resuming with "
        "generations=%d continues them at %.0f%% of their start instead of %.0f%% (lr0 * (1 - g / %d) from "
        "generation %d on), so the result differs from a run trained for %d generations from the start. "
        "%s a decay over %d generations from the start, start a new run with generations=%d.",
        int(old),
        new,
        100 * after,
        100 * before,
        new,
        generation,
        new,
        keep,
        new,
        new,
    )


def build_module(cfg: dict[str, Any], data_info: dict[str, Any]) -> EvoGANModule:
    """Instantiate the algorithm of ``cfg['algo']['name']``."""
    name = cfg["algo"].get("name")
    return get_algorithm(name)(module_config(cfg, data_info))


def end_of_run_metrics(module: EvoGANModule) -> dict[str, Any]:
    """Metrics of a trained module that need no extra models: training stats and toy mode metrics (with
    their protocol, the same as the training curve's and ``evaluate``'s)."""
    from ..metrics.toy import TOY_EVAL_SAMPLES, evaluate_toy, toy_protocol

    metrics: dict[str, Any] = dict(module.final_metrics())
    if module.data_info["kind"] == "toy":
        metrics.update(evaluate_toy(module, TOY_EVAL_SAMPLES))
        metrics["toy/protocol"] = toy_protocol(TOY_EVAL_SAMPLES, module.seed)
    return metrics


def toy_summary(metrics: dict[str, Any], data_name: str) -> str | None:
    """The toy result in words, e.g. ``ring8: 8/8 modes covered, 94% of samples within 3 std of a mode
    (mode KL 0.002; 7000 generations in 1.5 min)``; None for other data."""
    if "toy/modes_covered" not in metrics:
        return None
    seconds = float(metrics.get("train_seconds", 0.0))
    took = f"{seconds / 60:.1f} min" if seconds >= 90 else f"{seconds:.0f} s"
    return (
        f"{data_name}: {metrics['toy/modes_covered']:.0f}/{metrics['toy/num_modes']:.0f} modes covered, "
        f"{100 * metrics['toy/high_quality_share']:.0f}% of samples within 3 std of a mode "
        f"(mode KL {metrics['toy/mode_kl']:.3f}; {metrics.get('generation', 0):.0f} generations in {took})"
    )


def instantiate_group(
    group: DictConfig | None, job: dict[str, Any] | None = None, name: str = "callbacks"
) -> list[Any]:
    """Instantiate every entry (``_target_``) of a config group mapping; ``null`` entries are skipped.
    In a sweep, W&B runs are grouped by sweep directory and named after their overrides. A bad value
    (the entry's own ValueError) becomes one ConfigError naming ``<name>.<entry>``, not Hydra's
    instantiation traceback."""
    if not group:
        return []
    out = []
    for key, v in group.items():
        if v is None:
            continue
        extra: dict[str, Any] = {}
        if job and job.get("multirun") and str(v.get("_target_", "")).endswith("WandbLogger"):
            sweep = Path(job["sweep_dir"])  # multirun/<date>/<time>: both parts, so groups stay unique
            extra["group"] = v.get("group") or f"{sweep.parent.name}_{sweep.name}".strip("_")
            extra["name"] = f"{job['job_num']}:{job['override_dirname'] or v.get('name')}"
        try:
            out.append(instantiate(v, **extra))
        except InstantiationException as err:
            cause = err.__cause__ if err.__cause__ is not None else err
            if isinstance(cause, (ValueError, TypeError)):
                raise ConfigError(f"{name}.{key}: {cause}") from err
            raise
    return out


def choose_folder(cfg: DictConfig) -> Path:
    """The run's output folder: Hydra's, except that ``ckpt_path=RUN/checkpoints/last.ckpt`` continues in
    ``RUN`` (``rundir.continue_folder``); a requeued SLURM job picks up its own ``last.ckpt`` there."""
    out_dir = Path(cfg.output_dir)
    if cfg.get("ckpt_path"):
        run = continue_folder(str(cfg.ckpt_path))
        if run is not None and run.resolve() != out_dir.resolve():
            adopt_folder(out_dir, run)
            cfg.output_dir = str(run)  # the callbacks' ${output_dir} follow
            out_dir = run
            log.info("continuing the run in its own folder: %s", run)
    else:
        requeued = slurm_requeued_checkpoint(out_dir)
        if requeued is not None:
            cfg.ckpt_path = str(requeued)
            log.info("SLURM requeued this job: resuming from %s", requeued)
    return out_dir


def train(cfg: DictConfig) -> float | None:
    """Train one configuration; returns the main metric (toy: modes covered, else the last G loss). The
    output folder is locked while the run uses it (``rundir.run_lock``)."""
    check_required(cfg)
    check_keys(OmegaConf.to_container(cfg, resolve=False))  # type: ignore[arg-type]
    setup_logging()
    tidy_lightning_logging()
    out_dir = choose_folder(cfg)
    ensure_writable(out_dir)
    with run_lock(out_dir):
        resume_from = str(cfg.ckpt_path) if cfg.get("ckpt_path") else None
        claim_folder(out_dir, resume_from, bool(cfg.get("overwrite", False)))
        resumed_here = bool(resume_from) and Path(resume_from).resolve().parent.parent == out_dir.resolve()
        record_invocation(out_dir, cfg, resumed_here)
        try:
            return _train(cfg, out_dir)
        finally:
            finish_wandb()


def finish_wandb() -> None:
    """End this job's W&B run: in a sweep with Hydra's basic launcher every job runs in one process, and
    without this the next job's WandbLogger would log into the same W&B run."""
    wandb = sys.modules.get("wandb")
    if wandb is not None and getattr(wandb, "run", None) is not None:
        wandb.finish()


def _train(cfg: DictConfig, out_dir: Path) -> float | None:
    plain: dict[str, Any] = OmegaConf.to_container(cfg, resolve=True)  # type: ignore[assignment]
    generations = check_generations(plain.get("generations"))
    ckpt_path = plain.get("ckpt_path")
    if ckpt_path:  # continue the run as it was trained: its algo/net/data/seed, plus what was typed now
        meta, trained_with = load_checkpoint_meta(ckpt_path)
        if trained_with:
            plain = resume_config(plain, trained_with, typed_overrides())
    seed = check_seed(plain.get("seed"))
    L.seed_everything(seed, workers=True, verbose=False)
    torch.set_float32_matmul_precision(check_matmul_precision(plain.get("matmul_precision", "highest")))

    try:
        datamodule = GANDataModule(
            plain["data"], seed=int(plain["seed"]), num_workers=plain["data"].get("num_workers", 0)
        )
        data_info = datamodule.info()
    except ValueError as err:
        raise ConfigError(str(err)) from err
    module = build_module(plain, data_info)
    check_generation_memory(module, str((plain.get("trainer") or {}).get("accelerator", "auto")))

    if ckpt_path:
        mismatch = check_architecture(meta["architecture"], module.architecture())
        if mismatch:
            raise ConfigError(mismatch)
        if meta["generation"] >= generations:
            raise ConfigError(
                f"the checkpoint is already at generation {meta['generation']}; resume with "
                f"generations > {meta['generation']} (e.g. generations={meta['generation'] * 2})"
            )
        warn_schedule_change(plain, trained_with, meta["generation"])

    datamodule.batch_size = module.reals_per_generation
    prepare_early(datamodule)

    saved = {
        **OmegaConf.to_container(cfg, resolve=True),
        **{k: plain[k] for k in ("algo", "net", "data", "seed")},
    }
    saved["net"] = {**saved["net"], "name": module.net_spec.name}  # net=auto: record the family it chose
    OmegaConf.save(OmegaConf.create(saved), out_dir / "config.yaml")
    job = hydra_job()
    trainer_kwargs = resolve_trainer_kwargs(
        dict(plain.get("trainer") or {}), job.get("job_num"), job.get("parallel", False)
    )
    loggers = instantiate_group(cfg.get("logger"), job, name="logger")
    callbacks = instantiate_group(cfg.get("callbacks"))
    if trainer_kwargs.get("enable_progress_bar", True):
        from ..callbacks.progress import GenerationProgressBar, PlainProgress

        if sys.stderr.isatty():
            callbacks.append(GenerationProgressBar())
        else:  # a log file or a pipe: plain lines, not a bar's carriage returns
            trainer_kwargs["enable_progress_bar"] = False
            callbacks.append(PlainProgress())
    # checkpoints last: a generation's evaluations (toy metrics, FID) are in its history before it is saved,
    # so a run resumed from that checkpoint has the uninterrupted run's history
    callbacks.sort(key=lambda c: isinstance(c, GenerationCheckpoint))
    trainer = L.Trainer(
        **trainer_kwargs,
        max_epochs=-1,
        max_steps=-1,
        logger=loggers or False,
        callbacks=callbacks,
        # our GenerationCheckpoint writes last.ckpt; a user's ModelCheckpoint(monitor=...) may add best-k files
        enable_checkpointing=any(isinstance(c, Checkpoint) for c in callbacks),
        default_root_dir=str(out_dir),
        num_sanity_val_steps=0,
    )
    started = time.time()
    stop = StopState()
    graceful = (
        stop_on_signals(module.request_stop) if trainer.world_size == 1 else contextlib.nullcontext(stop)
    )
    try:
        with quiet_warnings(), graceful as stop:
            trainer.fit(module, datamodule=datamodule, ckpt_path=ckpt_path or None)
    except DivergedError as err:
        raise DivergedError(f"{err} {checkpoint_note(out_dir)}") from err
    except SIGTERMException:  # Lightning's SIGTERM handling (after our own stop, or with several ranks)
        stop.signum = stop.signum or signal.SIGTERM
    except (
        SystemExit
    ) as err:  # Lightning exits on a KeyboardInterrupt: the second Ctrl-C aborted a generation
        if stop.signum != signal.SIGINT:
            raise
        last = out_dir / "checkpoints" / "last.ckpt"
        message = (
            f"a second Ctrl-C aborted generation {module.generation + 1} at once. {checkpoint_note(out_dir)}"
        )
        if last.is_file():
            message += f" Continue with: {continue_command(last, module.max_generations)}"
        raise StoppedByUser(message, 130) from err
    early = next((c.stopped_at for c in callbacks if getattr(c, "stopped_at", None) is not None), None)
    if early is not None:
        log.info(
            "early stopping at generation %d of %d (the monitored metric stopped improving)",
            early,
            module.max_generations,
        )
    elif module.generation < module.max_generations:  # a stop signal (graceful, or Lightning's own handling)
        last = out_dir / "checkpoints" / "last.ckpt"
        message = f"training stopped at generation {module.generation} of {module.max_generations}. "
        if stop.signum and stop.signum != signal.SIGINT:
            message = f"{stop.name} received: {message}"
        message += f"{checkpoint_note(out_dir)}"
        if last.is_file():
            message += f" Continue with: {continue_command(last, module.max_generations)}"
            if stop.signum == signal.SIGUSR1 and trainer.is_global_zero:
                message += " " + requeue_slurm_job()
        if module.stop_requested or stop.signum:
            raise StoppedByUser(message, stop.exit_code)
        log.info(message)
        return None

    metrics = end_of_run_metrics(module)
    for callback in callbacks:  # evaluation callbacks: last FID/IS values and their protocol strings
        if hasattr(callback, "final_metrics"):
            metrics.update(callback.final_metrics())
    metrics["train_seconds"] = time.time() - started
    metrics["seed"] = int(plain["seed"])
    if trainer.is_global_zero:
        with open(out_dir / "metrics.json", "w") as f:
            json.dump(
                {
                    k: (None if isinstance(v, float) and not math.isfinite(v) else v)
                    for k, v in metrics.items()
                },
                f,
                indent=2,
                sort_keys=True,
            )
        log.info(
            json.dumps(
                {
                    k: round(v, 4)
                    for k, v in metrics.items()
                    if not k.startswith("operator") and not isinstance(v, str)
                },
                indent=None,
            )
        )
        summary = toy_summary(metrics, plain["data"].get("name", "toy data"))
        if summary:
            log.info(summary)
        log.info("output directory: %s", out_dir)
    return metrics.get("toy/modes_covered", metrics.get("loss/g"))
