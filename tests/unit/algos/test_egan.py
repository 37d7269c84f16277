"""E-GAN (algos/egan.py): bad input, one generation by hand-checkable invariants, diverged children,
end-to-end CLI runs (toy and fake images) and exact resume."""

import pytest
import torch
from conftest import FAST, read_metrics, run_cli
from helpers import TINY, Recorder, assert_exact_resume, make_module

from evogan_lightning.core.errors import ConfigError, DivergedError
from evogan_lightning.run.config import compose


@pytest.mark.parametrize(
    "override,needle",
    [
        ("algo.mutations=[]", "algo.mutations must be a non-empty list"),
        ("algo.mutations=[heuristic,wgan]", "unknown algo.mutations ['wgan']"),
        ("algo.mutations=[heuristic,heuristic]", "algo.mutations lists 'heuristic' twice"),
        (
            "algo.least_squares_on=both",
            "unknown algo.least_squares_on 'both'; choose one of ['logit', 'prob']",
        ),
        ("algo.fitness=fid", "unknown algo.fitness 'fid'; choose one of ['egan', 'cegan']"),
        ("algo.gamma=-1", "algo.gamma"),
        ("algo.r1_penalty=-0.1", "algo.r1_penalty must be a number >= 0"),
        (
            "algo.lr_schedule=cosine",
            "unknown algo.lr_schedule 'cosine'; choose one of ['constant', 'linear']",
        ),
        (
            "algo.gamma=inf",
            "algo.gamma (the diversity weight of the fitness) must be finite and >= 0, got inf",
        ),
        ("algo.eval_batch_size=1", "eval_batch_size (n, fitness samples per child) must be an integer >= 2"),
        ("algo.backend=vmap", "unknown algo.backend 'vmap'"),
        ("algo.d_steps=3", "raise algo.eval_batch_size to 48"),  # 3 * 16 fakes > 1 * 32 survivor samples
        ("algo.batch_size=100000000", "lower algo.batch_size (at most 65536"),  # beyond eval_batch_size's cap
        ("algo.population_size=0", "population_size must be >= 1"),
    ],
)
def test_bad_input(tmp_path, override, needle):
    with pytest.raises(ConfigError) as err:
        make_module([override], tmp_path)
    assert needle in str(err.value)


def test_toy_default_mutations_drop_least_squares_and_the_paper_settings_keep_it():
    """README "Results": on the grid, least squares on the logit cost E-GAN its modes, so the toy default has
    two mutations; the paper's settings (image experiments, the published toy preset) keep all three."""
    assert list(compose(["algo=egan"]).algo.mutations) == ["minimax", "heuristic"]
    for experiment in ("egan_toy", "egan_cifar10"):
        cfg = compose([f"experiment={experiment}"])
        assert list(cfg.algo.mutations) == ["minimax", "heuristic", "least_squares"]


def test_layout_reals_and_noise(tmp_path):
    m = make_module(["algo.population_size=2", "algo.d_steps=2"], tmp_path)
    assert m.generators.num_parents == 2 and m.generators.num_children == 6  # mu * n_m
    assert m.reals_per_generation == 2 * 16 + 32  # n_D * m for D, n for F_d
    z = m.mutation_noise()
    assert z.shape == (6, 16, 2) and not torch.equal(z[0], z[1])  # E-GAN: fresh noise per child


def test_generation_selects_top_mu_children(tmp_path):
    m = make_module(["algo.population_size=2"], tmp_path)
    rec = Recorder(m)
    parents_before = m.generators.params[:2].clone()
    real = torch.randn(m.reals_per_generation, 2)
    stats = m.generation_step(real)
    real_d, cand, top = rec.calls[0]
    assert real_d.shape == (16, 2)
    assert cand.operators == ["minimax", "heuristic", "least_squares"] * 2
    assert cand.slots.tolist() == [2, 3, 4, 5, 6, 7]
    assert cand.samples.shape == (6, 32, 2) and cand.diversity.shape == (6,)
    torch.testing.assert_close(cand.fitness, cand.quality + 0.01 * cand.diversity)
    best = torch.topk(cand.fitness, 2).indices
    assert top.tolist() == best.tolist()
    pop = m.generators
    for i, c in enumerate(best.tolist()):  # parents = the chosen children (weights, Adam, fitness)
        assert torch.equal(pop.params[i], pop.params[2 + c])
        assert pop.step[i].item() == 1.0
    assert not torch.equal(pop.params[:2], parents_before)
    assert pop.fitness.tolist() == pytest.approx(cand.fitness[best].tolist())
    assert sum(m.operator_counts.values()) == 2
    assert stats["fitness/best"].item() == pytest.approx(cand.fitness.max().item())
    assert stats["diverged/children"].item() == 0


def test_diverged_children_are_dropped_and_all_diverged_raises(tmp_path):
    m = make_module(["algo.mutations=[minimax,heuristic]"], tmp_path)
    rec = Recorder(m)
    original = m.backend.evaluate_egan

    def poisoned(rows, z, real_grad):
        samples, logits, f_d = original(rows, z, real_grad)
        logits = logits.clone()
        logits[0] = float("nan")  # the minimax child diverged
        return samples, logits, f_d

    m.backend.evaluate_egan = poisoned
    stats = m.generation_step(torch.randn(m.reals_per_generation, 2))
    assert rec.calls[0][2].tolist() == [1]
    assert m.operator_counts == {"heuristic": 1}
    assert stats["diverged/children"].item() == 1
    assert torch.isfinite(m.generators.fitness).all()
    with torch.no_grad():
        m.generators.params[0].fill_(float("nan"))  # the parent diverged: every child does
    m.check_finite()  # one diverged child is no reason to stop
    m.generation_step(torch.randn(m.reals_per_generation, 2))  # flagged on the device, no host sync
    with pytest.raises(DivergedError, match="every candidate"):
        m.check_finite()  # run at logging and before every checkpoint


def test_cli_toy_run(tmp_path):
    run_cli(
        [
            "algo=egan",
            "generations=12",
            "log_every_n_generations=4",
            *TINY,
            f"hydra.run.dir={tmp_path}",
            *FAST,
        ]
    )
    m = read_metrics(tmp_path)
    assert m["generation"] == 12
    assert {"fitness/best", "fitness/quality", "fitness/diversity", "loss/g", "loss/d"} <= set(m)
    shares = {k: v for k, v in m.items() if k.startswith("operator_share/")}
    assert set(shares) <= {f"operator_share/{n}" for n in ("minimax", "heuristic", "least_squares")}
    assert sum(shares.values()) == pytest.approx(1.0)
    assert (tmp_path / "operators.png").stat().st_size > 1000


@pytest.mark.slow  # a CLI run on fake images; test_cli_toy_run stays in the default set
def test_cli_fake_images(tmp_path):
    run_cli(
        [
            "algo=egan",
            "data=fake",
            "data.image_size=28",
            "data.channels=1",
            "algo.batch_size=8",
            "algo.eval_batch_size=8",
            "algo.population_size=2",
            "generations=2",
            f"hydra.run.dir={tmp_path}",
            *FAST,
        ]
    )
    m = read_metrics(tmp_path)
    assert m["generation"] == 2 and m["diverged/children"] == 0
    assert sum(v for k, v in m.items() if k.startswith("operator_share/")) == pytest.approx(1.0)


def test_exact_resume(tmp_path):
    assert_exact_resume(tmp_path, ["algo=egan", "algo.population_size=2"])
