"""The typed algorithm configs (algos/config.py): Hydra refuses wrong types and unknown keys when it composes,
``AlgoConfig.build`` refuses them in plain options (checkpoints, ``+algo.KEY``) with the fix, each default is
in one place, and options an old checkpoint lacks take the values the code of its time used."""

import dataclasses
from pathlib import Path

import pytest
import torch
from hydra.errors import ConfigCompositionException
from omegaconf import OmegaConf

from evogan_lightning.algos import ALGORITHMS, get_algorithm
from evogan_lightning.algos.config import CONFIGS, CEGANConfig, GAGANConfig, GANConfig
from evogan_lightning.core.errors import ConfigError
from evogan_lightning.run.config import compose, config_dir
from evogan_lightning.tools.study import applicable

OLD = Path(__file__).resolve().parents[2] / "fixtures" / "cegan_before_typed_config.ckpt"


@pytest.mark.parametrize(
    "override,needle",
    [
        ("algo.cuda_graph=maybe", "Value 'maybe' is not a valid bool"),
        ("algo.n_c=1.5", "could not be converted to Integer"),
        ("algo.typo=3", "Key 'typo' not in 'CEGANConfig'"),
        ("algo.betas=0.5", "algo.betas"),
    ],
)
def test_hydra_refuses_wrong_types_and_unknown_keys_when_composing(override, needle):
    with pytest.raises(ConfigCompositionException) as err:
        compose(["algo=cegan", override])
    assert needle in f"{err.value} {err.value.__cause__}"


def test_every_algorithm_has_a_schema_that_its_yaml_composes_on():
    assert set(CONFIGS) == set(ALGORITHMS)
    for name, cls in CONFIGS.items():
        assert get_algorithm(name).config_class is cls
        yaml = OmegaConf.load(config_dir() / "algo" / f"{name}.yaml")
        assert yaml.defaults[0] == f"/schema/algo/{name}@_here_"
        fields = {f.name for f in dataclasses.fields(cls)}
        assert set(yaml) - {"defaults"} <= fields  # the YAML sets only fields of the schema
        composed = OmegaConf.to_container(compose([f"algo={name}"]).algo)
        assert set(composed) == fields
        hp = cls.build(composed)  # the composed toy defaults pass every check
        assert dataclasses.asdict(hp) == composed


@pytest.mark.parametrize(
    "options,needle",
    [
        ({"populaton_size": 2}, "algo=gan: populaton_size (did you mean population_size?)"),
        ({"cuda_graph": "maybe"}, "algo.cuda_graph must be true or false, got 'maybe'"),
        ({"batch_size": 2.5}, "algo.batch_size must be a whole number, got 2.5"),
        ({"betas": ["x", 0.9]}, "algo.betas[0] must be a list of numbers, got 'x'"),
        ({"lr_g": None}, "algo.lr_g must be a number, got None"),
        ({"batch_size": "???"}, "algo.batch_size is required; add algo.batch_size=..."),
        (
            {"loss": "wgan"},
            "unknown algo.loss 'wgan'; choose one of ['minimax', 'heuristic', 'least_squares']",
        ),
        ({"lr_d": 0}, "algo.lr_d must be a finite number > 0, got 0.0"),
        ({"lr_d": float("inf")}, "algo.lr_d must be a finite number > 0, got inf"),
        ({"betas": [0.5]}, "algo.betas must be two numbers in [0, 1), got [0.5]"),
        (
            {"gradient_penalty": float("nan")},
            "algo.gradient_penalty must be a number >= 0 (0 = off), got nan",
        ),
    ],
)
def test_build_refuses_bad_plain_options_with_the_fix(options, needle):
    base = {"name": "gan", "d_steps": 1, "batch_size": 8, "lr_g": 1e-3, "lr_d": 1e-3}
    with pytest.raises(ConfigError) as err:
        GANConfig.build({**base, **options})
    assert needle in str(err.value)


def test_gagan_options_that_may_be_null():
    base = {"d_steps": 1, "batch_size": 8, "lr_g": 1e-3, "lr_d": 1e-3}
    hp = GAGANConfig.build({**base, "g_grad_clip": None, "label_smoothing": 0.9, "input_noise": None})
    assert hp.g_grad_clip is None and hp.label_smoothing == 0.9 and hp.input_noise is None


def test_an_old_checkpoint_gets_the_defaults_of_its_time():
    """The dataclass defaults are what a config without the key ran with, not the YAML's toy defaults."""
    saved = torch.load(OLD, map_location="cpu", weights_only=False)["hyper_parameters"]["cfg"]["algo"]
    assert "distill_step" not in saved and "mutations" not in saved
    hp = CEGANConfig.build(saved)
    assert (hp.distill_step, hp.distill_reduction, hp.crossover_teacher) == ("adam", "mean", "filtered")
    assert hp.mutations == ["minimax", "heuristic", "least_squares"]
    assert (hp.lr_schedule, hp.r1_penalty, hp.fitness) == ("constant", 0.0, "cegan")
    toy = compose(["algo=cegan"]).algo  # new runs: the YAML's toy defaults
    assert (toy.distill_step, toy.distill_reduction, toy.lr_schedule) == ("line_search", "sum", "linear")


def test_study_passes_an_override_only_to_the_algorithms_that_have_the_option():
    extra = ["algo.eval_batch_size=64", "algo.lr_g=1e-3", "generations=5"]
    assert applicable("gan_minimax", extra) == ["algo.lr_g=1e-3", "generations=5"]
    assert applicable("egan", extra) == extra
