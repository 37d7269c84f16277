"""The data stream: batch g depends only on (seed, g); identical across worker counts and resumes."""

import pytest
import torch
from torch.utils.data import DataLoader

from evogan_lightning.core.errors import ConfigError
from evogan_lightning.data.datamodule import GANDataModule
from evogan_lightning.data.fake import FakeImages
from evogan_lightning.data.stream import GenerationStream
from evogan_lightning.data.toy import grid25, ring8
from evogan_lightning.run.scaling import prepare_early


def collect(stream, workers=0):
    return list(DataLoader(stream, batch_size=None, num_workers=workers))


def test_toy_stream_is_a_function_of_generation():
    full = collect(GenerationStream(ring8(), 16, seed=3, start=0, stop=6))
    resumed = collect(GenerationStream(ring8(), 16, seed=3, start=4, stop=6))
    assert len(full) == 6 and all(b.shape == (16, 2) for b in full)
    assert torch.equal(full[4], resumed[0]) and torch.equal(full[5], resumed[1])
    other_seed = collect(GenerationStream(ring8(), 16, seed=4, start=0, stop=1))
    assert not torch.equal(full[0], other_seed[0])


def test_image_stream_epochs_and_workers():
    data = FakeImages(10, (1, 8, 8), seed=0)
    stream = GenerationStream(data, 4, seed=0, start=0, stop=7)  # 2 batches per epoch, remainder dropped
    single = collect(stream)
    multi = collect(GenerationStream(data, 4, seed=0, start=0, stop=7), workers=2)
    assert len(single) == 7
    for a, b in zip(single, multi):
        assert torch.equal(a, b)
    # within one epoch no image repeats
    flat0 = torch.cat([single[0], single[1]]).flatten(1)
    assert torch.unique(flat0, dim=0).shape[0] == 8


def test_mixture_geometry():
    r, g = ring8(), grid25()
    assert r.centers.shape == (8, 2) and torch.allclose(r.centers.norm(dim=1), torch.full((8,), 2.0))
    assert r.std == 0.02 and g.std == 0.05
    assert g.centers.shape == (25, 2) and set(g.centers[:, 0].tolist()) == {-4.0, -2.0, 0.0, 2.0, 4.0}
    x = r.sample(4000, torch.Generator().manual_seed(0))
    d = torch.cdist(x, r.centers).min(dim=1).values
    assert d.max() < 0.02 * 6


def test_a_dataset_smaller_than_one_generation_is_rejected_before_training():
    dm = GANDataModule({"name": "fake", "num_images": 10, "image_size": 8, "channels": 1}, seed=0)
    dm.batch_size = 64  # what train() sets: the reals one generation needs
    with pytest.raises(ConfigError, match="has 10 images but one generation needs 64"):
        prepare_early(dm)  # runs in train() before the Trainer exists
    dm.batch_size = 10
    assert prepare_early(dm)
