"""Readers: one function per on-disk format, each returning the official train / test split as uint8 arrays.

Files are read from a local root; nothing is downloaded unless the caller asks for it. Readers never unpickle
untrusted content: CIFAR's pickled batches go through an allow-list unpickler that only rebuilds numpy arrays,
lists, dicts and strings.
"""

from __future__ import annotations

import gzip
import os
import pickle
import shutil
import tarfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..config import DataSpec
from ..errors import DataMissing, UnlearnError
from ..paths import unlearn_home

DEBIAN_FASHION_MNIST = Path("/usr/share/datasets/fashion-mnist")
DIGITS_TEST_FRACTION = 0.5  # the fixed digits split: half train, half test (then test halved into test/val)


@dataclass
class _Raw:
    """Images as uint8 (N, C, H, W) with a divisor that maps them to [0, 1]."""

    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    classes: list[str]
    scale: float = 255.0


# --------------------------------------------------------------------------------------------- readers
def _load_digits(root: Path, download: bool, spec: DataSpec) -> _Raw:
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    bunch = load_digits()
    x = bunch.images.astype(np.uint8)[:, None]  # (1797, 1, 8, 8), values 0..16
    y = bunch.target.astype(np.int64)
    tr, te = train_test_split(np.arange(len(y)), test_size=DIGITS_TEST_FRACTION, stratify=y, random_state=0)
    tr, te = np.sort(tr), np.sort(te)
    return _Raw(x[tr], y[tr], x[te], y[te], [str(c) for c in range(10)], scale=16.0)


_IDX_FILES = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")


def _idx_loader(cls_name: str, debian_dir: Path | None = None) -> Callable[[Path, bool, DataSpec], _Raw]:
    """MNIST-format reader through torchvision's own class; accepts the .gz files and Debian's copy."""

    def load(root: Path, download: bool, spec: DataSpec) -> _Raw:
        import torchvision.datasets as tvd

        cls = getattr(tvd, cls_name)
        raw = root / cls_name / "raw"
        use_root = root
        if not all((raw / f).is_file() for f in _IDX_FILES) and not download:
            candidates = [raw, root / cls_name, root] + ([debian_dir] if debian_dir else [])
            source = next((d for d in candidates if all((d / f"{f}.gz").is_file() for f in _IDX_FILES)), None)
            if source is None:
                raise DataMissing(_missing_message(cls_name, root), downloadable=True)
            use_root = unlearn_home() / "data-cache"
            dest = use_root / cls_name / "raw"
            dest.mkdir(parents=True, exist_ok=True)
            for f in _IDX_FILES:
                if not (dest / f).is_file():
                    tmp = dest / f"{f}.tmp{os.getpid()}"
                    with gzip.open(source / f"{f}.gz", "rb") as fin, open(tmp, "wb") as fout:
                        shutil.copyfileobj(fin, fout)
                    os.replace(tmp, dest / f)
        try:
            train = cls(str(use_root), train=True, download=download)
            test = cls(str(use_root), train=False, download=download)
        except RuntimeError as exc:  # torchvision: "Dataset not found" / download failure
            raise DataMissing(f"{_missing_message(cls_name, root)} ({exc})", downloadable=True) from None
        except (ValueError, AssertionError, OSError) as exc:
            raise UnlearnError(f"{cls_name}: the files under {use_root} are malformed: {exc}") from None
        return _Raw(
            train.data.numpy()[:, None].astype(np.uint8),
            train.targets.numpy().astype(np.int64),
            test.data.numpy()[:, None].astype(np.uint8),
            test.targets.numpy().astype(np.int64),
            list(train.classes),
        )

    return load


class _SafeUnpickler(pickle.Unpickler):
    """Rebuilds only numpy arrays and plain containers; anything else in the file is refused."""

    _ALLOWED = {
        ("numpy.core.multiarray", "_reconstruct"),
        ("numpy._core.multiarray", "_reconstruct"),
        ("numpy.core.multiarray", "scalar"),
        ("numpy._core.multiarray", "scalar"),
        ("numpy.core.numeric", "_frombuffer"),
        ("numpy._core.numeric", "_frombuffer"),
        ("numpy", "ndarray"),
        ("numpy", "dtype"),
        ("_codecs", "encode"),
    }

    def find_class(self, module: str, name: str):
        if (module, name) in self._ALLOWED:
            return super().find_class(module, name)
        raise pickle.UnpicklingError(f"refusing to load {module}.{name} from a data file")


def _read_pickle(path: Path) -> dict:
    try:
        with open(path, "rb") as f:
            obj = _SafeUnpickler(f, encoding="latin1").load()
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError, AttributeError) as exc:
        raise UnlearnError(f"{path} is not a valid CIFAR batch file: {exc}") from None
    if not isinstance(obj, dict):
        raise UnlearnError(f"{path} is not a valid CIFAR batch file: expected a dict")
    return {k.decode() if isinstance(k, bytes) else k: v for k, v in obj.items()}


def _cifar_loader(cls_name: str, label_key: str, names_key: str) -> Callable[[Path, bool, DataSpec], _Raw]:
    """CIFAR's python-pickle batches in torchvision's layout, read with the allow-list unpickler."""

    def load(root: Path, download: bool, spec: DataSpec) -> _Raw:
        import torchvision.datasets as tvd

        cls = getattr(tvd, cls_name)
        base = root / cls.base_folder
        if not base.is_dir():
            archive = root / cls.filename
            if archive.is_file():
                with tarfile.open(archive, "r:gz") as tar:
                    tar.extractall(root, filter="data")
            elif download:
                try:
                    cls(str(root), train=True, download=True)  # downloads and verifies the md5
                except Exception as exc:  # noqa: BLE001 - network errors of every kind
                    raise UnlearnError(f"{cls_name}: download failed ({exc}); "
                                       f"{_missing_message(cls_name, root)}") from None
            else:
                raise DataMissing(_missing_message(cls_name, root), downloadable=True)

        def read(files: Sequence[Sequence[str]]) -> tuple[np.ndarray, np.ndarray]:
            xs, ys = [], []
            for name, _md5 in files:
                path = base / name
                if not path.is_file():
                    raise DataMissing(f"{cls_name}: missing {path}; {_missing_message(cls_name, root)}",
                                      downloadable=True)
                entry = _read_pickle(path)
                if "data" not in entry or label_key not in entry:
                    raise UnlearnError(f"{path}: expected keys 'data' and '{label_key}'")
                data = np.asarray(entry["data"], dtype=np.uint8)
                if data.ndim != 2 or data.shape[1] != 3 * 32 * 32:
                    raise UnlearnError(f"{path}: 'data' must have shape (N, 3072), got {data.shape}")
                xs.append(data.reshape(-1, 3, 32, 32))
                ys.append(np.asarray(entry[label_key], dtype=np.int64))
                if len(ys[-1]) != len(xs[-1]):
                    raise UnlearnError(f"{path}: {len(xs[-1])} images but {len(ys[-1])} labels")
            return np.concatenate(xs), np.concatenate(ys)

        x_tr, y_tr = read(cls.train_list)
        x_te, y_te = read(cls.test_list)
        meta = _read_pickle(base / cls.meta["filename"]) if (base / cls.meta["filename"]).is_file() else {}
        classes = [str(c) for c in meta.get(names_key, [])] or [str(c) for c in range(int(y_tr.max()) + 1)]
        return _Raw(x_tr, y_tr, x_te, y_te, classes)

    return load


def _load_svhn(root: Path, download: bool, spec: DataSpec) -> _Raw:
    import scipy.io as sio
    import torchvision.datasets as tvd

    folder = root / "svhn"
    out = []
    for split in ("train", "test"):
        _url, filename, _md5 = tvd.SVHN.split_list[split]
        path = folder / filename
        if not path.is_file():
            if not download:
                raise DataMissing(_missing_message("SVHN", root), downloadable=True)
            try:
                tvd.SVHN(str(folder), split=split, download=True)
            except Exception as exc:  # noqa: BLE001
                raise UnlearnError(f"SVHN: download failed ({exc}); {_missing_message('SVHN', root)}") from None
        try:
            mat = sio.loadmat(str(path))
            x = np.transpose(mat["X"], (3, 2, 0, 1)).astype(np.uint8)  # (32,32,3,N) -> (N,3,32,32)
            y = mat["y"].astype(np.int64).reshape(-1)
        except (ValueError, KeyError, OSError, NotImplementedError) as exc:
            raise UnlearnError(f"SVHN: {path} is not a valid .mat file with X and y: {exc}") from None
        y[y == 10] = 0  # SVHN stores the digit 0 as label 10 (as torchvision does)
        if len(x) != len(y):
            raise UnlearnError(f"SVHN: {path} has {len(x)} images but {len(y)} labels")
        out += [x, y]
    return _Raw(out[0], out[1], out[2], out[3], [str(c) for c in range(10)])


def _load_imagefolder(root: Path, download: bool, spec: DataSpec) -> _Raw:
    """A folder of class sub-folders (``train/`` and ``test/`` inside it, or one set split 80/20)."""
    from PIL import Image, UnidentifiedImageError
    from sklearn.model_selection import train_test_split
    from torchvision.datasets import ImageFolder

    folder = Path(spec.path).expanduser() if spec.path else root / "imagefolder"
    if not folder.is_dir():
        raise UnlearnError(f"imagefolder: {folder} is not a folder; "
                           "set the data set path to a folder of class sub-folders")
    size = spec.image_size

    def read(path: Path) -> tuple[np.ndarray, np.ndarray, list[str]]:
        try:
            ds = ImageFolder(str(path))
        except (FileNotFoundError, RuntimeError) as exc:
            raise UnlearnError(f"imagefolder: {path}: {exc}") from None
        xs = []
        for file, _ in ds.samples:
            try:
                with Image.open(file) as im:
                    im = im.convert("RGB").resize((size, size), Image.BILINEAR)
                    xs.append(np.asarray(im, dtype=np.uint8).transpose(2, 0, 1))
            except (UnidentifiedImageError, OSError) as exc:
                raise UnlearnError(f"imagefolder: cannot read image {file}: {exc}") from None
        return np.stack(xs), np.asarray(ds.targets, dtype=np.int64), list(ds.classes)

    if (folder / "train").is_dir() and (folder / "test").is_dir():
        x_tr, y_tr, classes = read(folder / "train")
        x_te, y_te, classes_te = read(folder / "test")
        if classes_te != classes:
            raise UnlearnError(f"imagefolder: train/ and test/ have different class folders "
                               f"({classes} vs {classes_te})")
        return _Raw(x_tr, y_tr, x_te, y_te, classes)
    x, y, classes = read(folder)
    counts = np.bincount(y, minlength=len(classes))
    if counts.min() < 2:
        raise UnlearnError(f"imagefolder: every class needs at least 2 images to split train/test "
                           f"(counts {counts.tolist()})")
    tr, te = train_test_split(np.arange(len(y)), test_size=0.2, stratify=y, random_state=0)
    return _Raw(x[np.sort(tr)], y[np.sort(tr)], x[np.sort(te)], y[np.sort(te)], classes)


def _missing_message(name: str, root: Path) -> str:
    """What is missing where, with the registry's hint on which files to put there."""
    from .registry import DATASETS  # the registry is built from these readers: import it when needed

    info = next((d for d in DATASETS.values() if d.folder == name or d.key == name), None)
    files = info.files.replace("DATA_DIR", str(root)) if info else ""
    return f"{name}: data files not found under {root}. {files}"
