"""Resuming takes the checkpoint's settings, plus only the overrides typed now (evogan_lightning/run/resume.py)."""

import pytest

from evogan_lightning.core.errors import ConfigError
from evogan_lightning.run.resume import resume_config

SAVED = {
    "algo": {"name": "egan", "population_size": 2, "backend": "loop", "mutations": ["heuristic", "minimax"]},
    "net": {"name": "auto"},
    "data": {"name": "grid25", "root": "data"},
    "seed": 4,
}
# what Hydra composes for `ckpt_path=... generations=...` alone: the defaults (cegan on ring8, seed 0)
DEFAULTS = {
    "algo": {"name": "cegan", "population_size": 1, "backend": "auto", "n_c": 1},
    "net": {"name": "auto"},
    "data": {"name": "ring8", "root": "data"},
    "seed": 0,
    "generations": 500,
    "trainer": {"accelerator": "cpu"},
}


def test_untyped_settings_come_from_the_checkpoint():
    out = resume_config(DEFAULTS, SAVED, ["ckpt_path=x.ckpt", "generations=500"])
    assert {k: out[k] for k in ("algo", "net", "data", "seed")} == SAVED
    assert out["generations"] == 500 and out["trainer"] == DEFAULTS["trainer"]  # not part of the experiment


def test_typed_keys_that_do_not_change_results_apply():
    egan_defaults = {"name": "egan", "population_size": 1, "backend": "batched", "mutations": ["minimax"]}
    plain = {**DEFAULTS, "data": {"name": "ring8", "root": "/elsewhere"}, "algo": egan_defaults}
    out = resume_config(plain, SAVED, ["algo=egan", "algo.backend=batched", "data.root=/elsewhere"])
    # algo=egan names the checkpoint's algorithm: its trained settings stay (population 2), not egan's defaults
    assert out["algo"] == {**SAVED["algo"], "backend": "batched"}
    assert out["data"] == {"name": "grid25", "root": "/elsewhere"}


@pytest.mark.parametrize(
    "typed,plain_changes,needle",
    [
        (["data=ring8"], {}, "data=ring8 (checkpoint: data=grid25)"),
        (["algo=cegan"], {}, "algo=cegan (checkpoint: algo=egan)"),
        (["seed=0"], {}, "seed=0 (checkpoint: 4)"),
        (
            ["algo.population_size=3"],
            {"algo": {"name": "cegan", "population_size": 3}},
            "algo.population_size=3",
        ),
        (
            ["+algo.mutations=[heuristic]"],
            {"algo": {"mutations": ["heuristic"]}},
            "algo.mutations=['heuristic']",
        ),
    ],
)
def test_typed_keys_that_change_the_experiment_are_refused(typed, plain_changes, needle):
    plain = {**DEFAULTS, **plain_changes}
    with pytest.raises(ConfigError, match="would change it") as err:
        resume_config(plain, SAVED, typed)
    assert needle in str(err.value)


def test_outside_hydra_every_setting_must_match():
    same = {**SAVED, "generations": 9}
    assert resume_config(same, SAVED, None)["algo"] == SAVED["algo"]
    with pytest.raises(ConfigError, match=r"algo.population_size=1 \(checkpoint: 2\)"):
        resume_config({**same, "algo": {**SAVED["algo"], "population_size": 1}}, SAVED, None)


def test_net_auto_and_the_explicit_family_with_its_defaults_are_the_same_architecture():
    from evogan_lightning.algos.base import check_architecture

    arch = {"algo": "gan", "net": "mlp", "latent_dim": 2, "shape": [2], "population_size": 1}
    auto_run = {**arch, "net_options": {}}  # what a net=auto checkpoint stores
    from evogan_lightning.nets import mlp

    spelled_out = {**arch, "net_options": dict(mlp.DEFAULTS)}
    assert check_architecture(auto_run, spelled_out) is None
    narrower = {**arch, "net_options": {"hidden": 64}}
    assert "net_options" in check_architecture(auto_run, narrower)
    other = {**arch, "net": "egan32", "net_options": {}}
    assert "net: checkpoint 'mlp' vs config 'egan32'" in check_architecture(auto_run, other)


@pytest.mark.slow  # two CLI runs; tests/integration/test_old_checkpoint.py migrates an old checkpoint by default
def test_checkpoint_written_before_the_mlp_width_change_still_loads_and_resumes(tmp_path):
    """Version-1 checkpoints of net=auto toy runs stored no net options, and the MLP was 512 wide then."""
    import torch
    from conftest import FAST, read_metrics, run_cli

    from evogan_lightning.algos.base import CHECKPOINT_KEY
    from evogan_lightning.tools.sample import load_module

    run = tmp_path / "old"
    run_cli(["algo=gan", "net=mlp", "net.hidden=512", "generations=3", f"hydra.run.dir={run}", *FAST])
    ckpt_path = run / "checkpoints" / "last.ckpt"
    ckpt = torch.load(ckpt_path, map_location="cpu", weights_only=False)
    reference = load_module(ckpt_path).sample(64)
    # rewrite it as the code before 2026-12-03 wrote a net=auto run: version 1, no net options
    ckpt[CHECKPOINT_KEY]["version"] = 1
    ckpt[CHECKPOINT_KEY]["architecture"]["net_options"] = {}
    ckpt["hyper_parameters"]["cfg"]["net"] = {"name": "auto"}
    for key in ("r1_penalty", "lr_schedule"):  # options that did not exist then
        ckpt["hyper_parameters"]["cfg"]["algo"].pop(key)
    torch.save(ckpt, ckpt_path)

    module = load_module(ckpt_path)
    assert module.generators.member(0).net[0].out_features == 512
    assert torch.equal(module.sample(64), reference)
    assert module.hp.lr_schedule == "constant"  # the old behaviour for options it lacks
    run_cli([f"ckpt_path={ckpt_path}", "generations=5", f"hydra.run.dir={run}", *FAST])
    assert read_metrics(run)["generation"] == 5
