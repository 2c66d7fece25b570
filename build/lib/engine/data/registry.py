"""The data-set registry: what each key means, where its files go, and whether they are present."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from ..errors import UnlearnError
from ..paths import default_data_dir, unlearn_home
from .readers import (
    _IDX_FILES,
    DEBIAN_FASHION_MNIST,
    _cifar_loader,
    _idx_loader,
    _load_digits,
    _load_imagefolder,
    _load_svhn,
    _Raw,
)


@dataclass(frozen=True)
class DatasetInfo:
    key: str
    label: str
    num_classes: int | None  # None: read from the files (imagefolder)
    shape: tuple[int, int, int] | None
    files: str  # what to put where, for the error message and `datasets` (no CLI flags: the UI shows it too)
    loader: Callable[..., _Raw]
    folder: str = ""  # sub-folder of the data dir (torchvision layout)

    @property
    def downloadable(self) -> bool:
        """torchvision can download it (``--download`` on the command line, with a network)."""
        return bool(self.folder)


DATASETS: dict[str, DatasetInfo] = {
    d.key: d
    for d in [
        DatasetInfo("digits", "scikit-learn digits (8x8, bundled)", 10, (1, 8, 8),
                    "Ships with scikit-learn; nothing to install.", _load_digits),
        DatasetInfo("mnist", "MNIST", 10, (1, 28, 28),
                    "Put train-images-idx3-ubyte, train-labels-idx1-ubyte, t10k-images-idx3-ubyte, "
                    "t10k-labels-idx1-ubyte (or their .gz) in DATA_DIR/MNIST/raw/.",
                    _idx_loader("MNIST"), folder="MNIST"),
        DatasetInfo("fashion-mnist", "Fashion-MNIST", 10, (1, 28, 28),
                    "Put the four *-idx?-ubyte files (or .gz) in DATA_DIR/FashionMNIST/raw/, install the Debian "
                    "package dataset-fashion-mnist.",
                    _idx_loader("FashionMNIST", DEBIAN_FASHION_MNIST), folder="FashionMNIST"),
        DatasetInfo("cifar10", "CIFAR-10", 10, (3, 32, 32),
                    "Put cifar-10-python.tar.gz or its extracted cifar-10-batches-py/ in DATA_DIR.",
                    _cifar_loader("CIFAR10", "labels", "label_names"), folder="CIFAR10"),
        DatasetInfo("cifar100", "CIFAR-100", 100, (3, 32, 32),
                    "Put cifar-100-python.tar.gz or its extracted cifar-100-python/ in DATA_DIR.",
                    _cifar_loader("CIFAR100", "fine_labels", "fine_label_names"), folder="CIFAR100"),
        DatasetInfo("svhn", "SVHN (cropped digits)", 10, (3, 32, 32),
                    "Put train_32x32.mat and test_32x32.mat in DATA_DIR/svhn/.",
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
