"""The study's algorithms are a config group (conf/study/): each one composes into a valid training run."""

from __future__ import annotations

import pytest
from omegaconf import OmegaConf

from evogan_lightning.tools import study


def test_the_default_studies_are_the_documented_rows():
    assert study.DEFAULT_ALGOS["toy"] == [
        "gan_minimax",
        "gan_heuristic",
        "gan_least_squares",
        "egan",
        "cegan",
        "gagan",
        "scgan",
    ]
    assert study.DEFAULT_ALGOS["image"] == [a for a in study.DEFAULT_ALGOS["toy"] if a != "gan_least_squares"]
    assert set(study.STUDY_ALGOS) | set(study.STUDY_VARIANTS) == set(study.ALL_ALGOS)
    long = {n for n, a in study.STUDY.items() if a.generations_factor}
    assert long == {"gan_minimax_long", "gan_heuristic_long"}


@pytest.mark.parametrize("name", sorted(study.ALL_ALGOS))
def test_every_study_algorithm_composes_and_builds(name):
    from evogan_lightning.algos.config import CONFIGS
    from evogan_lightning.run.config import check_keys, compose

    for preset, data in (("toy_fast", "grid25"), ("fmnist_fast", "stacked_fashion_mnist")):
        cfg = compose([f"experiment={preset}", *study.ALL_ALGOS[name], f"data={data}"], output_dir=".")
        check_keys(OmegaConf.to_container(cfg, resolve=False))
        plain = OmegaConf.to_container(cfg, resolve=True)
        CONFIGS[plain["algo"]["name"]].build(plain["algo"])


def test_an_unknown_study_algorithm_lists_the_choices(tmp_path):
    from evogan_lightning.core.errors import ConfigError

    with pytest.raises(ConfigError, match="unknown study algorithm.*cegan_adam_step"):
        study.plan(["cegan_nope"], ["ring8"], [0], tmp_path)
