"""The package's top level: its version and the algorithm classes, imported on first use."""

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


def test_the_documented_commands_are_thin_modules_over_tools():
    """``python -m evogan_lightning.<tool>`` keeps working from the top-level module, which runs the tool in
    ``tools/`` and re-exports what the notebooks import from it."""
    import importlib

    for name in ("evaluate", "sample", "summarize", "benchmark", "train_classifier", "study"):
        shim = importlib.import_module(f"evogan_lightning.{name}")
        assert shim.main is importlib.import_module(f"evogan_lightning.tools.{name}").main, name
    from evogan_lightning.evaluate import evaluate_module  # notebooks/quickstart.ipynb
    from evogan_lightning.sample import load_module
    from evogan_lightning.summarize import collect_runs, main_metric, settings, summarize  # results.ipynb
    from evogan_lightning.tools import cli_common
    from evogan_lightning.tools import evaluate as evaluate_tool
    from evogan_lightning.tools import summarize as summarize_tool

    assert evaluate_module is evaluate_tool.evaluate_module and load_module is cli_common.load_module
    assert (collect_runs, main_metric, settings, summarize) == (
        summarize_tool.collect_runs,
        summarize_tool.main_metric,
        summarize_tool.settings,
        summarize_tool.summarize,
    )
