"""Forget sets: the spec mini-language, its validation, and the remain set.

Specs are ``KIND:ARG``:

* ``random:0.1`` (a seeded random fraction of train) or ``random:500`` (a seeded random count);
* ``class:3`` or ``class:3,7`` (whole classes);
* ``indices:3,7,10-15`` (training indices inline: comma-separated integers and inclusive ranges ``a-b``);
* ``indices:PATH`` (a file with one training index per line; ``#`` comments allowed).

An ``indices:`` argument that is a list of integers and ranges is inline; anything else is a path.
:func:`indices_spec` writes any set of indices as its shortest inline spec, so a hand-picked or "hardest" forget
set is one self-contained string that fits in a URL and in a stored manifest; :func:`inline_forget` turns an
``indices:PATH`` spec into that form.
"""

from __future__ import annotations

import hashlib
import math
import re
from collections.abc import Iterable
from pathlib import Path

import numpy as np
import torch

from .errors import UnlearnError

_ITEM = r"\s*\d+(?:\s*-\s*\d+)?\s*"
_INLINE = re.compile(rf"{_ITEM}(?:,{_ITEM})*")  # the whole argument of an inline ``indices:`` spec
_RANGE = re.compile(r"\s*(\d+)\s*(?:-\s*(\d+)\s*)?")  # one item: ``a`` or ``a-b``
_LIST_CHARS = re.compile(r"[\d\s,-]+")  # an attempt at an inline list, even a malformed one
_EXAMPLE = "e.g. random:0.1, random:500, class:3, indices:3,7,10-15, indices:FILE"


def select_forget(spec: str, y_train: np.ndarray | torch.Tensor, num_classes: int, seed: int = 0) -> np.ndarray:
    """Training indices of the forget set described by ``spec`` (sorted, validated); see the module docstring.

    For a hand-picked Python list use :func:`forget_from_indices`.
    """
    y = np.asarray(y_train)
    n = len(y)
    label = _short(spec)
    kind, sep, arg = str(spec).strip().partition(":")
    kind, arg = kind.strip().lower(), arg.strip()
    if not sep or not arg:
        raise UnlearnError(f"forget spec {label!r}: expected KIND:ARG, {_EXAMPLE}")
    if kind == "random":
        try:
            value = float(arg)
        except ValueError:
            value = math.nan
        if not math.isfinite(value):
            raise UnlearnError(f"forget spec {label!r}: {_short(arg)!r} is not a number") from None
        if "." in arg or "e" in arg.lower():
            if not 0.0 < value < 1.0:
                raise UnlearnError(f"forget spec {label!r}: a fraction must lie strictly between 0 and 1")
            count = int(round(value * n))
        else:
            count = int(value)
        if count <= 0:
            raise UnlearnError(f"forget spec {label!r} selects no sample (train has {n})")
        if count >= n:
            raise UnlearnError(f"forget spec {label!r} selects {count} of {n} training samples: nothing would remain")
        rng = np.random.default_rng(seed)
        idx = np.sort(rng.choice(n, size=count, replace=False))
    elif kind == "class":
        try:
            classes = sorted({int(c) for c in arg.split(",") if c.strip()})
        except ValueError:
            raise UnlearnError(f"forget spec {label!r}: classes must be integers, e.g. class:3,7") from None
        bad = [c for c in classes if not 0 <= c < num_classes]
        if bad:
            raise UnlearnError(f"forget spec {label!r}: unknown class {bad}; classes are 0..{num_classes - 1}")
        idx = np.flatnonzero(np.isin(y, classes))
        if len(idx) == 0:
            raise UnlearnError(f"forget spec {label!r}: the training split has no sample of class {classes}")
    elif kind == "indices":
        return forget_from_indices(_indices_argument(arg, n, label), y, num_classes)
    else:
        raise UnlearnError(f"forget spec {label!r}: unknown kind {kind!r}; use random, class or indices")
    return validate_forget(idx, y, num_classes)


def forget_classes(spec: str) -> list[int]:
    """The classes of a class-wise spec (``class:3`` → [3], ``class:3,7`` → [3, 7]); [] for every other spec, and
    for a malformed one (:func:`select_forget` says what is wrong with it)."""
    kind, sep, arg = str(spec).strip().partition(":")
    if kind.strip().lower() != "class" or not sep:
        return []
    try:
        return sorted({int(c) for c in arg.split(",") if c.strip()})
    except ValueError:
        return []


def forget_from_indices(indices: Iterable[int], y_train: np.ndarray | torch.Tensor, num_classes: int) -> np.ndarray:
    """A hand-picked forget set (the UI's selection): validated, sorted."""
    try:
        arr = np.asarray(list(indices), dtype=np.int64)
    except OverflowError:
        raise UnlearnError(f"forget indices out of range 0..{len(y_train) - 1}: an index does not fit") from None
    if len(np.unique(arr)) != len(arr):
        values, counts = np.unique(arr, return_counts=True)
        raise UnlearnError(f"forget indices contain duplicates: {values[counts > 1][:10].tolist()}")
    return validate_forget(np.sort(arr), np.asarray(y_train), num_classes)


def validate_forget(idx: np.ndarray, y_train: np.ndarray, num_classes: int) -> np.ndarray:
    """``idx`` as int64 if it is a usable forget set: not empty, in range, leaving two or more classes."""
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
        raise UnlearnError(f"the remain set would hold a single class ({left.tolist()}): "
                           "a classifier needs two or more")
    return idx.astype(np.int64)


def remain_indices(forget: np.ndarray, n_train: int) -> np.ndarray:
    """The training indices not in ``forget`` (sorted)."""
    return np.setdiff1d(np.arange(n_train), forget)


def forget_fingerprint(forget: np.ndarray) -> str:
    """A short content hash of a forget set (keys every artifact that depends on it)."""
    return hashlib.sha256(np.asarray(forget, dtype=np.int64).tobytes()).hexdigest()[:16]


def indices_spec(indices: Iterable[int] | np.ndarray | torch.Tensor) -> str:
    """The shortest inline spec of a set of training indices, e.g. ``indices:3,7,10-15``.

    Sorted; runs of three or more consecutive indices are written as ranges. ``select_forget`` reads it back
    exactly. Only the form is checked here (integers, none negative, no duplicates, not empty); whether the
    set suits a data set is :func:`forget_from_indices`'s job.
    """
    if isinstance(indices, torch.Tensor):
        indices = indices.detach().cpu().numpy()
    arr = np.asarray(indices if isinstance(indices, np.ndarray) else list(indices))
    if arr.size == 0:
        raise UnlearnError("the forget set is empty: select at least one training sample")
    if arr.ndim != 1 or not np.issubdtype(arr.dtype, np.integer):
        raise UnlearnError(f"forget indices must be a flat list of integers, got {arr.dtype} of shape {arr.shape}")
    arr = np.sort(arr.astype(np.int64))
    if arr[0] < 0:
        raise UnlearnError(f"forget indices must be 0 or more: {arr[arr < 0][:10].tolist()}")
    dups = np.unique(arr[1:][np.diff(arr) == 0])
    if dups.size:
        raise UnlearnError(f"forget indices contain duplicates: {dups[:10].tolist()}")
    breaks = np.flatnonzero(np.diff(arr) != 1) + 1
    parts: list[str] = []
    for run in np.split(arr, breaks):
        if len(run) >= 3:
            parts.append(f"{run[0]}-{run[-1]}")
        else:
            parts.extend(str(v) for v in run.tolist())
    return "indices:" + ",".join(parts)


def inline_forget(spec: str, y_train: np.ndarray | torch.Tensor, num_classes: int) -> str:
    """``spec`` with an ``indices:PATH`` argument replaced by the file's indices inline (read and validated).

    Every other spec (other kinds, inline indices, malformed specs) comes back unchanged, so what gets stored
    with a run is self-contained and never names a file on the machine that ran it.
    """
    kind, sep, arg = str(spec).strip().partition(":")
    if kind.strip().lower() != "indices" or not sep or _INLINE.fullmatch(arg.strip()):
        return spec
    return indices_spec(select_forget(spec, y_train, num_classes))


# --------------------------------------------------------------------------------------------- helpers
def _short(spec: object, limit: int = 60) -> str:
    """The spec for an error message: inline index lists can be thousands of characters long."""
    text = str(spec).strip()
    return text if len(text) <= limit else text[: limit - 3] + "..."


def names_a_file(spec: str) -> bool:
    """True for an ``indices:PATH`` spec (a file on this machine), False for every self-contained spec.

    The dashboard refuses such specs: a spec can arrive in a shared address, and the server must not read the
    files it names. The CLI reads them and stores the indices (:func:`inline_forget`).
    """
    kind, sep, arg = str(spec).strip().partition(":")
    return kind.strip().lower() == "indices" and bool(sep) and not _INLINE.fullmatch(arg.strip())


def _indices_argument(arg: str, n: int, label: str) -> np.ndarray | list[int]:
    """The indices of an ``indices:`` argument: inline when it is a list of integers and ranges, else a file."""
    if _INLINE.fullmatch(arg):
        return _parse_inline(arg, n, label)
    try:
        path = Path(arg).expanduser()
        is_file = path.is_file()
    except (OSError, ValueError):  # a name too long for the file system, or with a NUL byte: not a file
        path, is_file = Path(_short(arg)), False
    if is_file:
        return _read_index_file(path)
    if "/" not in arg and "\\" not in arg and ("," in arg or _LIST_CHARS.fullmatch(arg)):
        _parse_inline(arg, n, label)  # a malformed inline list: name the bad item
    raise UnlearnError(f"forget spec {label!r}: no file {path} (inline indices look like indices:3,7,10-15)")


def _parse_inline(arg: str, n: int, label: str) -> np.ndarray:
    """``3,7,10-15`` -> [3, 7, 10, 11, ..., 15] (sorted); the work is bounded by ``n``, however long the ranges."""
    taken = np.zeros(n, dtype=bool)
    outside: list[str] = []
    for item in arg.split(","):
        match = _RANGE.fullmatch(item)
        if match is None:
            raise UnlearnError(f"forget spec {label!r}: {item.strip()!r} is not an index or a range a-b, "
                               "e.g. indices:3,7,10-15")
        lo = int(match[1])
        hi = lo if match[2] is None else int(match[2])
        if hi < lo:
            raise UnlearnError(f"forget spec {label!r}: the range {lo}-{hi} runs backwards; write {hi}-{lo}")
        if hi >= n:
            outside.append(item.strip())
            continue
        again = np.flatnonzero(taken[lo:hi + 1])
        if again.size:
            raise UnlearnError(f"forget indices contain duplicates: {(again[:10] + lo).tolist()}")
        taken[lo:hi + 1] = True
    if outside:
        more = f" and {len(outside) - 10} more" if len(outside) > 10 else ""
        raise UnlearnError(f"forget indices out of range 0..{n - 1}: {', '.join(outside[:10])}{more}")
    return np.flatnonzero(taken)


#: an index file larger than this is refused unread (a line per index: ample for any training set)
MAX_INDEX_FILE_BYTES = 16 << 20


def _read_index_file(path: Path) -> list[int]:
    """The integer indices of a text file, one a line; a file that is too large, unreadable or not text is one
    clear :class:`UnlearnError`."""
    try:
        size = path.stat().st_size
        if size > MAX_INDEX_FILE_BYTES:
            raise UnlearnError(f"{path}: index file too large ({size} bytes; at most {MAX_INDEX_FILE_BYTES}, one "
                               "training index per line)")
        with open(path, "rb") as f:
            data = f.read(MAX_INDEX_FILE_BYTES + 1)
    except OSError as exc:
        raise UnlearnError(f"{path}: cannot read the index file ({exc.strerror or exc})") from None
    return indices_from_bytes(data, str(path))


def indices_from_bytes(data: bytes, name: str = "the index file") -> list[int]:
    """The integer indices of an index file's bytes (the CLI's ``indices:FILE``, the dashboard's upload): UTF-8 text,
    one index a line, ``#`` starts a comment; too large, not text or a line that is not an integer is one clear
    :class:`UnlearnError`."""
    if len(data) > MAX_INDEX_FILE_BYTES:
        raise UnlearnError(f"{name}: index file too large ({len(data)} bytes; at most {MAX_INDEX_FILE_BYTES}, one "
                           "training index per line)")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise UnlearnError(f"{name}: not a text file of indices (byte {exc.start} is not UTF-8)") from None
    values = []
    for lineno, line in enumerate(text.splitlines(), 1):
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        try:
            values.append(int(line))
        except ValueError:
            raise UnlearnError(f"{name}:{lineno}: {line!r} is not an integer index") from None
    return values
