"""Forget sets: the spec mini-language, its validation, and the remain set."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch

from .errors import UnlearnError
from .paths import unlearn_home


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
