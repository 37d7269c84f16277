"""Our metrics are Lightning's too (issue 26): trainer.callback_metrics holds losses, fitness, operator shares
and toy metrics, so ModelCheckpoint(monitor=...) and our EarlyStopping (callbacks/early_stopping.py) work."""

from __future__ import annotations

import json

import lightning as L
import torch

from evogan_lightning.run.config import compose
from evogan_lightning.run.train import train

TOY = ["net=mlp", "net.hidden=8", "algo.batch_size=16", "logger=csv", "trainer.enable_progress_bar=false"]


class Spy(L.Callback):
    seen: list = []

    def on_train_end(self, trainer, pl_module):
        Spy.seen = sorted(trainer.callback_metrics)


def test_callback_metrics_and_a_monitored_model_checkpoint(tmp_path):
    best = tmp_path / "best"
    cfg = compose(
        [
            "algo=cegan",
            *TOY,
            "algo.eval_batch_size=32",
            "generations=40",
            "log_every_n_generations=10",
            "callbacks.toy_metrics.every_n_generations=20",
            "+callbacks.spy._target_=test_lightning_metrics.Spy",
            "+callbacks.best._target_=lightning.pytorch.callbacks.ModelCheckpoint",
            "+callbacks.best.monitor=toy/high_quality_share",
            "+callbacks.best.mode=max",
            "+callbacks.best.every_n_train_steps=20",
            f"+callbacks.best.dirpath={best}",
        ],
        output_dir=str(tmp_path / "run"),
    )
    train(cfg)
    assert {
        "loss/g",
        "loss/d",
        "fitness/best",
        "toy/high_quality_share",
        "crossover/other_parent_share",
    } <= set(Spy.seen)
    assert any(k.startswith("operators/") for k in Spy.seen)
    assert list(best.glob("*.ckpt"))  # the monitored metric was found
    rows = (tmp_path / "run" / "logs" / "metrics.csv").read_text().splitlines()
    header = rows[0].split(",")
    shares = [k for k in header if k.startswith("operators/")]
    assert shares  # a time series for dashboards, not only the final picture
    for line in rows[1:]:
        values = dict(zip(header, line.split(",")))
        got = [float(values[k]) for k in shares if values.get(k)]
        if got:
            assert abs(sum(got) - 1.0) < 1e-6


def test_early_stopping_ends_the_run_like_a_finished_one(tmp_path):
    cfg = compose(
        [
            "algo=gan",
            *TOY,
            "generations=400",
            "log_every_n_generations=10",
            "+callbacks.early._target_=evogan_lightning.callbacks.early_stopping.EarlyStopping",
            "+callbacks.early.monitor=loss/d",
            "+callbacks.early.patience=1",
            "+callbacks.early.min_delta=100",  # never improves by 100: stops at the second check
        ],
        output_dir=str(tmp_path),
    )
    train(cfg)
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    assert metrics["generation"] == 20
    assert (
        torch.load(tmp_path / "checkpoints" / "last.ckpt", weights_only=False)["evogan"]["generation"] == 20
    )
