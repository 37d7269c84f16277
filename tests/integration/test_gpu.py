"""CUDA checks (``pytest -m gpu`` / ``make test-gpu`` on a machine with a GPU; skipped elsewhere).

The default suite runs on CPU; these repeat the properties that can differ on a GPU: the batched backend
(``auto`` picks it on CUDA) against the loop, population views surviving the move to the device, and DDP
over NCCL when two GPUs are present."""

import pytest
import torch
from conftest import FAST, read_metrics, run_cli
from helpers import BN_TINY, GAN_TINY
from helpers import IMAGE_TINY as TINY

from evogan_lightning.run.config import compose
from evogan_lightning.run.train import train

pytestmark = [
    pytest.mark.gpu,
    pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device"),
]


def run_cuda(tmp_path, algo, backend):
    out = tmp_path / f"{algo}_{backend}"
    cfg = compose(
        [
            f"algo={algo}",
            f"algo.backend={backend}",
            *TINY,
            "trainer.accelerator=gpu",
            "trainer.devices=1",
            "+callbacks.checkpoint._target_=evogan_lightning.callbacks.checkpoint.GenerationCheckpoint",
            f"+callbacks.checkpoint.dirpath={out}/ck",
        ],
        output_dir=str(out),
    )
    train(cfg)
    return torch.load(out / "ck" / "last.ckpt", map_location="cpu", weights_only=False)


@pytest.mark.parametrize("algo", ["egan", "cegan"])
def test_batched_matches_loop_on_cuda(tmp_path, algo):
    torch.backends.cudnn.allow_tf32 = torch.backends.cuda.matmul.allow_tf32 = False
    loop, batched = run_cuda(tmp_path, algo, "loop"), run_cuda(tmp_path, algo, "batched")
    for key, value in loop["state_dict"].items():
        if key.startswith("generators") and value.is_floating_point():
            torch.testing.assert_close(batched["state_dict"][key], value, rtol=1e-3, atol=1e-4, msg=key)
    assert loop["evogan"]["operator_counts"] == batched["evogan"]["operator_counts"]


@pytest.mark.parametrize("algo", ["gan", "egan", "cegan", "gagan", "scgan"])
def test_every_algorithm_trains_on_cuda(tmp_path, algo):
    run_cli([f"algo={algo}", "generations=20", "trainer.accelerator=gpu", f"hydra.run.dir={tmp_path}", *FAST])
    assert read_metrics(tmp_path)["generation"] == 20


@pytest.mark.skipif(torch.cuda.device_count() < 2, reason="needs two GPUs")
@pytest.mark.parametrize("algo", ["egan", "cegan", "gagan"])
def test_two_gpus_stay_identical(tmp_path, algo):
    check = "+callbacks.consistency._target_=evogan_lightning.callbacks.consistency.RankConsistencyCheck"
    run_cli(
        [
            f"algo={algo}",
            "generations=6",
            "trainer.accelerator=gpu",
            "trainer.devices=2",
            check,
            f"hydra.run.dir={tmp_path}",
            *FAST,
        ]
    )
    assert read_metrics(tmp_path)["generation"] == 6


# ------------------------------------------------------------------------------------ algo.cuda_graph
GRAPH_CASES = [
    ("gan", ()),
    ("egan", ("algo.backend=batched",)),
    ("egan", ("algo.backend=loop",)),
    ("cegan", ("algo.backend=batched",)),
    ("cegan", ("algo.backend=batched", "algo.gradient_penalty=10", "algo.selection=with_parents")),
    ("cegan", ("bn", "algo.backend=loop")),  # batch norm in G (28x28 nets)
]


def run_graph(tmp_path, name, algo, extra, graph, generations=9, ckpt_path=None, every=100):

    out = tmp_path / name
    tiny = GAN_TINY if algo == "gan" else BN_TINY if "bn" in extra else TINY
    extra = [e for e in extra if e != "bn"]
    overrides = [
        f"algo={algo}",
        *tiny,
        *extra,
        f"algo.cuda_graph={str(graph).lower()}",
        "algo.lr_schedule=constant",  # graphs replay fixed learning rates
        f"generations={generations}",
        "trainer.accelerator=gpu",
        "trainer.devices=1",
        "+callbacks.checkpoint._target_=evogan_lightning.callbacks.checkpoint.GenerationCheckpoint",
        f"+callbacks.checkpoint.dirpath={out}/ck",
        f"+callbacks.checkpoint.every_n_generations={every}",
    ]
    if ckpt_path is not None:
        overrides.append(f"ckpt_path={ckpt_path}")
    train(compose(overrides, output_dir=str(out)))
    return torch.load(out / "ck" / "last.ckpt", map_location="cpu", weights_only=False)


def assert_same_run(a, b, rtol=1e-4, atol=1e-5):
    for key, value in a["state_dict"].items():
        if value.is_floating_point():
            torch.testing.assert_close(b["state_dict"][key], value, rtol=rtol, atol=atol, msg=key)
    assert a["evogan"]["generation"] == b["evogan"]["generation"]
    assert a["evogan"]["operator_counts"] == b["evogan"]["operator_counts"]
    assert torch.equal(a["evogan"]["rng_state"], b["evogan"]["rng_state"])  # same random numbers drawn


@pytest.mark.parametrize("algo,extra", GRAPH_CASES)
def test_cuda_graph_matches_eager(tmp_path, algo, extra):
    """3 eager warm-up generations, one capture, 5 replays: the same parents, D, operator counts and random
    stream as 9 eager generations."""
    torch.backends.cudnn.deterministic, torch.backends.cudnn.benchmark = True, False
    torch.backends.cudnn.allow_tf32 = torch.backends.cuda.matmul.allow_tf32 = False
    eager = run_graph(tmp_path, "eager", algo, extra, graph=False)
    graphed = run_graph(tmp_path, "graph", algo, extra, graph=True)
    assert_same_run(eager, graphed)


@pytest.mark.parametrize("first_graphed", [True, False])
def test_cuda_graph_run_resumes_exactly(tmp_path, first_graphed):
    """6 generations (graphed, or eager: its saved Adam state says capturable=False and on_train_start
    realigns it, moving the step counts to the GPU), resumed graphed to 12 == 12 straight generations."""
    torch.backends.cudnn.deterministic, torch.backends.cudnn.benchmark = True, False
    extra = ("algo.backend=batched",)
    straight = run_graph(tmp_path, "straight", "cegan", extra, graph=first_graphed, generations=12)
    run_graph(tmp_path, "first", "cegan", extra, graph=first_graphed, generations=6)
    ckpt = tmp_path / "first/ck/last.ckpt"
    resumed = run_graph(tmp_path, "second", "cegan", extra, graph=True, generations=12, ckpt_path=ckpt)
    assert_same_run(straight, resumed)


def test_cuda_graph_rejects_a_step_that_syncs(tmp_path, monkeypatch):
    from evogan_lightning.algos.egan import EGAN
    from evogan_lightning.engine.capture import HostSyncError

    def host_count(self, operators, chosen):
        self.count_operators([operators[i] for i in chosen.tolist()])

    monkeypatch.setattr(EGAN, "count_survivors", host_count)
    with pytest.raises(HostSyncError, match="cannot be captured"):
        run_graph(tmp_path, "sync", "egan", ("algo.backend=batched",), graph=True)
