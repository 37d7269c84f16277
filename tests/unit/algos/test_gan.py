"""The single-loss baseline GAN (algos/gan.py): one generation by hand, each loss, bad input."""

import pytest
import torch
from helpers import make_module

from evogan_lightning.core.errors import ConfigError
from evogan_lightning.evolution.losses import generator_loss


@pytest.mark.parametrize("loss", ["minimax", "heuristic", "least_squares"])
def test_one_generation_is_one_g_step_of_its_loss_then_n_d_d_steps(tmp_path, loss):
    """G <- one Adam step on L_loss(D(G(z))) with D frozen, then n_D D steps on fresh samples of the new G."""
    m = make_module([f"algo.loss={loss}", "algo.d_steps=2"], tmp_path, algo="gan")
    pop, d = m.generators, m.discriminator
    assert pop.num_parents == 1 and pop.num_children == 0
    assert m.reals_per_generation == 2 * 16  # n_D * m real samples, all for D
    g_before, d_before = pop.params[0].clone(), [p.detach().clone() for p in d.parameters()]
    rng = m.rng.get_state()
    z = m.make_noise(16)  # the noise the step will draw first
    m.rng.set_state(rng)
    expected = generator_loss(loss, m.hp.least_squares_on)(d(pop.parent(0)(z))).detach()
    d_calls = []  # D's own step (base.d_step, Lightning's optimizer) is tested with the other algorithms
    m.d_step = lambda real, fake: d_calls.append((real.shape, fake.shape)) or torch.tensor(0.5)

    stats = m.generation_step(torch.randn(m.reals_per_generation, 2))

    torch.testing.assert_close(stats["loss/g"], expected)  # the loss of the step's own noise, before it
    assert not torch.equal(pop.params[0], g_before)  # G moved ...
    assert float(pop.step[0]) == 1.0  # ... by exactly one Adam step
    assert d_calls == [((16, 2), (16, 2))] * 2  # n_D D steps, each on its own m reals and m fakes
    assert all(torch.equal(a, b.detach()) for a, b in zip(d_before, d.parameters()))  # D frozen for G
    assert float(stats["loss/d"]) == 0.5  # the mean of the D steps' losses


def test_the_losses_train_g_in_different_directions(tmp_path):
    """Same seed, same data: minimax, heuristic and least squares give three different generators."""
    after = {}
    for loss in ("minimax", "heuristic", "least_squares"):
        m = make_module([f"algo.loss={loss}", "seed=3"], tmp_path / loss, algo="gan")
        m.d_step = lambda real, fake: torch.tensor(0.0)
        torch.manual_seed(0)
        m.generation_step(torch.randn(m.reals_per_generation, 2))
        after[loss] = m.generators.params[0].clone()
    assert not torch.equal(after["minimax"], after["heuristic"])
    assert not torch.equal(after["heuristic"], after["least_squares"])


def test_an_unknown_loss_names_the_choices(tmp_path):
    with pytest.raises(ConfigError, match="unknown algo.loss 'wgan'.*minimax"):
        make_module(["algo.loss=wgan"], tmp_path, algo="gan")
