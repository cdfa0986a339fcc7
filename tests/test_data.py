"""Tests of genzoo.data: offline; synthetic files in tmp dirs, and Debian's Fashion-MNIST."""

from __future__ import annotations

import functools
import gzip
import hashlib
import io
import os
import pickle
import shutil
import struct
import tarfile
import threading
from collections import Counter
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

import genzoo.data.files as files
from genzoo.data import (
    DatasetInfo,
    ImageDataset,
    PointDataset,
    dataset_info,
    list_datasets,
    load_dataset,
    prepare,
)
from genzoo.data.folder import load_image_folder
from genzoo.data.toy2d import SwissRoll
from genzoo.errors import CorruptFileError, DataNotFoundError, UserInputError

DEBIAN_FASHION = Path("/usr/share/datasets/fashion-mnist")
REAL_SYSTEM_DIRS = files.SYSTEM_DATA_DIRS
DEAD_URL = "http://127.0.0.1:9/"  # the discard port: refused at once, never the internet


@pytest.fixture(autouse=True)
def isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A private cache, no $GENZOO_DATA, no system folders, and no reachable download mirror."""
    monkeypatch.setenv("GENZOO_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv("GENZOO_DATA", raising=False)
    monkeypatch.setattr(files, "SYSTEM_DATA_DIRS", ())
    monkeypatch.setattr(files, "BASE_URLS", {k: (DEAD_URL,) for k in files.BASE_URLS})
    return tmp_path / "cache"


# ---------------------------------------------------------------- synthetic files


def idx_bytes(array: np.ndarray, magic: bytes | None = None) -> bytes:
    """An unsigned-byte IDX file (http://yann.lecun.com/exdb/mnist/) holding ``array``."""
    header = magic or bytes([0, 0, 8, array.ndim])
    return header + struct.pack(f">{array.ndim}I", *array.shape) + array.astype(np.uint8).tobytes()


def write_file(path: Path, raw: bytes) -> Path:
    path.write_bytes(gzip.compress(raw) if path.suffix == ".gz" else raw)
    return path


def write_mnist(folder: Path, n_train: int = 30, n_test: int = 10, gz: bool = True, seed: int = 0):
    """Synthetic mnist-style IDX files; returns {split: (images (N,28,28), labels (N,))}."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    out = {}
    for split, prefix, n in (("train", "train", n_train), ("test", "t10k", n_test)):
        images = rng.integers(0, 256, (n, 28, 28), dtype=np.uint8)
        labels = (np.arange(n) % 10).astype(np.uint8)
        ext = ".gz" if gz else ""
        write_file(folder / f"{prefix}-images-idx3-ubyte{ext}", idx_bytes(images))
        write_file(folder / f"{prefix}-labels-idx1-ubyte{ext}", idx_bytes(labels))
        out[split] = (images, labels)
    return out


def py2_batch_pickle(data: np.ndarray, labels: list[int]) -> bytes:
    """A pickle written opcode by opcode as Python 2's cPickle wrote the CIFAR-10 batches."""

    def s(text: bytes) -> bytes:  # SHORT_BINSTRING: a Python 2 str
        return b"U" + bytes([len(text)]) + text

    def i(v: int) -> bytes:  # BININT
        return b"J" + struct.pack("<i", v)

    dtype = (
        b"cnumpy\ndtype\n" + s(b"u1") + i(0) + i(1) + b"\x87R"  # dtype('u1', 0, 1)
        + b"(" + i(3) + s(b"|") + b"NNN" + i(-1) + i(-1) + i(0) + b"tb"  # __setstate__
    )  # fmt: skip
    raw = data.tobytes()
    array = (
        b"cnumpy.core.multiarray\n_reconstruct\n" + b"cnumpy\nndarray\n"
        + i(0) + b"\x85" + s(b"b") + b"\x87R"  # _reconstruct(ndarray, (0,), 'b')
        + b"(" + i(1) + i(data.shape[0]) + i(data.shape[1]) + b"\x86" + dtype
        + b"\x89T" + struct.pack("<I", len(raw)) + raw + b"tb"  # __setstate__
    )  # fmt: skip
    label_list = b"](" + b"".join(i(v) for v in labels) + b"e"
    return b"\x80\x02}(" + s(b"data") + array + s(b"labels") + label_list + b"u."


def write_cifar(folder: Path, rows: int = 4, seed: int = 0) -> dict[str, np.ndarray]:
    """Synthetic CIFAR-10 batches (``rows`` images each); returns {split: data (N, 3072)}."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    out: dict[str, list[np.ndarray]] = {"train": [], "test": []}
    for name in [f"data_batch_{k}" for k in range(1, 6)] + ["test_batch"]:
        data = rng.integers(0, 256, (rows, 3072), dtype=np.uint8)
        (folder / name).write_bytes(py2_batch_pickle(data, [k % 10 for k in range(rows)]))
        out["test" if name == "test_batch" else "train"].append(data)
    return {k: np.concatenate(v) for k, v in out.items()}


# ---------------------------------------------------------------- real Fashion-MNIST


@pytest.mark.skipif(
    not (DEBIAN_FASHION / "train-images-idx3-ubyte.gz").is_file(),
    reason="Debian package dataset-fashion-mnist is not installed (/usr/share/datasets)",
)
def test_real_fashion_mnist(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(files, "SYSTEM_DATA_DIRS", REAL_SYSTEM_DIRS)
    train, test = load_dataset("fashion-mnist"), load_dataset("fashion-mnist", "test")
    assert isinstance(train, ImageDataset) and train.kind == "8bit" and train.binarize == "none"
    assert train.images.shape == (60000, 1, 28, 28) and train.images.dtype == torch.uint8
    assert test.images.shape == (10000, 1, 28, 28) and len(test.labels) == 10000
    assert train.labels.dtype == torch.int64 and train.labels.bincount().tolist() == [6000] * 10
    image, label = train[0]
    assert label.item() == 9  # an ankle boot
    with gzip.open(DEBIAN_FASHION / "train-images-idx3-ubyte.gz") as f:
        first = np.frombuffer(f.read(16 + 784)[16:], dtype=np.uint8)  # skip the 16-byte header
    assert image.shape == (1, 28, 28) and image.sum().item() == int(first.sum())


# ---------------------------------------------------------------- IDX files


@pytest.mark.parametrize("gz", [True, False])
def test_idx_round_trip(tmp_path: Path, gz: bool) -> None:
    truth = write_mnist(tmp_path / "m", gz=gz)
    for split in ("train", "test"):
        ds = load_dataset("mnist", split, root=tmp_path / "m")
        images, labels = truth[split]
        assert ds.images.shape == (len(images), 1, 28, 28) and ds.images.dtype == torch.uint8
        assert np.array_equal(ds.images[:, 0].numpy(), images)
        assert ds.labels.dtype == torch.int64 and np.array_equal(ds.labels.numpy(), labels)
        assert ds.image_shape == (1, 28, 28) and ds.num_classes == 10


def _truncate(p: Path) -> None:
    write_file(p, gzip.decompress(p.read_bytes())[:-5])


def _pad(p: Path) -> None:
    write_file(p, gzip.decompress(p.read_bytes()) + b"\0")


def _bad_magic(p: Path) -> None:
    write_file(p, b"\x00\x00\x0b\x03" + gzip.decompress(p.read_bytes())[4:])  # 0x0B = int16


def _garbage_gzip(p: Path) -> None:
    p.write_bytes(b"this is not gzip data at all")


def _cut_gzip_stream(p: Path) -> None:
    p.write_bytes(p.read_bytes()[:200])


@pytest.mark.parametrize(
    "damage",
    [_truncate, _pad, _bad_magic, _garbage_gzip, _cut_gzip_stream],
    ids=lambda f: f.__name__,
)
def test_corrupt_idx(tmp_path: Path, damage) -> None:
    write_mnist(tmp_path / "m")
    target = tmp_path / "m" / "train-images-idx3-ubyte.gz"
    damage(target)
    with pytest.raises(CorruptFileError) as err:
        load_dataset("mnist", root=tmp_path / "m")
    message = str(err.value)
    assert str(target) in message and "genzoo data prepare mnist --download" in message
    assert "\n" not in message
    load_dataset("mnist", "test", root=tmp_path / "m")  # the intact split still loads


def test_image_label_count_mismatch(tmp_path: Path) -> None:
    write_mnist(tmp_path / "m", n_train=12)
    write_file(tmp_path / "m" / "train-labels-idx1-ubyte.gz", idx_bytes(np.zeros(11, np.uint8)))
    with pytest.raises(CorruptFileError, match="11"):
        load_dataset("mnist", root=tmp_path / "m")


def test_missing_files_say_how_to_get_them(tmp_path: Path, isolated: Path) -> None:
    with pytest.raises(DataNotFoundError) as err:
        load_dataset("mnist", root=tmp_path / "nowhere")
    message = str(err.value)
    assert "genzoo data prepare mnist --download" in message and "apt-get" not in message
    assert str(tmp_path / "nowhere") in message and str(isolated / "data" / "mnist") in message
    with pytest.raises(DataNotFoundError, match="apt-get install dataset-fashion-mnist"):
        load_dataset("binarized-fashion-mnist")
    with pytest.raises(DataNotFoundError, match="genzoo data prepare cifar10 --download"):
        prepare("cifar10")


def test_lookup_order(tmp_path: Path, isolated: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """root beats $GENZOO_DATA beats the cache beats system folders (told apart by N)."""
    write_mnist(tmp_path / "root", n_train=11)
    write_mnist(tmp_path / "env" / "mnist", n_train=12)
    write_mnist(isolated / "data" / "mnist", n_train=13)
    write_mnist(tmp_path / "system" / "mnist", n_train=14)
    monkeypatch.setenv("GENZOO_DATA", str(tmp_path / "env"))
    monkeypatch.setattr(files, "SYSTEM_DATA_DIRS", (str(tmp_path / "system"),))
    assert len(load_dataset("mnist", root=tmp_path / "root")) == 11
    with pytest.raises(DataNotFoundError, match="not found in the folder given"):
        load_dataset("mnist", root=tmp_path / "empty")  # an explicit root is used or refused
    assert len(load_dataset("mnist")) == 12
    monkeypatch.delenv("GENZOO_DATA")
    assert len(load_dataset("mnist")) == 13
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    monkeypatch.delenv("GENZOO_CACHE")  # now the cache is $XDG_CACHE_HOME/genzoo: empty
    assert len(load_dataset("mnist")) == 14
    assert prepare("mnist") == tmp_path / "system" / "mnist"


# ---------------------------------------------------------------- binarization


def test_binarized_fixed(tmp_path: Path) -> None:
    write_mnist(tmp_path / "m", n_train=20)

    def load(seed: int, split: str = "train") -> ImageDataset:
        return load_dataset("binarized-mnist:fixed", split, root=tmp_path / "m", seed=seed)

    a, b, c = load(0), load(0), load(1)
    assert a.kind == "binary" and a.binarize == "fixed" and a.name == "binarized-mnist:fixed"
    assert set(a.images.unique().tolist()) == {0, 1}
    assert torch.equal(a.images, b.images) and not torch.equal(a.images, c.images)
    assert torch.equal(a[3][0], a[3][0])  # stored, not redrawn
    assert torch.equal(load(0, "train[5:]").images, a.images[5:])  # slices of the same draw
    for kind in ("images-idx3", "labels-idx1"):  # test := train, so only the stream differs
        shutil.copy(
            tmp_path / "m" / f"train-{kind}-ubyte.gz", tmp_path / "m" / f"t10k-{kind}-ubyte.gz"
        )
    assert not torch.equal(load(0, "test").images, a.images)  # test has its own stream


def test_binarized_dynamic(tmp_path: Path) -> None:
    truth = write_mnist(tmp_path / "m", n_train=3)
    ds = load_dataset("binarized-mnist", root=tmp_path / "m")
    assert ds.kind == "binary" and ds.binarize == "dynamic" and ds.images.max() > 1  # grey kept
    torch.manual_seed(0)
    first, second = ds[1][0], ds[1][0]
    assert set(first.unique().tolist()) <= {0, 1} and not torch.equal(first, second)
    torch.manual_seed(0)
    assert torch.equal(ds[1][0], first)  # reproducible from torch's global seed
    mean = torch.stack([ds[1][0] for _ in range(4000)]).double().mean(0)  # (1, 28, 28)
    target = torch.from_numpy(truth["train"][0][1]).double() / 255
    assert (mean[0] - target).abs().max() < 0.04  # 5 sigma of a 4000-draw mean


# ---------------------------------------------------------------- splits and names


def test_splits_and_slices(tmp_path: Path) -> None:
    write_mnist(tmp_path / "m", n_train=30)
    full = load_dataset("mnist", root=tmp_path / "m")
    head, tail = (
        load_dataset("mnist", s, root=tmp_path / "m") for s in ("train[:25]", "train[25:]")
    )
    assert (len(head), len(tail)) == (25, 5)
    assert torch.equal(torch.cat([head.images, tail.images]), full.images)
    assert torch.equal(
        load_dataset("mnist", "train[-3:]", root=tmp_path / "m").labels, full.labels[-3:]
    )
    for bad in ("valid", "train[1]", "train[:5", "TEST", ""):
        with pytest.raises(UserInputError, match="'train', 'test'"):
            load_dataset("mnist", bad, root=tmp_path / "m")
    with pytest.raises(UserInputError, match="empty"):
        load_dataset("mnist", "train[40:]", root=tmp_path / "m")


def test_unknown_names_and_options() -> None:
    with pytest.raises(UserInputError) as err:
        load_dataset("imagenet")
    assert all(n in str(err.value) for n in ("fashion-mnist", "cifar10", "toy2d:swissroll"))
    with pytest.raises(UserInputError, match="did you mean 'fashion-mnist'"):
        dataset_info("fashion_mnist")
    for spec in ("toy2d:spiral", "mnist:fixed", "toy2d"):
        with pytest.raises(UserInputError):
            load_dataset(spec)
    with pytest.raises(UserInputError, match="image-folder:PATH"):
        load_dataset("image-folder")
    with pytest.raises(UserInputError, match="image_size"):
        load_dataset("toy2d:8gaussians", image_size=32)  # points: nothing to resize
    with pytest.raises(UserInputError, match="image_size"):
        load_dataset("digits", image_size=0)
    with pytest.raises(UserInputError, match="seed"):
        load_dataset("toy2d:8gaussians", seed=-1)


def test_catalogue() -> None:
    infos = list_datasets()
    names = [i.name for i in infos]
    assert len(set(names)) == len(names) and all(isinstance(i, DatasetInfo) for i in infos)
    assert dataset_info("Fashion-MNIST") == infos[names.index("fashion-mnist")]
    assert dataset_info("image-folder:/some/where").image_shape is None
    assert dataset_info("cifar10").image_shape == (3, 32, 32)
    assert dataset_info("binarized-mnist:fixed").kind == "binary"
    assert dataset_info("toy2d:25gaussians").num_classes == 25
    with pytest.raises(AttributeError):
        infos[0].name = "x"  # frozen


# ---------------------------------------------------------------- CIFAR-10


def test_cifar10_python2_batches(tmp_path: Path) -> None:
    truth = write_cifar(tmp_path / "c", rows=4)
    train = load_dataset("cifar10", root=tmp_path / "c")
    test = load_dataset("cifar10", "test", root=tmp_path / "c")
    assert train.images.shape == (20, 3, 32, 32) and test.images.shape == (4, 3, 32, 32)
    assert torch.equal(
        train.images[7, 1], torch.from_numpy(truth["train"][7, 1024:2048]).view(32, 32)
    )
    assert train.labels.tolist() == [k % 10 for k in range(4)] * 5 and train.num_classes == 10


def test_cifar10_found_in_extracted_folder(tmp_path: Path, isolated: Path) -> None:
    write_cifar(isolated / "data" / "cifar10" / "cifar-10-batches-py", rows=2)
    assert len(load_dataset("cifar10", "test")) == 2


def test_cifar10_refuses_foreign_globals(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"

    class Evil:
        def __reduce__(self):
            return (os.system, (f"touch {marker}",))

    write_cifar(tmp_path / "c", rows=2)
    (tmp_path / "c" / "data_batch_3").write_bytes(pickle.dumps({"data": Evil()}, protocol=2))
    with pytest.raises(CorruptFileError, match="system"):
        load_dataset("cifar10", root=tmp_path / "c")
    assert not marker.exists()


@pytest.mark.parametrize(
    "payload",
    [
        py2_batch_pickle(np.zeros((2, 3000), np.uint8), [0, 1]),  # 3000 columns, not 3072
        py2_batch_pickle(np.zeros((2, 3072), np.uint8), [0]),  # too few labels
        py2_batch_pickle(np.zeros((2, 3072), np.uint8), [0, 10]),  # label out of range
        pickle.dumps([1, 2, 3]),  # not a dict
        b"\x80\x02}(U\x04data",  # cut short
    ],
)
def test_cifar10_bad_batches(tmp_path: Path, payload: bytes) -> None:
    write_cifar(tmp_path / "c", rows=2)
    (tmp_path / "c" / "test_batch").write_bytes(payload)
    with pytest.raises(CorruptFileError, match="test_batch"):
        load_dataset("cifar10", "test", root=tmp_path / "c")


# ---------------------------------------------------------------- digits


def test_digits() -> None:
    from sklearn.datasets import load_digits

    train, test = load_dataset("digits"), load_dataset("digits", "test")
    assert train.images.shape == (1497, 1, 8, 8) and test.images.shape == (300, 1, 8, 8)
    assert train.images.dtype == torch.uint8 and train.images.max() == 255
    raw = load_digits()
    expected = Counter(
        (np.round(x * 255 / 16).astype(np.uint8).tobytes(), int(y))
        for x, y in zip(raw.images, raw.target, strict=True)
    )
    got = Counter(
        (x[0].numpy().tobytes(), int(y))
        for ds in (train, test)
        for x, y in zip(ds.images, ds.labels, strict=True)
    )
    assert got == expected  # the two splits partition the data set exactly
    assert torch.equal(load_dataset("digits", "test").images, test.images)  # deterministic


# ---------------------------------------------------------------- image-folder


def make_folder(folder: Path) -> None:
    """Five images: a wide green|red|blue|green one, a tall one, squares; one in a subfolder."""
    (folder / "sub").mkdir(parents=True)
    wide = np.zeros((20, 40, 3), np.uint8)
    wide[:, :10, 1] = wide[:, 30:, 1] = 255  # green outer quarters
    wide[:, 10:20, 0] = 255  # red
    wide[:, 20:30, 2] = 255  # blue
    Image.fromarray(wide).save(folder / "a_wide.png")
    Image.new("RGB", (20, 50), (200, 10, 10)).save(folder / "b_tall.jpg")
    Image.new("L", (30, 30), 128).save(folder / "c_grey.bmp")  # grey becomes RGB
    Image.new("RGBA", (17, 17), (0, 0, 255, 255)).save(folder / "sub" / "d.png")
    Image.new("RGB", (64, 64), (0, 255, 0)).save(folder / "sub" / "e.webp")
    (folder / "notes.txt").write_text("not an image")


def test_image_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    make_folder(tmp_path / "img")
    images = load_image_folder(tmp_path / "img", 16)  # (5, 3, 16, 16) in file-name order
    assert images.shape == (5, 3, 16, 16) and images.dtype == torch.uint8
    wide = images[0].int()  # the centre crop keeps red (left) and blue (right), no green
    assert wide[1].max() < 40
    assert wide[0, :, :6].min() > 200 and wide[2, :, :6].max() < 40
    assert wide[2, :, 10:].min() > 200 and wide[0, :, 10:].max() < 40
    assert images[2].unique().tolist() == [128]
    train = load_dataset(f"image-folder:{tmp_path / 'img'}", image_size=16)
    test = load_dataset(f"image-folder:{tmp_path / 'img'}", "test", image_size=16)
    assert (len(train), len(test)) == (4, 1) and train.labels is None and train[0][1].item() == -1
    assert train.image_shape == (3, 16, 16) and train.num_classes is None
    assert load_dataset(f"image-folder:{tmp_path / 'img'}").image_shape == (3, 64, 64)

    def no_decoding(*args, **kwargs):
        raise AssertionError("decoded an image although the cache is current")

    monkeypatch.setattr(Image, "open", no_decoding)
    again = load_dataset(f"image-folder:{tmp_path / 'img'}", image_size=16)
    assert torch.equal(again.images, train.images)
    cache_dir = prepare(f"image-folder:{tmp_path / 'img'}", image_size=16)
    assert len(list(cache_dir.glob("*.safetensors"))) == 2  # sizes 16 and 64
    Image.new("RGB", (8, 8)).save(tmp_path / "img" / "f.png")  # the folder changed: rebuild
    with pytest.raises(AssertionError, match="decoded"):
        load_dataset(f"image-folder:{tmp_path / 'img'}", image_size=16)


def test_image_folder_errors(tmp_path: Path) -> None:
    make_folder(tmp_path / "img")
    (tmp_path / "img" / "sub" / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n but then nothing")
    with pytest.raises(CorruptFileError, match=r"broken\.png"):
        load_dataset(f"image-folder:{tmp_path / 'img'}")
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "readme.txt").write_text("hi")
    with pytest.raises(UserInputError, match="no images"):
        load_dataset(f"image-folder:{tmp_path / 'empty'}")
    with pytest.raises(DataNotFoundError):
        load_dataset(f"image-folder:{tmp_path / 'missing'}")


# ---------------------------------------------------------------- toy2d


TOYS = ["8gaussians", "25gaussians", "swissroll", "checkerboard"]


@pytest.mark.parametrize("variant", TOYS)
def test_toy2d(variant: str) -> None:
    train = load_dataset(f"toy2d:{variant}")
    test = load_dataset(f"toy2d:{variant}", "test")
    assert isinstance(train, PointDataset) and train.kind == "points"
    assert train.points.shape == (50000, 2) and train.points.dtype == torch.float32
    assert len(test) == 10000 and not torch.equal(train.points[:100], test.points[:100])
    assert torch.equal(load_dataset(f"toy2d:{variant}", "train[:100]").points, train.points[:100])
    assert not torch.equal(load_dataset(f"toy2d:{variant}", seed=1).points, train.points)
    # The density integrates to 1: a midpoint Riemann sum on a grid covering the support.
    half, step = (3.8, 0.02) if variant == "swissroll" else (3.0, 0.01)
    axis = torch.arange(-half + step / 2, half, step, dtype=torch.float64)
    grid = torch.cartesian_prod(axis, axis)  # (G, 2)
    assert train.log_prob(grid).exp().sum().item() * step**2 == pytest.approx(1.0, abs=0.02)
    # Samples are far likelier than uniform points on the box.
    uniform = (torch.rand(5000, 2, generator=torch.Generator().manual_seed(0)) * 2 - 1) * half
    assert train.log_prob(train.points[:5000]).mean() > train.log_prob(uniform).mean() + 1
    assert train.log_prob(train.points[:5000]).isfinite().all()


def test_toy2d_gaussian_modes() -> None:
    ds = load_dataset("toy2d:8gaussians")
    point, label = ds[0]
    assert point.shape == (2,) and label.dtype == torch.int64 and ds.num_classes == 8
    angle = ds.labels.double() * (2 * torch.pi / 8)
    centres = 2 * torch.stack([angle.cos(), angle.sin()], 1)  # (N, 2)
    assert (ds.points - centres).norm(dim=1).max() < 0.05 * 6
    assert ds.labels.bincount().min() > 50000 / 8 * 0.9
    grid = load_dataset("toy2d:25gaussians")
    i, j = grid.labels // 5, grid.labels % 5
    assert (grid.points - torch.stack([i - 2, j - 2], 1)).norm(dim=1).max() < 0.05 * 6
    assert load_dataset("toy2d:swissroll")[0][1].item() == -1


def test_toy2d_exact_values() -> None:
    board = load_dataset("toy2d:checkerboard", "test[:10]")
    x = torch.tensor([[-1.5, -1.5], [-0.5, -1.5], [2.5, 0.5], [0.5, 0.5]])
    assert board.log_prob(x).tolist() == pytest.approx([-np.log(8), -np.inf, -np.inf, -np.log(8)])
    ring = load_dataset("toy2d:8gaussians", "test[:10]")
    peak = -np.log(2 * np.pi * 0.05**2) - np.log(8)  # at a centre the other 7 are negligible
    assert ring.log_prob(torch.tensor([[2.0, 0.0]])).item() == pytest.approx(peak, abs=1e-6)
    assert ring.log_prob(torch.zeros(3, 4, 2)).shape == (3, 4)
    with pytest.raises(UserInputError):
        ring.log_prob(torch.zeros(5, 3))


def test_swissroll_quadrature_is_accurate() -> None:
    ds = load_dataset("toy2d:swissroll", "test[:2000]")
    fine = SwissRoll(panels=16000)
    x = ds.points.double()
    assert (ds.log_prob(x) - fine.log_prob(x)).abs().max() < 1e-5
    axis = torch.linspace(-3.5, 3.5, 71, dtype=torch.float64)
    grid = torch.cartesian_prod(axis, axis)
    ref = fine.log_prob(grid)
    err = (ds.log_prob(grid) - ref).abs()
    assert err[ref > -8].max() < 1e-5 and err[ref > -20].max() < 1e-4


# ---------------------------------------------------------------- downloads (local server)


@pytest.fixture
def server(tmp_path: Path):
    """An HTTP server on 127.0.0.1 serving tmp_path/"www"; yields (base URL, folder)."""
    www = tmp_path / "www"
    www.mkdir()

    class Quiet(SimpleHTTPRequestHandler):
        def log_message(self, *args) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Quiet, directory=str(www)))
    thread = threading.Thread(target=httpd.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/", www
    httpd.shutdown()
    httpd.server_close()


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_download_mnist(server, isolated: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    url, www = server
    truth = write_mnist(www, n_train=15)
    sums = {p.name: ("sha256", sha256(p)) for p in www.iterdir()}
    monkeypatch.setitem(files.CHECKSUMS, "mnist", sums)
    monkeypatch.setitem(files.BASE_URLS, "mnist", (DEAD_URL, url))  # first mirror is down
    with pytest.raises(DataNotFoundError):
        prepare("mnist")  # no download without download=True
    where = prepare("mnist", download=True)
    assert where == isolated / "data" / "mnist"
    assert sorted(p.name for p in where.iterdir()) == sorted(sums)  # no temporary files left
    ds = load_dataset("binarized-mnist:fixed")
    assert len(ds) == 15 and torch.equal(
        load_dataset("mnist").images[:, 0], torch.from_numpy(truth["train"][0])
    )
    for p in www.iterdir():
        p.unlink()  # a second prepare finds the files and downloads nothing
    assert prepare("mnist", download=True) == where


def test_download_checksum_mismatch(
    server, isolated: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url, www = server
    write_mnist(www)
    sums = {p.name: ("md5", "0" * 32) for p in www.iterdir()}
    monkeypatch.setitem(files.CHECKSUMS, "mnist", sums)
    monkeypatch.setitem(files.BASE_URLS, "mnist", (url,))
    with pytest.raises(CorruptFileError, match="md5"):
        prepare("mnist", download=True)
    assert not [p for p in isolated.rglob("*") if p.is_file()]
    monkeypatch.setitem(files.BASE_URLS, "mnist", (url + "missing/",))  # 404 everywhere
    with pytest.raises(DataNotFoundError, match="could not download"):
        prepare("mnist", download=True)


def tar_gz(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def test_download_cifar10(server, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    url, www = server
    truth = write_cifar(tmp_path / "src", rows=3)
    archive = www / "cifar-10-python.tar.gz"
    batches = {
        f"cifar-10-batches-py/{p.name}": p.read_bytes() for p in (tmp_path / "src").iterdir()
    }
    archive.write_bytes(tar_gz(batches))
    monkeypatch.setitem(files.CHECKSUMS, "cifar10", {archive.name: ("sha256", sha256(archive))})
    monkeypatch.setitem(files.BASE_URLS, "cifar10", (url,))
    where = prepare("cifar10", download=True)
    assert where.name == "cifar-10-batches-py" and not (where.parent / archive.name).exists()
    test = load_dataset("cifar10", "test")
    assert torch.equal(test.images.reshape(3, -1), torch.from_numpy(truth["test"]))


def test_download_refuses_unsafe_tar(
    server, isolated: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url, www = server
    archive = www / "cifar-10-python.tar.gz"
    archive.write_bytes(tar_gz({"cifar-10-batches-py/test_batch": b"x", "../evil": b"x"}))
    monkeypatch.setitem(files.CHECKSUMS, "cifar10", {archive.name: ("sha256", sha256(archive))})
    monkeypatch.setitem(files.BASE_URLS, "cifar10", (url,))
    with pytest.raises(CorruptFileError, match="unsafe"):
        prepare("cifar10", download=True)
    assert not (isolated / "data" / "evil").exists()
    assert not (isolated / "data" / "cifar10" / "cifar-10-batches-py").exists()


def _grey(binarize: str) -> ImageDataset:
    images = torch.randint(0, 256, (9, 1, 4, 4), generator=torch.Generator().manual_seed(0))
    kind = "8bit" if binarize == "none" else "binary"
    return ImageDataset(images.to(torch.uint8), name="grey", kind=kind, binarize=binarize)


@pytest.mark.parametrize(
    "make",
    [
        lambda: load_dataset("digits", "test"),
        lambda: load_dataset("toy2d:8gaussians", "test"),
        lambda: _grey("dynamic"),
        lambda: _grey("none"),
    ],
    ids=["digits", "toy2d", "dynamic-binary", "8bit"],
)
def test_every_dataset_declares_the_facts_its_callers_read(make) -> None:
    """Evaluation, the report and the loop read a dataset's declared facts (GenzooDataset)
    instead of probing it; each fact must hold for what the dataset gives."""
    from genzoo.data.datasets import GenzooDataset

    ds = make()
    assert isinstance(ds, GenzooDataset)
    x = ds.examples(7, seed=3)
    assert len(x) == 7 and tuple(x.shape[1:]) == ds.image_shape
    assert torch.equal(x, ds.examples(7, seed=3))  # the same for the same seed
    images, labels = ds.batch(torch.arange(7))
    assert images.shape == x.shape and labels.shape == (7,)
    if ds.kind == "points":
        assert ds.binarize == "none" and torch.equal(x, ds.points[:7])
        assert torch.allclose(ds.log_prob(x), ds.distribution.log_prob(x))
    else:
        assert ds.log_prob is None and x.dtype == torch.uint8
        if ds.binarize == "dynamic":  # drawn from the grey values, seeded
            assert set(x.unique().tolist()) <= {0, 1}
            assert not torch.equal(x, ds.examples(7, seed=4))
        else:
            assert torch.equal(x, ds.images[:7])
