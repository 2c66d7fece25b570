"""Data sets: readers of each on-disk format, the registry, and the seeded splits.

* :mod:`.readers`  — one reader per format (digits, MNIST-format idx, CIFAR, SVHN, image folder)
* :mod:`.registry` — :data:`DATASETS`, :func:`availability`
* :mod:`.splits`   — :class:`Dataset`, :func:`load_dataset` (subsets, test/val carve-out, fingerprint)

Forget-set specs live in :mod:`engine.forget`; the tool's paths in :mod:`engine.paths` (re-exported here for
compatibility).
"""

from ..paths import default_data_dir, unlearn_home
from .readers import DEBIAN_FASHION_MNIST, DIGITS_TEST_FRACTION
from .registry import DATASETS, DatasetInfo, availability
from .splits import Dataset, load_dataset

__all__ = [
    "DATASETS",
    "DEBIAN_FASHION_MNIST",
    "DIGITS_TEST_FRACTION",
    "Dataset",
    "DatasetInfo",
    "availability",
    "default_data_dir",
    "load_dataset",
    "unlearn_home",
]
