"""A checkpoint written before the typed algorithm configs (tests/fixtures/README.md) keeps loading, and
resumes as the code of that time resumed it: options it lacks take their old code-side defaults.

The expected state was made on one CPU (tests/fixtures/README.md names it); another CPU may add floating-point
sums in another order (AVX-512 vs AVX2 kernels), so tensors are compared with a tolerance far below any
change of behaviour (1e-5 relative after two generations), while what is exact by its semantics (generation,
RNG state, the history's keys and generations) is compared exactly."""

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
    close = {"rtol": 1e-5, "atol": 1e-6}
    torch.testing.assert_close(got["state_dict"]["generators.params"], expected["generators.params"], **close)
    for key, value in expected["discriminator"].items():
        torch.testing.assert_close(got["state_dict"][key], value, **close, msg=key)
    assert torch.equal(got["evogan"]["rng_state"], expected["rng_state"])  # draws, not sums: exact anywhere
    history, old = got["evogan"]["history"], expected["history"]
    assert len(history) == len(old)
    for row, old_row in zip(
        history, old
    ):  # rows since gained operators/<name> shares (issue 26), nothing else
        assert set(old_row) <= set(row) and all(k.startswith("operators/") for k in set(row) - set(old_row))
        row = {k: row[k] for k in old_row}
        assert row["generation"] == old_row["generation"]
        torch.testing.assert_close(
            torch.tensor([float(row[k]) for k in sorted(row)]),
            torch.tensor([float(old_row[k]) for k in sorted(old_row)]),
            rtol=1e-4,
            atol=1e-6,
        )
