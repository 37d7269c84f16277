"""The machinery the algorithms run on: the flat population store (weights + Adam state of every member),
the per-child backends (loop, vmap-batched), functional calls of the nets, and CUDA-graph capture of a
whole generation. No algorithm logic lives here; the papers' operators are in ``evolution/``."""
