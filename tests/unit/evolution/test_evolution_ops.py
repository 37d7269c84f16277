"""E-GAN/CE-GAN operators in isolation: fitness against hand computations, (mu, lambda) selection with
diverged children, Adam-state pairing in the loop backend, crossover pairs/teachers, the operator chart."""

import math

import pytest
import torch
from torch import nn

from evogan_lightning.callbacks.operators import OperatorChart, operator_shares
from evogan_lightning.core.errors import DivergedError
from evogan_lightning.engine.backend import LoopBackend, make_backend
from evogan_lightning.engine.population import Population
from evogan_lightning.evolution.crossover import (
    distillation_loss,
    fitter_parent,
    max_crossover_children,
    other_parent_share,
    p_teaches,
    parabola_step,
    rank_pairs,
    start_parent,
    teacher_samples,
    trial_step,
)
from evogan_lightning.evolution.fitness import (
    combined_fitness,
    diversity_fitness,
    logit_fitness,
    quality_fitness,
    real_loss_grad,
)
from evogan_lightning.evolution.losses import heuristic_loss, minimax_loss
from evogan_lightning.evolution.selection import check_survivors, top_mu, valid_fitness


class Affine(nn.Module):
    """D(x) = w * x[:, 0] + b: two parameters, gradients computable by hand."""

    def __init__(self, w: float, b: float) -> None:
        super().__init__()
        self.w = nn.Parameter(torch.tensor(w))
        self.b = nn.Parameter(torch.tensor(b))

    def forward(self, x):
        return self.w * x[:, 0] + self.b


def sig(t: float) -> float:
    return 1.0 / (1.0 + math.exp(-t))


def hand_egan_fitness(w, b, real, fake, gamma):
    """F_q, F_d, F of the E-GAN paper (Eq. 6-8) for the affine D, by hand."""
    d_r = [w * x + b for x in real]
    d_f = [w * x + b for x in fake]
    # d/dtheta mean softplus(-d_r) = mean -sigmoid(-d_r) * dd/dtheta;  mean softplus(d_f) -> sigmoid(d_f)
    g_w = sum(-sig(-d) * x for d, x in zip(d_r, real)) / len(real) + sum(
        sig(d) * x for d, x in zip(d_f, fake)
    ) / len(fake)
    g_b = sum(-sig(-d) for d in d_r) / len(real) + sum(sig(d) for d in d_f) / len(fake)
    f_q = sum(sig(d) for d in d_f) / len(fake)
    f_d = -math.log(math.sqrt(g_w**2 + g_b**2))
    return f_q, f_d, f_q + gamma * f_d


def test_egan_fitness_matches_hand_computation():
    w, b, real, fake, gamma = 0.5, -0.25, [1.0, 2.0, -0.5], [0.0, -1.0], 0.01
    d = Affine(w, b)
    r = torch.tensor(real).view(-1, 1)
    x = torch.tensor(fake).view(-1, 1)
    g_real = real_loss_grad(d, r)
    assert g_real.shape == (2,)
    f_d, logits = diversity_fitness(d, x, g_real)
    f_q = quality_fitness(logits)
    hq, hd, hf = hand_egan_fitness(w, b, real, fake, gamma)
    assert f_q.item() == pytest.approx(hq, abs=1e-6)
    assert f_d.item() == pytest.approx(hd, abs=1e-6)
    assert combined_fitness(f_q, f_d, gamma).item() == pytest.approx(hf, abs=1e-6)
    assert d.w.grad is None and d.b.grad is None  # D's own gradients are untouched


def test_logit_fitness_is_mean_logit():
    logits = torch.tensor([[1.0, -3.0, 5.0], [0.0, 0.0, 3.0]])
    assert logit_fitness(logits).tolist() == [1.0, 1.0]
    assert quality_fitness(logits)[1].item() == pytest.approx((0.5 + 0.5 + sig(3.0)) / 3)


# ---------------------------------------------------------------------------------------- selection
def test_top_mu_keeps_the_best_and_drops_nan():
    f = torch.tensor([0.1, float("nan"), 0.7, 0.3, float("-inf"), 0.5])
    top, finite = top_mu(f, 3)
    assert top.tolist() == [2, 5, 3]  # -inf is a diverged fitness, like NaN
    assert finite.tolist() == [True, False, True, True, False, True]
    # fewer finite candidates than mu: the finite ones are repeated, never a diverged one
    top, _ = top_mu(torch.tensor([float("nan"), 0.2, float("nan")]), 2)
    assert top.tolist() == [1, 1]
    # nobody finite: no host sync here, the caller's check stops the run
    top, finite = top_mu(torch.full((4,), float("nan")), 2)
    assert top.shape == (2,) and not finite.any()
    with pytest.raises(DivergedError, match="every candidate"):
        check_survivors(finite)
    check_survivors(torch.tensor([False, True]))  # one finite candidate is enough


def test_plus_inf_fitness_is_the_best_not_diverged():
    # E-GAN's F_d = -log ||grad L_D|| is +inf for a zero gradient: the ideal score, so it must win
    f = torch.tensor([0.1, float("inf"), float("nan"), float("-inf"), 0.3])
    assert valid_fitness(f).tolist() == [True, True, False, False, True]
    top, ok = top_mu(f, 2)
    assert top.tolist() == [1, 4] and ok.tolist() == [True, True, False, False, True]
    check_survivors(valid_fitness(torch.tensor([float("inf")])))  # a lone +inf candidate is a survivor
    # gamma = 0 leaves F = F_q, also where F_d = +inf (0 * inf would be NaN)
    assert combined_fitness(torch.tensor([0.4]), torch.tensor([float("inf")]), 0.0).tolist() == [
        pytest.approx(0.4)
    ]
    assert combined_fitness(torch.tensor([0.4]), torch.tensor([float("inf")]), 2.0).item() == float("inf")
    # crossover pairs: a +inf mutant is in the top pair, a NaN one in none of the first
    assert rank_pairs(torch.tensor([0.2, float("inf"), float("nan")]), 1).tolist() == [[0, 1]]


def test_top_mu_breaks_exact_ties_towards_the_lower_index():
    # generation 1: Adam's first step is lr*sign(grad), so different mutation losses can give equal fitness
    f = torch.tensor([0.5, 0.9, 0.9, 0.2, 0.9, 0.9, 0.9, 0.9, 0.9, 0.9, 0.9, 0.9, 0.9])
    top, _ = top_mu(f, 4)
    assert top.tolist() == [1, 2, 4, 5]
    assert top_mu(torch.zeros(64), 1)[0].tolist() == [0]


def tiny_population(mu=2, children=4):
    torch.manual_seed(0)
    return Population(lambda: nn.Linear(2, 2), num_parents=mu, num_children=children, lr=0.1)


def test_mu_lambda_replacement_never_keeps_parents_and_carries_adam_state():
    pop = tiny_population(mu=2, children=4)
    with torch.no_grad():
        for s in range(pop.num_slots):
            pop.params[s].fill_(float(s))
            pop.exp_avg[s].fill_(10.0 + s)
            pop.exp_avg_sq[s].fill_(20.0 + s)
            pop.step[s] = 100 + s
    fitness = torch.tensor([0.2, 0.9, float("nan"), 0.5])  # children 0..3 = slots 2..5
    top, _ = top_mu(fitness, 2)
    slots = torch.arange(2, 6)[top]
    pop.replace_parents(slots, fitness[top])
    assert slots.tolist() == [3, 5]
    for parent, src in enumerate([3, 5]):
        assert torch.all(pop.params[parent] == src)
        assert torch.all(pop.exp_avg[parent] == 10.0 + src)
        assert torch.all(pop.exp_avg_sq[parent] == 20.0 + src)
        assert pop.step[parent].item() == 100 + src
    assert pop.fitness.tolist() == pytest.approx([0.9, 0.5])
    assert pop.best_index() == 0


def test_loop_backend_mutation_each_child_own_adam_state_parent_untouched():
    pop = tiny_population(mu=1, children=2)
    d = nn.Linear(2, 1)
    backend = LoopBackend(pop, lambda x: d(x).squeeze(1))
    pop.zero_grad(pop.parent_rows)  # give the parent some Adam history first
    d(pop.parent(0)(torch.randn(4, 2))).sum().backward(inputs=list(pop.parent(0).parameters()))
    pop.adam_step(pop.parent_rows)
    parent_before = {k: v.clone() for k, v in pop.adam_state(0).items()}
    params_before = pop.flat_parameters(0)
    pop.spawn(torch.tensor([0, 0]))
    z = torch.randn(2, 8, 2)
    losses = backend.mutate(slice(1, 3), [minimax_loss, heuristic_loss], z)
    assert losses.shape == (2,) and torch.isfinite(losses).all()
    assert d.weight.grad is None  # D frozen: no gradient computed for it
    assert torch.equal(pop.flat_parameters(0), params_before)  # the parent is unchanged
    for k, v in pop.adam_state(0).items():
        assert torch.equal(v, parent_before[k]), k
    for c in (1, 2):  # children continue the parent's Adam state: one more step, own moments
        assert pop.step[c].item() == parent_before["step"].item() + 1
    assert not torch.equal(pop.exp_avg[1], pop.exp_avg[2])
    assert not torch.equal(pop.params[1], pop.params[2])
    # a child's step equals a torch.optim.Adam step from the parent's state on that child's loss
    ref = nn.Linear(2, 2)
    with torch.no_grad():
        torch.nn.utils.vector_to_parameters(params_before, ref.parameters())
    opt = torch.optim.Adam(ref.parameters(), lr=0.1, betas=pop.betas)
    ps = list(ref.parameters())
    sizes = [p.numel() for p in ps]
    for p, m, v in zip(ps, parent_before["exp_avg"].split(sizes), parent_before["exp_avg_sq"].split(sizes)):
        opt.state[p] = {
            "step": parent_before["step"].clone(),
            "exp_avg": m.view_as(p).clone(),
            "exp_avg_sq": v.view_as(p).clone(),
        }
    heuristic_loss(d(ref(z[1])).squeeze(1)).backward(inputs=ps)
    opt.step()
    got = pop.flat_parameters(2)
    want = torch.nn.utils.parameters_to_vector(ref.parameters())
    torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-6)


def test_make_backend_names():
    pop = tiny_population(1, 1)
    assert make_backend("auto", pop, nn.Identity()).name == "loop"
    with pytest.raises(ValueError, match="unknown algo.backend"):
        make_backend("gpu", pop, nn.Identity())


# ---------------------------------------------------------------------------------------- crossover
def test_teacher_per_row_higher_critic_wins_ties_to_second_parent():
    x_p = torch.tensor([[1.0, 1.0], [2.0, 2.0], [3.0, 3.0]])
    x_q = -x_p
    d_p = torch.tensor([0.5, -1.0, 0.2])
    d_q = torch.tensor([0.1, 0.0, 0.2])  # row 0: p wins, row 1: q wins, row 2: tie -> q
    t = teacher_samples(x_p, x_q, p_teaches(d_p, d_q))
    assert t.tolist() == [[1.0, 1.0], [-2.0, -2.0], [-3.0, -3.0]]
    # batched over children and image-shaped samples
    xp, xq = torch.ones(2, 3, 1, 2, 2), torch.zeros(2, 3, 1, 2, 2)
    t = teacher_samples(xp, xq, p_teaches(torch.tensor([[1.0, 0, 0], [0, 0, 1]]), torch.zeros(2, 3)))
    assert t.flatten(2).mean(2).tolist() == [[1.0, 0.0, 0.0], [0.0, 0.0, 1.0]]


def test_split_teacher_ignores_the_critic():
    """teacher=split: p teaches the even rows, q the odd ones, even where q's logits are higher."""
    d_p, d_q = torch.full((2, 5), -9.0), torch.full((2, 5), 9.0)
    rows = p_teaches(d_p, d_q, "split")
    assert rows.tolist() == [[True, False, True, False, True]] * 2
    x_p, x_q = torch.arange(5.0).view(5, 1), -torch.arange(5.0).view(5, 1)
    assert teacher_samples(x_p, x_q, rows[0]).flatten().tolist() == [0.0, -1.0, 2.0, -3.0, 4.0]
    with pytest.raises(ValueError, match="unknown crossover teacher 'best'"):
        p_teaches(d_p, d_q, "best")


def test_other_parent_share_counts_rows_taught_by_the_parent_not_started_from():
    pairs = torch.tensor([[0, 1], [0, 2]])
    start = torch.tensor([0, 2])  # child 0 starts from p=0, child 1 from q=2
    rows = torch.tensor([[True, True, False, True], [True, False, False, False]])
    # child 0: q taught 1 of 4 rows; child 1: p taught 1 of 4 rows -> (1 + 1) / 8
    assert other_parent_share(pairs, start, rows).item() == pytest.approx(0.25)
    split = p_teaches(torch.zeros(2, 4), torch.zeros(2, 4), "split")
    assert other_parent_share(pairs, start, split).item() == pytest.approx(0.5)


def test_pairs_ranked_by_summed_fitness_with_wrap_around():
    f = torch.tensor([1.0, 3.0, 2.0])  # W: (0,1)=4, (0,2)=3, (1,2)=5
    assert rank_pairs(f, 1).tolist() == [[1, 2]]
    assert rank_pairs(f, 5).tolist() == [[1, 2], [0, 1], [0, 2], [1, 2], [0, 1]]
    assert fitter_parent(rank_pairs(f, 3), f).tolist() == [1, 1, 2]
    assert fitter_parent(torch.tensor([[0, 1]]), torch.tensor([2.0, 2.0])).tolist() == [0]  # tie: first
    # a diverged mutant's pairs rank last
    assert rank_pairs(torch.tensor([float("nan"), 0.0, 1.0]), 1).tolist() == [[1, 2]]
    assert max_crossover_children(3) == 3 and max_crossover_children(6) == 15


def test_distillation_loss_is_mse_and_stops_at_teacher():
    s = torch.tensor([[1.0, 2.0]], requires_grad=True)
    t = torch.tensor([[0.0, 0.0]], requires_grad=True)
    loss = distillation_loss(s, t)
    assert loss.item() == pytest.approx(2.5)
    loss.backward()
    assert t.grad is None and s.grad.tolist() == [[1.0, 2.0]]


def test_distillation_loss_sum_is_eq10():
    # two rows of 2-d samples: sum_i ||s_i - t_i||^2 = (1 + 4) + (9 + 0) = 14; the mean is 14 / 4
    s = torch.tensor([[1.0, 2.0], [3.0, 0.0]], requires_grad=True)
    t = torch.zeros(2, 2)
    loss = distillation_loss(s, t, "sum")
    assert loss.item() == pytest.approx(14.0)
    assert distillation_loss(s, t, "mean").item() == pytest.approx(3.5)
    loss.backward()
    assert s.grad.tolist() == [[2.0, 4.0], [6.0, 0.0]]  # 2 (s - t): n * dim = 4 times the mean's gradient
    with pytest.raises(ValueError, match="sum"):
        distillation_loss(s, t, "median")


def test_trial_and_parabola_steps_by_hand():
    # trial: lr * sqrt(P) / ||g|| = 0.1 * 4 / 2
    assert trial_step(torch.tensor([4.0]), lr=0.1, num_params=16).item() == pytest.approx(0.2)
    # L(0) = 5, ||g||^2 = 4, a1 = 1: c = (L1 - 5 + 4) / 1 and a* = 4 / (2 c)
    l0, g_sq, a1 = torch.full((4,), 5.0), torch.full((4,), 4.0), torch.ones(4)
    l1 = torch.tensor([3.0, 4.5, 1.1, 0.0])  # c = 2 | 3.5 | 0.1 (a* = 20, capped at 4 a1) | -1 (concave)
    got = parabola_step(l0, l1, g_sq, a1, max_scale=4.0)
    assert got.tolist() == pytest.approx([1.0, 4.0 / 7.0, 4.0, 1.0])


@pytest.mark.parametrize("reduction", ["sum", "mean"])
def test_line_search_distillation_lands_on_the_line_minimum_and_keeps_adam_state(reduction):
    """For a linear generator the distillation loss is exactly quadratic along -g, so the fitted step is
    the exact minimiser a* = <r, Jg> / ||Jg||^2 (r: residual, Jg: output change per unit step), the same
    point for both reductions; the Adam moments and step count are left as they were."""
    pop = tiny_population(mu=1, children=1)
    backend = LoopBackend(pop, nn.Identity())
    with torch.no_grad():
        pop.exp_avg[1].fill_(0.3)
        pop.exp_avg_sq[1].fill_(0.7)
        pop.step[1] = 5
    z, teacher = torch.randn(1, 16, 2), torch.randn(1, 16, 2)
    w, b = pop.member(1).weight.detach().clone(), pop.member(1).bias.detach().clone()
    r = z[0] @ w.T + b - teacher[0]  # residual [16, 2]
    g_w, g_b = 2 * r.T @ z[0], 2 * r.sum(0)  # gradient of the sum reduction
    jg = z[0] @ g_w.T + g_b  # output change along g per unit step
    alpha = (r * jg).sum() / (jg * jg).sum()
    backend.distill(slice(1, 2), z, teacher, reduction, step="line_search")
    torch.testing.assert_close(pop.member(1).weight.detach(), w - alpha * g_w, rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(pop.member(1).bias.detach(), b - alpha * g_b, rtol=1e-4, atol=1e-5)
    assert (pop.exp_avg[1] == 0.3).all() and (pop.exp_avg_sq[1] == 0.7).all() and pop.step[1] == 5
    after = distillation_loss(pop.member(1)(z[0]), teacher[0], "sum").item()
    assert after < distillation_loss(z[0] @ w.T + b, teacher[0], "sum").item()


def test_crossover_start_parent_fitter_or_worse():
    f = torch.tensor([0.3, 0.1, 0.2])
    pairs = torch.tensor([[0, 1], [0, 2], [1, 2]])
    assert start_parent(pairs, f, "fitter").tolist() == [0, 0, 2]
    assert start_parent(pairs, f, "worse").tolist() == [1, 2, 1]  # PDERL: the child learns the fitter one
    tie = torch.tensor([[0, 1]])
    assert start_parent(tie, torch.tensor([1.0, 1.0]), "fitter").tolist() == [0]
    assert start_parent(tie, torch.tensor([1.0, 1.0]), "worse").tolist() == [1]
    with pytest.raises(ValueError, match="worse"):
        start_parent(pairs, f, "random")


# ---------------------------------------------------------------------------------------- operator chart
def test_operator_shares_bins_and_merges():
    bins = {0: {"minimax": 3, "crossover": 1}, 1: {"heuristic": 4}, 3: {"crossover": 2}}
    ranges, names, shares = operator_shares(bins, resolution=10, num_bars=2, generations=40)
    assert names == ["crossover", "heuristic", "minimax"]
    assert ranges == [(0, 20), (20, 40)]
    assert shares[0] == pytest.approx([1 / 8, 4 / 8, 3 / 8])
    assert shares[1] == pytest.approx([1.0, 0.0, 0.0])
    _, _, shares = operator_shares({}, 10, 4, 5)
    assert shares == [[]]


class FakeModule:
    def __init__(self):
        self.generation, self.operator_counts, self.algo_name = 0, {}, "x"


def test_operator_chart_records_and_resumes(tmp_path):
    mod = FakeModule()
    cb = OperatorChart(str(tmp_path), resolution=2, num_bars=5)
    cb.setup(None, mod, "fit")
    for g, op in enumerate(["a", "a", "b", "a", "b"], start=1):
        mod.generation = g
        mod.operator_counts[op] = mod.operator_counts.get(op, 0) + 1
        cb.update(mod)
    assert cb.bins == {0: {"a": 2}, 1: {"b": 1, "a": 1}, 2: {"b": 1}}
    mod.generation, mod.operator_counts["a"] = 6, 4  # not yet seen by a batch-end hook: state_dict syncs
    state = cb.state_dict()
    assert state["bins"][2] == {"b": 1, "a": 1}
    other = OperatorChart(str(tmp_path), resolution=4)
    other.load_state_dict(state)  # re-binned to the new resolution
    assert other.bins == {0: {"a": 3, "b": 1}, 1: {"b": 1, "a": 1}}
    assert cb.render(mod, tmp_path / "operators.png").stat().st_size > 1000
    assert OperatorChart(str(tmp_path)).render(mod, tmp_path / "none.png") is None


def test_operator_chart_reads_the_counts_once_per_bin(tmp_path):
    """The batch-end hook reads the module's counts (a device sync) only at the last generation of each bin,
    and the bins come out as if it had read them every generation."""

    class Counted(FakeModule):
        reads = 0

        @property
        def operator_counts(self):
            Counted.reads += 1
            return self._counts

        @operator_counts.setter
        def operator_counts(self, value):
            self._counts = value

    mod = Counted()
    cb = OperatorChart(str(tmp_path), resolution=3)
    cb.setup(None, mod, "fit")
    for g, op in enumerate(["a", "b", "a", "b", "b", "a", "a"], start=1):
        mod.generation = g
        mod._counts[op] = mod._counts.get(op, 0) + 1
        cb.on_train_batch_end(None, mod, None, None, g - 1)
    assert Counted.reads == 2  # generations 3 and 6
    cb.on_train_end(type("T", (), {"is_global_zero": False})(), mod)
    assert cb.bins == {0: {"a": 2, "b": 1}, 1: {"b": 2, "a": 1}, 2: {"a": 1}}
