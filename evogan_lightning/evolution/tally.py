"""Survivor counts per operator (mutation loss, crossover, parent), kept on the device.

CE-GAN's Fig. 6 (and our ``operators.png``) shows which operator produced the survivors of each
generation. Counting them by name on the host would cost a device-to-host copy of the chosen indices every
generation (a stall on a GPU, and impossible inside a captured CUDA graph). ``OperatorTally.add`` is one
``index_add_`` on the device instead; the counts are read (one sync) only when someone asks for them:
logging, checkpoints, the operator chart.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import torch
from torch import Tensor


class OperatorTally:
    """Running survivor counts ``{operator name: survivors}``, accumulated on the device."""

    def __init__(self) -> None:
        self.names: list[str] = []  # vocabulary: row i of ``hits`` counts names[i]
        self.hits: Tensor | None = None  # [len(names)] int64 on the device, counted since the last fold
        self.base: dict[str, int] = {}  # counts already on the host (loaded, folded, or host-counted)
        self._codes: dict[tuple[str, ...], Tensor] = {}

    def add(self, operators: Sequence[str], chosen: Tensor) -> None:
        """Count the operators of the chosen candidates. ``operators``: the operator of each of K candidates
        (a static list: its codes are cached on the device after the first call); ``chosen``: LongTensor [mu]
        of candidate indices. No host sync once ``operators`` has been seen."""
        key = tuple(operators)
        codes = self._codes.get(key)
        if codes is None or codes.device != chosen.device:
            for name in key:
                if name not in self.names:
                    self.names.append(name)
            codes = torch.tensor([self.names.index(n) for n in key], device=chosen.device)
            self._codes[key] = codes
        hits = self._hits_on(chosen.device)
        hits.index_add_(0, codes[chosen], torch.ones_like(chosen))

    def add_names(self, names: Sequence[str]) -> None:
        """Count survivors given by name on the host (for algorithms that already hold them there)."""
        for n in names:
            self.base[n] = self.base.get(n, 0) + 1

    def as_dict(self) -> dict[str, int]:
        """All counts so far (zero counts omitted); one device-to-host copy."""
        out = dict(self.base)
        if self.hits is not None:
            for name, n in zip(self.names, self.hits.tolist()):
                if n:
                    out[name] = out.get(name, 0) + int(n)
        return out

    def reset(self, counts: Mapping[str, int]) -> None:
        """Replace every count (e.g. from a checkpoint)."""
        self.base = {k: int(v) for k, v in counts.items()}
        if self.hits is not None:
            self.hits.zero_()

    def _hits_on(self, device: torch.device) -> Tensor:
        if self.hits is not None and self.hits.device == device and self.hits.numel() == len(self.names):
            return self.hits
        self.base = self.as_dict()  # fold what was counted so far, then start a counter of the right size
        self.hits = torch.zeros(len(self.names), dtype=torch.long, device=device)
        return self.hits
