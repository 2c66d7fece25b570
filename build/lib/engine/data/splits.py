"""Splits: stratified seeded subsets of the official train / test split, the val carve-out, the fingerprint.

Every data set comes out as float32 tensors in [0, 1] of shape (N, C, H, W) with int64 labels, split into
train / test / val (val carved out of the official test split, seeded and stratified).

Data directory: ``data_dir`` argument, else ``$UNLEARN_DATA_DIR``, else ``<UNLEARN_HOME>/data``.
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from collections.abc import Hashable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from ..config import DataSpec
from ..errors import UnlearnError
from ..paths import default_data_dir
from .registry import _info


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


class _LRU:
    """A small thread-safe least-recently-used map (a full data set can take hundreds of MB: keep few)."""

    def __init__(self, maxsize: int) -> None:
        self.maxsize = maxsize
        self._items: OrderedDict[Hashable, Dataset] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: Hashable) -> Dataset | None:
        with self._lock:
            value = self._items.get(key)
            if value is not None:
                self._items.move_to_end(key)
            return value

    def put(self, key: Hashable, value: Dataset) -> None:
        with self._lock:
            self._items[key] = value
            self._items.move_to_end(key)
            while len(self._items) > self.maxsize:
                self._items.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._items.clear()

    def __len__(self) -> int:
        with self._lock:
            return len(self._items)


# Keyed by (spec, data root); the download flag is left out on purpose: it only decides whether missing files
# may be fetched, so a loaded data set is the same either way (and nothing is cached when loading fails).
_CACHE = _LRU(4)


def load_dataset(spec: DataSpec, data_dir: str | Path | None = None, download: bool = False) -> Dataset:
    """Load, subset and split a data set (memoised per process)."""
    info = _info(spec.dataset)
    root = Path(data_dir).expanduser() if data_dir else default_data_dir()
    if not 0.0 <= spec.val_fraction < 1.0:
        raise UnlearnError(f"val_fraction must be in [0, 1), got {spec.val_fraction}")
    cache_key = (spec, str(root))
    cached = _CACHE.get(cache_key)
    if cached is not None:
        return cached
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
    _CACHE.put(cache_key, ds)
    return ds
