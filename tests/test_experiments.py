"""Every shipped experiment composes and trains: its nets, algorithm and settings are taken as they are,
only the data is swapped for the synthetic set of the same shape (real datasets are not available here)."""

import json

import pytest

from evogan_lightning.config import compose, config_dir
from evogan_lightning.train import train

EXPERIMENTS = sorted(p.stem for p in (config_dir() / "experiment").glob("*.yaml"))


def test_experiments_are_found():
    assert {"egan_cifar10", "cegan_cifar10", "cegan_gp_cifar10", "cegan_fashion_mnist"} <= set(EXPERIMENTS)


@pytest.mark.parametrize("name", EXPERIMENTS)
def test_experiment_trains_one_generation_on_synthetic_data_of_its_shape(tmp_path, name):
    real = compose([f"experiment={name}"])
    size, channels = int(real.data.image_size), int(real.data.get("channels", 3))
    cfg = compose(
        [
            f"experiment={name}",
            "data=fake",
            f"data.image_size={size}",
            f"data.channels={channels}",
            "data.num_images=512",  # one E-GAN generation reads n_D*m + n = 352 reals
            "generations=1",
            "logger=none",
            "callbacks=none",
            "trainer.enable_progress_bar=false",
        ],
        output_dir=str(tmp_path),
    )
    # the experiment's own algorithm and net settings survive the data swap
    assert cfg.algo == real.algo and cfg.net == real.net
    train(cfg)
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    assert metrics["generation"] == 1 and metrics["loss/g"] == metrics["loss/g"]  # finite, not NaN
