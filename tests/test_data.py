"""Data loaders on tiny files written in each real on-disk format, read through the real loaders."""

import gzip
import os
import pickle
import struct
from pathlib import Path

import numpy as np
import pytest
import torch

from engine.config import DataSpec
from engine.data import DATASETS, DEBIAN_FASHION_MNIST, availability, default_data_dir, load_dataset
from engine.data.readers import _SafeUnpickler
from engine.errors import UnlearnError


def write_idx(path: Path, arr: np.ndarray, gz: bool = False) -> None:
    """MNIST idx format: magic (0, 0, dtype 0x08, ndim), big-endian dims, raw uint8 data."""
    header = struct.pack(">BBBB", 0, 0, 0x08, arr.ndim) + b"".join(struct.pack(">I", d) for d in arr.shape)
    data = header + arr.astype(np.uint8).tobytes()
    if gz:
        with gzip.open(str(path) + ".gz", "wb") as f:
            f.write(data)
    else:
        path.write_bytes(data)


def write_mnist(folder: Path, n_train=40, n_test=30, gz=False, seed=0):
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    ytr, yte = np.arange(n_train) % 10, np.arange(n_test) % 10
    xtr = rng.integers(0, 256, (n_train, 28, 28))
    xte = rng.integers(0, 256, (n_test, 28, 28))
    write_idx(folder / "train-images-idx3-ubyte", xtr, gz)
    write_idx(folder / "train-labels-idx1-ubyte", ytr, gz)
    write_idx(folder / "t10k-images-idx3-ubyte", xte, gz)
    write_idx(folder / "t10k-labels-idx1-ubyte", yte, gz)
    return xtr, ytr


def test_digits_default_shapes_and_range():
    ds = load_dataset(DataSpec("digits"))
    assert ds.x_train.shape[1:] == (1, 8, 8) and ds.x_train.dtype == torch.float32
    assert float(ds.x_train.min()) >= 0.0 and float(ds.x_train.max()) <= 1.0
    assert float(ds.x_train.max()) == 1.0  # 16/16
    n = len(ds.y_train) + len(ds.y_test) + len(ds.y_val)
    assert n == 1797
    assert abs(len(ds.y_test) - len(ds.y_val)) <= 1  # test halved into test / val
    assert ds.num_classes == 10


def test_digits_subset_is_stratified_and_seeded():
    a = load_dataset(DataSpec("digits", train_size=200, split_seed=1))
    b = load_dataset(DataSpec("digits", train_size=200, split_seed=1))
    c = load_dataset(DataSpec("digits", train_size=200, split_seed=2))
    assert len(a.y_train) == 200
    counts = np.bincount(a.y_train.numpy(), minlength=10)
    assert counts.min() >= 18 and counts.max() <= 22
    assert a.fingerprint == b.fingerprint and a.fingerprint != c.fingerprint
    assert torch.equal(a.x_train, b.x_train)


@pytest.mark.parametrize(
    "spec, fingerprint, n_train, train_sum",
    [
        (DataSpec("digits", train_size=300), "b4b79def57e3a05b", 300, 5790.0625),
        (DataSpec("digits"), "90ffcea40cbdce45", 898, 17465.0),
    ],
)
def test_digits_fingerprint_is_pinned(spec, fingerprint, n_train, train_sum):
    """The fingerprint keys every stored artifact: a change here orphans every store. Change it only on purpose."""
    ds = load_dataset(spec)
    assert ds.fingerprint == fingerprint
    assert len(ds.y_train) == n_train and float(ds.x_train.double().sum()) == train_sum
    assert (len(ds.y_test), len(ds.y_val)) == (449, 450)
    assert float(ds.x_test.double().sum()) == 8819.0625 and float(ds.x_val.double().sum()) == 8823.3125


def test_load_dataset_cache_is_a_bounded_lru():
    from engine.data import splits

    splits._CACHE.clear()
    first = load_dataset(DataSpec("digits", train_size=100))
    assert load_dataset(DataSpec("digits", train_size=100)) is first  # memoised
    for size in (110, 120, 130):
        load_dataset(DataSpec("digits", train_size=size))
    assert load_dataset(DataSpec("digits", train_size=100)) is first  # touched: now the most recent
    load_dataset(DataSpec("digits", train_size=140))  # evicts the least recent (110), not the oldest (100)
    assert len(splits._CACHE) == 4
    assert load_dataset(DataSpec("digits", train_size=100)) is first
    assert splits._CACHE.get((DataSpec("digits", train_size=110), str(default_data_dir()))) is None


def test_load_dataset_from_many_threads():
    from concurrent.futures import ThreadPoolExecutor

    specs = [DataSpec("digits", train_size=100 + 10 * (i % 6)) for i in range(24)]
    with ThreadPoolExecutor(6) as pool:
        results = list(pool.map(load_dataset, specs))
    for spec, ds in zip(specs, results):
        assert len(ds.y_train) == spec.train_size


@pytest.mark.parametrize("gz", [False, True])
def test_mnist_idx_files_through_torchvision(tmp_path, gz):
    xtr, ytr = write_mnist(tmp_path / "MNIST" / "raw", gz=gz)
    ds = load_dataset(DataSpec("mnist", val_fraction=0.5), data_dir=tmp_path)
    assert ds.x_train.shape == (40, 1, 28, 28)
    assert np.allclose(ds.x_train[:, 0].numpy() * 255, xtr)
    assert np.array_equal(ds.y_train.numpy(), ytr)
    assert len(ds.y_test) + len(ds.y_val) == 30


def test_fashion_mnist_gz_in_data_dir(tmp_path):
    write_mnist(tmp_path / "FashionMNIST" / "raw", gz=True, seed=3)
    ds = load_dataset(DataSpec("fashion-mnist"), data_dir=tmp_path)
    assert ds.x_train.shape == (40, 1, 28, 28)
    assert ds.classes[0] == "T-shirt/top"


def test_malformed_idx_is_a_clear_error(tmp_path):
    raw = tmp_path / "MNIST" / "raw"
    write_mnist(raw)
    (raw / "train-images-idx3-ubyte").write_bytes(b"\x00\x00\x08\x03garbage")
    with pytest.raises(UnlearnError, match="malformed|MNIST"):
        load_dataset(DataSpec("mnist"), data_dir=tmp_path)


def test_missing_files_say_where_to_put_them(tmp_path):
    for key in ("mnist", "cifar10", "cifar100", "svhn"):
        with pytest.raises(UnlearnError, match="not found|missing") as err:
            load_dataset(DataSpec(key), data_dir=tmp_path)
        assert str(tmp_path) in str(err.value)
    with pytest.raises(UnlearnError, match="unknown data set"):
        load_dataset(DataSpec("imagenet"))


def write_cifar(root: Path, hundred=False, n=20):
    rng = np.random.default_rng(0)
    if hundred:
        base, label_key = root / "cifar-100-python", "fine_labels"
        files = {"train": n, "test": n // 2}
        meta = ("meta", {"fine_label_names": [f"c{i}" for i in range(100)]})
    else:
        base, label_key = root / "cifar-10-batches-py", "labels"
        files = {f"data_batch_{i}": n // 5 for i in range(1, 6)} | {"test_batch": n // 2}
        meta = ("batches.meta", {"label_names": [f"name{i}" for i in range(10)]})
    base.mkdir(parents=True)
    for name, count in files.items():
        entry = {"data": rng.integers(0, 256, (count, 3072), dtype=np.uint8),
                 label_key: list(np.arange(count) % (100 if hundred else 10))}
        with open(base / name, "wb") as f:
            pickle.dump(entry, f, protocol=2)
    with open(base / meta[0], "wb") as f:
        pickle.dump(meta[1], f, protocol=2)


@pytest.mark.parametrize("hundred", [False, True])
def test_cifar_pickled_batches(tmp_path, hundred):
    write_cifar(tmp_path, hundred)
    ds = load_dataset(DataSpec("cifar100" if hundred else "cifar10", val_fraction=0.0), data_dir=tmp_path)
    assert ds.x_train.shape == (20, 3, 32, 32)
    assert len(ds.y_test) == 10
    assert ds.classes[1] == ("c1" if hundred else "name1")


def test_cifar_pickle_with_code_is_refused(tmp_path):
    write_cifar(tmp_path)

    class Evil:
        def __reduce__(self):
            return (os.system, ("echo pwned > /tmp/pwned_by_test",))

    with open(tmp_path / "cifar-10-batches-py" / "data_batch_1", "wb") as f:
        pickle.dump({"data": Evil(), "labels": [0]}, f, protocol=2)
    with pytest.raises(UnlearnError, match="refusing"):
        load_dataset(DataSpec("cifar10"), data_dir=tmp_path)
    assert not Path("/tmp/pwned_by_test").exists()


def test_safe_unpickler_reads_numpy_arrays():
    import io

    arr = np.arange(12, dtype=np.uint8).reshape(3, 4)
    for proto in (2, 4, 5):
        out = _SafeUnpickler(io.BytesIO(pickle.dumps({"a": arr}, protocol=proto))).load()
        assert np.array_equal(out["a"], arr)


def test_svhn_mat_files(tmp_path):
    import scipy.io as sio

    folder = tmp_path / "svhn"
    folder.mkdir()
    rng = np.random.default_rng(0)
    for name, n in (("train_32x32.mat", 20), ("test_32x32.mat", 10)):
        y = (np.arange(n) % 10 + 1).reshape(-1, 1)  # SVHN labels 1..10, 10 means digit 0
        sio.savemat(folder / name, {"X": rng.integers(0, 256, (32, 32, 3, n), dtype=np.uint8), "y": y})
    ds = load_dataset(DataSpec("svhn", val_fraction=0.0), data_dir=tmp_path)
    assert ds.x_train.shape == (20, 3, 32, 32)
    assert set(ds.y_train.tolist()) == set(range(10))


def test_imagefolder_split_and_resize(tmp_path):
    from PIL import Image

    for c, color in (("cats", (255, 0, 0)), ("dogs", (0, 0, 255))):
        (tmp_path / "pets" / c).mkdir(parents=True)
        for i in range(5):
            Image.new("RGB", (20 + i, 17), color).save(tmp_path / "pets" / c / f"{i}.png")
    ds = load_dataset(DataSpec("imagefolder", path=str(tmp_path / "pets"), image_size=16, val_fraction=0.0))
    assert ds.classes == ["cats", "dogs"]
    assert ds.x_train.shape == (8, 3, 16, 16) and len(ds.y_test) == 2
    cat = ds.x_train[ds.y_train == 0][0]
    assert float(cat[0].mean()) == pytest.approx(1.0) and float(cat[2].mean()) == pytest.approx(0.0)


def test_imagefolder_bad_image_is_a_clear_error(tmp_path):
    for c in ("a", "b"):
        (tmp_path / c).mkdir()
        for i in range(5):  # five a class: enough to split 80/20 with both classes on both sides
            (tmp_path / c / f"{i}.png").write_bytes(b"not a png")
    with pytest.raises(UnlearnError, match="cannot read image"):
        load_dataset(DataSpec("imagefolder", path=str(tmp_path)))


def test_registry_lists_seven_and_digits_is_available():
    assert list(DATASETS) == ["digits", "mnist", "fashion-mnist", "cifar10", "cifar100", "svhn", "imagefolder"]
    assert availability("digits")[0]


@pytest.mark.skipif(not (DEBIAN_FASHION_MNIST / "train-images-idx3-ubyte.gz").is_file(),
                    reason="Debian package dataset-fashion-mnist not installed")
def test_real_fashion_mnist_from_debian_package():
    ds = load_dataset(DataSpec("fashion-mnist", train_size=2000, test_size=1000), data_dir="/nonexistent")
    assert ds.x_train.shape == (2000, 1, 28, 28)
    assert len(ds.y_test) + len(ds.y_val) == 1000
    assert np.bincount(ds.y_train.numpy()).tolist() == [200] * 10
    assert 0.2 < float(ds.x_train.mean()) < 0.4  # real clothing images, not noise
