"""Lightning's ``EarlyStopping`` for a training run that is one long epoch: checked every
``every_n_generations`` generations (Lightning checks at epoch or validation ends, which a run of generations
does not have) on any logged metric (``trainer.callback_metrics``: ``loss/*``, ``fitness/*``, ``toy/*``,
``val/fid``, ...). A run stopped this way ends like a finished one (``metrics.json``, plots) at the generation
it stopped, and says so.

    python -m evogan_lightning +callbacks.early._target_=evogan_lightning.callbacks.early_stopping.EarlyStopping \
        +callbacks.early.monitor=toy/high_quality_share +callbacks.early.mode=max +callbacks.early.patience=5
"""

from __future__ import annotations

from typing import Any

from lightning.pytorch.callbacks import EarlyStopping as LightningEarlyStopping


class EarlyStopping(LightningEarlyStopping):
    """``EarlyStopping(monitor, mode, patience, min_delta, ...)`` checked every ``every_n_generations``
    generations (default: the logging interval, where the metric is fresh); ``patience`` counts checks.
    ``stopped_at``: the generation it stopped the run at (None while running)."""

    def __init__(self, *args: Any, every_n_generations: int | None = None, **kwargs: Any) -> None:
        kwargs.setdefault("check_on_train_epoch_end", False)
        super().__init__(*args, **kwargs)
        if every_n_generations is not None and int(every_n_generations) < 1:
            raise ValueError(f"every_n_generations must be >= 1, got {every_n_generations}")
        self.every = every_n_generations
        self.stopped_at: int | None = None

    def on_train_batch_end(
        self, trainer: Any, pl_module: Any, outputs: Any, batch: Any, batch_idx: int
    ) -> None:
        every = self.every or int(getattr(pl_module, "log_every", 1))
        if pl_module.generation % every or self.monitor not in trainer.callback_metrics:
            return
        self._run_early_stopping_check(trainer)
        if trainer.should_stop and self.stopped_at is None:
            self.stopped_at = int(pl_module.generation)

    def on_validation_end(self, trainer: Any, pl_module: Any) -> None:  # no validation loop here
        return
