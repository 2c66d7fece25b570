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
    FILES,
    FOLDERS,
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
        DatasetInfo("digits", "scikit-learn digits (8x8, bundled)", 10, (1, 8, 8), FILES["digits"], _load_digits),
        DatasetInfo("mnist", "MNIST", 10, (1, 28, 28), FILES["mnist"], _idx_loader("MNIST"), folder=FOLDERS["mnist"]),
        DatasetInfo("fashion-mnist", "Fashion-MNIST", 10, (1, 28, 28), FILES["fashion-mnist"],
                    _idx_loader("FashionMNIST", DEBIAN_FASHION_MNIST), folder=FOLDERS["fashion-mnist"]),
        DatasetInfo("cifar10", "CIFAR-10", 10, (3, 32, 32), FILES["cifar10"],
                    _cifar_loader("CIFAR10", "labels", "label_names"), folder=FOLDERS["cifar10"]),
        DatasetInfo("cifar100", "CIFAR-100", 100, (3, 32, 32), FILES["cifar100"],
                    _cifar_loader("CIFAR100", "fine_labels", "fine_label_names"), folder=FOLDERS["cifar100"]),
        DatasetInfo("svhn", "SVHN (cropped digits)", 10, (3, 32, 32), FILES["svhn"], _load_svhn,
                    folder=FOLDERS["svhn"]),
        DatasetInfo("imagefolder", "Your own image folder", None, None, FILES["imagefolder"], _load_imagefolder),
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
