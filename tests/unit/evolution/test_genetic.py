"""GA operators of GAGAN (evolution/genetic.py): fitness, elitism, parent choice, crossover, mutation,
optimizer-state handling, on hand-computed values and invariants."""

import math

import pytest
import torch

from evogan_lightning.engine.population import Population
from evogan_lightning.evolution import genetic
from evogan_lightning.nets.mlp import MLPDiscriminator


def gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


# ---------------------------------------------------------------------- fitness
def test_fitness_hand_values():
    # D_0: all logits 0 -> D = 0.5 everywhere: accuracy 0, W = 0, BCE = 2 ln 2
    # D_1: real logits +30, fake -30: accuracy 1, W = 1, BCE ~ 0
    # D_2: real +30, fake +30 (calls everything real): accuracy 0.5, W = 0, BCE ~ 30
    real = torch.tensor([[0.0, 0.0], [30.0, 30.0], [30.0, 30.0]])
    fake = torch.tensor([[0.0, 0.0, 0.0], [-30.0, -30.0, -30.0], [30.0, 30.0, 30.0]])
    f = genetic.gagan_fitness(real, fake, "paper")
    expected = [
        0.0 + 0.2 * (-2 * 0.5) - 0.5 * 2 * math.log(2),  # -0.8931
        1.0 + 0.2 * (-2 * 0.5) - 0.0,  # 0.8
        0.5 + 0.2 * (-2 * 0.5) - 0.5 * 30.0,  # -14.7
    ]
    torch.testing.assert_close(f, torch.tensor(expected), atol=1e-5, rtol=0)
    neg = genetic.gagan_fitness(real, fake, "neg_bce")
    torch.testing.assert_close(neg, torch.tensor([-2 * math.log(2), 0.0, -30.0]), atol=1e-5, rtol=0)


def test_fitness_mixed_accuracy_and_w():
    # real probs 0.8, 0.3 (one correct), fake probs 0.1 (correct), 0.6 (wrong): accuracy = (0.5 + 0.5) / 2
    logit = lambda p: math.log(p / (1 - p))  # noqa: E731
    real = torch.tensor([[logit(0.8), logit(0.3)]])
    fake = torch.tensor([[logit(0.1), logit(0.6)]])
    w = (0.8 + 0.3) / 2 - (0.1 + 0.6) / 2  # 0.2
    bce = -(math.log(0.8) + math.log(0.3)) / 2 - (math.log(0.9) + math.log(0.4)) / 2
    expected = 0.5 + 0.2 * (-2 * abs(w - 0.5)) - 0.5 * bce
    assert genetic.gagan_fitness(real, fake).item() == pytest.approx(expected, abs=1e-5)


def test_fitness_nan_for_diverged_and_bad_input():
    real = torch.tensor([[1.0, float("nan")], [1.0, 2.0]])
    fake = torch.zeros(2, 2)
    f = genetic.gagan_fitness(real, fake)
    assert math.isnan(f[0]) and math.isfinite(f[1])
    with pytest.raises(ValueError, match="unknown GAGAN fitness"):
        genetic.gagan_fitness(real, fake, "nope")
    with pytest.raises(ValueError, match="logits"):
        genetic.gagan_fitness(torch.zeros(3), fake)


# ---------------------------------------------------------------------- elitism, ranking, parents
def test_num_elites_and_ranking():
    assert genetic.num_elites(10, 0.3) == 3
    assert genetic.num_elites(2, 0.3) == 1
    assert genetic.num_elites(10, 0.99) == 9  # one slot always evolves
    assert genetic.num_elites(10, 0.01) == 1
    with pytest.raises(ValueError):
        genetic.num_elites(1, 0.3)
    order = genetic.rank_by_fitness(torch.tensor([0.1, float("nan"), 0.5, -1.0]))
    assert order.tolist() == [2, 0, 3, 1]  # NaN last


def test_uniform_parents_are_distinct_elites():
    f = torch.tensor([3.0, 2.0, 1.0])
    a, b = genetic.choose_parents(f, 2000, "uniform", gen(1))
    assert ((a >= 0) & (a < 3)).all() and (a != b).all()
    counts = torch.bincount(torch.cat([a, b]), minlength=3).float() / 4000
    assert (counts - 1 / 3).abs().max() < 0.05
    a1, b1 = genetic.choose_parents(torch.tensor([1.0]), 10, "uniform", gen(1))
    assert (a1 == 0).all() and (b1 == 0).all()


def test_tournament_prefers_fitter_elites():
    f = torch.tensor([0.0, 2.0, 1.0])  # elite 1 is best, elite 0 worst
    a, b = genetic.choose_parents(f, 5000, "tournament", gen(2), tournament_size=3)
    share = torch.bincount(torch.cat([a, b]), minlength=3).float() / 10000
    # best wins unless all 3 contestants are others: 1 - (2/3)^3 = 0.704; worst only if all 3 are it: 1/27
    assert share[1] == pytest.approx(1 - (2 / 3) ** 3, abs=0.03)
    assert share[0] == pytest.approx(1 / 27, abs=0.015)
    with pytest.raises(ValueError, match="parent_selection"):
        genetic.choose_parents(f, 3, "roulette", gen())


# ---------------------------------------------------------------------- crossover
SIZES = [6, 3, 10, 1]


@pytest.mark.parametrize("mode", genetic.CROSSOVER_MODES)
def test_crossover_never_modifies_parents(mode):
    p1, p2 = torch.randn(8, 20, generator=gen(3)), torch.randn(8, 20, generator=gen(4))
    c1, c2 = p1.clone(), p2.clone()
    child = genetic.crossover(p1, p2, mode, gen(5), sizes=SIZES)
    assert torch.equal(p1, c1) and torch.equal(p2, c2)
    assert child.data_ptr() not in (p1.data_ptr(), p2.data_ptr())
    assert ((child == p1) | (child == p2)).all()  # every entry comes from one of its parents


def test_per_tensor_crossover_takes_whole_tensors():
    n = 400
    p1, p2 = torch.zeros(n, 20), torch.ones(n, 20)
    child = genetic.crossover(p1, p2, "per_tensor", gen(6), sizes=SIZES)
    from_first = []
    for seg in torch.split(child, SIZES, dim=1):
        whole = (seg == 0).all(1) | (seg == 1).all(1)
        assert whole.all()  # each tensor equals one parent's tensor
        from_first.append((seg[:, 0] == 0).float().mean())
    assert all(abs(s - 0.5) < 0.1 for s in from_first)
    with pytest.raises(ValueError, match="tensor sizes"):
        genetic.crossover(p1, p2, "per_tensor", gen(), sizes=[5])


def test_elementwise_crossover_mixes_entries():
    p1, p2 = torch.zeros(50, 200), torch.ones(50, 200)
    child = genetic.crossover(p1, p2, "elementwise", gen(7))
    share = (child == 0).float().mean().item()
    assert share == pytest.approx(0.5, abs=0.02)
    per_row = (child == 0).float().mean(1)
    assert ((per_row > 0) & (per_row < 1)).all()  # rows mix, unlike per-tensor or one-point


def test_one_point_crossover_is_a_prefix_split():
    n, length = 300, 12
    p1, p2 = torch.zeros(n, length), torch.ones(n, length)
    child = genetic.crossover(p1, p2, "one_point", gen(8))
    cuts = (child == 0).sum(1)
    for row, c in zip(child, cuts.tolist()):
        assert 1 <= c <= length - 1
        assert (row[:c] == 0).all() and (row[c:] == 1).all()
    assert set(cuts.tolist()) == set(range(1, length))  # every cut point occurs
    with pytest.raises(ValueError, match="unknown crossover"):
        genetic.crossover(p1, p2, "two_point", gen())


# ---------------------------------------------------------------------- mutation
def test_mutation_rate_and_scale():
    genes = torch.zeros(4, 50_000)
    out = genetic.mutate(genes, rate=0.05, std=0.05, generator=gen(9))
    assert (genes == 0).all()  # input untouched
    changed = out != 0
    assert changed.float().mean().item() == pytest.approx(0.05, abs=0.005)
    assert out[changed].std().item() == pytest.approx(0.05, rel=0.05)
    assert out[changed].mean().item() == pytest.approx(0.0, abs=0.003)
    assert torch.equal(genetic.mutate(genes + 1, 0.0, 0.05, gen()), genes + 1)  # rate 0: no change
    assert (genetic.mutate(genes, 1.0, 0.05, gen(10)) != 0).all()
    with pytest.raises(ValueError, match="mutation_rate"):
        genetic.mutate(genes, 1.5, 0.05, gen())


def test_mutation_touches_weights_only():
    net = MLPDiscriminator(2, hidden=4, d_layers=2, d_batch_norm=True)
    mask = genetic.weight_mask(net)
    # Linear(2,4): 8 weights, 4 biases; Linear(4,4): 16 + 4; BatchNorm(4): 4 scales + 4 shifts; Linear(4,1): 4 + 1
    expected = [True] * 8 + [False] * 4 + [True] * 16 + [False] * 4 + [False] * 8 + [True] * 4 + [False]
    assert mask.tolist() == expected
    assert genetic.weight_mask(net, "all").all()
    genes = torch.zeros(3, mask.numel())
    out = genetic.mutate(genes, 1.0, 0.05, gen(1), mask)
    assert (out[:, ~mask] == 0).all() and (out[:, mask] != 0).all()
    # the draws do not depend on the mask: masked entries equal the unmasked mutation's
    assert torch.equal(out[:, mask], genetic.mutate(genes, 1.0, 0.05, gen(1))[:, mask])
    with pytest.raises(ValueError, match="weights"):
        genetic.weight_mask(net, "biases")


# ---------------------------------------------------------------------- one GA step on a Population
def make_pop(size: int = 5) -> Population:
    torch.manual_seed(0)
    pop = Population(
        lambda: MLPDiscriminator(2, hidden=8, d_layers=2, d_batch_norm=True),
        num_parents=size,
        lr=1e-3,
        independent_init=True,
    )
    with torch.no_grad():  # distinct Adam states and BN buffers per row, to see who got whose
        for i in range(size):
            pop.exp_avg[i].fill_(float(i + 1))
            pop.exp_avg_sq[i].fill_(float(10 * (i + 1)))
            pop.step[i] = 100.0 + i
            pop.buffers_flat[i].fill_(float(-(i + 1)))
    return pop


def ga(pop, fitness, mutation_scope="weights", **kw) -> genetic.GAStep:
    """Plan one genetic step over ``pop``'s parents and apply it, as GAGAN does."""
    member = pop.member(0)
    step = genetic.genetic_step(
        pop.params[pop.parent_rows],
        fitness,
        sizes=genetic.tensor_sizes(member),
        allowed=genetic.weight_mask(member, mutation_scope),
        **kw,
    )
    pop.apply_ga(step)
    return step


@pytest.mark.parametrize("mode", genetic.CROSSOVER_MODES)
def test_genetic_step_inherit(mode):
    pop = make_pop()
    before = {k: getattr(pop, k).clone() for k in ("params", "exp_avg", "exp_avg_sq", "step", "buffers_flat")}
    fitness = torch.tensor([0.1, 0.9, float("nan"), 0.5, -0.3])  # elites (40% of 5 = 2): slots 1, 3
    step = ga(
        pop,
        fitness,
        elite_fraction=0.4,
        crossover_mode=mode,
        mutation_rate=0.0,
        optimizer_after_ga="inherit",
        generator=gen(11),
    )
    assert step.elites.tolist() == [1, 3]
    assert sorted(step.replaced.tolist()) == [0, 2, 4]
    for e in (1, 3):  # elites survive unchanged, with their Adam state and buffers
        for k, v in before.items():
            assert torch.equal(getattr(pop, k)[e], v[e]), k
    for r, p1, p2 in zip(step.replaced.tolist(), step.parent1.tolist(), step.parent2.tolist()):
        assert {p1, p2} == {1, 3}  # two distinct elites (uniform)
        child = pop.params[r]
        assert ((child == before["params"][p1]) | (child == before["params"][p2])).all()
        for k in ("exp_avg", "exp_avg_sq", "step", "buffers_flat"):  # parent 1's state and buffers
            assert torch.equal(getattr(pop, k)[r], before[k][p1]), k
    assert torch.equal(pop.fitness[step.elites], fitness[step.elites])
    assert torch.isnan(pop.fitness[step.replaced]).all()


def test_genetic_step_per_tensor_members_are_real_modules():
    pop = make_pop()
    old = [pop.params[i].clone() for i in range(5)]
    step = ga(pop, torch.arange(5.0), elite_fraction=0.4, mutation_rate=0.0, generator=gen(12))
    sizes = genetic.tensor_sizes(pop.member(0))
    for r, p1, p2 in zip(step.replaced.tolist(), step.parent1.tolist(), step.parent2.tolist()):
        for seg, a, b in zip(
            torch.split(pop.params[r], sizes), torch.split(old[p1], sizes), torch.split(old[p2], sizes)
        ):
            assert torch.equal(seg, a) or torch.equal(seg, b)
        # the module in that slot computes with the new genes (views, not copies)
        member_flat = torch.cat([p.detach().reshape(-1) for p in pop.member(r).parameters()])
        assert torch.equal(member_flat, pop.params[r])


def test_genetic_step_reset_and_mutation_only_on_offspring():
    pop = make_pop()
    before = pop.params.clone()
    step = ga(
        pop,
        torch.tensor([5.0, 4.0, 3.0, 2.0, 1.0]),
        elite_fraction=0.4,
        mutation_rate=0.5,
        mutation_std=0.1,
        optimizer_after_ga="reset",
        generator=gen(13),
    )
    assert step.elites.tolist() == [0, 1]
    assert torch.equal(pop.params[:2], before[:2])  # elites never mutated
    weights = genetic.weight_mask(pop.member(0))
    for r, p1, p2 in zip(step.replaced.tolist(), step.parent1.tolist(), step.parent2.tolist()):
        off_parent = (pop.params[r] != before[p1]) & (pop.params[r] != before[p2])
        assert 0.3 < off_parent[weights].float().mean() < 0.7  # ~half the weight entries got noise
        assert not off_parent[~weights].any()  # biases and batch-norm parameters are not mutated
    # reset: a fresh Adam for every D, elites included
    assert (pop.exp_avg == 0).all() and (pop.exp_avg_sq == 0).all() and (pop.step == 0).all()
    assert torch.equal(pop.buffers_flat[2:], pop.buffers_flat[step.parent1])  # buffers still inherited


def test_genetic_step_is_reproducible_and_validates():
    a, b = make_pop(), make_pop()
    f = torch.tensor([0.3, 0.1, 0.7, 0.2, 0.5])
    ga(a, f, crossover_mode="elementwise", generator=gen(14))
    ga(b, f, crossover_mode="elementwise", generator=gen(14))
    genes = a.params[a.parent_rows].clone()
    plan = genetic.genetic_step(genes, f, sizes=genetic.tensor_sizes(a.member(0)), generator=gen(15))
    assert torch.equal(genes, a.params[a.parent_rows])  # planning is pure: the population is untouched
    assert plan.genes.shape == (len(plan.replaced), genes.shape[1]) and plan.reset_optimizer
    assert torch.equal(a.params, b.params)
    with pytest.raises(ValueError, match="optimizer_after_ga"):
        ga(a, f, optimizer_after_ga="keep", generator=gen())
    with pytest.raises(ValueError, match="fitness has 2 entries"):
        ga(a, f[:2], generator=gen())
