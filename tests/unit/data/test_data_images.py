"""Image datasets read from small files written in their real on-disk formats (no downloads)."""

from __future__ import annotations

import gzip
import pickle
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from evogan_lightning.core.errors import ConfigError
from evogan_lightning.data import images
from evogan_lightning.data.datamodule import GANDataModule, data_shape
from evogan_lightning.data.readers import read_idx_images
from evogan_lightning.data.stream import GenerationStream

DEBIAN_FASHION = Path("/usr/share/datasets/fashion-mnist")


# ---------------------------------------------------------------------------------------------- writers
def idx_bytes(arr: np.ndarray) -> bytes:
    """IDX encoding of a uint8 array [N, H, W]: magic 0x00000803, big-endian sizes, data."""
    n, h, w = arr.shape
    return bytes([0, 0, 8, 3]) + b"".join(int(d).to_bytes(4, "big") for d in (n, h, w)) + arr.tobytes()


def write_idx(folder: Path, stem: str, arr: np.ndarray, gz: bool) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / (stem + (".gz" if gz else ""))
    data = idx_bytes(arr)
    path.write_bytes(gzip.compress(data) if gz else data)
    return path


def digits(n: int, seed: int = 0) -> np.ndarray:
    """uint8 [n, 28, 28] with 0 and 255 both present."""
    arr = np.random.default_rng(seed).integers(0, 256, size=(n, 28, 28), dtype=np.uint8)
    arr[:, 0, 0], arr[:, 0, 1] = 0, 255
    return arr


def write_cifar(folder: Path, names: list[str], n: int = 10) -> dict[str, np.ndarray]:
    """CIFAR-10 python batches with the real keys (bytes, as pickled by the Python 2 original)."""
    folder.mkdir(parents=True, exist_ok=True)
    out = {}
    for k, name in enumerate(names):
        data = np.random.default_rng(k).integers(0, 256, size=(n, 3072), dtype=np.uint8)
        batch = {
            b"batch_label": f"batch {k}".encode(),
            b"labels": list(range(n)),
            b"data": data,
            b"filenames": [f"img_{i}.png".encode() for i in range(n)],
        }
        with open(folder / name, "wb") as f:
            pickle.dump(batch, f, protocol=2)
        out[name] = data
    return out


def cfg(name: str, root, **kw) -> dict:
    return {"name": name, "root": str(root), "download": False, **kw}


# ---------------------------------------------------------------------------------------------- MNIST-like
@pytest.mark.parametrize("gz", [True, False])
@pytest.mark.parametrize(
    "name,layout",
    [("mnist", ""), ("mnist", "MNIST/raw"), ("fashion_mnist", ""), ("fashion_mnist", "FashionMNIST/raw")],
)
def test_idx_layouts_and_values(tmp_path, name, layout, gz):
    train, test = digits(12, 1), digits(7, 2)
    folder = tmp_path / layout if layout else tmp_path
    write_idx(folder, "train-images-idx3-ubyte", train, gz)
    write_idx(folder, "t10k-images-idx3-ubyte", test, gz)
    c = cfg(name, tmp_path)
    images.prepare_dataset(name, c)
    ds = images.build_dataset(name, c)
    assert len(ds) == 12 and data_shape(c) == (1, 28, 28)
    batch = ds.get_batch(torch.tensor([3, 0]))
    assert batch.shape == (2, 1, 28, 28) and batch.dtype == torch.float32
    expected = torch.from_numpy(train[[3, 0]].astype(np.float32))[:, None] / 127.5 - 1
    torch.testing.assert_close(batch, expected, rtol=0, atol=1e-6)
    assert batch.min() == -1 and batch.max() == 1  # 0 -> -1, 255 -> +1
    torch.testing.assert_close(ds[3], batch[0])
    assert len(images.build_dataset(name, cfg(name, tmp_path, split="test"))) == 7
    assert len(images.build_dataset(name, cfg(name, tmp_path, split="all"))) == 19


def test_idx_channels_and_resize(tmp_path):
    arr = np.zeros((4, 28, 28), dtype=np.uint8)
    arr[:, :14] = 255  # top half white
    write_idx(tmp_path, "train-images-idx3-ubyte", arr, gz=True)
    c = cfg("mnist", tmp_path, channels=3, image_size=32)
    assert data_shape(c) == (3, 32, 32)
    x = images.build_dataset("mnist", c).get_batch(torch.tensor([0, 1]))
    assert x.shape == (2, 3, 32, 32)
    assert torch.equal(x[:, 0], x[:, 2])  # gray repeated
    assert x[0, 0, 0, 0] == 1 and x[0, 0, -1, 0] == -1  # halves survive the resize
    assert x.min() >= -1 and x.max() <= 1


def test_debian_fashion_mnist_layout():
    if not (DEBIAN_FASHION / "train-images-idx3-ubyte.gz").is_file():
        pytest.skip("dataset-fashion-mnist is not installed")
    c = cfg("fashion_mnist", DEBIAN_FASHION, split="test")
    images.prepare_dataset("fashion_mnist", c)
    ds = images.build_dataset("fashion_mnist", c)
    assert len(ds) == 10_000
    x = ds.get_batch(torch.arange(256))
    assert x.shape == (256, 1, 28, 28) and x.min() == -1 and x.max() == 1
    assert 0.1 < (x > -1).float().mean() < 0.9  # clothes on a black background, not noise or blank


def test_truncated_idx_names_the_file(tmp_path):
    data = idx_bytes(digits(5))
    raw = tmp_path / "train-images-idx3-ubyte"
    raw.write_bytes(data[:-100])
    with pytest.raises(ConfigError, match="train-images-idx3-ubyte.*(truncated|bytes)"):
        images.build_dataset("mnist", cfg("mnist", tmp_path))
    raw.unlink()
    gz = tmp_path / "train-images-idx3-ubyte.gz"
    gz.write_bytes(gzip.compress(data)[:-50])  # a cut-off download
    with pytest.raises(ConfigError, match=r"train-images-idx3-ubyte\.gz"):
        read_idx_images(gz)
    gz.write_bytes(gzip.compress(bytes([0, 0, 8, 1]) + (5).to_bytes(4, "big") + bytes(5)))  # a labels file
    with pytest.raises(ConfigError, match="3 dimensions"):
        read_idx_images(gz)


# ---------------------------------------------------------------------------------------------- CIFAR-10
@pytest.mark.parametrize("sub", ["cifar-10-batches-py", ""])
def test_cifar_pickle_batches(tmp_path, sub):
    folder = tmp_path / sub if sub else tmp_path
    names = [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]
    written = write_cifar(folder, names, n=6)
    c = cfg("cifar10", tmp_path)
    images.prepare_dataset("cifar10", c)
    ds = images.build_dataset("cifar10", c)
    assert len(ds) == 30 and data_shape(c) == (3, 32, 32)
    x = ds.get_batch(torch.tensor([7]))  # batch 2, row 1
    row = written["data_batch_2"][1]
    assert x.shape == (1, 3, 32, 32)
    # channel-major rows: 1024 red, 1024 green, 1024 blue values, each row-major 32x32
    assert x[0, 1, 2, 3] == pytest.approx(row[1024 + 2 * 32 + 3] / 127.5 - 1)
    assert x[0, 2, 31, 31] == pytest.approx(row[3071] / 127.5 - 1)
    assert len(images.build_dataset("cifar10", cfg("cifar10", tmp_path, split="test"))) == 6
    gray = images.build_dataset("cifar10", cfg("cifar10", tmp_path, channels=1)).get_batch(torch.tensor([7]))
    r, g, b = (row[i * 1024 + 5].astype(float) for i in range(3))
    assert gray.shape == (1, 1, 32, 32)
    assert gray[0, 0, 0, 5] == pytest.approx(round(0.299 * r + 0.587 * g + 0.114 * b) / 127.5 - 1, abs=1e-6)


def test_corrupt_cifar_batch_names_the_file(tmp_path):
    write_cifar(tmp_path, [f"data_batch_{i}" for i in range(1, 6)], n=2)
    blob = (tmp_path / "data_batch_3").read_bytes()
    (tmp_path / "data_batch_3").write_bytes(blob[: len(blob) // 2])
    with pytest.raises(ConfigError, match="data_batch_3"):
        images.build_dataset("cifar10", cfg("cifar10", tmp_path))


# ---------------------------------------------------------------------------------------------- image files
def save(path: Path, img: Image.Image) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    img.save(path)
    return path


def test_celeba_folder_center_crop(tmp_path):
    folder = tmp_path / "celeba" / "img_align_celeba"
    # 178x218 like CelebA: red band top/bottom (outside the centred square), blue square in the middle
    arr = np.zeros((218, 178, 3), dtype=np.uint8)
    arr[:, :] = (0, 0, 255)
    arr[:10], arr[-10:] = (255, 0, 0), (255, 0, 0)
    for i in range(3):
        save(folder / f"{i + 1:06d}.png", Image.fromarray(arr))
    (tmp_path / "celeba" / "list_attr_celeba.txt").write_text("not an image\n")
    c = {"name": "celeba", "root": str(tmp_path), "download": False, "image_size": 64}
    images.prepare_dataset("celeba", c)
    ds = images.build_dataset("celeba", c)
    assert len(ds) == 3 and data_shape(c) == (3, 64, 64)
    x = ds.get_batch(torch.tensor([2, 0]))
    assert x.shape == (2, 3, 64, 64)
    # the largest centred square (rows 20..198) is all blue: the red bands (rows <10, >=208) are cropped away
    torch.testing.assert_close(x[0, 2], torch.ones(64, 64))
    torch.testing.assert_close(x[0, 0], -torch.ones(64, 64))
    assert data_shape({**c, "image_size": 128}) == (3, 128, 128)
    assert images.build_dataset("celeba", {**c, "image_size": 128})[0].shape == (3, 128, 128)


def test_celeba_jpeg_draft_decoding(tmp_path):
    grad = np.tile(np.linspace(0, 255, 178).astype(np.uint8)[None, :, None], (218, 1, 3))
    save(tmp_path / "img_align_celeba" / "000001.jpg", Image.fromarray(grad))
    x = images.build_dataset("celeba", cfg("celeba", tmp_path, image_size=64))[0]
    assert x.shape == (3, 64, 64)
    # a horizontal ramp stays a ramp: monotone along x, constant along y (up to JPEG noise)
    row = x[0, 32]
    assert row[0] < -0.9 and row[-1] > 0.9 and (row[1:] - row[:-1] > -0.05).all()
    assert (x[0].std(dim=0) < 0.05).all()


def test_image_folder_mixed_modes_and_sizes(tmp_path):
    save(tmp_path / "a" / "gray.png", Image.new("L", (40, 30), 255))
    rgba = Image.new("RGBA", (50, 50), (0, 0, 0, 0))  # fully transparent -> white background
    save(tmp_path / "a" / "b" / "rgba.PNG", rgba)
    save(tmp_path / "rgb.jpg", Image.new("RGB", (100, 64), (255, 0, 0)))
    save(tmp_path / "pal.gif", Image.new("P", (20, 20), 0))
    save(tmp_path / "deep16.png", Image.fromarray(np.full((16, 16), 65535, dtype=np.uint16)))
    (tmp_path / "notes.txt").write_text("not an image")
    c = {"name": "image_folder", "root": str(tmp_path), "image_size": 16, "channels": 3}
    images.prepare_dataset("image_folder", c)
    ds = images.build_dataset("image_folder", c)
    # recursive, sorted by path (a/b/... before a/gray.png), non-images skipped
    assert [p.name for p in ds.paths] == ["rgba.PNG", "gray.png", "deep16.png", "pal.gif", "rgb.jpg"]
    x = ds.get_batch(torch.arange(len(ds)))
    assert x.shape == (5, 3, 16, 16) and x.min() >= -1 and x.max() <= 1
    torch.testing.assert_close(x[0], torch.ones(3, 16, 16))  # transparent -> white
    torch.testing.assert_close(x[1], torch.ones(3, 16, 16))  # white gray image -> white RGB
    torch.testing.assert_close(x[2], torch.ones(3, 16, 16))  # 16-bit white -> 255
    red = x[4].mean(dim=(1, 2))
    assert red[0] > 0.95 and red[1] < -0.95 and red[2] < -0.95
    x1 = images.build_dataset("image_folder", {**c, "channels": 1}).get_batch(torch.tensor([4]))
    assert x1.shape == (1, 1, 16, 16)
    assert x1.mean().item() == pytest.approx(round(0.299 * 255) / 127.5 - 1, abs=0.02)


def test_corrupt_image_names_the_file(tmp_path):
    good = save(tmp_path / "good.png", Image.new("RGB", (32, 32), (10, 20, 30)))
    blob = good.read_bytes()
    (tmp_path / "zbroken.png").write_bytes(blob[: len(blob) // 2])
    ds = images.build_dataset(
        "image_folder", {"name": "image_folder", "root": str(tmp_path), "image_size": 8}
    )
    with pytest.raises(ConfigError, match="zbroken.png"):
        ds.get_batch(torch.tensor([0, 1]))
    (tmp_path / "good.png").write_bytes(b"garbage")  # first file unreadable: fails at build time
    with pytest.raises(ConfigError, match="good.png"):
        images.build_dataset("image_folder", {"name": "image_folder", "root": str(tmp_path), "image_size": 8})


# ---------------------------------------------------------------------------------------------- errors
@pytest.mark.parametrize(
    "name,expect",
    [
        ("mnist", ["train-images-idx3-ubyte[.gz]", "MNIST/raw"]),
        ("fashion_mnist", ["train-images-idx3-ubyte[.gz]", "FashionMNIST/raw"]),
        ("cifar10", ["data_batch_1", "data_batch_5", "cifar-10-batches-py"]),
        ("celeba", ["celeba/img_align_celeba", ".jpg"]),
    ],
)
def test_missing_files_without_download(tmp_path, name, expect):
    root = tmp_path / "nowhere"
    with pytest.raises(ConfigError) as err:
        images.prepare_dataset(name, cfg(name, root))
    msg = str(err.value)
    for text in [*expect, str(root), "data.download=true", "data.root"]:
        assert text in msg, (text, msg)


def test_missing_files_download_fails(tmp_path, monkeypatch):
    calls = []

    def offline(name, root):
        calls.append((name, root))
        raise OSError("[Errno -3] Temporary failure in name resolution")

    monkeypatch.setattr(images, "torchvision_download", offline)
    c = {"name": "cifar10", "root": str(tmp_path), "download": True}
    with pytest.raises(ConfigError) as err:
        images.prepare_dataset("cifar10", c)
    msg = str(err.value)
    assert calls == [("cifar10", tmp_path)]
    for text in ["data_batch_1", str(tmp_path), "downloading failed", "name resolution", "data.root"]:
        assert text in msg, (text, msg)


def test_download_puts_files_where_they_are_found(tmp_path, monkeypatch):
    """A successful (simulated) download in torchvision's layout is picked up without a second look."""

    def fake_download(name, root):
        write_idx(root / "FashionMNIST" / "raw", "train-images-idx3-ubyte", digits(3), gz=False)

    monkeypatch.setattr(images, "torchvision_download", fake_download)
    c = {"name": "fashion_mnist", "root": str(tmp_path), "download": True}
    images.prepare_dataset("fashion_mnist", c)
    assert len(images.build_dataset("fashion_mnist", c)) == 3


def test_image_folder_errors(tmp_path):
    with pytest.raises(ConfigError, match=r"data\.root=DIR"):
        images.prepare_dataset("image_folder", {"name": "image_folder", "root": None})
    with pytest.raises(ConfigError, match=r"\.png.*" + str(tmp_path)):
        images.prepare_dataset("image_folder", {"name": "image_folder", "root": str(tmp_path)})


@pytest.mark.parametrize(
    "override,match",
    [
        ({"channels": 2}, "data.channels"),
        ({"image_size": 0}, "data.image_size"),
        ({"split": "val"}, "data.split"),
    ],
)
def test_bad_shape_config(override, match):
    with pytest.raises(ValueError, match=match):
        data_shape({"name": "mnist", "root": "x", **override})


# ---------------------------------------------------------------------------------------------- the stream
@pytest.mark.parametrize("workers", [0, 2])
def test_datamodule_streams_image_batches(tmp_path, workers):
    write_idx(tmp_path, "train-images-idx3-ubyte", digits(40), gz=True)
    dm = GANDataModule(cfg("mnist", tmp_path), seed=5, num_workers=workers)
    dm.batch_size, dm.stop_generation = 8, 6
    dm.prepare_data()
    batches = list(dm.train_dataloader())
    assert len(batches) == 6 and all(b.shape == (8, 1, 28, 28) for b in batches)
    # generation g is a pure function of (seed, g), whatever the worker count
    stream = GenerationStream(dm.source, 8, 5, 0, 6)
    for g, b in enumerate(batches):
        torch.testing.assert_close(b, stream.batch(g), rtol=0, atol=0)
    assert dm.info() == {"name": "mnist", "shape": [1, 28, 28], "kind": "image"}
