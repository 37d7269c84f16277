"""Stochastic-crossover GAN (algos/scgan.py): bad input, partner choice, the three crossover losses and their
gradient paths, p_cross = 0 / 1 on seeded runs, (mu, lambda) selection with Adam state, CLI runs."""

import math

import pytest
import torch
import torch.nn.functional as F
from conftest import FAST, read_metrics, run_cli
from helpers import assert_same_state
from omegaconf import OmegaConf

from evogan_lightning.algos.scgan import draw_partners
from evogan_lightning.core.errors import ConfigError
from evogan_lightning.data.datamodule import GANDataModule
from evogan_lightning.data.toy import TOY_MIXTURES
from evogan_lightning.run.config import compose
from evogan_lightning.run.train import build_module

TINY = ["net=mlp", "net.hidden=16", "algo.batch_size=16", "algo.eval_batch_size=32"]


def make_module(overrides, tmp_path):
    cfg = compose(["algo=scgan", *TINY, *overrides], output_dir=str(tmp_path))
    plain = OmegaConf.to_container(cfg, resolve=True)
    torch.manual_seed(0)  # network init (train() seeds it the same way)
    m = build_module(plain, GANDataModule(plain["data"]).info())
    opt = m.configure_optimizers()  # run generations without a Trainer
    m.optimizers = lambda: opt
    m.manual_backward = lambda loss: loss.backward()
    return m


def run_generations(m, n: int) -> dict:
    stats = {}
    for g in range(n):
        real = TOY_MIXTURES["ring8"]().sample(m.reals_per_generation, torch.Generator().manual_seed(g))
        stats = m.generation_step(real)
        m.generation += 1
    return stats


@pytest.mark.parametrize(
    "override,needle",
    [
        ("algo.population_size=1", "needs algo.population_size >= 2"),
        ("algo.p_cross=1.5", "p_cross must be a probability in [0, 1]"),
        ("algo.p_cross=-0.1", "p_cross must be a probability in [0, 1]"),
        ("algo.crossover_mode=average", "unknown algo.crossover_mode 'average'"),
        ("algo.offspring_per_parent=0", "offspring_per_parent must be an integer >= 1"),
        ("algo.eval_batch_size=0", "eval_batch_size must be an integer >= 1"),
        ("algo.d_steps=20", "raise algo.eval_batch_size"),  # 20 * 16 fakes > 4 * 32 eval samples
        ("algo.fitness=fid", "unknown algo.fitness 'fid'; choose one of ['logit', 'egan']"),
        ("algo.mutations=[wasserstein]", "unknown algo.mutations ['wasserstein']; choose from"),
        ("algo.mutations=[]", "algo.mutations must be a non-empty list of"),
        ("algo.gamma=-1", "algo.gamma (the diversity weight of fitness=egan) must be >= 0"),
    ],
)
def test_bad_input(tmp_path, override, needle):
    with pytest.raises(ConfigError) as err:
        make_module([override], tmp_path)
    assert needle in str(err.value)


def test_partners_are_other_parents_uniformly():
    parent_of = torch.arange(4).repeat_interleave(2000)
    partner = draw_partners(parent_of, 4, torch.Generator().manual_seed(0))
    assert (partner != parent_of).all() and ((partner >= 0) & (partner < 4)).all()
    for i in range(4):
        share = torch.bincount(partner[parent_of == i], minlength=4).float() / 2000
        assert share[i] == 0 and (share[torch.arange(4) != i] - 1 / 3).abs().max() < 0.05


def test_crossover_losses_and_gradient_paths(tmp_path):
    m = make_module([], tmp_path)
    gen = torch.Generator().manual_seed(1)
    x = torch.randn(16, 2, generator=gen).requires_grad_(True)
    y = torch.randn(16, 2, generator=gen).requires_grad_(True)
    m.hp.crossover_mode = "imitate"
    torch.testing.assert_close(m.crossover_loss(x, y), ((x - y) ** 2).mean())
    m.hp.crossover_mode = "relativistic"
    assert m.crossover_loss(y, y).item() == pytest.approx(math.log(2))  # BCE(0, 1)
    d = m.discriminator
    expected = F.softplus(-(d(x) - d(y))).mean()
    torch.testing.assert_close(m.crossover_loss(x, y), expected)
    m.hp.crossover_mode = "straight_through"
    loss = m.crossover_loss(x, y)
    (gx,) = torch.autograd.grad(loss, x)
    y_leaf = y.detach().clone().requires_grad_(True)
    ref = F.softplus(-d(y_leaf)).mean()  # forward value at the partner's samples ...
    (gy,) = torch.autograd.grad(ref, y_leaf)
    torch.testing.assert_close(loss, ref)
    torch.testing.assert_close(gx, gy)  # ... gradient flows into G_i's samples, none into the partner
    for mode in ("imitate", "relativistic", "straight_through"):
        m.hp.crossover_mode = mode
        y.grad = None
        m.crossover_loss(x, y).backward()
        assert y.grad is None


@pytest.mark.parametrize("p_cross,op", [(0.0, "adversarial"), (1.0, "crossover")])
def test_p_cross_extremes(tmp_path, p_cross, op):
    m = make_module([f"algo.p_cross={p_cross}"], tmp_path)
    stats = run_generations(m, 3)
    assert m.operator_counts == {op: 3 * 4}  # every survivor of every generation came from that step
    assert stats["crossover/offspring_share"] == p_cross
    assert (m.generators.step[:4] == 3).all()  # offspring keep their parent's Adam state: 3 steps in 3 gens


def test_p_cross_zero_is_the_adversarial_skeleton(tmp_path):
    # With p_cross = 0 the crossover mode is never used: runs with different modes are bit-identical.
    a = make_module(["algo.p_cross=0", "algo.crossover_mode=imitate"], tmp_path)
    b = make_module(["algo.p_cross=0", "algo.crossover_mode=straight_through"], tmp_path)
    run_generations(a, 3)
    run_generations(b, 3)
    assert torch.equal(a.generators.params[:4], b.generators.params[:4])
    # With p_cross = 1 the mode decides the update.
    c = make_module(["algo.p_cross=1", "algo.crossover_mode=imitate"], tmp_path)
    e = make_module(["algo.p_cross=1", "algo.crossover_mode=relativistic"], tmp_path)
    run_generations(c, 2)
    run_generations(e, 2)
    assert not torch.equal(c.generators.params[:4], e.generators.params[:4])


EGAN_SKELETON = [
    "algo.mutations=[minimax,heuristic,least_squares]",
    "algo.offspring_per_parent=3",
    "algo.fitness=egan",
    "algo.gamma=0.5",
    "algo.population_size=2",
]


def test_egan_skeleton_mutations_and_fitness(tmp_path):
    m = make_module([*EGAN_SKELETON, "algo.p_cross=0"], tmp_path)
    assert m.reals_per_generation == 16 + 32  # n reals for F_d on top of the D steps
    names = [m.operator_name(c, False) for c in range(6)]
    assert names == ["minimax", "heuristic", "least_squares"] * 2  # every parent x every mutation
    assert m.operator_name(4, True) == "crossover"
    gen = torch.Generator().manual_seed(3)
    samples, real = torch.randn(2, 32, 2, generator=gen), torch.randn(32, 2, generator=gen)
    fitness, _ = m.fitness(samples, real)
    d = m.discriminator
    for c in range(2):  # E-GAN Eq. 6-8 by hand: F_q + gamma * -log ||grad_D [BCE(real, 1) + BCE(fake, 0)]||
        logits = d(samples[c])
        loss = F.softplus(-d(real)).mean() + F.softplus(logits).mean()
        norm = torch.sqrt(sum(g.pow(2).sum() for g in torch.autograd.grad(loss, list(d.parameters()))))
        expected = torch.sigmoid(logits).mean() - 0.5 * torch.log(norm)
        assert fitness[c].item() == pytest.approx(expected.item(), rel=1e-5)
    run_generations(m, 2)
    counts = m.operator_counts
    assert set(counts) <= {"minimax", "heuristic", "least_squares"} and sum(counts.values()) == 2 * 2
    # the default single-loss skeleton is unchanged: heuristic steps named "adversarial", no extra reals
    single = make_module(["algo.p_cross=0"], tmp_path)
    assert single.reals_per_generation == 16 and single.operator_name(1, False) == "adversarial"


def test_selection_keeps_the_fittest_offspring(tmp_path):
    m = make_module(["algo.independent_init=true", "algo.p_cross=0.5"], tmp_path)
    stats = run_generations(m, 2)
    f = m.generators.fitness
    assert torch.isfinite(f).all() and (f[:-1] >= f[1:]).all()  # top-mu, best first
    assert f[0] == stats["fitness/best"]
    assert m.generators.best_index() == 0


@pytest.mark.slow  # CLI runs; the in-process tests above cover the algorithm
def test_cli_toy_and_fake_images(tmp_path):
    toy, img = tmp_path / "toy", tmp_path / "img"
    run_cli(
        [
            "algo=scgan",
            "algo.p_cross=0.5",
            "generations=6",
            "net=mlp",
            "net.hidden=32",
            f"hydra.run.dir={toy}",
            *FAST,
        ]
    )
    m = read_metrics(toy)
    shares = {k: v for k, v in m.items() if k.startswith("operator_share/")}
    assert set(shares) <= {"operator_share/adversarial", "operator_share/crossover"} and shares
    assert sum(shares.values()) == pytest.approx(1.0)
    assert m["generation"] == 6 and 0 <= m["toy/modes_covered"] <= 8
    assert (toy / "interpolation.png").stat().st_size > 1000
    run_cli(
        [
            "algo=scgan",
            "data=fake",
            "data.num_images=64",
            "net=egan32",
            "net.g_width=8",
            "net.d_width=8",
            "algo.population_size=2",
            "algo.batch_size=8",
            "algo.eval_batch_size=16",
            "generations=3",
            f"hydra.run.dir={img}",
            *FAST,
        ]
    )
    m = read_metrics(img)
    assert m["generation"] == 3 and m["loss/g"] is not None
    assert (img / "interpolation.png").stat().st_size > 500


def test_interpolate_latents_endpoints_and_midpoint():
    from evogan_lightning.callbacks.interpolation import interpolate_latents

    z1, z2 = torch.tensor([[0.0, 2.0], [1.0, 1.0]]), torch.tensor([[4.0, -2.0], [1.0, 3.0]])
    z = interpolate_latents(z1, z2, 5).view(2, 5, 2)
    assert torch.equal(z[:, 0], z1) and torch.equal(z[:, -1], z2)
    torch.testing.assert_close(z[0, 2], torch.tensor([2.0, 0.0]))  # a = 0.5
    torch.testing.assert_close(z[1, 1], torch.tensor([1.0, 1.5]))  # a = 0.25
    with pytest.raises(ValueError, match="at least 2 steps"):
        interpolate_latents(z1, z2, 1)


@pytest.mark.slow
def test_cli_exact_resume(tmp_path):
    common = [
        "algo=scgan",
        "seed=3",
        "net=mlp",
        "net.hidden=32",
        "algo.p_cross=0.5",
        "log_every_n_generations=1",
        "algo.lr_schedule=constant",  # extending a run (12 -> 30) would change a decaying schedule
    ]
    full, part = tmp_path / "full", tmp_path / "part"
    run_cli(["generations=9", f"hydra.run.dir={full}", *common, *FAST])
    run_cli(["generations=5", f"hydra.run.dir={part}", *common, *FAST])
    run_cli(
        ["generations=9", f"hydra.run.dir={part}", f"ckpt_path={part}/checkpoints/last.ckpt", *common, *FAST]
    )
    a = torch.load(full / "checkpoints/last.ckpt", map_location="cpu", weights_only=False)
    b = torch.load(part / "checkpoints/last.ckpt", map_location="cpu", weights_only=False)
    assert_same_state(a, b)
    assert sum(a["evogan"]["operator_counts"].values()) == 9 * 4
