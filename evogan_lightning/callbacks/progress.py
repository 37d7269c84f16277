"""Progress that counts generations: a tqdm bar (``123/6000 generations``) instead of Lightning's "Epoch 0"
batches on a terminal, and plain lines (``generation 700/7000 (10%) ...``, about 20 per run) when the output
goes to a file or a pipe, where a bar's carriage returns would pile up (megabytes per run). A resumed run
starts at its checkpoint's generation."""

from __future__ import annotations

import sys
import time
from typing import Any

import lightning as L
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


class PlainProgress(L.Callback):
    """One line per ``max_generations / lines`` generations on stderr: generation, share, gen/s of this
    session, time left and the last logged losses."""

    def __init__(self, lines: int = 20) -> None:
        self.lines = max(1, int(lines))
        self.started, self.first = 0.0, 0

    def on_train_start(self, trainer: Any, pl_module: Any) -> None:
        self.started, self.first = time.monotonic(), int(getattr(pl_module, "generation", 0))

    def on_train_batch_end(self, trainer: Any, pl_module: Any, *args: Any) -> None:
        g, total = int(pl_module.generation), int(pl_module.max_generations)
        step = max(1, total // self.lines)
        if g % step and g < total:
            return
        elapsed = max(time.monotonic() - self.started, 1e-9)
        rate = (g - self.first) / elapsed
        left = (total - g) / rate if rate > 0 else float("nan")
        losses = " ".join(
            f"{k.split('/')[-1]}={v:.3f}"
            for k, v in (getattr(pl_module, "_last_stats", None) or {}).items()
            if k.startswith("loss/")
        )
        eta = f"~{left / 60:.1f} min" if left >= 90 else f"~{left:.0f} s"
        print(
            f"generation {g}/{total} ({100 * g / total:.0f}%), {rate:.1f} gen/s, {eta} left {losses}".rstrip(),
            file=sys.stderr,
            flush=True,
        )
