"""GAGAN (algos/gagan.py): bad input, the per-iteration order (D steps, fitness after them, GA every k_GA,
G against the best D), optimizer state after the GA, end-to-end CLI runs and exact resume."""

import pytest
import torch
from conftest import FAST, read_metrics, run_cli
from helpers import assert_same_state, ckpt_state, whole_and_resumed
from omegaconf import OmegaConf

from evogan_lightning.core.errors import ConfigError
from evogan_lightning.data.datamodule import GANDataModule
from evogan_lightning.data.toy import TOY_MIXTURES
from evogan_lightning.engine.population import Population
from evogan_lightning.run.config import compose
from evogan_lightning.run.train import build_module

TINY = ["net=mlp", "net.hidden=16", "algo.num_discriminators=4", "algo.batch_size=32"]


def make_module(overrides, tmp_path):
    cfg = compose(["algo=gagan", *TINY, *overrides], output_dir=str(tmp_path))
    plain = OmegaConf.to_container(cfg, resolve=True)
    return build_module(plain, GANDataModule(plain["data"]).info())


def real_batch(n: int, seed: int) -> torch.Tensor:
    return TOY_MIXTURES["ring8"]().sample(n, torch.Generator().manual_seed(seed))


@pytest.mark.parametrize(
    "override,needle",
    [
        ("algo.num_discriminators=1", "num_discriminators must be an integer >= 2"),
        ("algo.ga_every=0", "ga_every must be an integer >= 1"),
        ("algo.elite_fraction=1.0", "elite_fraction must be in (0, 1)"),
        ("algo.parent_selection=roulette", "unknown algo.parent_selection 'roulette'"),
        ("algo.crossover=two_point", "unknown algo.crossover 'two_point'"),
        ("algo.mutation_rate=1.5", "mutation_rate must be in [0, 1]"),
        ("algo.mutation_std=-0.1", "mutation_std must be >= 0"),
        ("algo.fitness=accuracy", "unknown algo.fitness 'accuracy'"),
        ("algo.optimizer_after_ga=keep", "unknown algo.optimizer_after_ga 'keep'"),
        ("algo.generator_target=worst", "unknown algo.generator_target 'worst'"),
        ("algo.label_smoothing=1.5", "label_smoothing must be null/1.0 (off)"),
        ("algo.input_noise=-0.1", "input_noise must be >= 0"),
        ("algo.g_grad_clip=-1", "g_grad_clip must be null/0 (off)"),
        ("algo.population_size=2", "algo=gagan trains one generator"),
        ("algo.tournament_size=0", "tournament_size must be an integer >= 1"),
    ],
)
def test_bad_input(tmp_path, override, needle):
    with pytest.raises(ConfigError) as err:
        make_module([override], tmp_path)
    assert needle in str(err.value)


def test_discriminators_live_in_a_population(tmp_path):
    m = make_module([], tmp_path)
    assert isinstance(m.discriminator, Population) and m.discriminator.num_parents == 4
    assert m.discriminator.lr == 1e-5 and m.generators.lr == 1e-3  # lr_d / lr_g (toy) defaults
    assert not torch.equal(m.discriminator.params[0], m.discriminator.params[1])  # independent init
    assert m.architecture()["num_discriminators"] == 4


def test_fitness_is_computed_after_the_d_steps_and_g_targets_the_best(tmp_path):
    m = make_module(["algo.ga_every=2"], tmp_path)
    seen = {}
    d_steps = m.d_steps

    def spy(real, fake):
        seen["before"] = m.discriminator.params.clone()
        seen["real"], seen["fake"] = real, fake
        return d_steps(real, fake)

    m.d_steps = spy
    ids = m.d_ids.clone()
    stats = m.generation_step(real_batch(32, 0))  # generation 0: no GA yet
    assert torch.equal(m.d_ids, ids) and "ga/elite_turnover" not in stats
    assert not torch.equal(seen["before"], m.discriminator.params)  # every D took a step ...
    assert (m.discriminator.step == 1).all()
    after = m.fitness(seen["real"], seen["fake"])  # ... and the fitness is that of the updated Ds
    torch.testing.assert_close(m.discriminator.fitness, after, rtol=0, atol=0)
    assert stats["fitness/best"] == after.max() and stats["fitness/worst"] == after.min()
    assert int(stats["d/target"]) == int(after.argmax())

    m.generation = 1
    stats = m.generation_step(real_batch(32, 1))  # generation 1: GA step (every 2nd iteration)
    assert "ga/elite_turnover" in stats and stats["ga/elite_turnover"] == 1.0  # first GA: all new
    new = ~torch.isin(m.d_ids, ids)
    assert int(new.sum()) == 4 - 1  # round(0.3 * 4) = 1 elite kept, 3 offspring with fresh ids
    best = int(stats["d/target"])
    assert not new[best]  # the generator trained against the best D, an elite
    assert (m.discriminator.step == 0).all()  # optimizer_after_ga=reset: fresh Adam for every D
    assert float(stats["ga/last_generation"]) == 2.0


def test_inherit_keeps_adam_state(tmp_path):
    m = make_module(["algo.ga_every=1", "algo.optimizer_after_ga=inherit"], tmp_path)
    m.generation_step(real_batch(32, 0))
    assert (m.discriminator.step == 1).all() and (m.discriminator.exp_avg != 0).any(1).all()


def test_ensemble_target_and_stabilisers(tmp_path):
    m = make_module(
        [
            "algo.generator_target=ensemble",
            "algo.label_smoothing=0.9",
            "algo.input_noise=0.01",
            "algo.g_grad_clip=1.0",
            "algo.crossover=one_point",
            "algo.parent_selection=tournament",
            "algo.fitness=neg_bce",
            "algo.ga_every=1",
        ],
        tmp_path,
    )
    for g in range(3):
        m.generation = g
        stats = m.generation_step(real_batch(32, g))
    assert int(stats["d/target"]) == -1
    assert all(torch.isfinite(v) for k, v in stats.items() if k.startswith("loss/"))
    assert m.generators.grads[0].norm() <= 1.0 + 1e-4  # clipped before the step


COMMON = [
    "algo=gagan",
    "seed=5",
    "net=mlp",
    "net.hidden=32",
    "algo.num_discriminators=3",
    "algo.ga_every=2",
    "log_every_n_generations=1",
    "callbacks.checkpoint.every_n_generations=100",
    *FAST,
]


def test_cli_toy_run(tmp_path):
    run_cli(["generations=6", f"hydra.run.dir={tmp_path}", *COMMON])
    m = read_metrics(tmp_path)
    assert m["generation"] == 6 and 0 <= m["toy/modes_covered"] <= 8
    assert {"fitness/best", "fitness/mean", "fitness/worst", "ga/last_elite_turnover", "d/target"} <= set(m)
    assert m["fitness/worst"] <= m["fitness/mean"] <= m["fitness/best"]
    assert m["ga/last_generation"] == 6
    assert (tmp_path / "interpolation.png").stat().st_size > 1000


def test_exact_resume(tmp_path):
    """train() in process (the CLI's own function, without the subprocess start-up): 9 generations in one go
    vs 5 + resume to 9, stopping between two GA steps."""
    full, part = whole_and_resumed(tmp_path, COMMON, full_gens=9, part_gens=5)
    a, b = ckpt_state(full / "checkpoints/last.ckpt"), ckpt_state(part / "checkpoints/last.ckpt")
    sd = a["state_dict"]
    assert sd["discriminator.params"].shape[0] == 3  # every D ...
    assert sd["discriminator.exp_avg"].shape == sd["discriminator.params"].shape  # ... with its Adam state
    assert sd["discriminator.step"].shape == (3,)
    assert_same_state(a, b)  # every logged row too, incl. GA stats
    assert len(a["evogan"]["history"]) == 9
    g_full = read_metrics(full)["loss/g"]
    assert isinstance(g_full, float) and g_full == read_metrics(part)["loss/g"]  # NaN is written as null


@pytest.mark.slow  # a CLI run on fake images; test_cli_toy_run stays in the default set
def test_cli_fake_images(tmp_path):
    run_cli(
        [
            "algo=gagan",
            "data=fake",
            "data.num_images=64",
            "net=egan32",
            "net.g_width=8",
            "net.d_width=8",
            "algo.num_discriminators=3",
            "algo.batch_size=8",
            "generations=4",
            f"hydra.run.dir={tmp_path}",
            *FAST,
        ]
    )
    m = read_metrics(tmp_path)
    assert m["generation"] == 4 and m["loss/g"] is not None and m["loss/d"] is not None
    assert (tmp_path / "interpolation.png").stat().st_size > 500
    assert (tmp_path / "samples.png").is_file()
