"""A progress bar that counts generations (``123/6000 generations``) instead of Lightning's "Epoch 0" batches;
a resumed run starts the bar at its checkpoint's generation."""

from __future__ import annotations

from typing import Any

from lightning.pytorch.callbacks import TQDMProgressBar
from lightning.pytorch.callbacks.progress.tqdm_progress import _update_n


class GenerationProgressBar(TQDMProgressBar):
    """Lightning's tqdm bar with the module's ``generation`` / ``max_generations`` as its position / total."""

    @property
    def train_description(self) -> str:
        return "generations"

    def on_train_epoch_start(self, trainer: Any, pl_module: Any = None, *_: Any) -> None:
        if self._leave:
            self.train_progress_bar = self.init_train_tqdm()
        bar = self.train_progress_bar
        start = int(getattr(pl_module, "generation", 0))
        bar.reset(total=getattr(pl_module, "max_generations", None))
        bar.initial = bar.n = start
        bar.unit = "gen"
        bar.set_description(self.train_description)

    def on_train_batch_end(
        self, trainer: Any, pl_module: Any, outputs: Any, batch: Any, batch_idx: int
    ) -> None:
        n = int(getattr(pl_module, "generation", batch_idx + 1))
        bar = self.train_progress_bar
        if bar is not None and self._should_update(n, bar.total):
            _update_n(bar, n)
            bar.set_postfix(self.get_metrics(trainer, pl_module))
