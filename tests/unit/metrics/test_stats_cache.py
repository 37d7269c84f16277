"""Tests of metrics/feature_stats.StatsCache: the real-image statistics cache."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from evogan_lightning.metrics.feature_stats import FeatureStats, StatsCache

FASHION_MNIST = Path("/usr/share/datasets/fashion-mnist")


def stats_key(**changes):
    key = {
        "dataset": "fashion_mnist",
        "split": "train",
        "resolution": 28,
        "extractor": "classifier",
        "weights_sha256": "abc123",
        "n": 64,
    }
    key.update(changes)
    return key


def test_stats_cache_round_trip_and_key_mismatch(tmp_path):
    cache = StatsCache(tmp_path / "cache")
    stats = FeatureStats().update(torch.randn(64, 5, generator=torch.Generator().manual_seed(0)))
    assert cache.load(stats_key()) is None
    path = cache.save(stats_key(), stats)
    assert path.is_file() and path.parent == tmp_path / "cache"
    loaded = cache.load(dict(reversed(list(stats_key().items()))))  # key order does not matter
    assert loaded is not None and loaded.n == 64 and torch.equal(loaded.cov(), stats.cov())
    for other in (stats_key(split="test"), stats_key(weights_sha256="def456"), stats_key(n=128)):
        assert cache.path(other) != path
        assert cache.load(other) is None
    # a file whose stored key differs (e.g. copied or colliding name) is never returned
    other_key = stats_key(dataset="cifar10")
    cache.path(other_key).write_bytes(path.read_bytes())
    with pytest.warns(UserWarning, match="another key"):
        assert cache.load(other_key) is None
    cache.path(stats_key(resolution=32)).write_bytes(b"not a torch file")
    with pytest.warns(UserWarning, match="unreadable"):
        assert cache.load(stats_key(resolution=32)) is None
    with pytest.raises(ValueError, match="missing"):
        cache.save({"dataset": "x"}, stats)
    with pytest.raises(ValueError, match="n=10"):
        cache.save(stats_key(n=10), stats)
