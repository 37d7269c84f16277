"""Sample-quality evaluation during training (docs/algorithms.md, "Evaluation protocol").

- :class:`ImageQuality`: the callback around ``metrics.evaluator.ImageEvaluator`` (FID, KID, IS without
  Lightning): every K generations logs ``val/fid`` (or ``val/classifier_fid``), ``val/kid``,
  ``val/is_mean``, ``val/is_std`` with ``generation`` as x-axis and ``val/train_seconds`` (training time of
  this session so far, the evaluations' own time left out: the x-axis of quality against wall-clock), appends them to ``module.history`` and
  hands the last values plus the protocol to ``metrics.json``. The extractor lives in the callback, never
  in the module, so checkpoints stay free of it.
- :class:`ToyEvaluation`: modes covered, high-quality share and mode KL on toy mixtures every K
  generations and at the end (``metrics.toy.evaluate_toy``, the protocol of ``metrics.json`` and
  ``evaluate``: with the same ``num_samples`` the curve's last point is the final number).
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Mapping
from typing import Any

import lightning as L

from ..core.errors import ConfigError
from ..metrics.evaluator import ImageEvaluator
from ..metrics.toy import TOY_EVAL_SAMPLES, evaluate_toy


def _log_row(trainer: L.Trainer, module: Any, values: Mapping[str, float], keep: bool = True) -> None:
    """Log ``values`` at x = generation and (``keep``) keep them in ``module.history`` (saved in checkpoints)."""
    row = {k: float(v) for k, v in values.items()}
    row["generation"] = float(module.generation)
    if keep:
        module.history.append(row)
    module.publish(row)  # trainer.callback_metrics: ModelCheckpoint(monitor="val/fid"), EarlyStopping
    for logger in trainer.loggers:
        logger.log_metrics(row, step=module.generation)


class ImageQuality(L.Callback):
    """Every ``every_n_generations`` generations and at the end: FID (+ KID, IS) of the best individual.

    Config: ``callbacks=[default,fid]`` (Inception) or ``callbacks=[default,classifier_fid]
    callbacks.classifier_fid.classifier=PATH``. Other arguments: see :class:`ImageEvaluator`. The extractor
    is built in ``setup`` (before any generation), so missing weights fail the run at start-up.
    """

    def __init__(self, every_n_generations: int = 1000, **evaluator_kwargs: Any) -> None:
        if int(every_n_generations) < 1:
            raise ConfigError(f"every_n_generations must be >= 1, got {every_n_generations}")
        self.every = int(every_n_generations)
        self.evaluator = ImageEvaluator(**evaluator_kwargs)
        self.last: dict[str, float] = {}
        self.last_generation = -1
        self.active = False
        self.started: float | None = None  # monotonic clock at fit start (this session)
        self.eval_seconds = 0.0  # time spent in evaluations this session

    def setup(self, trainer: L.Trainer, pl_module: Any, stage: str) -> None:
        if pl_module.data_info["kind"] != "image":
            warnings.warn("FID callbacks need image data; skipped on toy data", stacklevel=2)
            return
        self.active = True
        self.evaluator.build_extractor(tuple(pl_module.shape), pl_module.data_info.get("name"))

    def on_fit_start(self, trainer: L.Trainer, pl_module: Any) -> None:
        if not self.active or not trainer.is_global_zero:
            return
        datamodule = getattr(trainer, "datamodule", None)
        self.evaluator.prepare(
            pl_module.cfg["data"],
            tuple(pl_module.shape),
            device=pl_module.device,
            seed=pl_module.seed,
            source=getattr(datamodule, "source", None),
        )
        self.started, self.eval_seconds = time.monotonic(), 0.0  # preparing the real statistics is set-up

    def run(self, trainer: L.Trainer, pl_module: Any) -> None:
        if not self.active or not trainer.is_global_zero or pl_module.generation == self.last_generation:
            return
        began = time.monotonic()
        self.last = self.evaluator.evaluate(pl_module)
        self.last_generation = pl_module.generation
        if self.started is not None:
            self.last["val/train_seconds"] = began - self.started - self.eval_seconds
        self.eval_seconds += time.monotonic() - began
        _log_row(trainer, pl_module, self.last)

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        g = pl_module.generation  # the last generation counts too, and is in the final checkpoint's history
        if g % self.every == 0 or g >= pl_module.max_generations:
            self.run(trainer, pl_module)

    def final_metrics(self) -> dict[str, Any]:
        """Last values, the generation they belong to and the protocol (for metrics.json)."""
        if not self.last:
            return {}
        label = self.evaluator.label
        return {
            **self.last,
            "val/eval_seconds": self.eval_seconds,
            f"val/{label}_generation": float(self.last_generation),
            f"val/{label}_protocol": self.evaluator.protocol(),
        }


class ToyEvaluation(L.Callback):
    """Toy mixtures: log ``toy/modes_covered``, ``toy/high_quality_share``, ``toy/mode_kl`` every
    ``every_n_generations`` (kept in the history) and at the last generation (loggers only), on
    ``num_samples`` samples of the best individual (fixed noise; ``metrics.toy.evaluate_toy``). Does nothing
    on image data."""

    def __init__(self, every_n_generations: int = 100, num_samples: int = TOY_EVAL_SAMPLES) -> None:
        if int(every_n_generations) < 1 or int(num_samples) < 1:
            raise ConfigError(
                f"every_n_generations and num_samples must be >= 1, got {every_n_generations}, {num_samples}"
            )
        self.every, self.num_samples = int(every_n_generations), int(num_samples)
        self.last_generation = -1

    def run(self, trainer: L.Trainer, pl_module: Any, keep: bool = True) -> None:
        if pl_module.data_info["kind"] != "toy" or not trainer.is_global_zero:
            return
        if pl_module.generation == self.last_generation:
            return
        self.last_generation = pl_module.generation
        metrics = evaluate_toy(pl_module, self.num_samples)
        metrics.pop("toy/num_modes")  # a constant of the mixture, not a curve
        _log_row(trainer, pl_module, metrics, keep=keep)

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        g = pl_module.generation
        if g % self.every == 0:
            self.run(trainer, pl_module)
        elif g >= pl_module.max_generations:  # the final number, to the loggers; not in the history, so a
            self.run(trainer, pl_module, keep=False)  # resumed run's history equals an uninterrupted one's
