"""The image-folder reader, with limits: a folder typed into the dashboard can be anything on the server.

A folder of class sub-folders (``train/`` and ``test/`` inside it, or one set split 80/20 per class), read in the
order torchvision's ``ImageFolder`` reads it (classes sorted by name; inside a class, folders by path and files by
name) so a folder's fingerprint does not change. Unlike ``ImageFolder`` it is bounded, and every way past a bound is one
:class:`UnlearnError` line that says what to do:

* **where** — the file-system root and the kernel's pseudo file systems (``/proc``, ``/sys``, ``/dev``) are refused
  before anything is listed;
* **how much** — at most :data:`MAX_CLASSES` class folders, :data:`MAX_FILES` images, :data:`MAX_ENTRIES` directory
  entries looked at (images or not), :data:`MAX_DEPTH` levels of folders inside a class folder, and
  :data:`MAX_BYTES` of decoded pixels at ``image_size``; the listing stops at the first bound it meets;
* **links** — a link is followed only when it points inside the folder, and to a file: a link that leaves the
  folder, or a link to a folder (loops, the same images twice), is refused; so are files that are not regular
  files (a FIFO would block the read forever);
* **bombs** — an image whose header announces more than :data:`MAX_IMAGE_PIXELS` pixels is refused before it is
  decoded (a 20000×20000 PNG of a few kB would take 1.2 GB), and so is a file over :data:`MAX_IMAGE_BYTES`;
* **time** — listing and decoding stop after :data:`TIME_BUDGET_S` seconds, and at a cancel (``cancel.check()``
  every few entries: a closed tab's job stops).

Messages name files relative to the folder, never by their absolute server path, and never quote a file's bytes.
Hidden entries (names starting with ``.``) are skipped, as are files without an image extension.
"""

from __future__ import annotations

import os
import stat
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import UnlearnError

#: class sub-folders at most (ImageNet has 1,000; a small classifier's set far fewer)
MAX_CLASSES = 1000
#: image files at most, train and test together (at 32 px, 100,000 images are 300 MB of uint8)
MAX_FILES = 100_000
#: directory entries looked at, images or not (a folder of other files stops here instead of walking on)
MAX_ENTRIES = 4 * MAX_FILES
#: levels of folders inside a class folder (``cats/2024/a.png`` is one)
MAX_DEPTH = 4
#: pixels of one image, read from its header before decoding (8192 × 8192; PIL's own bomb limit is 89 M)
MAX_IMAGE_PIXELS = 8192 * 8192
#: bytes of one image file
MAX_IMAGE_BYTES = 64 << 20
#: decoded bytes of the whole set at ``image_size`` (uint8, 3 channels; the float32 tensors made of it take 4x)
MAX_BYTES = 512 << 20
#: seconds for listing and decoding together (a real 100,000-image set decodes in about a minute on one core)
TIME_BUDGET_S = 300.0
#: torchvision's image extensions (``torchvision.datasets.folder.IMG_EXTENSIONS``), compared in lower case
EXTENSIONS = (".jpg", ".jpeg", ".png", ".ppm", ".bmp", ".pgm", ".tif", ".tiff", ".webp")
#: folders that are never an image folder: the root and the kernel's pseudo file systems
REFUSED = (Path("/"), Path("/proc"), Path("/sys"), Path("/dev"))
#: cancel and time are checked every this many entries
_CHECK_EVERY = 64


@dataclass
class _Budget:
    """Counts and the clock of one read; ``tick`` checks the cancel token and the time every few entries."""

    start: float
    cancel: object = None
    entries: int = 0
    files: int = 0

    def tick(self) -> None:
        self.entries += 1
        if self.entries > MAX_ENTRIES:
            raise UnlearnError(f"imagefolder: the folder holds more than {MAX_ENTRIES:,} entries; point the path at "
                               "a folder that holds only the class sub-folders of your images")
        if self.entries % _CHECK_EVERY == 0:
            self.check()

    def check(self) -> None:
        if self.cancel is not None:
            self.cancel.check()
        if time.monotonic() - self.start > TIME_BUDGET_S:
            raise UnlearnError(f"imagefolder: reading the folder took more than {TIME_BUDGET_S:g} s; use a smaller "
                               f"set of images (at most {MAX_FILES:,}) or a data set in a torchvision format")


def load_imagefolder(folder_text: str | None, default: Path, image_size: int, cancel=None):
    """``(x_train, y_train, x_test, y_test, classes)`` of an image folder (uint8 (N, 3, s, s), int64 labels)."""
    folder = Path(folder_text).expanduser() if folder_text else default
    shown = folder_text or "the default image folder"
    if not 1 <= image_size <= 1024:
        raise UnlearnError(f"imagefolder: image_size must be between 1 and 1024 pixels, got {image_size}")
    try:
        real = folder.resolve(strict=True)
        is_dir = real.is_dir()
    except (OSError, RuntimeError, ValueError):  # missing, a link loop, a NUL byte
        is_dir = False
    if not is_dir:
        raise UnlearnError(f"imagefolder: {shown!s:.200} is not a folder; set the data set path to a folder of "
                           "class sub-folders")
    if any(real == r or r in real.parents for r in REFUSED[1:]) or real == REFUSED[0]:
        raise UnlearnError(f"imagefolder: {shown!s:.200} is a system folder, not an image folder; set the path to "
                           "a folder of class sub-folders of images")
    budget = _Budget(time.monotonic(), cancel)
    if _is_dir(real / "train") and _is_dir(real / "test"):
        train = _list(real, real / "train", budget)
        test = _list(real, real / "test", budget)
        if [c for c, _ in train] != [c for c, _ in test]:
            a, b = [c for c, _ in train], [c for c, _ in test]
            diff = sorted(set(a) ^ set(b))[:5]
            raise UnlearnError(f"imagefolder: train/ and test/ have different class folders (only in one of them: "
                               f"{', '.join(map(repr, diff)) or 'the same names in another order'}); give both the "
                               "same class sub-folders")
        _check_size(budget.files, image_size)
        x_tr, y_tr = _decode(real, train, image_size, budget)
        x_te, y_te = _decode(real, test, image_size, budget)
        return x_tr, y_tr, x_te, y_te, [c for c, _ in train]
    listing = _list(real, real, budget)
    _check_size(budget.files, image_size)
    counts = np.array([len(files) for _, files in listing])
    n, k = int(counts.sum()), len(listing)
    n_test = int(np.ceil(0.2 * n))
    if counts.min() < 2 or n_test < k or n - n_test < k:
        raise UnlearnError(f"imagefolder: {n:,} images in {k:,} classes (fewest {int(counts.min())} in a class) "
                           "cannot be split 80/20 with every class on both sides; give every class at least 5 "
                           "images, or put train/ and test/ sub-folders in the folder")
    x, y = _decode(real, listing, image_size, budget)
    from sklearn.model_selection import train_test_split

    tr, te = train_test_split(np.arange(len(y)), test_size=0.2, stratify=y, random_state=0)
    tr, te = np.sort(tr), np.sort(te)
    return x[tr], y[tr], x[te], y[te], [c for c, _ in listing]


def _is_dir(path: Path) -> bool:
    try:
        return stat.S_ISDIR(path.lstat().st_mode)
    except OSError:
        return False


def _relative(root: Path, path: Path) -> str:
    try:
        return str(path.relative_to(root))
    except ValueError:
        return path.name


def _list(root: Path, base: Path, budget: _Budget) -> list[tuple[str, list[Path]]]:
    """``[(class name, [image paths])]`` under ``base``, sorted as torchvision sorts them, within the bounds."""
    classes = []
    for entry in _scan(root, base, budget):
        if entry.is_dir(follow_symlinks=False):
            classes.append(entry.name)
            if len(classes) > MAX_CLASSES:
                raise UnlearnError(f"imagefolder: {_relative(root, base) if base != root else 'the folder'} holds "
                                   f"more than {MAX_CLASSES:,} class sub-folders; at most {MAX_CLASSES:,} classes")
        elif entry.is_symlink() and entry.is_dir():  # a link to a folder (inside or out): never a class
            raise UnlearnError(f"imagefolder: {_relative(root, base / entry.name)} is a link to a folder; folder "
                               "links are not followed (copy or move the images into the folder)")
    if not classes:
        raise UnlearnError(f"imagefolder: {_relative(root, base) if base != root else 'the folder'} has no class "
                           "sub-folders; put one sub-folder of images per class in it")
    out = []
    for name in sorted(classes):
        files = _files(root, base / name, 0, budget)
        if not files:
            raise UnlearnError(f"imagefolder: the class folder {_relative(root, base / name)!r} holds no image "
                               f"({', '.join(EXTENSIONS)})")
        out.append((name, files))
    return out


def _scan(root: Path, folder: Path, budget: _Budget) -> list[os.DirEntry]:
    """The visible entries of ``folder``, sorted by name, each counted against the budget."""
    out = []
    try:
        with os.scandir(folder) as it:
            for entry in it:
                budget.tick()
                if not entry.name.startswith("."):
                    out.append(entry)
    except OSError as exc:
        raise UnlearnError(f"imagefolder: cannot list {_relative(root, folder) or 'the folder'} "
                           f"({exc.strerror or type(exc).__name__})") from None
    return sorted(out, key=lambda e: e.name)


def _link_target(root: Path, path: Path, budget: _Budget) -> Path:
    """Where a link points, if that is inside the folder; else one error line."""
    try:
        target = path.resolve(strict=True)
    except (OSError, RuntimeError):
        raise UnlearnError(f"imagefolder: {_relative(root, path)} is a broken or looping link; remove it") from None
    if target != root and root not in target.parents:
        raise UnlearnError(f"imagefolder: {_relative(root, path)} links outside the folder; links are followed "
                           "only inside it (copy the image in instead)")
    return target


def _files(root: Path, folder: Path, depth: int, budget: _Budget) -> list[Path]:
    """Image files under a class folder, in torchvision's order: ``sorted(os.walk(folder))`` orders the folders by
    their path string, each folder's files by name."""
    return [p for _, files in sorted(_walk(root, folder, depth, budget), key=lambda t: t[0]) for p in files]


def _walk(root: Path, folder: Path, depth: int, budget: _Budget) -> list[tuple[str, list[Path]]]:
    """``[(folder path, [its image files])]`` for ``folder`` and every folder below it (links not followed)."""
    here, out = [], []
    for entry in _scan(root, folder, budget):
        path = folder / entry.name
        if entry.is_dir(follow_symlinks=False):
            if depth + 1 > MAX_DEPTH:
                raise UnlearnError(f"imagefolder: {_relative(root, path)} is more than {MAX_DEPTH} folders deep "
                                   "inside its class folder; keep each class's images at most "
                                   f"{MAX_DEPTH} levels down")
            out += _walk(root, path, depth + 1, budget)
            continue
        if not entry.name.lower().endswith(EXTENSIONS):
            continue
        if entry.is_symlink():
            target = _link_target(root, path, budget)
            if target.is_dir():
                raise UnlearnError(f"imagefolder: {_relative(root, path)} is a link to a folder; folder links are "
                                   "not followed (copy or move the images into the folder)")
            mode = target.stat().st_mode
        else:
            mode = entry.stat(follow_symlinks=False).st_mode
        if not stat.S_ISREG(mode):
            raise UnlearnError(f"imagefolder: {_relative(root, path)} is not a regular file (a device, pipe or "
                               "socket); remove it from the folder")
        here.append(path)
        budget.files += 1
        if budget.files > MAX_FILES:
            raise UnlearnError(f"imagefolder: the folder holds more than {MAX_FILES:,} images; use a subset of at "
                               f"most {MAX_FILES:,} or a data set in a torchvision format")
    return [(str(folder), here), *out]


def _check_size(n: int, image_size: int) -> None:
    need = n * 3 * image_size * image_size
    if need > MAX_BYTES:
        raise UnlearnError(f"imagefolder: {n:,} images at {image_size}×{image_size} need {need / 2**30:.1f} GB; at "
                           f"most {MAX_BYTES / 2**30:g} GB: use fewer images or a smaller image size")


def _decode(root: Path, listing: list[tuple[str, list[Path]]], size: int,
            budget: _Budget) -> tuple[np.ndarray, np.ndarray]:
    from PIL import Image

    n = sum(len(files) for _, files in listing)
    x = np.empty((n, 3, size, size), dtype=np.uint8)
    y = np.empty(n, dtype=np.int64)
    i = 0
    for label, (_, files) in enumerate(listing):
        for path in files:
            if i % _CHECK_EVERY == 0:
                budget.check()
            x[i] = _read_image(root, path, size, Image)
            y[i] = label
            i += 1
    return x, y


def _read_image(root: Path, path: Path, size: int, Image) -> np.ndarray:  # noqa: N803 - the PIL module
    name = _relative(root, path)
    try:
        nbytes = path.stat().st_size
    except OSError as exc:
        raise UnlearnError(f"imagefolder: cannot read image {name} ({exc.strerror or exc})") from None
    if nbytes > MAX_IMAGE_BYTES:
        raise UnlearnError(f"imagefolder: image {name} is {nbytes / 2**20:.0f} MB; at most "
                           f"{MAX_IMAGE_BYTES >> 20} MB per image")
    try:
        with Image.open(path) as im:
            w, h = im.size  # from the header: nothing decoded yet
            if w * h > MAX_IMAGE_PIXELS:
                raise UnlearnError(f"imagefolder: image {name} is {w}×{h} pixels; at most {MAX_IMAGE_PIXELS:,} "
                                   "pixels per image (8192×8192): shrink it first")
            im = im.convert("RGB").resize((size, size), Image.BILINEAR)
            return np.asarray(im, dtype=np.uint8).transpose(2, 0, 1)
    except UnlearnError:
        raise
    except Image.DecompressionBombError:  # Image.open itself refuses twice PIL's limit, before our check sees it
        raise UnlearnError(f"imagefolder: image {name} is larger than {MAX_IMAGE_PIXELS:,} pixels per image "
                           "(8192×8192; its header announces a possible decompression bomb): shrink it first") from None
    except MemoryError:
        raise UnlearnError(f"imagefolder: image {name} is too large to decode") from None
    except Exception as exc:  # noqa: BLE001 - PIL raises many types (OSError, SyntaxError, ValueError, bombs, …)
        raise UnlearnError(f"imagefolder: cannot read image {name} ({type(exc).__name__}); replace or remove "
                           "it") from None
