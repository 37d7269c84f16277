"""CUDA-graph readiness on the CPU (algos/capture.py): a whole generation of gan / egan / cegan runs through
the real Trainer without one host synchronisation (what ``torch.cuda.graph`` capture needs), the sync
detector catches what it should, survivor counts stay on the device, and ``algo.cuda_graph`` rejects runs
it cannot serve. The capture itself is checked on a GPU in tests/test_gpu.py."""

import pytest
import torch
from test_backends import TINY

from evogan_lightning.algos.capture import HostSyncError, forbid_host_sync
from evogan_lightning.algos.cegan import CEGAN
from evogan_lightning.algos.egan import EGAN
from evogan_lightning.algos.gan import GAN
from evogan_lightning.config import compose
from evogan_lightning.errors import ConfigError
from evogan_lightning.evolution.tally import OperatorTally
from evogan_lightning.train import train

GAN_TINY = [t for t in TINY if not t.startswith(("algo.eval_batch_size", "algo.population_size"))]
# 28x28 nets: batch norm in the generator (integer num_batches_tracked buffers copied with the survivors)
BN_TINY = [
    *(t for t in TINY if not t.startswith(("net=", "data.image_size"))),
    "net=mnist28",
    "data.image_size=28",
    "data.channels=1",
]
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
        ("cegan", ("algo.backend=batched", "algo.n_c=3")),
        ("cegan", ("algo.fitness=egan", "algo.selection=with_parents", "algo.gradient_penalty=10")),
        ("cegan", ("algo.selection=children_only", "algo.n_c=2")),
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
        run(tmp_path, "cegan", ("algo.cuda_graph=true", "trainer.accelerator=cpu"))
    assert not (tmp_path / "metrics.json").exists()


@pytest.mark.parametrize(
    "overrides,needle",
    [
        (["algo=gagan", "+algo.cuda_graph=true"], "not supported by algo=gagan"),
        (["algo=scgan", "+algo.cuda_graph=true"], "not supported by algo=scgan"),
        (["algo=cegan", "algo.cuda_graph=maybe"], "algo.cuda_graph must be true or false"),
    ],
)
def test_cuda_graph_bad_input(tmp_path, overrides, needle):
    cfg = compose([*overrides, "logger=none", "callbacks=none"], output_dir=str(tmp_path))
    with pytest.raises(ConfigError, match=needle):
        train(cfg)
