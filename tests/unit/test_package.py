"""The package's top level: its version and the algorithm classes, imported on first use."""

import os
import re
import subprocess
import sys

import lightning as L
import pytest
from conftest import REPO


def test_version_is_the_projects_and_the_algorithms_are_lightning_modules():
    import evogan_lightning as pkg

    (version,) = re.findall(r'^version = "(.+)"$', (REPO / "pyproject.toml").read_text(), re.M)
    assert pkg.__version__ == version
    for name in ("GAN", "EGAN", "CEGAN", "GAGAN", "SCGAN"):
        cls = getattr(pkg, name)
        assert cls.__name__ == name and issubclass(cls, L.LightningModule)
        assert name in pkg.__all__
    with pytest.raises(AttributeError, match="no attribute 'WGAN'"):
        pkg.WGAN  # noqa: B018


def test_importing_the_package_does_not_import_torch():
    code = "import sys, evogan_lightning; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_the_command_line_composes_a_config_without_lightning():
    """Hydra's entry point and the typed schemas load without Lightning, so a bad override is refused before
    the slow import (algos/__init__ imports an algorithm class on first use)."""
    code = (
        "import sys, evogan_lightning.__main__, evogan_lightning.algos as a; "
        "print('lightning' in sys.modules, a.EvoGANModule.__name__, 'lightning' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=REPO)
    assert out.stdout.split() == ["False", "EvoGANModule", "True"]


@pytest.mark.parametrize(
    "arg,needle",
    [
        ("generations=0", "generations must be an integer >= 1"),
        ("seed=-1", "seed must be a whole number"),
        ("matmul_precision=fast", "matmul_precision must be one of"),
    ],
)
def test_a_bad_top_level_value_is_refused_before_lightning_is_imported(tmp_path, arg, needle):
    """``tools.train_cli`` checks generations, seed and matmul precision before ``run.train`` imports
    Lightning (about 6 s of a refused command): ``-X importtime`` lists every module the process imported."""
    proc = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "evogan_lightning", arg, f"hydra.run.dir={tmp_path}/r"],
        capture_output=True,
        text=True,
        cwd=REPO,
        env={**os.environ, "OMP_NUM_THREADS": "1"},
    )
    assert proc.returncode == 2 and needle in proc.stderr
    imported = {line.rsplit("|", 1)[-1].strip() for line in proc.stderr.splitlines() if "|" in line}
    assert "torch" in imported  # the listing is real
    assert "lightning" not in imported and "lightning.pytorch" not in imported
    assert not (tmp_path / "r").exists()


def test_the_tools_are_console_scripts_and_modules_with_no_shims_at_the_top():
    """``evogan-<tool>`` (pyproject's scripts) and ``python -m evogan_lightning.tools.<tool>`` run the same
    ``main``; the package top holds no thin re-export modules (issue 27)."""
    import importlib

    section = (REPO / "pyproject.toml").read_text().split("[project.scripts]", 1)[1].split("\n[", 1)[0]
    scripts = dict(re.findall(r'^([\w-]+) = "([^"]+)"$', section, re.M))
    tools = ("evaluate", "sample", "summarize", "benchmark", "train_classifier", "study")
    for name in tools:
        target = scripts[f"evogan-{name.replace('_', '-')}"]
        assert target == f"evogan_lightning.tools.{name}:main", name
        assert callable(importlib.import_module(f"evogan_lightning.tools.{name}").main)
        assert not (REPO / "evogan_lightning" / f"{name}.py").exists(), name
    assert scripts["evogan"] == "evogan_lightning.__main__:run"
    out = subprocess.run(
        [sys.executable, "-m", "evogan_lightning.tools.sample", "--help"],
        capture_output=True,
        text=True,
        cwd=REPO,
    )
    assert out.returncode == 0 and "usage: evogan-sample" in out.stdout
