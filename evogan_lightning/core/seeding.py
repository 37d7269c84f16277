"""Deterministic seeds: every random stream of a run (its data batches, its noise, the rank-shared decision
stream) is seeded from the run seed and integer keys, so a run and its resume draw the same numbers."""

from __future__ import annotations

_MIX = 0x9E3779B97F4A7C15


def stream_seed(seed: int, *keys: int) -> int:
    """Deterministic 63-bit seed from a run seed and integer keys (splitmix-style mixing)."""
    x = (int(seed) * 6364136223846793005 + 1442695040888963407) & 0xFFFFFFFFFFFFFFFF
    for k in keys:
        x = (x ^ (int(k) + _MIX + (x << 6) + (x >> 2))) & 0xFFFFFFFFFFFFFFFF
        x = (x * 0xBF58476D1CE4E5B9) & 0xFFFFFFFFFFFFFFFF
    return x & 0x7FFFFFFFFFFFFFFF
