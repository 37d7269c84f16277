"""Tests of metrics/inception.py: the Inception weights checks and the torchmetrics FID/IS over them."""

from __future__ import annotations

import math
import urllib.error
from pathlib import Path

import pytest
import torch
from helpers import random_inception_weights

from evogan_lightning.metrics import inception as fid_module
from evogan_lightning.metrics.inception import (
    INCEPTION_WEIGHTS_ENV,
    INCEPTION_WEIGHTS_FILENAME,
    inception_available,
    inception_weights_cache_path,
    make_inception_fid,
    make_inception_score,
    sha256_file,
)
from evogan_lightning.metrics.quantize import to_rgb, to_uint8

FASHION_MNIST = Path("/usr/share/datasets/fashion-mnist")


@pytest.fixture
def empty_torch_cache(tmp_path, monkeypatch):
    """No real torch hub cache, no weights variable: the Inception checks see an empty machine."""
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    monkeypatch.delenv(INCEPTION_WEIGHTS_ENV, raising=False)
    monkeypatch.setattr(torch.hub, "_hub_dir", None)  # undo any torch.hub.set_dir of the session

    def no_download(*args, **kwargs):
        raise urllib.error.URLError("network unreachable (test)")

    monkeypatch.setattr(torch.hub, "download_url_to_file", no_download)
    return tmp_path


def test_inception_cache_location_follows_torch_home(empty_torch_cache):
    expected = empty_torch_cache / "torch" / "hub" / "checkpoints" / INCEPTION_WEIGHTS_FILENAME
    assert inception_weights_cache_path() == expected


def test_missing_inception_weights_clear_error(empty_torch_cache):
    available, reason = inception_available(None)
    assert not available and reason
    for allow_download in (False, True):
        with pytest.raises(RuntimeError) as error:
            make_inception_fid(None, allow_download=allow_download)
        message = str(error.value)
        assert INCEPTION_WEIGHTS_ENV in message and "weights_path" in message
        assert str(inception_weights_cache_path()) in message
    with pytest.raises(RuntimeError, match=INCEPTION_WEIGHTS_ENV):
        make_inception_score(None, allow_download=False)
    missing = empty_torch_cache / "nowhere.pth"
    with pytest.raises(RuntimeError, match="nowhere.pth"):
        make_inception_fid(missing)


def test_unloadable_inception_weights_clear_error(empty_torch_cache):
    pytest.importorskip("torch_fidelity")
    broken = empty_torch_cache / "broken.pth"
    broken.write_bytes(b"truncated download")
    with pytest.raises(RuntimeError, match="broken.pth"):
        make_inception_fid(broken)


def test_inception_availability_sources(empty_torch_cache, monkeypatch):
    monkeypatch.setattr(fid_module, "_torch_fidelity_available", lambda: True)
    available, reason = inception_available(None)
    assert not available and INCEPTION_WEIGHTS_ENV in reason
    # a cached download counts
    cached = inception_weights_cache_path()
    cached.parent.mkdir(parents=True)
    cached.write_bytes(b"weights")
    assert inception_available(None) == (True, f"Inception weights at {cached} (from the torch hub cache)")
    # the environment variable wins over the cache, and a missing file is reported
    monkeypatch.setenv(INCEPTION_WEIGHTS_ENV, str(empty_torch_cache / "gone.pth"))
    available, reason = inception_available(None)
    assert not available and "gone.pth" in reason and INCEPTION_WEIGHTS_ENV in reason
    local = empty_torch_cache / "local.pth"
    local.write_bytes(b"local")
    assert inception_available(local)[0]
    assert len(sha256_file(local)) == 16 and len(sha256_file(local, length=None)) == 64
    # torch-fidelity missing is reported first
    monkeypatch.setattr(fid_module, "_torch_fidelity_available", lambda: False)
    available, reason = inception_available(local)
    assert not available and "torch-fidelity" in reason


@pytest.mark.slow  # two Inception networks on CPU (~10 s); runs where torch-fidelity is installed
def test_inception_fid_and_is_from_local_file(empty_torch_cache):
    pytest.importorskip("torch_fidelity")
    weights = empty_torch_cache / "inception.pth"
    torch.save({}, weights)
    random_inception_weights(weights)
    metric = make_inception_fid(weights, feature=64)
    assert metric.extractor_info["antialias"] is False
    assert metric.extractor_info["weights_sha256"] == sha256_file(weights)
    images = to_rgb(to_uint8(torch.rand(4, 1, 28, 28) * 2 - 1))
    metric.update(images, real=True)
    metric.update(images, real=False)
    assert float(metric.compute()) == pytest.approx(0.0, abs=1e-2)
    score = make_inception_score(weights, splits=2)
    score.update(images)
    assert math.isfinite(float(score.compute()[0]))
