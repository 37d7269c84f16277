"""CUDA checks (``pytest -m gpu`` / ``make test-gpu`` on a machine with a GPU; skipped elsewhere).

The default suite runs on CPU; these repeat the properties that can differ on a GPU: the batched backend
(``auto`` picks it on CUDA) against the loop, population views surviving the move to the device, and DDP
over NCCL when two GPUs are present."""

import pytest
import torch
from conftest import FAST, read_metrics, run_cli
from test_backends import TINY

from evogan_lightning.config import compose
from evogan_lightning.train import train

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
