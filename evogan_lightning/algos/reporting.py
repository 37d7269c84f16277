"""What a run reports (``EvoGANModule`` inherits it): logged rows with ``generation`` as the x-axis, published
into Lightning's ``callback_metrics`` too, the operator tally and its shares, and the final metrics."""

from __future__ import annotations

import math
from collections.abc import Mapping

import torch
from torch import Tensor


class ReportingMixin:
    """``record``, ``publish``, the operator counts and ``final_metrics``."""

    def record(self, stats: Mapping[str, Tensor | float]) -> None:
        """Send scalar stats to the progress bar, to Lightning (``trainer.callback_metrics``: what
        ``ModelCheckpoint(monitor=...)`` and ``EarlyStopping`` read) and to every logger, with ``generation``
        as the step. Operators that produced survivors since the last logging step go along as shares
        (``operators/<name>``): a time series of which operator wins (CE-GAN's Fig. 6)."""
        row = {k: float(v.detach()) if torch.is_tensor(v) else float(v) for k, v in stats.items()}
        row.update(self._operator_shares())
        row["generation"] = float(self.generation)
        self._last_stats = row
        self.history.append(row)
        bar = {k.split("/")[-1]: v for k, v in row.items() if k.startswith("loss/")}
        for k, v in bar.items():
            self.log(k, v, prog_bar=True, logger=False, on_step=True, on_epoch=False)
        self.publish(row)
        for logger in self.loggers:
            logger.log_metrics(row, step=self.generation)

    def publish(self, row: Mapping[str, float]) -> None:
        """Put ``row`` (host floats) into Lightning's ``callback_metrics`` without logging it again."""
        if self._trainer is None:
            return
        values = {k: float(v) for k, v in row.items() if k != "generation" and math.isfinite(float(v))}
        self.log_dict(values, logger=False, on_step=True, on_epoch=False, batch_size=1)

    def _operator_shares(self) -> dict[str, float]:
        """Survivor share per operator since the last logging step (``{}`` for algorithms without operators);
        the counts at that step are kept in checkpoints, so a resumed run logs what an uninterrupted one does."""
        now = self.operator_counts
        delta = {k: v - self._counts_logged.get(k, 0) for k, v in now.items()}
        total = sum(delta.values())
        self._counts_logged = dict(now)
        return {f"operators/{k}": v / total for k, v in sorted(delta.items())} if total > 0 else {}

    def count_operators(self, names: list[str]) -> None:
        """Add the operators that produced this generation's survivors (names on the host) to the counts."""
        self._tally.add_names(names)

    def count_survivors(self, operators: list[str], chosen: Tensor) -> None:
        """Add the operators of the chosen candidates to the counts on the device (no host sync).
        ``operators``: the operator of each candidate [K]; ``chosen``: LongTensor [mu] of candidate indices."""
        self._tally.add(operators, chosen)

    @property
    def operator_counts(self) -> dict[str, int]:
        """Survivors per operator since the start of the run (one device sync to read)."""
        return self._tally.as_dict()

    @operator_counts.setter
    def operator_counts(self, counts: Mapping[str, int]) -> None:
        self._tally.reset(counts)

    def final_metrics(self) -> dict[str, float]:
        """Flat metrics for metrics.json: generation, last logged stats, operator shares."""
        out: dict[str, float] = {"generation": float(self.generation)}
        out.update({k: v for k, v in self._last_stats.items() if k != "generation"})
        total = sum(self.operator_counts.values())
        for name, count in sorted(self.operator_counts.items()):
            out[f"operator_share/{name}"] = count / total if total else 0.0
        return out
