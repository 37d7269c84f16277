"""Every shipped experiment composes and trains: its nets, algorithm and settings are taken as they are,
only the data is swapped for the synthetic set of the same shape (real datasets are not available here)."""

import json
import math

import pytest

from evogan_lightning.run.config import compose, config_dir
from evogan_lightning.run.train import train

EXPERIMENTS = sorted(p.stem for p in (config_dir() / "experiment").glob("*.yaml"))


def test_experiments_are_found():
    assert {"egan_cifar10", "cegan_cifar10", "cegan_gp_cifar10", "cegan_fashion_mnist"} <= set(EXPERIMENTS)


TOY_EXPERIMENTS = [e for e in EXPERIMENTS if compose([f"experiment={e}"]).data.name in ("ring8", "grid25")]


def test_toy_experiments_train_on_both_toy_mixtures(tmp_path):
    assert set(TOY_EXPERIMENTS) == {"toy_fast", "egan_toy"}
    fast = compose(["experiment=toy_fast", "algo=gagan"])  # the preset fits every algorithm
    assert fast.algo.lr_g == 1e-3 and fast.algo.r1_penalty == 0.1 and fast.net.hidden == 128
    paper = compose(["experiment=egan_toy"])
    assert paper.algo.name == "egan" and paper.net.hidden == 512 and paper.net.d_batch_norm
    assert paper.algo.gamma == 2.0 and paper.algo.lr_schedule == "constant" and paper.generations == 100000
    for name, data in (("toy_fast", "grid25"), ("egan_toy", "ring8")):
        out = tmp_path / name
        cfg = compose(
            [f"experiment={name}", f"data={data}", "generations=2", "logger=none", "callbacks=none"],
            output_dir=str(out),
        )
        train(cfg)
        assert json.loads((out / "metrics.json").read_text())["generation"] == 2


# the CIFAR-10 presets differ from cegan_gp_cifar10 by the algorithm only: they train in the slow suite
SLOW_EXPERIMENTS = ("egan_cifar10", "cegan_cifar10")


@pytest.mark.parametrize(
    "name",
    [
        pytest.param(e, marks=pytest.mark.slow) if e in SLOW_EXPERIMENTS else e
        for e in EXPERIMENTS
        if e not in TOY_EXPERIMENTS
    ],
)
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
    assert (
        metrics["generation"] == 1
        and isinstance(metrics["loss/g"], float)
        and math.isfinite(metrics["loss/g"])
    )
