"""A run whose losses go NaN stops with a clear error and keeps its last good checkpoint."""

import pytest
import torch

from evogan_lightning.algos.gan import GAN
from evogan_lightning.core.errors import DivergedError, StoppedByUser
from evogan_lightning.run.config import compose
from evogan_lightning.run.train import train


@pytest.mark.parametrize(
    "every,says",
    [
        (2, r"last good checkpoint is .*last.ckpt \(generation 4\)"),
        (500, "No checkpoint was written before that"),
    ],
)
def test_nan_stops_run_and_keeps_last_good_checkpoint(tmp_path, monkeypatch, every, says):
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
            f"callbacks.checkpoint.every_n_generations={every}",
            "logger=none",
            "trainer.enable_progress_bar=false",
        ],
        output_dir=str(tmp_path),
    )
    with pytest.raises(DivergedError, match="diverged.*" + says):
        train(cfg)
    assert not (tmp_path / "metrics.json").exists()
    if every > 20:
        assert not (tmp_path / "checkpoints" / "last.ckpt").exists()  # and the message did not claim one
        return
    ckpt = torch.load(tmp_path / "checkpoints" / "last.ckpt", map_location="cpu", weights_only=False)
    assert ckpt["evogan"]["generation"] == 4  # saved before the NaN; generation 6's save was refused
    assert not (tmp_path / "metrics.json").exists()


def test_ctrl_c_finishes_the_generation_saves_and_the_run_resumes(tmp_path, monkeypatch, capsys):
    import os
    import signal

    original = GAN.generation_step

    def interrupted(self, real):
        if self.generation == 5:  # Ctrl-C arrives in the middle of generation 6
            os.kill(os.getpid(), signal.SIGINT)
        return original(self, real)

    monkeypatch.setattr(GAN, "generation_step", interrupted)
    common = ["algo=gan", "logger=none", "trainer.enable_progress_bar=false"]
    before = signal.getsignal(signal.SIGINT)  # default_int_handler, or SIG_IGN in a background job
    with pytest.raises(StoppedByUser, match="training stopped at generation 6 of 20.*generations=20"):
        train(compose([*common, "generations=20"], output_dir=str(tmp_path)))
    assert "stopping after this generation" in capsys.readouterr().err
    last = tmp_path / "checkpoints" / "last.ckpt"
    assert torch.load(last, map_location="cpu", weights_only=False)["evogan"]["generation"] == 6
    assert not (tmp_path / "metrics.json").exists()  # the run is not finished
    assert signal.getsignal(signal.SIGINT) is before  # the handler was restored

    monkeypatch.setattr(GAN, "generation_step", original)
    resumed = compose([*common, "generations=20", f"ckpt_path={last}"], output_dir=str(tmp_path / "more"))
    train(resumed)
    assert (
        torch.load(tmp_path / "more" / "checkpoints" / "last.ckpt", weights_only=False)["evogan"][
            "generation"
        ]
        == 20
    )
