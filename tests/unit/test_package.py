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
