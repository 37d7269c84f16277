"""Generator/discriminator losses against hand computations (docs/algorithms.md, shared conventions)."""

import math

import pytest
import torch

from evogan_lightning.evolution.losses import (
    discriminator_loss,
    generator_loss,
    gradient_penalty,
    heuristic_loss,
    least_squares_loss,
    minimax_loss,
    r1_penalty,
)

D = torch.tensor([-1.0, 0.0, 2.0])


def sig(x: float) -> float:
    return 1 / (1 + math.exp(-x))


def test_minimax_is_mean_log_one_minus_d():
    expected = sum(math.log(1 - sig(v)) for v in D.tolist()) / 3
    assert minimax_loss(D).item() == pytest.approx(expected, rel=1e-6)


def test_heuristic_is_mean_minus_log_d():
    expected = sum(-math.log(sig(v)) for v in D.tolist()) / 3
    assert heuristic_loss(D).item() == pytest.approx(expected, rel=1e-6)


def test_least_squares_on_logit_and_prob():
    assert least_squares_loss(D).item() == pytest.approx((4 + 1 + 1) / 3)
    expected = sum((sig(v) - 1) ** 2 for v in D.tolist()) / 3
    assert least_squares_loss(D, on="prob").item() == pytest.approx(expected, rel=1e-6)
    assert generator_loss("least_squares", "prob")(D).item() == pytest.approx(expected, rel=1e-6)


def test_discriminator_loss_is_bce_sum():
    real, fake = torch.tensor([1.0, 3.0]), torch.tensor([-2.0])
    expected = -(math.log(sig(1)) + math.log(sig(3))) / 2 - math.log(1 - sig(-2))
    assert discriminator_loss(real, fake).item() == pytest.approx(expected, rel=1e-6)


def test_unknown_loss_lists_valid_names():
    with pytest.raises(ValueError, match="heuristic"):
        generator_loss("wasserstein")


def test_gradient_penalty_of_linear_critic():
    # C(x) = w.x has gradient w everywhere: penalty (|w| - 1)^2.
    w = torch.tensor([3.0, 4.0])
    critic = lambda x: x @ w  # noqa: E731
    gp = gradient_penalty(critic, torch.randn(5, 2), torch.randn(5, 2))
    assert gp.item() == pytest.approx(16.0)


def test_r1_penalty_of_a_quadratic_critic():
    # C(x) = x1^2 + 3 x2: grad = (2 x1, 3); ||grad||^2 at (1, 0) is 4 + 9 = 13, at (0, 5) it is 0 + 9 = 9
    critic = lambda x: x[:, 0] ** 2 + 3 * x[:, 1]  # noqa: E731
    real = torch.tensor([[1.0, 0.0], [0.0, 5.0]])
    assert r1_penalty(critic, real).item() == pytest.approx((13 + 9) / 2)
    # it has a graph to the critic's parameters: d/dw E||grad_x (w x1^2)||^2 = E 8 w x1^2 = 4 at w = 1
    w = torch.tensor(1.0, requires_grad=True)
    penalty = r1_penalty(lambda x: w * x[:, 0] ** 2, real)
    (grad,) = torch.autograd.grad(penalty, w)
    assert grad.item() == pytest.approx(4.0)
    assert real.grad is None  # the real batch itself is left alone
