"""CUDA-graph readiness on the CPU (engine/capture.py): a whole generation of gan / egan / cegan runs through
the real Trainer without one host synchronisation (what ``torch.cuda.graph`` capture needs), the sync
detector catches what it should, survivor counts stay on the device, and ``algo.cuda_graph`` rejects runs
it cannot serve. The capture itself is checked on a GPU in tests/integration/test_gpu.py."""

import pytest
import torch
from helpers import BN_TINY, GAN_TINY, assert_same_state
from helpers import IMAGE_TINY as TINY

from evogan_lightning.algos.cegan import CEGAN
from evogan_lightning.algos.egan import EGAN
from evogan_lightning.algos.gan import GAN
from evogan_lightning.core.errors import ConfigError
from evogan_lightning.engine.capture import HostSyncError, forbid_host_sync
from evogan_lightning.evolution.tally import OperatorTally
from evogan_lightning.run.config import compose
from evogan_lightning.run.train import train

CLASSES = {"gan": GAN, "egan": EGAN, "cegan": CEGAN}


def run(tmp_path, algo, extra=(), generations=3):
    tiny = GAN_TINY if algo == "gan" else BN_TINY if "bn" in extra else TINY
    extra = [e for e in extra if e != "bn"]
    cfg = compose([f"algo={algo}", *tiny, f"generations={generations}", *extra], output_dir=str(tmp_path))
    return train(cfg)


def strict_generations(monkeypatch, cls):
    """Run every generation after the first under ``forbid_host_sync`` (the first one builds lazy state,
    as the eager warm-up before a capture does). Returns the list of generations checked."""
    original, checked = cls.generation_step, []

    def strict(self, real):
        if self.generation == 0:
            return original(self, real)
        with forbid_host_sync():
            out = original(self, real)
        checked.append(self.generation)
        return out

    monkeypatch.setattr(cls, "generation_step", strict)
    return checked


@pytest.mark.parametrize(
    "algo,extra",
    [
        ("gan", ()),
        ("gan", ("algo.gradient_penalty=10", "algo.loss=least_squares")),
        ("egan", ("algo.backend=loop",)),
        ("egan", ("algo.backend=batched",)),
        ("cegan", ("algo.backend=loop",)),
        ("cegan", ("algo.backend=batched", "algo.mutations=[minimax,heuristic,least_squares]", "algo.n_c=3")),
        ("cegan", ("algo.backend=loop", "algo.distill_step=line_search")),
        ("cegan", ("algo.backend=batched", "algo.distill_step=line_search")),
        ("cegan", ("algo.fitness=egan", "algo.selection=with_parents", "algo.gradient_penalty=10")),
        ("cegan", ("algo.selection=children_only", "algo.population_size=2", "algo.n_c=2")),
        ("cegan", ("bn", "algo.backend=loop")),
    ],
)
def test_generation_step_never_syncs_with_the_host(tmp_path, monkeypatch, algo, extra):
    checked = strict_generations(monkeypatch, CLASSES[algo])
    run(tmp_path, algo, extra)
    assert checked == [1, 2]


def test_the_old_host_side_survivor_count_would_be_caught(tmp_path, monkeypatch):
    """The check has teeth: counting survivors by name (``top.tolist()``, the pre-graph code) is a sync."""
    strict_generations(monkeypatch, EGAN)

    def host_count(self, operators, chosen):
        self.count_operators([operators[i] for i in chosen.tolist()])

    monkeypatch.setattr(EGAN, "count_survivors", host_count)
    with pytest.raises(HostSyncError, match="tolist"):
        run(tmp_path, "egan", ("algo.backend=loop",))


@pytest.mark.parametrize(
    "sync",
    [
        lambda t: t.sum().item(),
        lambda t: t.tolist(),
        lambda t: bool(t[0] > 0),
        lambda t: int(t.argmax()),
        lambda t: t.cpu(),
        lambda t: t.numpy(),
        lambda t: torch.nonzero(t > 0),
        lambda t: t[t > 0],  # boolean-mask indexing: data-dependent size
        lambda t: torch.masked_select(t, t > 0),
        lambda t: torch.unique(t),
    ],
)
def test_forbid_host_sync_catches_syncs(sync):
    t = torch.randn(8)
    with pytest.raises(HostSyncError), forbid_host_sync():
        sync(t)
    sync(t)  # and only inside the block


def test_forbid_host_sync_allows_device_work_and_optimizer_steps():
    w = torch.nn.Parameter(torch.randn(4))
    opt = torch.optim.Adam([w], lr=0.1)  # on a CPU Adam reads its step count with .item(): exempt
    with forbid_host_sync():
        loss = (w**2).sum()
        loss.backward()
        opt.step()
        top = torch.sort(w.detach(), descending=True, stable=True).indices[:2]
        w.detach().index_select(0, top).mul_(2)
    assert w.grad is not None and opt.state[w]["step"].item() == 1


def test_operator_tally_counts_on_the_device_and_round_trips():
    tally = OperatorTally()
    ops = ["minimax", "heuristic", "crossover", "crossover"]
    tally.add(ops, torch.tensor([2, 3]))
    tally.add(ops, torch.tensor([1, 2]))
    assert tally.as_dict() == {"crossover": 3, "heuristic": 1}
    codes = tally._codes[tuple(ops)]
    tally.add(ops, torch.tensor([0, 0]))
    assert tally._codes[tuple(ops)] is codes  # cached: no host-to-device copy after the first time
    tally.add_names(["minimax", "parent"])  # host-side counts merge with the device ones
    assert tally.as_dict() == {"crossover": 3, "heuristic": 1, "minimax": 3, "parent": 1}
    tally.add(["parent", "adversarial"], torch.tensor([1]))  # a new operator grows the vocabulary
    assert tally.as_dict() == {"crossover": 3, "heuristic": 1, "minimax": 3, "parent": 1, "adversarial": 1}
    tally.reset({"minimax": 5})  # as from a checkpoint
    assert tally.as_dict() == {"minimax": 5}
    tally.add(ops, torch.tensor([0]))
    assert tally.as_dict() == {"minimax": 6}


def test_cuda_graph_on_cpu_is_a_clear_error(tmp_path):
    with pytest.raises(ConfigError, match="needs a CUDA device.*trainer.accelerator=gpu"):
        run(
            tmp_path,
            "cegan",
            ("algo.cuda_graph=true", "algo.lr_schedule=constant", "trainer.accelerator=cpu"),
        )
    assert not (tmp_path / "metrics.json").exists()


@pytest.mark.parametrize(
    "overrides,needle",
    [
        (["algo=gagan", "algo.cuda_graph=true"], "not supported by algo=gagan"),
        (["algo=scgan", "algo.cuda_graph=true"], "not supported by algo=scgan"),
        (["algo=gan", "algo.cuda_graph=true"], "replays fixed learning rates.*algo.lr_schedule=constant"),
    ],
)
def test_cuda_graph_bad_input(tmp_path, overrides, needle):
    cfg = compose([*overrides, "logger=none", "callbacks=none"], output_dir=str(tmp_path))
    with pytest.raises(ConfigError, match=needle):
        train(cfg)


# -------------------------------------------------------------- GraphedGeneration's control flow, on CPU
class FakeCUDA:
    """Test doubles for the CUDA runtime calls GraphedGeneration makes (the real capture is checked by
    tests/integration/test_gpu.py on a GPU). Records what was called; replays re-run nothing."""

    def __init__(self, monkeypatch):
        self.events: list = []
        fake = self

        class Graph:
            def __init__(self):
                self.generators, self.replays = [], 0

            def register_generator_state(self, gen):
                self.generators.append(gen)

            def replay(self):
                self.replays += 1
                fake.events.append("replay")

        class graph:  # the context manager torch.cuda.graph(g)
            def __init__(self, g):
                self.g = g

            def __enter__(self):
                fake.events.append("capture_begin")

            def __exit__(self, *exc):
                fake.events.append("capture_end")

        class Stream:
            def __init__(self, device=None):
                pass

            def wait_stream(self, other):
                pass

        self.Graph = Graph
        # raising=True (the default): each faked name must exist in the installed torch
        monkeypatch.setattr(torch.cuda, "CUDAGraph", Graph)
        monkeypatch.setattr(torch.cuda, "graph", graph)
        monkeypatch.setattr(torch.cuda, "Stream", Stream)
        monkeypatch.setattr(torch.cuda, "current_stream", lambda device=None: Stream())
        monkeypatch.setattr(torch.cuda, "stream", lambda s: __import__("contextlib").nullcontext())
        monkeypatch.setattr(torch.cuda, "synchronize", lambda device=None: None)
        monkeypatch.setattr(
            torch.cuda, "set_sync_debug_mode", lambda mode: self.events.append(f"sync:{mode}")
        )
        monkeypatch.setattr(torch.cuda, "get_sync_debug_mode", lambda: "user")


class StepModule:
    algo_name = "stub"

    def __init__(self, events, fail_on_call=None):
        self.events, self.calls, self.fail_on_call = events, 0, fail_on_call
        self.rng = torch.Generator()

    def generation_step(self, real):
        self.calls += 1
        self.events.append(f"step{self.calls}")
        if self.calls == self.fail_on_call:
            raise RuntimeError("called a synchronizing CUDA operation")
        return {"loss/g": real.sum() * 0 + self.calls}


def test_graphed_generation_warms_up_captures_once_then_replays(monkeypatch):
    from evogan_lightning.engine.capture import WARMUP_GENERATIONS, GraphedGeneration

    assert WARMUP_GENERATIONS == 3 and hasattr(torch.cuda.CUDAGraph, "register_generator_state")
    cuda = FakeCUDA(monkeypatch)
    module = StepModule(cuda.events)
    run = GraphedGeneration(module.generation_step, module.rng, module.algo_name)
    outs = [run(torch.full((4, 2), float(g))) for g in range(6)]
    assert cuda.events == [
        "step1",
        "step2",
        "sync:error",  # the last warm-up generation runs with CUDA's sync check on
        "step3",
        "sync:user",  # and the user's own mode is restored
        "capture_begin",  # generation 4 is recorded (a real capture runs nothing) ...
        "step4",
        "capture_end",
        "replay",  # ... and replayed, like every generation after it
        "replay",
        "replay",
    ]
    assert [float(o["loss/g"]) for o in outs[:3]] == [1.0, 2.0, 3.0]
    assert all(o is run.static_stats for o in outs[3:])  # replays overwrite the captured outputs
    assert run.graph.generators == [module.rng]  # the run's own stream advances with every replay
    assert torch.equal(run.static_real, torch.full((4, 2), 5.0))  # each batch copied into the graph input
    with pytest.raises(RuntimeError, match="changed shape"):
        run(torch.zeros(3, 2))


def test_graphed_generation_names_a_step_that_syncs(monkeypatch):
    from evogan_lightning.engine.capture import GraphedGeneration

    cuda = FakeCUDA(monkeypatch)
    module = StepModule(cuda.events, fail_on_call=3)
    run = GraphedGeneration(module.generation_step, module.rng, module.algo_name)
    run(torch.zeros(2))
    run(torch.zeros(2))
    with pytest.raises(HostSyncError, match="algo=stub synchronises with the host.*Drop algo.cuda_graph"):
        run(torch.zeros(2))
    assert cuda.events[-1] == "sync:user"  # the check is switched off again


@pytest.mark.parametrize(
    "device,world,precision,needle",
    [
        ("cpu", 1, "32-true", "needs a CUDA device"),
        ("cuda", 2, "32-true", "runs on one device"),
        ("cuda", 1, "16-mixed", "needs trainer.precision=32-true"),
        ("cuda", 1, "bf16-mixed", "needs trainer.precision=32-true"),
    ],
)
def test_validate_cuda_graph_names_the_fix(device, world, precision, needle):
    from types import SimpleNamespace

    from evogan_lightning.algos.base import validate_cuda_graph

    module = SimpleNamespace(
        device=torch.device(device), world_size=world, trainer=SimpleNamespace(precision=precision)
    )
    with pytest.raises(ConfigError, match=needle):
        validate_cuda_graph(module)
    fine = SimpleNamespace(
        device=torch.device("cuda"), world_size=1, trainer=SimpleNamespace(precision="32-true")
    )
    validate_cuda_graph(fine)  # one GPU, fp32, a torch with graph-safe generators: accepted


def test_a_graphed_runs_checkpoint_resumes_on_a_cpu(tmp_path):
    """A graphed GPU run saves D's Adam with capturable=True; load_state_dict would bring that flag back
    and Adam refuses capturable on a CPU. on_train_start realigns it: the resumed run equals a straight one."""

    def train_to(name, generations, ckpt=None):
        ck = [
            "+callbacks.checkpoint._target_=evogan_lightning.callbacks.checkpoint.GenerationCheckpoint",
            f"+callbacks.checkpoint.dirpath={tmp_path / name}",
        ]
        extra = [*ck, "algo.backend=loop", *([f"ckpt_path={ckpt}"] if ckpt else [])]
        extra.append("algo.lr_schedule=constant")  # as a graphed run has (and 3 -> 5 extends the run)
        run(tmp_path / name, "cegan", extra, generations=generations)
        return tmp_path / name / "last.ckpt"

    straight = torch.load(train_to("straight", 5), weights_only=False)
    first = train_to("first", 3)
    state = torch.load(first, weights_only=False)
    for group in state["optimizer_states"][0]["param_groups"]:
        group["capturable"] = True  # as written by algo.cuda_graph=true
    torch.save(state, first)
    resumed = torch.load(train_to("resumed", 5, ckpt=first), weights_only=False)
    assert resumed["optimizer_states"][0]["param_groups"][0]["capturable"] is False
    # the history differs by the first run's closing row (generation 3), which a straight run has not
    assert_same_state(straight, resumed, history=False)
