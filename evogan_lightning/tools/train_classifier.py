"""``evogan-train-classifier data=fashion_mnist data.root=DIR out=classifier.pt [epochs=5]``

Trains ``metrics.classifier.SmallCNN`` on a labelled dataset and saves it with its test accuracy in the
metadata: the feature space of the "classifier FID" (``callbacks=[default,classifier_fid]``) where no
Inception weights exist. ``data.*`` overrides compose the same ``conf/data`` configs as training, so
``data.image_size`` / ``data.channels`` match the run to be evaluated.

Labels: MNIST / Fashion-MNIST idx label files next to the image files, CIFAR-10 pickles' ``labels``, and
for ``data=fake`` a synthetic task (label = the brightest image quadrant, 4 classes; test set from another
seed) so the pipeline can be exercised without any download. CelebA and image folders have no labels.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import pickle
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
from omegaconf import OmegaConf
from torch import Tensor

from ..core.errors import ConfigError

USAGE = (
    "usage: evogan-train-classifier data=NAME [data.root=DIR data.image_size=S ...] "
    "[out=classifier.pt] [epochs=5] [batch_size=128] [lr=0.002] [seed=0] [max_train=N] [max_test=N] "
    "[width=32] [num_features=128] [device=cpu|cuda] [progress=true]"
)
DEFAULTS: dict[str, Any] = {
    "out": "classifier.pt",
    "epochs": 5,
    "batch_size": 128,
    "lr": 2e-3,
    "seed": 0,
    "max_train": None,
    "max_test": None,
    "width": 32,
    "num_features": 128,
    "device": "cpu",
    "progress": True,
}
LABEL_FILES = {"train": "train-labels-idx1-ubyte", "test": "t10k-labels-idx1-ubyte"}
# The pinned recipe of the classifiers that score studies (cached_classifier): DEFAULTS' training settings.
RECIPE_KEYS = ("epochs", "batch_size", "lr", "seed", "width", "num_features")
CLASSIFIER_CACHE_ENV = "EVOGAN_CLASSIFIER_CACHE"


def read_idx_labels(path: str | Path) -> Tensor:
    """An IDX label file (``*-labels-idx1-ubyte`` or ``.gz``) -> int64 [N]."""
    path = Path(path)
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rb") as f:
        blob = f.read()
    if len(blob) < 8 or blob[:4] != b"\x00\x00\x08\x01":
        raise ConfigError(f"cannot read {path}: not an IDX label file (bad magic number)")
    n = int.from_bytes(blob[4:8], "big")
    if len(blob) != 8 + n:
        raise ConfigError(f"cannot read {path}: header says {n} labels, file has {len(blob) - 8} bytes")
    return torch.frombuffer(bytearray(blob[8:]), dtype=torch.uint8).long()


def _labels_next_to(image_file: Path, split: str) -> Tensor:
    stem = LABEL_FILES[split]
    for candidate in (image_file.parent / stem, image_file.parent / f"{stem}.gz"):
        if candidate.is_file():
            return read_idx_labels(candidate)
    raise ConfigError(f"no label file {stem}[.gz] next to {image_file}; the classifier needs labels")


def _fake_labelled(cfg: Mapping[str, Any], seed: int) -> tuple[Tensor, Tensor]:
    """Fake images (``data=fake``) labelled by their brightest quadrant (0..3, row-major)."""
    from ..data.datamodule import data_shape
    from ..data.fake import FakeImages

    images = FakeImages(int(cfg.get("num_images", 512)), data_shape(cfg), seed=seed).images
    h, w = images.shape[-2] // 2, images.shape[-1] // 2
    quadrants = torch.stack(
        [images[..., :h, :w], images[..., :h, w:], images[..., h:, :w], images[..., h:, w:]], dim=1
    )
    return images, quadrants.mean(dim=(2, 3, 4)).argmax(dim=1)


def load_labelled(cfg: Mapping[str, Any], split: str, seed: int = 0) -> tuple[Tensor, Tensor]:
    """``(images [N, C, S, S] float in [-1, 1], labels [N] int64)`` of ``data=cfg['name']`` at ``split``
    (``train`` or ``test``), at the config's image size and channels."""
    name = cfg["name"]
    if name == "fake":
        return _fake_labelled(cfg, seed if split == "train" else seed + 1)
    if name == "stacked_fashion_mnist":
        raise ConfigError(
            "data=stacked_fashion_mnist is scored with the Fashion-MNIST classifier, one channel at a time: "
            "train it with data=fashion_mnist (same data.root)"
        )
    if name not in ("mnist", "fashion_mnist", "cifar10"):
        raise ConfigError(
            f"data={name} has no class labels; train the classifier on mnist, fashion_mnist or cifar10"
        )
    from ..data import images as image_data

    split_cfg = {**cfg, "split": split}
    image_data.prepare_dataset(name, split_cfg)
    dataset = image_data.build_dataset(name, split_cfg)
    files, _ = image_data.locate(name, split_cfg)
    if name == "cifar10":
        labels = []
        for f in files:
            with open(f, "rb") as handle:
                batch = pickle.load(handle, encoding="bytes")
            labels.append(torch.tensor(batch[b"labels"], dtype=torch.long))
        y = torch.cat(labels)
    else:
        y = torch.cat([_labels_next_to(Path(f), split) for f in files])
    if y.shape[0] != len(dataset):
        raise ConfigError(f"data={name} ({split}): {len(dataset)} images but {y.shape[0]} labels")
    return dataset.get_batch(torch.arange(len(dataset))), y


def _subset(x: Tensor, y: Tensor, limit: int | None, seed: int) -> tuple[Tensor, Tensor]:
    if limit is None or int(limit) >= x.shape[0]:
        return x, y
    index = torch.randperm(x.shape[0], generator=torch.Generator().manual_seed(seed))[: int(limit)]
    return x[index], y[index]


def run(data_cfg: Mapping[str, Any], args: Mapping[str, Any]) -> dict[str, Any]:
    """Train, evaluate and save; returns the metadata written with the weights."""
    from ..metrics.classifier import save_classifier, train_classifier
    from ..run.checks import check_device, check_seed, check_writable_folder, write_output

    seed = check_seed(args["seed"])
    check_device(args["device"])
    train_x, train_y = _subset(*load_labelled(data_cfg, "train", seed), args["max_train"], seed)
    test_x, test_y = _subset(*load_labelled(data_cfg, "test", seed), args["max_test"], seed + 1)
    out = check_writable_folder(Path(str(args["out"])).parent, "out") / Path(str(args["out"])).name
    try:
        model, metadata = train_classifier(
            train_x,
            train_y,
            test_x,
            test_y,
            epochs=int(args["epochs"]),
            batch_size=int(args["batch_size"]),
            lr=float(args["lr"]),
            seed=seed,
            progress=bool(args["progress"]),
            device=args["device"],
            width=int(args["width"]),
            num_features=int(args["num_features"]),
        )
    except ValueError as err:
        raise ConfigError(str(err)) from err
    metadata["dataset"] = data_cfg["name"]
    metadata["data"] = {k: v for k, v in data_cfg.items() if isinstance(v, (str, int, float, bool))}
    write_output(out, lambda f: save_classifier(f, model.cpu(), metadata), "out")
    return metadata


def classifier_cache_dir() -> Path:
    """``$EVOGAN_CLASSIFIER_CACHE`` or ``~/.cache/evogan_lightning/classifiers``."""
    env = os.environ.get(CLASSIFIER_CACHE_ENV)
    return Path(env).expanduser() if env else Path.home() / ".cache" / "evogan_lightning" / "classifiers"


def recipe_key(data_cfg: Mapping[str, Any], recipe: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """What a classifier depends on: data set, resolution, channels and the training recipe (no paths)."""
    from ..data.datamodule import data_shape

    settings = {k: (recipe or DEFAULTS).get(k, DEFAULTS[k]) for k in RECIPE_KEYS}
    return {"dataset": data_cfg["name"], "shape": list(data_shape(data_cfg)), **settings}


def cached_classifier(
    data_cfg: Mapping[str, Any],
    recipe: Mapping[str, Any] | None = None,
    cache_dir: str | Path | None = None,
    progress: bool = True,
) -> Path:
    """The classifier of ``data_cfg`` trained with ``recipe`` (default: ``DEFAULTS``), from the cache or
    trained once now (CPU, about 3 minutes for Fashion-MNIST on 2 cores) and cached under a name that hashes
    the recipe, so another recipe never reuses it."""
    key = recipe_key(data_cfg, recipe)
    digest = hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:12]
    folder = Path(cache_dir).expanduser() if cache_dir else classifier_cache_dir()
    path = folder / f"{data_cfg['name']}-{digest}.pt"
    if path.is_file():
        return path
    folder.mkdir(parents=True, exist_ok=True)
    print(
        f"training the {data_cfg['name']} classifier once (recipe {key}) -> {path}; later studies reuse it",
        flush=True,
    )
    args = {**DEFAULTS, **{k: key[k] for k in RECIPE_KEYS}, "out": str(path), "progress": progress}
    metadata = run(data_cfg, args)
    print(f"classifier test accuracy {metadata['test_accuracy']:.4f}", flush=True)
    return path


def main(argv: list[str] | None = None) -> int:
    from ..run.config import compose
    from .cli_common import parse_args

    argv = sys.argv[1:] if argv is None else argv
    if any(a in ("-h", "--help") for a in argv):
        print(USAGE)
        return 0
    data_args = [a for a in argv if a.split("=")[0] == "data" or a.startswith("data.")]
    try:
        if not any(a.startswith("data=") for a in data_args):
            raise ConfigError(f"data=NAME is required\n{USAGE}")
        args = parse_args([a for a in argv if a not in data_args], DEFAULTS, USAGE)
        cfg = compose([*data_args, "output_dir=."])
        data_cfg: dict[str, Any] = OmegaConf.to_container(cfg.data, resolve=True)  # type: ignore[assignment]
        replaced = Path(str(args["out"])).exists()
        metadata = run(data_cfg, args)
    except ConfigError as err:
        print(f"evogan-train-classifier: error: {err}", file=sys.stderr)
        return 2
    except Exception as err:  # Hydra override errors (unknown data=...) come as its own exception types
        if type(err).__module__.startswith(("hydra", "omegaconf")):
            print(f"evogan-train-classifier: error: {err}", file=sys.stderr)
            return 2
        raise
    print(
        f"saved {args['out']}: SmallCNN on {data_cfg['name']} {metadata['image_shape']}, "
        f"{metadata['num_classes']} classes, test accuracy {metadata['test_accuracy']:.4f} "
        f"({metadata['num_test']} test images), weights {metadata['weights_sha256']}"
        + (" (replaced the previous file)" if replaced else "")
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
