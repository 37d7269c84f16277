"""core/: the divergence bound and the deterministic stream seeds every layer stands on."""

import torch

from evogan_lightning.core.errors import EXPLODED, within_bound
from evogan_lightning.core.seeding import stream_seed


def test_within_bound_flags_non_finite_and_exploded_values():
    ok = torch.tensor([1.0, -EXPLODED])
    assert bool(within_bound(ok))
    assert not bool(within_bound(torch.tensor([1.0, float("nan")])))
    assert not bool(within_bound(torch.tensor([float("-inf")])))
    assert not bool(within_bound(torch.tensor([EXPLODED * 10])))
    assert bool(within_bound(torch.tensor([EXPLODED * 10]), square=True))  # a second moment may be squared
    assert within_bound(ok).dim() == 0  # a device tensor, read when the run checks (no sync here)


def test_stream_seeds_are_deterministic_distinct_and_63_bit():
    seeds = {stream_seed(s, *keys) for s in range(20) for keys in [(), (0,), (1,), (0, 1), (1, 0)]}
    assert len(seeds) == 20 * 5  # every (seed, keys) its own stream, key order matters
    assert stream_seed(7, 3, 2) == stream_seed(7, 3, 2)
    assert all(0 <= s < 2**63 for s in seeds)  # fits torch.Generator.manual_seed
    torch.Generator().manual_seed(max(seeds))
