"""Checkpoints by generation (not Lightning's global_step), written atomically, never from a diverged state."""

from __future__ import annotations

import os
from pathlib import Path

import lightning as L

from ..errors import DivergedError


class GenerationCheckpoint(L.Callback):
    """Writes ``dirpath/last.ckpt`` every ``every_n_generations`` generations and when training ends.

    The file is written to a temporary name and renamed, so an interrupted save never destroys the previous
    checkpoint; a state with NaN/Inf losses is never saved (the last good checkpoint stays). ``keep_every``
    > 0 additionally keeps ``gen_XXXXXXX.ckpt`` snapshots every that many generations.
    """

    def __init__(self, dirpath: str, every_n_generations: int = 500, keep_every: int = 0) -> None:
        if every_n_generations < 1:
            raise ValueError(f"every_n_generations must be >= 1, got {every_n_generations}")
        self.dirpath = Path(dirpath)
        self.every, self.keep_every = int(every_n_generations), int(keep_every)
        self.last_saved = -1

    @property
    def last_path(self) -> Path:
        return self.dirpath / "last.ckpt"

    def save(self, trainer: L.Trainer, module) -> None:
        if module.generation == self.last_saved:
            return
        try:
            module.check_finite()
        except DivergedError:
            return
        self.dirpath.mkdir(parents=True, exist_ok=True)
        tmp = self.dirpath / ".last.ckpt.tmp"
        trainer.save_checkpoint(str(tmp))
        if trainer.is_global_zero:
            if self.keep_every and module.generation % self.keep_every == 0:
                import shutil

                shutil.copyfile(tmp, self.dirpath / f"gen_{module.generation:07d}.ckpt")
            os.replace(tmp, self.last_path)
        self.last_saved = module.generation

    def on_train_batch_end(self, trainer, module, outputs, batch, batch_idx) -> None:
        if module.generation % self.every == 0:
            self.save(trainer, module)

    def on_train_end(self, trainer, module) -> None:
        self.save(trainer, module)

    def on_exception(self, trainer, module, exception: BaseException) -> None:
        # Ctrl-C between generations: keep the progress (the module's state is consistent there).
        if isinstance(exception, KeyboardInterrupt) and not getattr(module, "_in_generation", False):
            self.save(trainer, module)
