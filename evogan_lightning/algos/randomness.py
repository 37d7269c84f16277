"""The randomness of a run (``EvoGANModule`` inherits it): the per-rank training stream and the rank-shared
decision stream, both seeded from the run seed and restored from checkpoints, and the noise of the
generators. Kept out of the module's constructor so that sampling never disturbs the training stream."""

from __future__ import annotations

import torch
from torch import Tensor

from ..core.seeding import stream_seed

_SHARED_STREAM = 0x5EED  # stream_seed key of the rank-shared decision stream (see shared_rng)


class RandomnessMixin:
    """Ranks, the training and shared random streams, and noise (``make_noise``)."""

    @property
    def rank(self) -> int:
        return int(self.trainer.global_rank) if self._trainer is not None else 0

    @property
    def world_size(self) -> int:
        return int(self.trainer.world_size) if self._trainer is not None else 1

    @property
    def rng(self) -> torch.Generator:
        """The run's own random stream (noise, interpolation, choices) on the module's device.
        Saved in checkpoints, so a resumed run draws exactly what an uninterrupted one would. With several
        devices each rank draws its own stream (rank 0's is the one saved; other ranks derive theirs from
        the seed, their rank and the generation, so a checkpoint resumes on any device count)."""
        dev = self.device
        if self._rng is None or self._rng.device != dev:
            g = torch.Generator(device=dev)
            if self.rank > 0:
                g.manual_seed(stream_seed(self.seed, self.generation, self.rank))
            elif self._rng_state is not None and (self._rng_device == str(dev)):
                g.set_state(self._rng_state)
            else:
                g.manual_seed(self.seed)
            self._rng, self._rng_state = g, None
        return self._rng

    @property
    def shared_rng(self) -> torch.Generator:
        """The stream for evolutionary *decisions* every rank must make alike (GA parents/crossover/mutation
        of the D population, SCGAN's crossover coin flips and partners). On one device it is ``rng`` itself,
        so single-device results do not depend on this split; with several ranks it is seeded identically on
        all of them from (seed, generation at start), while ``rng`` (noise) stays per rank."""
        if self.world_size == 1:
            return self.rng
        dev = self.device
        if self._shared_rng is None or self._shared_rng.device != dev:
            self._shared_rng = torch.Generator(device=dev)
            self._shared_rng.manual_seed(stream_seed(self.seed, self.generation, _SHARED_STREAM))
        return self._shared_rng

    def mean_over_ranks(self, t: Tensor) -> Tensor:
        """Mean of ``t`` over all ranks (a new tensor; ``t`` itself on one device). Fitness is reduced this
        way, so every rank ranks the candidates alike: a mean-over-samples fitness over the union of the
        ranks' evaluation batches. A NaN on any rank makes the entry NaN everywhere."""
        if self.world_size == 1:
            return t
        return self.trainer.strategy.reduce(t.clone(), reduce_op="mean")

    def make_noise(self, n: int, generator: torch.Generator | None = None) -> Tensor:
        """Latent vectors [n, latent_dim]: N(0, 1) or U(-1, 1) per ``net.noise``."""
        gen = self.rng if generator is None else generator
        shape = (n, self.net_spec.latent_dim)
        if self.net_spec.noise == "uniform":
            return torch.rand(shape, generator=gen, device=gen.device).mul_(2).sub_(1)
        return torch.randn(shape, generator=gen, device=gen.device)
