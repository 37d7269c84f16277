"""Checkpoints by generation and by wall clock (not Lightning's global_step), written atomically, never from
a diverged state."""

from __future__ import annotations

import contextlib
import os
import shutil
import time
from pathlib import Path

import lightning as L
import torch

from ..core.errors import DIVERGENCE_ADVICE, ConfigError, DivergedError


class GenerationCheckpoint(L.Callback):
    """Writes ``dirpath/last.ckpt`` every ``every_n_generations`` generations, at least every
    ``every_n_minutes`` of wall clock (0 = off), when training ends, and when a run stops between generations
    (Ctrl-C, SIGTERM, an error in a callback).

    The file is written to a temporary name and renamed, so an interrupted save never destroys the previous
    checkpoint, and a failed save (disk full) leaves no temporary file. A state whose losses, parameters,
    optimizer moments or fitness values are not finite is never saved: the run stops with DivergedError and
    the last good checkpoint stays. ``keep_every`` > 0 additionally keeps ``gen_XXXXXXX.ckpt`` snapshots
    every that many generations.
    """

    def __init__(
        self, dirpath: str, every_n_generations: int = 500, keep_every: int = 0, every_n_minutes: float = 5.0
    ) -> None:
        if every_n_generations < 1:
            raise ValueError(f"every_n_generations must be >= 1, got {every_n_generations}")
        if every_n_minutes < 0:
            raise ValueError(f"every_n_minutes must be >= 0 (0 = off), got {every_n_minutes}")
        if keep_every < 0 or (keep_every and keep_every % every_n_generations):
            raise ValueError(
                f"keep_every={keep_every} keeps a snapshot at saves whose generation it divides, and saves come "
                f"every {every_n_generations} generations: use a multiple of every_n_generations (e.g. "
                f"keep_every={every_n_generations * max(1, round(keep_every / every_n_generations))}), or 0 for none"
            )
        self.dirpath = Path(dirpath)
        self.every, self.keep_every = int(every_n_generations), int(keep_every)
        self.every_seconds = 60.0 * float(every_n_minutes)
        self.last_saved = -1
        self._last_time = time.monotonic()

    @property
    def last_path(self) -> Path:
        return self.dirpath / "last.ckpt"

    def save(self, trainer: L.Trainer, module, on_divergence: str = "raise") -> None:
        """Write ``last.ckpt`` for the module's current generation (once). A diverged state is not written:
        ``on_divergence="raise"`` stops the run with DivergedError, ``"skip"`` (while handling another
        exception) only keeps the previous checkpoint."""
        if module.generation == self.last_saved:
            return
        try:
            module.check_finite()
            if not module.state_is_finite():
                raise DivergedError(
                    f"training diverged by generation {module.generation}: parameters, optimizer moments or "
                    f"fitness values are NaN/Inf although the logged losses were finite. {DIVERGENCE_ADVICE}"
                )
        except DivergedError:
            if on_divergence == "raise":
                raise
            return
        tmp = self.dirpath / ".last.ckpt.tmp"
        snapshot = self.dirpath / f"gen_{module.generation:07d}.ckpt"
        try:
            self.dirpath.mkdir(parents=True, exist_ok=True)
            trainer.save_checkpoint(str(tmp))
            if trainer.is_global_zero:
                if self.keep_every and module.generation % self.keep_every == 0:
                    try:
                        shutil.copyfile(tmp, snapshot)
                    except OSError:
                        snapshot.unlink(missing_ok=True)
                        raise
                os.replace(tmp, self.last_path)
        except OSError as err:
            with contextlib.suppress(OSError):
                tmp.unlink(missing_ok=True)
            previous = f"the previous one, {self.last_path}, is intact" if self.last_path.exists() else "none"
            raise ConfigError(
                f"could not write the checkpoint of generation {module.generation} to {self.dirpath} "
                f"({err.strerror or err}); free disk space or choose another output folder "
                f"(hydra.run.dir=PATH). Last checkpoint: {previous}."
            ) from err
        self.last_saved = module.generation
        self._last_time = time.monotonic()

    def _time_is_up(self, trainer: L.Trainer, module) -> bool:
        """Whether ``every_n_minutes`` passed since the last save. With several ranks rank 0 decides, at
        logging generations only (where the ranks sync anyway), so all ranks save together."""
        if not self.every_seconds:
            return False
        due = time.monotonic() - self._last_time >= self.every_seconds
        if trainer.world_size == 1:
            return due
        if module.generation % module.log_every:
            return False
        flag = torch.tensor(float(due), device=module.device)
        return bool(trainer.strategy.broadcast(flag, 0).item())

    def on_train_start(self, trainer, module) -> None:
        self._last_time = time.monotonic()

    def on_train_batch_end(self, trainer, module, outputs, batch, batch_idx) -> None:
        if module.generation % self.every == 0 or self._time_is_up(trainer, module):
            self.save(trainer, module)

    def on_train_end(self, trainer, module) -> None:
        self.save(trainer, module)

    def on_exception(self, trainer, module, exception: BaseException) -> None:
        # A stop between generations (Ctrl-C, Lightning's SIGTERMException, an error in a callback) keeps the
        # progress: the module's state is consistent there. Never from a diverged state.
        if isinstance(exception, (DivergedError, ConfigError)) or getattr(module, "_in_generation", False):
            return
        if module.generation == 0:  # nothing trained yet
            return
        self.save(trainer, module, on_divergence="skip")
