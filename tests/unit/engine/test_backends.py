"""The batched (vmap) backend gives the loop backend's results on CPU, and refuses nets it cannot vmap."""

import pytest
import torch
from helpers import IMAGE_TINY

from evogan_lightning.core.errors import ConfigError
from evogan_lightning.run.config import compose
from evogan_lightning.run.train import train

TINY = IMAGE_TINY


def run(tmp_path, algo, backend, extra=()):
    out = tmp_path / f"{algo}_{backend}"
    cfg = compose(
        [
            f"algo={algo}",
            f"algo.backend={backend}",
            *TINY,
            *extra,
            "+callbacks.checkpoint._target_=evogan_lightning.callbacks.checkpoint.GenerationCheckpoint",
            f"+callbacks.checkpoint.dirpath={out}/ck",
        ],
        output_dir=str(out),
    )
    train(cfg)
    return torch.load(out / "ck" / "last.ckpt", map_location="cpu", weights_only=False)


@pytest.mark.parametrize(
    "algo,extra",
    [
        ("egan", ()),
        ("cegan", ("algo.fitness=egan",)),
        ("cegan", ()),
        ("cegan", ("algo.distill_step=line_search",)),
    ],
)
def test_batched_matches_loop(tmp_path, algo, extra):
    loop, batched = run(tmp_path, algo, "loop", extra), run(tmp_path, algo, "batched", extra)
    # Conv biases that feed batch norm get ~0 gradients whose float noise Adam amplifies: not comparable;
    # D's running statistics are never read (D stays in train mode) and the batched path leaves them alone.
    for key, value in loop["state_dict"].items():
        if (
            value.is_floating_point()
            and not (key.startswith("discriminator") and key.endswith("bias"))
            and "running_" not in key
        ):
            torch.testing.assert_close(
                batched["state_dict"][key], value, rtol=1e-3, atol=1e-4, equal_nan=True, msg=key
            )
    assert loop["evogan"]["operator_counts"] == batched["evogan"]["operator_counts"]


def test_batched_rejects_batch_norm_generator_before_training(tmp_path):
    cfg = compose(
        [
            "algo=egan",
            "algo.backend=batched",
            "data=fake",
            "data.image_size=28",
            "data.channels=1",
            "net=mnist28",
            "generations=2",
            "logger=none",
            "callbacks=none",
        ],
        output_dir=str(tmp_path),
    )
    with pytest.raises(ConfigError, match="algo.backend=loop"):
        train(cfg)


def test_an_unknown_distillation_step_cannot_fall_through():
    """One registry (engine/backend.DISTILL_STEPS) lists, defaults and dispatches algo.distill_step; a value
    outside it is an error, never silently the line search."""
    from evogan_lightning.algos.config import CEGANConfig
    from evogan_lightning.engine.backend import DEFAULT_DISTILL_STEP, DISTILL_STEPS, distill_update

    assert set(DISTILL_STEPS) == {"adam", "line_search"} and DEFAULT_DISTILL_STEP == "adam"
    assert {f.name: f.default for f in __import__("dataclasses").fields(CEGANConfig)}[
        "distill_step"
    ] == "adam"
    with pytest.raises(
        ValueError, match="unknown algo.distill_step 'newton'; choose one of \\['adam', 'line_search'\\]"
    ):
        distill_update("newton")
