"""``logs/metrics.csv``: written at every logging step and continued (never deleted) on resume.

Lightning's ``CSVLogger`` deletes an existing ``metrics.csv`` when it starts and flushes only when
``(step + 1) % 100 == 0``, which never happens when the step is a generation that is a multiple of the
logging interval: a crash lost the whole curve, and a resumed run lost the earlier rows until it ended.
This logger appends and flushes the rows at every logging step, keeps the earlier session's rows whose
step (= generation) comes before the first step logged now, and drops the later ones (a session that ran
past the checkpoint it is resumed from would otherwise duplicate them). Rewrites (a new column, dropping
rows) go to a temporary file that replaces the old one, so a crash never leaves a half-written file.
"""

from __future__ import annotations

import csv
import math
import os
from typing import Any

from lightning.pytorch.loggers import CSVLogger as _LightningCSVLogger
from lightning.pytorch.loggers.csv_logs import ExperimentWriter
from lightning.pytorch.loggers.logger import rank_zero_experiment
from lightning.pytorch.utilities.rank_zero import rank_zero_only

from ..core.errors import ConfigError


def _step(row: dict[str, Any]) -> float:
    try:
        return float(row.get("step", math.inf))
    except (TypeError, ValueError):
        return math.inf


class ContinuedWriter(ExperimentWriter):
    """An ``ExperimentWriter`` that continues an existing ``metrics.csv`` instead of deleting it."""

    def _check_log_dir_exists(self) -> None:
        self._trim_pending = os.path.isfile(self.metrics_file_path)
        if self._trim_pending:  # appends must keep the existing header's columns
            with open(self.metrics_file_path, newline="") as handle:
                self.metrics_keys = list(csv.DictReader(handle).fieldnames or [])

    def _read_rows(self) -> list[dict[str, Any]]:
        with open(self.metrics_file_path, newline="") as handle:
            return list(csv.DictReader(handle))

    def _replace_file(self, rows: list[dict[str, Any]], fieldnames: list[str]) -> None:
        tmp = self.metrics_file_path + ".tmp"
        with open(tmp, "w", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=fieldnames)
            writer.writeheader()
            writer.writerows(rows)
        os.replace(tmp, self.metrics_file_path)

    def _rewrite_with_new_header(self, fieldnames: list[str]) -> None:
        self._replace_file(self._read_rows(), fieldnames)

    def save(self) -> None:
        if self._trim_pending and self.metrics:
            self._trim_pending = False
            first = min(_step(row) for row in self.metrics)
            earlier = self._read_rows()
            kept = [row for row in earlier if _step(row) < first]
            if len(kept) < len(earlier):
                self._replace_file(kept, self.metrics_keys)
        super().save()


class CSVLogger(_LightningCSVLogger):
    """Lightning's ``CSVLogger``, flushed at every logging step and continued on resume (``ContinuedWriter``)."""

    @property
    @rank_zero_experiment
    def experiment(self) -> ContinuedWriter:
        if self._experiment is None:
            self._fs.makedirs(self.root_dir, exist_ok=True)
            self._experiment = ContinuedWriter(log_dir=self.log_dir)
        return self._experiment

    @rank_zero_only
    def log_metrics(self, metrics: dict[str, Any], step: int | None = None) -> None:
        super().log_metrics(metrics, step)
        try:
            self.experiment.save()  # on disk now: a killed run keeps every row up to its last log
        except OSError as err:
            raise ConfigError(
                f"could not write {self.experiment.metrics_file_path} ({err.strerror or err}); free disk space "
                "or choose another output folder (hydra.run.dir=PATH). The checkpoints written so far are kept."
            ) from err
