"""The wheel ships the Hydra configs, and an installed package composes them from anywhere."""

import os
import subprocess
import sys
import zipfile

import pytest
from conftest import REPO

pytestmark = pytest.mark.slow  # builds and installs a wheel: the slow set (.ci/run runs it)


@pytest.fixture(scope="module")
def wheel(tmp_path_factory):
    pytest.importorskip("hatchling")
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            str(REPO),
            "--no-deps",
            "--no-build-isolation",
            "-w",
            str(out),
            "-q",
        ],
        check=True,
        capture_output=True,
        text=True,
    )
    (whl,) = out.glob("evogan_lightning-*.whl")
    return whl


def test_wheel_contains_configs(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    for cfg in (
        "config.yaml",
        "algo/gan.yaml",
        "data/ring8.yaml",
        "net/auto.yaml",
        "trainer/default.yaml",
        "logger/csv.yaml",
        "callbacks/default.yaml",
    ):
        assert f"evogan_lightning/conf/{cfg}" in names, cfg
    assert "evogan_lightning/__main__.py" in names
    assert {"evogan_lightning/run/train.py", "evogan_lightning/tools/sample.py"} <= names  # the subpackages


def test_installed_wheel_composes_configs_outside_the_source_tree(wheel, tmp_path):
    site = tmp_path / "site"
    zipfile.ZipFile(wheel).extractall(site)
    env = {**os.environ, "PYTHONPATH": str(site)}
    code = "from evogan_lightning.run.config import config_dir; print(config_dir())"
    where = subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, env=env, capture_output=True, text=True, check=True
    )
    assert where.stdout.strip() == str(site / "evogan_lightning" / "conf")
    job = subprocess.run(
        [sys.executable, "-m", "evogan_lightning", "--cfg", "job", "algo=gan", "data=grid25"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
    )
    assert job.returncode == 0, job.stderr
    assert "name: grid25" in job.stdout and "name: gan" in job.stdout
