"""The training stream: batch ``g`` is a pure function of (seed, generation g).

Because every batch is determined by the generation number alone, a run resumed from a checkpoint at
generation N sees exactly the batches an uninterrupted run sees from N on, whatever Lightning does with
its loop state, and the stream is identical for any number of DataLoader workers (worker w produces the
generations g with (g - start) % num_workers == w and the DataLoader interleaves them in order).
"""

from __future__ import annotations

import torch
from torch import Tensor
from torch.utils.data import DataLoader, IterableDataset, get_worker_info

from ..core.errors import ConfigError
from ..core.seeding import stream_seed


class GenerationStream(IterableDataset):
    """Yields one real batch per generation for generations ``[start, stop)``.

    ``source`` is either procedural (has ``sample(n, generator)``, e.g. a toy mixture) or indexable
    (``__len__`` and ``get_batch(index)`` or ``__getitem__``). For indexable sources, generation g reads
    rows ``perm_e[(g % B) * n : (g % B + 1) * n]`` of the epoch permutation ``perm_e`` (e = g // B,
    B = len // n batches per epoch, the incomplete last batch is dropped). With ``world_size`` ranks, rank r
    reads its own disjoint slice of each epoch (data parallel), and toy samples mix the rank into the seed.
    """

    def __init__(
        self, source, batch_size: int, seed: int, start: int, stop: int, rank: int = 0, world_size: int = 1
    ) -> None:
        super().__init__()
        self.rank, self.world_size = int(rank), int(world_size)
        if batch_size < 1:
            raise ValueError(f"batch size must be >= 1, got {batch_size}")
        self.source, self.batch_size, self.seed = source, int(batch_size), int(seed)
        self.start, self.stop = int(start), int(stop)
        self.procedural = hasattr(source, "sample")
        if not self.procedural and len(source) < batch_size * world_size:
            raise ConfigError(
                f"the dataset has {len(source)} images but one generation needs {batch_size} real images; "
                "use a larger dataset or smaller algo.batch_size / algo.eval_batch_size / algo.d_steps"
            )

    def __len__(self) -> int:
        # Counted from generation 0, not from ``start``: a run resumed from a checkpoint written mid-epoch gets
        # Lightning's batch counter back (= the generation), so its epoch ends exactly at ``stop``; a length
        # of stop - start would end it early and start a second epoch that replays batches from ``start``.
        return max(self.stop, 0)

    def batch(self, g: int, _cache: dict | None = None) -> Tensor:
        """The real batch of generation ``g``: [batch_size, *shape]."""
        if self.procedural:
            keys = (g,) if self.world_size == 1 else (g, self.rank)
            gen = torch.Generator().manual_seed(stream_seed(self.seed, *keys))
            return self.source.sample(self.batch_size, gen)
        per_epoch = len(self.source) // (self.batch_size * self.world_size)
        epoch, pos = divmod(g, per_epoch)
        cache = _cache if _cache is not None else {}
        if cache.get("epoch") != epoch:
            gen = torch.Generator().manual_seed(stream_seed(self.seed, 1 << 40, epoch))
            cache["epoch"], cache["perm"] = epoch, torch.randperm(len(self.source), generator=gen)
        first = (pos * self.world_size + self.rank) * self.batch_size  # ranks read disjoint slices
        index = cache["perm"][first : first + self.batch_size]
        if hasattr(self.source, "get_batch"):
            return self.source.get_batch(index)
        return torch.stack([self.source[int(i)] for i in index])

    def __iter__(self):
        info = get_worker_info()
        wid, nw = (info.id, info.num_workers) if info is not None else (0, 1)
        cache: dict = {}
        for g in range(self.start + wid, self.stop, nw):
            try:
                batch = self.batch(g, cache)
            except ConfigError as err:  # in a worker: hand the message to the main process (StreamLoader)
                if info is None:
                    raise
                yield WorkerFailure(str(err))
                return
            yield batch


class WorkerFailure:
    """A ConfigError of a DataLoader worker (a corrupt image file), sent to the main process in place of a
    batch. Raised there, torch would wrap it: "Caught ConfigError in DataLoader worker process 0" and the
    worker's traceback, with the file name at the very end."""

    def __init__(self, message: str) -> None:
        self.message = message


class StreamLoader(DataLoader):
    """The DataLoader of a ``GenerationStream``: a worker's ConfigError is raised in the main process with the
    worker's own message (``cannot read image FILE: ...``), as it would be without workers."""

    def __iter__(self):
        for batch in super().__iter__():
            if isinstance(batch, WorkerFailure):
                raise ConfigError(batch.message)
            yield batch
