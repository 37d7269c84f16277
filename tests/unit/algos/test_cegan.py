"""CE-GAN (algos/cegan.py): bad input (n_c limit), shared noise, crossover from the fitter parent without
touching the parents, the selection pools, CLI runs (toy, fake images), exact resume and the n_c sweep."""

import pytest
import torch
from conftest import FAST, read_metrics, run_cli
from helpers import THREE, TINY, Recorder, assert_exact_resume, make_module

from evogan_lightning.algos.egan import Candidates
from evogan_lightning.core.errors import ConfigError


def cegan(overrides, tmp_path):
    return make_module(overrides, tmp_path, algo="cegan")


@pytest.mark.parametrize(
    "overrides,needle",
    [
        (["algo.n_c=4"], "at most C(population_size * n_mutations, 2) = C(3, 2) = 3 crossover children"),
        (["algo.population_size=2", "algo.n_c=16"], "C(6, 2) = 15"),
        (["algo.n_c=-1"], "algo.n_c (crossover children per generation) must be an integer >= 0"),
        (["algo.fitness=fid"], "unknown algo.fitness 'fid'"),
        (["algo.selection=elitist"], "unknown algo.selection 'elitist'"),
        (
            ["algo.population_size=2", "algo.selection=children_only"],
            "algo.n_c must be >= population_size = 2",
        ),
        (["algo.mutations=[heuristic]"], "C(1, 2) = 0"),
        (
            ["algo.distill_reduction=median"],
            "unknown algo.distill_reduction 'median'; choose one of ['sum', 'mean']",
        ),
        (
            ["algo.crossover_start=random"],
            "unknown algo.crossover_start 'random'; choose one of ['fitter', 'worse']",
        ),
        (["algo.crossover_optimizer=keep"], "unknown algo.crossover_optimizer 'keep'"),
        (
            ["algo.crossover_teacher=best"],
            "unknown algo.crossover_teacher 'best'; choose one of ['filtered', 'split']",
        ),
        (
            ["algo.distill_step=newton"],
            "unknown algo.distill_step 'newton'; choose one of ['adam', 'line_search']",
        ),
    ],
)
def test_bad_input(tmp_path, overrides, needle):
    with pytest.raises(ConfigError) as err:
        cegan(overrides, tmp_path)
    assert needle in str(err.value)


def test_layout_shared_noise_and_reals(tmp_path):
    m = cegan(["algo.population_size=2", "algo.n_c=2"], tmp_path)
    assert m.generators.num_children == 6 + 2
    assert m.reals_per_generation == 16  # logit fitness needs no reals
    assert cegan(["algo.fitness=egan"], tmp_path).reals_per_generation == 16 + 32
    z = m.mutation_noise()  # one z per parent, shared by its 3 mutations
    assert z.shape == (6, 16, 2)
    assert torch.equal(z[0], z[1]) and torch.equal(z[0], z[2]) and not torch.equal(z[0], z[3])


def fake_mutants(m, fitness, logits, samples):
    k = len(fitness)
    return Candidates(
        torch.arange(1, 1 + k),
        ["minimax", "heuristic", "least_squares"][:k],
        torch.tensor(fitness),
        torch.zeros(k),
        None,
        samples,
        logits,
    )


def marked_population(m):
    """``m``'s population with slot s's Adam moments = s, step counts 10 s, and distinct mutants 1..3."""
    pop = m.generators
    with torch.no_grad():
        for s in range(pop.num_slots):
            pop.exp_avg[s].fill_(float(s))
            pop.step[s] = 10 * s
        pop.params[1:4].add_(torch.randn(3, pop.num_parameters))
    return pop


def test_crossover_starts_from_fitter_parent_and_leaves_parents_alone(tmp_path):
    m = cegan(["algo.n_c=2"], tmp_path)  # mu=1: mutants in slots 1..3, crossover children 4, 5
    pop = marked_population(m)
    n = 32
    samples = torch.randn(3, n, 2)
    logits = torch.randn(3, n)
    mutants = fake_mutants(m, [0.3, 0.1, 0.2], logits, samples)  # W: (0,1)=.4 (0,2)=.5 (1,2)=.3
    before = {k: v.clone() for k, v in [("p", pop.params[:4]), ("m", pop.exp_avg[:4]), ("s", pop.step[:4])]}
    samples_before, logits_before = samples.clone(), logits.clone()
    seen = {}

    # capture the children's state right before their step
    def distill(rows, z, teacher, reduction, step="adam"):
        seen.update(rows=rows, params=pop.params[rows].clone(), step=pop.step[rows].clone(), teacher=teacher)
        return torch.zeros(2)

    m.backend.distill = distill
    z = m.make_noise(n)
    cand, _, other = m.crossover(mutants, z, None)
    assert seen["rows"] == slice(4, 6)
    # pairs: (0,2) then (0,1); the fitter parent is mutant 0 (slot 1) both times
    assert torch.equal(seen["params"], before["p"][[1, 1]])
    assert seen["step"].tolist() == [10.0, 10.0]
    assert torch.equal(pop.exp_avg[4], before["m"][1])
    want0 = torch.where((logits[0] > logits[2]).unsqueeze(1), samples[0], samples[2])
    want1 = torch.where((logits[0] > logits[1]).unsqueeze(1), samples[0], samples[1])
    assert torch.equal(seen["teacher"][0], want0) and torch.equal(seen["teacher"][1], want1)
    # both children start from mutant 0: the rows the other parent (2, then 1) teaches
    taught_by_other = torch.cat([logits[0] <= logits[2], logits[0] <= logits[1]]).float().mean()
    assert other.item() == pytest.approx(taught_by_other.item())
    # crossover never modifies its parents (mutant rows and their cached samples/logits)
    assert torch.equal(pop.params[:4], before["p"]) and torch.equal(pop.exp_avg[:4], before["m"])
    assert torch.equal(pop.step[:4], before["s"])
    assert torch.equal(samples, samples_before) and torch.equal(logits, logits_before)
    assert cand.operators == ["crossover", "crossover"] and cand.slots.tolist() == [4, 5]
    assert cand.samples.shape == (2, n, 2)


@pytest.mark.parametrize("distill_step", ["adam", "line_search"])
def test_real_crossover_step_moves_child_towards_teacher(tmp_path, distill_step):
    # One parabola step is not a guaranteed descent on a non-convex loss: with 2 of 8 initialisations (global
    # seeds 0 and 6) the line-search child ends further from its teacher. The init is pinned so that the test
    # does not depend on which tests ran before it (docs/algorithms.md, CE-GAN, notes the limitation).
    torch.manual_seed(1)
    m = cegan([f"algo.distill_step={distill_step}"], tmp_path)
    pop = m.generators
    m.mutate()
    z = m.make_noise(32)
    mutants = m.evaluate(m.rows(0, 3), z.expand(3, *z.shape), m.mutation_names, None)
    seen = {}
    distill = m.backend.distill
    m.backend.distill = lambda rows, z, teacher, *a: (
        seen.update(z=z, t=teacher) or distill(rows, z, teacher, *a)
    )
    cand, loss, other = m.crossover(mutants, z, None)
    fitter = int(torch.argmax(mutants.fitness))
    # adam: the fitter parent's Adam state + 1 step; line_search: that state untouched
    assert pop.step[4].item() == pop.step[1 + fitter].item() + (distill_step == "adam")
    if distill_step == "line_search":  # the child is closer to its teacher than where it started
        with torch.no_grad():
            after = (pop.member(4)(seen["z"][0]) - seen["t"][0]).pow(2).sum()
        assert after < loss[0] * (1 if m.hp.distill_reduction == "sum" else seen["t"][0].numel())
    assert torch.isfinite(loss).all() and torch.isfinite(cand.fitness).all() and 0 <= other.item() <= 1
    assert cand.fitness.item() == pytest.approx(cand.logits.mean().item())  # mean logit, fresh noise


@pytest.mark.parametrize(
    "selection,operators",
    [
        ("comprehensive", ["minimax", "heuristic", "least_squares", "crossover"]),
        ("children_only", ["crossover"]),
        ("with_parents", ["minimax", "heuristic", "least_squares", "crossover", "parent"]),
    ],
)
def test_selection_pools(tmp_path, selection, operators):
    m = cegan([f"algo.selection={selection}"], tmp_path)
    rec = Recorder(m)
    noises, evaluate = [], m.backend.evaluate_logits
    m.backend.evaluate_logits = lambda rows, z: noises.append(z) or evaluate(rows, z)
    stats = m.generation_step(torch.randn(m.reals_per_generation, 2))
    _, cand, top = rec.calls[0]
    assert cand.operators == operators
    assert cand.fitness.shape == (len(operators),)
    torch.testing.assert_close(cand.fitness, cand.logits.mean(1))  # CE-GAN fitness: mean logit
    assert top.item() == int(torch.argmax(cand.fitness))
    assert m.operator_counts == {operators[top.item()]: 1}
    assert "loss/crossover" in stats
    mutant_z = noises[0]  # ONE noise batch shared by all mutants; fresh noise for the crossover child
    assert mutant_z.shape == (3, 32, 2) and torch.equal(mutant_z[0], mutant_z[2])
    assert not torch.equal(noises[1][0], mutant_z[0])
    if selection == "with_parents":  # parents re-evaluated on the mutants' noise
        assert torch.equal(noises[2][0], mutant_z[0])


def test_egan_fitness_option_uses_f_d(tmp_path):
    m = cegan(["algo.fitness=egan", "algo.gamma=0.5"], tmp_path)
    rec = Recorder(m)
    m.generation_step(torch.randn(m.reals_per_generation, 2))
    cand = rec.calls[0][1]
    torch.testing.assert_close(cand.fitness, cand.quality + 0.5 * cand.diversity)


def test_cli_toy_run(tmp_path):
    run_cli(["algo=cegan", "generations=12", *TINY, f"hydra.run.dir={tmp_path}", *FAST])
    m = read_metrics(tmp_path)
    assert m["generation"] == 12 and m["diverged/children"] == 0
    shares = {k.split("/")[1]: v for k, v in m.items() if k.startswith("operator_share/")}
    assert set(shares) <= {"minimax", "heuristic", "least_squares", "crossover"}
    assert sum(shares.values()) == pytest.approx(1.0)
    assert (tmp_path / "operators.png").stat().st_size > 1000


@pytest.mark.slow  # a CLI run on fake images; test_cli_toy_run stays in the default set
def test_cli_fake_images(tmp_path):
    run_cli(
        [
            "algo=cegan",
            "data=fake",
            "data.image_size=28",
            "data.channels=1",
            "algo.batch_size=8",
            "algo.eval_batch_size=8",
            *THREE,  # n_c=2 needs C(mu * n_m, 2) >= 2 pairs: the toy default's two mutations give one
            "algo.n_c=2",
            "algo.gradient_penalty=10",
            "generations=2",
            f"hydra.run.dir={tmp_path}",
            *FAST,
        ]
    )
    m = read_metrics(tmp_path)
    assert m["generation"] == 2 and m["diverged/children"] == 0 and "loss/crossover" in m


def test_exact_resume(tmp_path):
    assert_exact_resume(tmp_path, ["algo=cegan", "algo.population_size=2", "algo.n_c=2"])


@pytest.mark.slow  # four CLI jobs; the default suite sweeps in tests/integration/test_cli.py
def test_multirun_n_c_by_fitness(tmp_path):
    proc = run_cli(
        [
            "-m",
            "algo=cegan",
            "algo.n_c=1,2",
            "algo.fitness=cegan,egan",
            "algo.mutations=[minimax,heuristic,least_squares]",  # n_c=2 needs three mutants
            "generations=3",
            *TINY,
            f"hydra.sweep.dir={tmp_path}",
            *FAST,
        ]
    )
    jobs = sorted(p.parent for p in tmp_path.glob("*/metrics.json"))
    assert len(jobs) == 4, proc.stdout
    seen = set()
    for j in jobs:
        cfg = (j / "config.yaml").read_text()
        n_c = int(cfg.split("n_c: ")[1].split()[0])
        fitness = cfg.split("fitness: ")[1].split()[0]
        seen.add((n_c, fitness))
        assert ("fitness/diversity" in read_metrics(j)) == (fitness == "egan")
    assert seen == {(1, "cegan"), (2, "cegan"), (1, "egan"), (2, "egan")}


@pytest.mark.parametrize("start", ["fitter", "worse"])
@pytest.mark.parametrize("optimizer", ["inherit", "reset"])
def test_crossover_start_and_optimizer_variants(tmp_path, start, optimizer):
    m = cegan([f"algo.crossover_start={start}", f"algo.crossover_optimizer={optimizer}"], tmp_path)
    pop = marked_population(m)
    mutants = fake_mutants(m, [0.3, 0.1, 0.2], torch.randn(3, 32), torch.randn(3, 32, 2))  # best pair (0, 2)
    seen = {}

    def distill(rows, z, teacher, reduction, step="adam"):
        seen.update(params=pop.params[rows].clone(), m=pop.exp_avg[rows].clone(), step=pop.step[rows].clone())
        seen["reduction"] = reduction
        return torch.zeros(1)

    m.backend.distill = distill
    m.crossover(mutants, torch.randn(32, 2), None)
    source = 1 if start == "fitter" else 3  # mutant 0 (slot 1) is fitter than mutant 2 (slot 3)
    assert torch.equal(seen["params"][0], pop.params[source])
    if optimizer == "inherit":
        assert seen["step"].item() == 10 * source and (seen["m"] == source).all()
    else:  # a fresh Adam: the step is pure distillation
        assert seen["step"].item() == 0 and (seen["m"] == 0).all()
    assert seen["reduction"] == "sum"  # the toy default (Eq. 10)


def test_sum_distillation_steers_the_step_where_mean_leaves_it_to_momentum(tmp_path):
    """The audit's finding: with an Adam step on the mean the crossover child is its start parent plus the
    inherited Adam momentum; with the sum (Eq. 10) the distillation gradient steers the step. Measured as the
    cosine between the child's parameter change and the negative distillation gradient. The line-search
    step follows that gradient exactly, and takes the same step for both reductions."""
    cosine, steps = {}, {}
    for reduction, distill_step in (
        ("mean", "adam"),
        ("sum", "adam"),
        ("mean", "line_search"),
        ("sum", "line_search"),
    ):
        m = cegan([f"algo.distill_reduction={reduction}", f"algo.distill_step={distill_step}"], tmp_path)
        pop = m.generators
        torch.manual_seed(0)
        with torch.no_grad():
            pop.params[1:4].add_(1e-3 * torch.randn(3, pop.num_parameters))  # mutants one small step apart
            pop.exp_avg[1:4].normal_(0, 1e-3)  # inherited momentum of adversarial gradients ~1e-3
            pop.exp_avg_sq[1:4].fill_(1e-6)
            pop.step[1:4] = 100
        z = torch.randn(32, 2)
        with torch.no_grad():
            samples = torch.stack([pop.member(s)(z) for s in (1, 2, 3)])
        logits = torch.tensor([[-1.0] * 32, [0.0] * 32, [1.0] * 32])  # mutant 2 wins every row
        mutants = fake_mutants(m, [0.3, 0.1, 0.2], logits, samples)  # pair (0, 2), the child starts from 0
        child_row = m.rows(3, 1).start
        start = pop.params[1].clone()
        flat = start.clone().requires_grad_(True)
        from evogan_lightning.engine.functional import vmapped_generate

        x = vmapped_generate(pop, flat.unsqueeze(0), z.unsqueeze(0))[0]
        (grad,) = torch.autograd.grad((x - samples[2]).pow(2).sum(), flat)
        m.crossover(mutants, z, None)
        step = pop.params[child_row] - start
        key = reduction if distill_step == "adam" else f"{reduction}, line search"
        cosine[key] = torch.nn.functional.cosine_similarity(step, -grad, dim=0).item()
        steps[key] = step
    assert cosine["sum"] > 0.5 and cosine["sum"] > cosine["mean"] + 0.3, cosine
    assert cosine["sum, line search"] > 0.999 and cosine["mean, line search"] > 0.999, cosine
    torch.testing.assert_close(steps["sum, line search"], steps["mean, line search"], rtol=1e-3, atol=1e-7)
