"""A run whose losses go NaN stops with a clear error and keeps its last good checkpoint."""

import pytest
import torch

from evogan_lightning.algos.gan import GAN
from evogan_lightning.config import compose
from evogan_lightning.errors import DivergedError
from evogan_lightning.train import train


def test_nan_stops_run_and_keeps_last_good_checkpoint(tmp_path, monkeypatch):
    original = GAN.generation_step

    def poisoned(self, real):
        stats = original(self, real)
        if self.generation >= 5:  # generations 6, 7, ... produce NaN losses
            stats["loss/g"] = torch.tensor(float("nan"))
        return stats

    monkeypatch.setattr(GAN, "generation_step", poisoned)
    cfg = compose(
        [
            "algo=gan",
            "generations=20",
            "log_every_n_generations=3",
            "callbacks.checkpoint.every_n_generations=2",
            "logger=none",
            "trainer.enable_progress_bar=false",
        ],
        output_dir=str(tmp_path),
    )
    with pytest.raises(DivergedError, match="diverged"):
        train(cfg)
    ckpt = torch.load(tmp_path / "checkpoints" / "last.ckpt", map_location="cpu", weights_only=False)
    assert ckpt["evogan"]["generation"] == 4  # saved before the NaN; generation 6's save was refused
    assert not (tmp_path / "metrics.json").exists()
