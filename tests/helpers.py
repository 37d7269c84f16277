"""What the tests share: tiny configurations, module builders, the exact-resume check (one place, so a test
file never imports another test file)."""

import gzip
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import FAST, read_metrics
from omegaconf import OmegaConf

from evogan_lightning.core.errors import StoppedByUser
from evogan_lightning.data.datamodule import GANDataModule
from evogan_lightning.run.config import compose
from evogan_lightning.run.train import build_module

# 32x32 fake images, 8-wide EGAN32 nets, two parents: every algorithm's one-generation tests
IMAGE_TINY = [
    "data=fake",
    "data.image_size=32",
    "data.num_images=256",
    "net=egan32",
    "net.g_width=8",
    "net.d_width=8",
    "algo.batch_size=8",
    "algo.eval_batch_size=16",
    "algo.d_steps=1",
    "algo.population_size=2",
    "generations=3",
    "logger=none",
    "callbacks=none",
    "trainer.enable_progress_bar=false",
]

GAN_TINY = [t for t in IMAGE_TINY if not t.startswith(("algo.eval_batch_size", "algo.population_size"))]
# 28x28 nets: batch norm in the generator (integer num_batches_tracked buffers copied with the survivors)
BN_TINY = [
    *(t for t in IMAGE_TINY if not t.startswith(("net=", "data.image_size"))),
    "net=mnist28",
    "data.image_size=28",
    "data.channels=1",
]


# toy MLPs: E-GAN / CE-GAN one-generation tests
TINY = ["net=mlp", "net.hidden=16", "algo.batch_size=16", "algo.eval_batch_size=32"]


# the paper's three mutations (the toy default drops least squares; see test_toy_default_mutations)
THREE = ["algo.mutations=[minimax,heuristic,least_squares]"]


def make_module(overrides, tmp_path, algo="egan"):
    three = THREE if algo in ("egan", "cegan") else []  # the unit tests' slot arithmetic assumes three
    tiny = [t for t in TINY if algo != "gan" or not t.startswith("algo.eval_batch_size")]  # no fitness
    cfg = compose([f"algo={algo}", *tiny, *three, *overrides], output_dir=str(tmp_path))
    plain = OmegaConf.to_container(cfg, resolve=True)
    return build_module(plain, GANDataModule(plain["data"]).info())


class Recorder:
    def __init__(self, module):
        self.calls = []
        module.train_discriminator = self.train_d

    def train_d(self, real_d, cand, top):
        self.calls.append((real_d, cand, top))
        return torch.tensor(0.5)


def ckpt_state(path: Path) -> dict:
    """A checkpoint file as a dict (on the CPU)."""
    return torch.load(path, map_location="cpu", weights_only=False)


def whole_and_resumed(tmp_path, common, full_gens, part_gens):
    """train() in process twice: ``full_gens`` generations in one go (``tmp_path/full``) and stopped at
    ``part_gens`` as by Ctrl-C, then resumed to ``full_gens`` (``tmp_path/part``). Returns both folders."""
    from evogan_lightning.run.train import train

    def run(out, ckpt=None, stop_at=None):
        extra = ["~callbacks.samples", "~callbacks.interpolation"] + ([f"ckpt_path={ckpt}"] if ckpt else [])
        if stop_at:  # interrupted as by Ctrl-C: same generations, so the same (decaying) lr schedule
            extra += ["+callbacks.stop._target_=conftest.StopAt", f"+callbacks.stop.generation={stop_at}"]
        train(compose([f"generations={full_gens}", *common, *extra], output_dir=str(out)))

    full, part = tmp_path / "full", tmp_path / "part"
    run(full)
    with pytest.raises(StoppedByUser, match=f"stopped at generation {part_gens} of {full_gens}"):
        run(part, stop_at=part_gens)
    run(part, part / "checkpoints/last.ckpt")
    return full, part


def assert_same_state(a: dict, b: dict, *, optimizer: bool = True, history: bool = True) -> None:
    """Two checkpoints (``torch.load`` dicts) hold the same run state bit for bit: generation, parameters and
    buffers (NaN equals NaN: a GAGAN offspring not scored yet), optimizer moments, the random stream,
    operator counts and (``history``) every logged row. For runs on the same machine only."""
    assert a["evogan"]["generation"] == b["evogan"]["generation"]
    assert a["state_dict"].keys() == b["state_dict"].keys()
    for k, v in a["state_dict"].items():
        torch.testing.assert_close(v, b["state_dict"][k], rtol=0, atol=0, equal_nan=True, msg=k)
    if optimizer:
        for oa, ob in zip(a["optimizer_states"], b["optimizer_states"], strict=True):
            for pid, sa in oa["state"].items():
                for key, va in sa.items():
                    vb = ob["state"][pid][key]
                    assert torch.equal(torch.as_tensor(va), torch.as_tensor(vb)), (pid, key)
    assert torch.equal(a["evogan"]["rng_state"], b["evogan"]["rng_state"])
    assert a["evogan"].get("operator_counts") == b["evogan"].get("operator_counts")
    if history:  # repr: NaN rows compare equal
        assert repr(a["evogan"]["history"]) == repr(b["evogan"]["history"])


def assert_exact_resume(tmp_path, overrides, full_gens=9, part_gens=5):
    """train() in process: ``full_gens`` generations in one go equal ``part_gens`` + resume."""
    common = [
        *TINY,
        *FAST,
        *overrides,
        "callbacks.checkpoint.every_n_generations=1",
        "log_every_n_generations=1",
    ]

    full, part = whole_and_resumed(tmp_path, common, full_gens, part_gens)
    a, b = ckpt_state(full / "checkpoints/last.ckpt"), ckpt_state(part / "checkpoints/last.ckpt")
    assert_same_state(a, b)
    chart = [v for k, v in a["callbacks"].items() if "OperatorChart" in k]
    chart_b = [v for k, v in b["callbacks"].items() if "OperatorChart" in k]
    assert chart and chart == chart_b  # the operator record survives the resume
    assert read_metrics(full) == {**read_metrics(part), "train_seconds": read_metrics(full)["train_seconds"]}


def random_inception_weights(path: Path) -> None:
    """A state dict of torch-fidelity's Inception architecture with random values (no download)."""
    from torch_fidelity.feature_extractor_inceptionv3 import FeatureExtractorInceptionV3

    original = FeatureExtractorInceptionV3.load_state_dict
    FeatureExtractorInceptionV3.load_state_dict = lambda self, state: None
    try:
        torch.save(FeatureExtractorInceptionV3("inception-v3-compat", ["2048"], str(path)).state_dict(), path)
    finally:
        FeatureExtractorInceptionV3.load_state_dict = original


def run_main_in_process(argv: list[str], capsys, monkeypatch) -> tuple[int, str]:
    """``python -m evogan_lightning ARGV`` in this process (Hydra's entry point with ``sys.argv`` patched):
    (exit status, stdout + stderr). For the checks that fail before training, where a subprocess would
    spend its time importing torch; tests/integration/test_cli.py keeps real-CLI cases too."""
    from hydra.core.global_hydra import GlobalHydra

    from evogan_lightning.__main__ import main

    GlobalHydra.instance().clear()
    monkeypatch.setattr(sys, "argv", ["evogan_lightning", *argv])
    code = 0
    try:
        main()
    except SystemExit as done:
        code = done.code if isinstance(done.code, int) else 1
    finally:
        GlobalHydra.instance().clear()
    out = capsys.readouterr()
    return code, out.out + out.err


# ---------------------------------------------------------------------------------------------- image files
def _write(folder: Path, stem: str, data: bytes) -> None:
    (folder / f"{stem}.gz").write_bytes(gzip.compress(data))


def tiny_fashion(folder: Path, n_train: int = 60, n_test: int = 40) -> Path:
    """Fashion-MNIST files (real IDX format) whose class c image is bright in column band c (10 classes)."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    for stem, n in (("train", n_train), ("t10k", n_test)):
        labels = np.arange(n, dtype=np.uint8) % 10
        images = rng.integers(0, 40, size=(n, 28, 28), dtype=np.uint8)
        for i, c in enumerate(labels):
            images[i, :, 2 * c : 2 * c + 3] = 250
        _write(
            folder,
            f"{stem}-images-idx3-ubyte",
            bytes([0, 0, 8, 3]) + b"".join(int(d).to_bytes(4, "big") for d in (n, 28, 28)) + images.tobytes(),
        )
        _write(
            folder, f"{stem}-labels-idx1-ubyte", bytes([0, 0, 8, 1]) + n.to_bytes(4, "big") + labels.tobytes()
        )
    return folder
