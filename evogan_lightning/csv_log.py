"""``logs/metrics.csv`` that survives a resume into the same output directory.

Lightning's ``CSVLogger`` deletes an existing ``metrics.csv`` when it starts, so resuming a run with
``hydra.run.dir=<its directory>`` lost every row written before the checkpoint. This logger keeps the rows
of the earlier session whose step (= generation) comes before the first step logged now, and drops the
later ones (a session that ran past the checkpoint it is resumed from would otherwise duplicate them).
"""

from __future__ import annotations

import csv
import math
from typing import Any

from lightning.pytorch.loggers import CSVLogger as _LightningCSVLogger
from lightning.pytorch.loggers.csv_logs import ExperimentWriter
from lightning.pytorch.loggers.logger import rank_zero_experiment


def _step(row: dict[str, Any]) -> float:
    try:
        return float(row.get("step", math.inf))
    except (TypeError, ValueError):
        return math.inf


class ContinuedWriter(ExperimentWriter):
    """An ``ExperimentWriter`` that continues an existing ``metrics.csv`` instead of deleting it."""

    def _check_log_dir_exists(self) -> None:
        self._earlier: list[dict[str, Any]] = []
        if self._fs.isfile(self.metrics_file_path):
            with self._fs.open(self.metrics_file_path, "r", newline="") as handle:
                self._earlier = list(csv.DictReader(handle))
            self._fs.rm_file(self.metrics_file_path)

    def save(self) -> None:
        if self._earlier and self.metrics:
            first = min(_step(row) for row in self.metrics)
            kept = [{k: v for k, v in row.items() if v != ""} for row in self._earlier if _step(row) < first]
            self._earlier = []
            self.metrics = kept + self.metrics
        super().save()


class CSVLogger(_LightningCSVLogger):
    """Lightning's ``CSVLogger``, except that a resumed run continues ``metrics.csv`` (``ContinuedWriter``)."""

    @property
    @rank_zero_experiment
    def experiment(self) -> ContinuedWriter:
        if self._experiment is None:
            self._fs.makedirs(self.root_dir, exist_ok=True)
            self._experiment = ContinuedWriter(log_dir=self.log_dir)
        return self._experiment
