"""The README's "Python API" example runs as written, and the API's refusals name the fix (issue 26)."""

from __future__ import annotations

import re

import lightning as L
import pytest
from conftest import REPO

from evogan_lightning import CEGAN, EGAN, GAN, load_checkpoint
from evogan_lightning.core.errors import ConfigError
from evogan_lightning.data.datamodule import GANDataModule


def test_the_readme_example_runs(capsys):
    text = (REPO / "README.md").read_text()
    section = text.split("## Python API", 1)[1]
    code = re.search(r"```python\n(.*?)```", section, re.S).group(1)
    assert len(code.strip().splitlines()) <= 10
    exec(compile(code, "README.md", "exec"), {})
    out = capsys.readouterr().out
    assert "300 (1000, 2)" in out


def test_create_takes_the_yaml_defaults_and_checks_options():
    model = CEGAN.create(generations=5)
    assert model.hp.distill_step == "line_search" and list(model.hp.mutations) == ["minimax", "heuristic"]
    assert model.reals_per_generation == 64 and model.datamodule().batch_size == 64
    with pytest.raises(ConfigError, match="unknown algo option.*n_cc \\(did you mean n_c\\?\\)"):
        CEGAN.create(n_cc=1)
    with pytest.raises(ConfigError, match="unknown data 'rings'"):
        GAN.create(data="rings")


def test_a_data_module_with_another_batch_size_is_refused(tmp_path):
    model = GAN.create(generations=2, batch_size=128)
    trainer = L.Trainer(max_epochs=-1, logger=False, enable_checkpointing=False, enable_progress_bar=False)
    with pytest.raises(
        ConfigError, match="feeds 64 real samples per generation but GAN needs 128.*model.datamodule"
    ):
        trainer.fit(model, GANDataModule({"name": "ring8"}, batch_size=64))


def test_the_wrong_class_names_the_right_one(tmp_path):
    model = CEGAN.create(generations=3)
    trainer = L.Trainer(max_epochs=-1, logger=False, enable_checkpointing=False, enable_progress_bar=False)
    trainer.fit(model, model.datamodule())
    path = tmp_path / "cegan.ckpt"
    trainer.save_checkpoint(path)
    with pytest.raises(
        ConfigError, match="for algo=cegan, not EGAN: use evogan_lightning.CEGAN.load_from_checkpoint"
    ):
        EGAN.load_from_checkpoint(path)
    again = load_checkpoint(path)
    assert type(again).__name__ == "CEGAN" and again.generation == 3
