"""Data sets, splits and forget-set selection.

Every data set comes out as float32 tensors in [0, 1] of shape (N, C, H, W) with int64 labels, split into
train / test / val (val carved out of the official test split, seeded and stratified). Files are read from a
local data directory; nothing is downloaded unless the caller asks for it.

Data directory: ``data_dir`` argument, else ``$UNLEARN_DATA_DIR``, else ``<UNLEARN_HOME>/data``.
Readers never unpickle untrusted content: CIFAR's pickled batches go through an allow-list unpickler that
only rebuilds numpy arrays, lists, dicts and strings.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import pickle
import shutil
import tarfile
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from .config import DataSpec
from .errors import UnlearnError
from .paths import default_data_dir, unlearn_home

DEBIAN_FASHION_MNIST = Path("/usr/share/datasets/fashion-mnist")
DIGITS_TEST_FRACTION = 0.5  # the fixed digits split: half train, half test (then test halved into test/val)


@dataclass
class Dataset:
    """Tensors of one data set after subsetting and the test/val carve-out (all on the CPU)."""

    name: str
    classes: list[str]
    x_train: torch.Tensor
    y_train: torch.Tensor
    x_test: torch.Tensor
    y_test: torch.Tensor
    x_val: torch.Tensor
    y_val: torch.Tensor
    fingerprint: str  # sha256 of the pixel and label content and the split; keys every artifact

    @property
    def num_classes(self) -> int:
        return len(self.classes)

    @property
    def shape(self) -> tuple[int, int, int]:
        return tuple(self.x_train.shape[1:])  # type: ignore[return-value]

    def split(self, name: str) -> tuple[torch.Tensor, torch.Tensor]:
        """(x, y) of ``train``, ``test`` or ``val``."""
        if name not in ("train", "test", "val"):
            raise UnlearnError(f"unknown split {name!r}; use train, test or val")
        return getattr(self, f"x_{name}"), getattr(self, f"y_{name}")


@dataclass(frozen=True)
class DatasetInfo:
    key: str
    label: str
    num_classes: int | None  # None: read from the files (imagefolder)
    shape: tuple[int, int, int] | None
    files: str  # what to put where, for the error message and `datasets`
    loader: Callable[..., "_Raw"]
    folder: str = ""  # sub-folder of the data dir (torchvision layout)


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
                raise UnlearnError(_missing_message(cls_name, root))
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
            raise UnlearnError(f"{_missing_message(cls_name, root)} ({exc})") from None
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
                    raise UnlearnError(f"{cls_name}: download failed ({exc}); {_missing_message(cls_name, root)}") from None
            else:
                raise UnlearnError(_missing_message(cls_name, root))

        def read(files: Sequence[Sequence[str]]) -> tuple[np.ndarray, np.ndarray]:
            xs, ys = [], []
            for name, _md5 in files:
                path = base / name
                if not path.is_file():
                    raise UnlearnError(f"{cls_name}: missing {path}; {_missing_message(cls_name, root)}")
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
                raise UnlearnError(_missing_message("SVHN", root))
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
        raise UnlearnError(f"imagefolder: {folder} is not a folder; set the data set path to a folder of class sub-folders")
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
            raise UnlearnError(f"imagefolder: train/ and test/ have different class folders ({classes} vs {classes_te})")
        return _Raw(x_tr, y_tr, x_te, y_te, classes)
    x, y, classes = read(folder)
    counts = np.bincount(y, minlength=len(classes))
    if counts.min() < 2:
        raise UnlearnError(f"imagefolder: every class needs at least 2 images to split train/test (counts {counts.tolist()})")
    tr, te = train_test_split(np.arange(len(y)), test_size=0.2, stratify=y, random_state=0)
    return _Raw(x[np.sort(tr)], y[np.sort(tr)], x[np.sort(te)], y[np.sort(te)], classes)


def _missing_message(name: str, root: Path) -> str:
    info = next((d for d in DATASETS.values() if d.folder == name or d.key == name), None)
    files = info.files if info else ""
    return f"{name}: data files not found under {root}. {files}"


DATASETS: dict[str, DatasetInfo] = {
    d.key: d
    for d in [
        DatasetInfo("digits", "scikit-learn digits (8x8, bundled)", 10, (1, 8, 8),
                    "Ships with scikit-learn; nothing to install.", _load_digits),
        DatasetInfo("mnist", "MNIST", 10, (1, 28, 28),
                    "Put train-images-idx3-ubyte, train-labels-idx1-ubyte, t10k-images-idx3-ubyte, "
                    "t10k-labels-idx1-ubyte (or their .gz) in DATA_DIR/MNIST/raw/, or pass --download.",
                    _idx_loader("MNIST"), folder="MNIST"),
        DatasetInfo("fashion-mnist", "Fashion-MNIST", 10, (1, 28, 28),
                    "Put the four *-idx?-ubyte files (or .gz) in DATA_DIR/FashionMNIST/raw/, install the Debian "
                    "package dataset-fashion-mnist, or pass --download.",
                    _idx_loader("FashionMNIST", DEBIAN_FASHION_MNIST), folder="FashionMNIST"),
        DatasetInfo("cifar10", "CIFAR-10", 10, (3, 32, 32),
                    "Put cifar-10-python.tar.gz or its extracted cifar-10-batches-py/ in DATA_DIR, or pass --download.",
                    _cifar_loader("CIFAR10", "labels", "label_names"), folder="CIFAR10"),
        DatasetInfo("cifar100", "CIFAR-100", 100, (3, 32, 32),
                    "Put cifar-100-python.tar.gz or its extracted cifar-100-python/ in DATA_DIR, or pass --download.",
                    _cifar_loader("CIFAR100", "fine_labels", "fine_label_names"), folder="CIFAR100"),
        DatasetInfo("svhn", "SVHN (cropped digits)", 10, (3, 32, 32),
                    "Put train_32x32.mat and test_32x32.mat in DATA_DIR/svhn/, or pass --download.",
                    _load_svhn, folder="SVHN"),
        DatasetInfo("imagefolder", "Your own image folder", None, None,
                    "Set the path to a folder of class sub-folders (optionally train/ and test/ inside); "
                    "images are resized to image_size.", _load_imagefolder),
    ]
}


def availability(key: str, data_dir: str | Path | None = None) -> tuple[bool, str]:
    """Whether a data set's files are present (without loading them), and where or how to get them."""
    info = _info(key)
    root = Path(data_dir).expanduser() if data_dir else default_data_dir()
    if key == "digits":
        return True, "bundled with scikit-learn"
    if key in ("mnist", "fashion-mnist"):
        dirs = [root / info.folder / "raw", root / info.folder, root]
        if key == "fashion-mnist":
            dirs.append(DEBIAN_FASHION_MNIST)
        cache = unlearn_home() / "data-cache" / info.folder / "raw"
        for d in [*dirs, cache]:
            if all((d / f).is_file() or (d / f"{f}.gz").is_file() for f in _IDX_FILES):
                return True, str(d)
    elif key in ("cifar10", "cifar100"):
        import torchvision.datasets as tvd

        cls = getattr(tvd, info.folder)
        for p in (root / cls.base_folder, root / cls.filename):
            if p.exists():
                return True, str(p)
    elif key == "svhn":
        if (root / "svhn" / "train_32x32.mat").is_file() and (root / "svhn" / "test_32x32.mat").is_file():
            return True, str(root / "svhn")
    elif key == "imagefolder":
        return False, info.files
    return False, info.files.replace("DATA_DIR", str(root))


def _info(key: str) -> DatasetInfo:
    if key not in DATASETS:
        raise UnlearnError(f"unknown data set {key!r}; choose one of: {', '.join(DATASETS)}")
    return DATASETS[key]


# ------------------------------------------------------------------------------------------ splitting
def _stratified_subset(y: np.ndarray, size: int | None, seed: int, what: str) -> np.ndarray:
    n = len(y)
    if size is None or size >= n:
        return np.arange(n)
    classes = np.unique(y)
    if size < len(classes):
        raise UnlearnError(f"{what} size {size} is smaller than the number of classes ({len(classes)})")
    from sklearn.model_selection import train_test_split

    keep, _ = train_test_split(np.arange(n), train_size=size, stratify=y, random_state=seed)
    return np.sort(keep)


_CACHE: dict[tuple, Dataset] = {}
_CACHE_LOCK = threading.Lock()
_CACHE_MAX = 4


def load_dataset(spec: DataSpec, data_dir: str | Path | None = None, download: bool = False) -> Dataset:
    """Load, subset and split a data set (memoised per process)."""
    info = _info(spec.dataset)
    root = Path(data_dir).expanduser() if data_dir else default_data_dir()
    if not 0.0 <= spec.val_fraction < 1.0:
        raise UnlearnError(f"val_fraction must be in [0, 1), got {spec.val_fraction}")
    cache_key = (spec, str(root))
    with _CACHE_LOCK:
        if cache_key in _CACHE:
            return _CACHE[cache_key]
    raw = info.loader(root, download, spec)
    if len(raw.x_train) == 0 or len(raw.x_test) == 0:
        raise UnlearnError(f"{spec.dataset}: the train or test split is empty")
    tr = _stratified_subset(raw.y_train, spec.train_size, spec.split_seed, "train")
    te = _stratified_subset(raw.y_test, spec.test_size, spec.split_seed + 1, "test")
    y_te_all = raw.y_test[te]
    n_val = int(round(len(te) * spec.val_fraction))
    if n_val > 0:
        from sklearn.model_selection import train_test_split

        strat = y_te_all if np.bincount(y_te_all).min(initial=2) >= 2 and n_val >= len(np.unique(y_te_all)) else None
        te_pos, val_pos = train_test_split(np.arange(len(te)), test_size=n_val, stratify=strat,
                                           random_state=spec.split_seed + 2)
        te_pos, val_pos = np.sort(te_pos), np.sort(val_pos)
    else:
        te_pos, val_pos = np.arange(len(te)), np.arange(0)

    digest = hashlib.sha256()
    for arr in (raw.x_train, raw.y_train, raw.x_test, raw.y_test, tr, te, te_pos, val_pos):
        digest.update(np.ascontiguousarray(arr).tobytes())
    digest.update(repr((raw.scale, raw.classes)).encode())

    def tensor(x: np.ndarray) -> torch.Tensor:
        return torch.from_numpy(np.ascontiguousarray(x).astype(np.float32) / raw.scale)

    x_te, y_te = raw.x_test[te], raw.y_test[te]
    ds = Dataset(
        name=spec.dataset,
        classes=raw.classes,
        x_train=tensor(raw.x_train[tr]),
        y_train=torch.from_numpy(raw.y_train[tr].copy()),
        x_test=tensor(x_te[te_pos]),
        y_test=torch.from_numpy(y_te[te_pos].copy()),
        x_val=tensor(x_te[val_pos]),
        y_val=torch.from_numpy(y_te[val_pos].copy()),
        fingerprint=digest.hexdigest()[:16],
    )
    with _CACHE_LOCK:
        while len(_CACHE) >= _CACHE_MAX:  # bounded: a full data set can take hundreds of MB
            _CACHE.pop(next(iter(_CACHE)))
        _CACHE[cache_key] = ds
    return ds


# --------------------------------------------------------------------------------------- forget sets
def select_forget(spec: str, y_train: np.ndarray | torch.Tensor, num_classes: int, seed: int = 0) -> np.ndarray:
    """Training indices of the forget set described by ``spec`` (sorted, validated).

    Specs: ``random:0.1`` (fraction of train), ``random:500`` (count), ``class:3`` / ``class:3,7`` (whole
    classes), ``indices:FILE`` (one training index per line; ``#`` comments allowed). For a hand-picked
    list use :func:`forget_from_indices`.
    """
    y = np.asarray(y_train)
    n = len(y)
    kind, sep, arg = str(spec).strip().partition(":")
    kind, arg = kind.strip().lower(), arg.strip()
    if not sep or not arg:
        raise UnlearnError(f"forget spec {spec!r}: expected KIND:ARG, e.g. random:0.1, random:500, class:3, indices:FILE")
    if kind == "random":
        try:
            value = float(arg)
        except ValueError:
            raise UnlearnError(f"forget spec {spec!r}: {arg!r} is not a number") from None
        if "." in arg or "e" in arg.lower():
            if not 0.0 < value < 1.0:
                raise UnlearnError(f"forget spec {spec!r}: a fraction must lie strictly between 0 and 1")
            count = int(round(value * n))
        else:
            count = int(value)
        if count <= 0:
            raise UnlearnError(f"forget spec {spec!r} selects no sample (train has {n})")
        if count >= n:
            raise UnlearnError(f"forget spec {spec!r} selects {count} of {n} training samples: nothing would remain")
        rng = np.random.default_rng(seed)
        idx = np.sort(rng.choice(n, size=count, replace=False))
    elif kind == "class":
        try:
            classes = sorted({int(c) for c in arg.split(",") if c.strip()})
        except ValueError:
            raise UnlearnError(f"forget spec {spec!r}: classes must be integers, e.g. class:3,7") from None
        bad = [c for c in classes if not 0 <= c < num_classes]
        if bad:
            raise UnlearnError(f"forget spec {spec!r}: unknown class {bad}; classes are 0..{num_classes - 1}")
        idx = np.flatnonzero(np.isin(y, classes))
        if len(idx) == 0:
            raise UnlearnError(f"forget spec {spec!r}: the training split has no sample of class {classes}")
    elif kind == "indices":
        path = Path(arg).expanduser()
        if not path.is_file():
            raise UnlearnError(f"forget spec {spec!r}: no file {path}")
        values = []
        for lineno, line in enumerate(path.read_text().splitlines(), 1):
            line = line.split("#", 1)[0].strip()
            if not line:
                continue
            try:
                values.append(int(line))
            except ValueError:
                raise UnlearnError(f"{path}:{lineno}: {line!r} is not an integer index") from None
        return forget_from_indices(values, y, num_classes)
    else:
        raise UnlearnError(f"forget spec {spec!r}: unknown kind {kind!r}; use random, class or indices")
    return validate_forget(idx, y, num_classes)


def forget_from_indices(indices: Sequence[int], y_train: np.ndarray | torch.Tensor, num_classes: int) -> np.ndarray:
    """A hand-picked forget set (the UI's selection): validated, sorted."""
    arr = np.asarray(list(indices), dtype=np.int64)
    if len(np.unique(arr)) != len(arr):
        values, counts = np.unique(arr, return_counts=True)
        raise UnlearnError(f"forget indices contain duplicates: {values[counts > 1][:10].tolist()}")
    return validate_forget(np.sort(arr), np.asarray(y_train), num_classes)


def validate_forget(idx: np.ndarray, y_train: np.ndarray, num_classes: int) -> np.ndarray:
    n = len(y_train)
    if len(idx) == 0:
        raise UnlearnError("the forget set is empty: select at least one training sample")
    if idx.min() < 0 or idx.max() >= n:
        bad = idx[(idx < 0) | (idx >= n)][:10].tolist()
        raise UnlearnError(f"forget indices out of range 0..{n - 1}: {bad}")
    if len(idx) >= n:
        raise UnlearnError(f"the forget set holds all {n} training samples: nothing would remain to train on")
    remain = np.setdiff1d(np.arange(n), idx)
    left = np.unique(y_train[remain])
    if len(left) < 2:
        raise UnlearnError(f"the remain set would hold a single class ({left.tolist()}): a classifier needs two or more")
    return idx.astype(np.int64)


def remain_indices(forget: np.ndarray, n_train: int) -> np.ndarray:
    return np.setdiff1d(np.arange(n_train), forget)


def forget_fingerprint(forget: np.ndarray) -> str:
    return hashlib.sha256(np.asarray(forget, dtype=np.int64).tobytes()).hexdigest()[:16]


def read_bytes_limited(data: bytes, limit: int = 1 << 20) -> str:
    """Decode an uploaded index file (size-limited) for the UI."""
    if len(data) > limit:
        raise UnlearnError(f"the uploaded file is {len(data)} bytes; the limit is {limit}")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise UnlearnError("the uploaded file is not UTF-8 text with one index per line") from None


def save_forget_file(indices: Sequence[int], y_train: np.ndarray | torch.Tensor, num_classes: int) -> Path:
    """Validate a hand-picked forget set and write it as an ``indices:`` file (content-addressed, atomic)."""
    idx = forget_from_indices(indices, np.asarray(y_train), num_classes)
    text = "".join(f"{i}\n" for i in idx)
    folder = unlearn_home() / "forget_sets"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{hashlib.sha256(text.encode()).hexdigest()[:16]}.txt"
    if not path.is_file():
        tmp = path.with_suffix(f".tmp{os.getpid()}")
        tmp.write_text(text)
        os.replace(tmp, path)
    return path
