"""Readers for the on-disk formats of the small image datasets, decoded into uint8 tensors [N, C, H, W].

- MNIST / Fashion-MNIST: IDX files (LeCun et al.; http://yann.lecun.com/exdb/mnist/), raw or gzip.
  Header: 2 zero bytes, a type code (0x08 = unsigned byte), the number of dimensions d, then d big-endian
  uint32 sizes; the data follow in C order.
- CIFAR-10: the "python version" batches (Krizhevsky 2009): pickled dicts whose ``data`` entry is a
  uint8 array [10000, 3072] (1024 red, then green, then blue values per image, rows in order).
  Pickles can run code when loaded: only read CIFAR batches from a source you trust.

A missing, truncated or malformed file raises ConfigError naming the file.
"""

from __future__ import annotations

import gzip
import pickle
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from ..core.errors import ConfigError

_IDX_UBYTE = 0x08


def _bad(path: Path, problem: str) -> ConfigError:
    return ConfigError(
        f"cannot read {path}: {problem}; the file is corrupt or truncated - delete it and download it again"
    )


def read_idx_images(path: str | Path) -> Tensor:
    """An IDX image file (``*-images-idx3-ubyte`` or ``.gz``) -> uint8 [N, 1, H, W]."""
    path = Path(path)
    try:
        opener = gzip.open if path.suffix == ".gz" else open
        with opener(path, "rb") as f:
            blob = f.read()
    except (OSError, EOFError) as err:  # gzip: BadGzipFile (OSError) or EOFError when cut short
        raise _bad(path, str(err) or type(err).__name__) from err
    if len(blob) < 4 or blob[0] != 0 or blob[1] != 0:
        raise _bad(path, "not an IDX file (bad magic number)")
    dtype, ndim = blob[2], blob[3]
    if dtype != _IDX_UBYTE or ndim != 3:
        raise _bad(
            path, f"expected unsigned-byte images with 3 dimensions, got type 0x{dtype:02x}, {ndim} dims"
        )
    header = 4 + 4 * ndim
    if len(blob) < header:
        raise _bad(path, "header cut short")
    n, h, w = (int.from_bytes(blob[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim))
    expected = header + n * h * w
    if len(blob) != expected:
        raise _bad(path, f"header says {n} images of {h}x{w} ({expected} bytes), file has {len(blob)} bytes")
    data = np.frombuffer(blob, dtype=np.uint8, offset=header).reshape(n, 1, h, w)
    return torch.from_numpy(data.copy())


def read_cifar_batch(path: str | Path) -> Tensor:
    """A CIFAR-10 python batch (``data_batch_1`` ... ``test_batch``) -> uint8 [N, 3, 32, 32]."""
    path = Path(path)
    try:
        with open(path, "rb") as f:
            batch = pickle.load(f, encoding="bytes")
    except (OSError, EOFError, pickle.UnpicklingError, ValueError, TypeError, AttributeError) as err:
        raise _bad(path, f"{type(err).__name__}: {err}") from err
    if not isinstance(batch, dict):
        raise _bad(path, f"expected a pickled dict, got {type(batch).__name__}")
    data = batch.get(b"data", batch.get("data"))
    if data is None:
        raise _bad(path, f"no 'data' entry (keys: {sorted(map(str, batch))})")
    data = np.asarray(data)
    if data.dtype != np.uint8 or data.ndim != 2 or data.shape[1] != 3 * 32 * 32:
        raise _bad(path, f"'data' should be uint8 [N, 3072], got {data.dtype} {list(data.shape)}")
    return torch.from_numpy(np.ascontiguousarray(data).reshape(-1, 3, 32, 32).copy())
