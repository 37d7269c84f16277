"""A checkpoint written before the typed algorithm configs (tests/fixtures/README.md) keeps loading, and
resumes bit for bit as the code of that time resumed it: options it lacks take their old code-side defaults."""

import shutil
from pathlib import Path

import torch
from conftest import FAST, run_cli
from helpers import ckpt_state

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
OLD = FIXTURES / "cegan_before_typed_config.ckpt"


def test_an_old_checkpoint_resumes_to_the_same_numbers(tmp_path):
    run = tmp_path / "run"
    (run / "checkpoints").mkdir(parents=True)
    shutil.copy(OLD, run / "checkpoints" / "last.ckpt")
    run_cli([f"ckpt_path={run}/checkpoints/last.ckpt", "generations=4", f"hydra.run.dir={run}", *FAST])
    got = ckpt_state(run / "checkpoints" / "last.ckpt")
    expected = torch.load(FIXTURES / "cegan_before_typed_config_resumed.pt", weights_only=False)
    assert got["evogan"]["generation"] == expected["generation"] == 4
    assert torch.equal(got["state_dict"]["generators.params"], expected["generators.params"])
    for key, value in expected["discriminator"].items():
        assert torch.equal(got["state_dict"][key], value), key
    assert torch.equal(got["evogan"]["rng_state"], expected["rng_state"])
    assert repr(got["evogan"]["history"]) == repr(expected["history"])
