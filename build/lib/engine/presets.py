"""Per-data-set presets: the training recipe of the original model and the methods' tuned hyperparameters.

``PRESETS[dataset]`` is the :class:`~engine.config.RunSpec` a new run of that data set starts from (data sizes,
model, recipe, forget spec). ``TUNED[dataset][method]`` overrides a method's paper defaults (the dataclass field
defaults, tuned on CIFAR-10/ResNet-18) where those do not transfer; each entry says which tuning run chose it.
Users can always go back to the papers' values (``tuned=False`` / ``--paper-defaults``).
"""

from __future__ import annotations

import functools
import json
from dataclasses import replace
from pathlib import Path
from typing import Any

from . import config
from .config import DataSpec, ModelSpec, RunSpec, TrainConfig
from .errors import UnlearnError

#: Default recipes per data set. A preset must give an original model that fits its training set (≥ 99 % train
#: accuracy) and leaks membership (FT AUC clearly above Retrain's), fast enough for the device it is meant for
#: (:data:`DEVICES`). Measured figures per preset: bench/results/presets.md (`bench/bench_presets.py`), in the README.
#:
#: * digits (CPU, the zero-install default): 300 training images (a stratified subset of the fixed 50 % train
#:   half), MLP 512, 200 epochs of SGD at batch 32; with all 898 images digits generalises too well to leak. It
#:   forgets a random 40 % (120 images): with 60 (20 %) one sample was 1.7 points of UA and the original-vs-Retrain
#:   FT AUC difference (18.5) had a 95 % interval of ±11.1 over 3 seeds; with 120 it is 21.6 ± 3.5, and 600
#:   training images with 180 forgotten leak less (13.8 ± 4.3) — bench/results/presets.md.
#: * fashion-mnist / mnist (CPU): MLP 512 on 2,500 training images, 100 epochs at batch 64, lr 0.02 decayed ×0.1
#:   at epoch 70 (the decay is what takes it from ≈ 96 % to ≥ 99 % train accuracy), 2,000 test images (1,000
#:   test + 1,000 validation).
#: * cifar10 / cifar100 / svhn (GPU): the AMUN paper's ResNet-18 recipe on the full training set — 200 epochs, lr
#:   0.1, StepLR(40, 0.1), batch 128, crop + flip (SVHN: no flip, digits are not mirror-symmetric; it is trained
#:   without augmentation). Hours on a CPU; pick a CPU preset or `--set data.train_size=…` to try it there.
#: * imagefolder (either): the small CNN with BatchNorm on the folder's images at 32 px.
PRESETS: dict[str, RunSpec] = {
    "digits": RunSpec(
        data=DataSpec("digits", train_size=300),
        model=ModelSpec("mlp", 512),
        train=TrainConfig(epochs=200, batch_size=32, lr=0.1, weight_decay=5e-4, lr_step=100, augment=False),
        forget="random:0.4",
    ),
    "mnist": RunSpec(
        data=DataSpec("mnist", train_size=2500, test_size=2000),
        model=ModelSpec("mlp", 512),
        train=TrainConfig(epochs=100, batch_size=64, lr=0.02, weight_decay=5e-4, lr_step=70, augment=False),
        forget="random:0.1",
    ),
    "fashion-mnist": RunSpec(
        data=DataSpec("fashion-mnist", train_size=2500, test_size=2000),
        model=ModelSpec("mlp", 512),
        train=TrainConfig(epochs=100, batch_size=64, lr=0.02, weight_decay=5e-4, lr_step=70, augment=False),
        forget="random:0.1",
    ),
    "cifar10": RunSpec(
        data=DataSpec("cifar10"),
        model=ModelSpec("resnet18", 64),
        train=TrainConfig(epochs=200, batch_size=128, lr=0.1, lr_step=40, augment=True),
        forget="random:0.1",
    ),
    "cifar100": RunSpec(
        data=DataSpec("cifar100"),
        model=ModelSpec("resnet18", 64),
        train=TrainConfig(epochs=200, batch_size=128, lr=0.1, lr_step=40, augment=True),
        forget="random:0.1",
    ),
    "svhn": RunSpec(
        data=DataSpec("svhn"),
        model=ModelSpec("resnet18", 64),
        train=TrainConfig(epochs=200, batch_size=128, lr=0.1, lr_step=40, augment=False),
        forget="random:0.1",
    ),
    "imagefolder": RunSpec(
        data=DataSpec("imagefolder"),
        model=ModelSpec("cnn", 32),
        train=TrainConfig(epochs=50, batch_size=64, lr=0.05, lr_step=35, augment=True),
        forget="random:0.1",
    ),
}

#: the device each preset is meant for (a GPU preset runs on a CPU too, for hours)
DEVICES: dict[str, str] = {"digits": "cpu", "mnist": "cpu", "fashion-mnist": "cpu", "cifar10": "gpu",
                           "cifar100": "gpu", "svhn": "gpu", "imagefolder": "cpu or gpu"}


#: retrain replicas per seed (R) an audit runs by default: Avg Gap is taken against their mean and their spread is
#: the noise floor of every metric. CPU presets retrain 2–3 times; the GPU ones once (a setting: ``--retrains``).
RETRAINS: dict[str, int] = {"digits": 3, "mnist": 2, "fashion-mnist": 2}


def default_retrains(dataset: str) -> int:
    return RETRAINS.get(dataset, 1)


def default_spec(dataset: str = "digits") -> RunSpec:
    if dataset not in PRESETS:
        raise UnlearnError(f"unknown data set {dataset!r}; choose one of: {', '.join(PRESETS)}")
    return PRESETS[dataset]


def with_overrides(spec: RunSpec, **sections: dict[str, str]) -> RunSpec:
    """Apply ``--set``-style string overrides per section (data, model, train) and top-level fields."""
    changes = {}
    for section, values in sections.items():
        if not values:
            continue
        if section in ("data", "model", "train"):
            changes[section] = config.replace(getattr(spec, section), **values)
        else:
            raise UnlearnError(f"unknown settings section {section!r}")
    return replace(spec, **changes)


# ------------------------------------------------------------------------------------------------ methods
#: where `python -m engine tune --write` stores each data set's winners (engine/tuned/<dataset>.json)
TUNED_DIR = Path(__file__).parent / "tuned"


@functools.cache
def _tuned_record(dataset: str) -> dict[str, Any] | None:
    path = TUNED_DIR / f"{dataset}.json"
    if not path.is_file():
        return None
    try:
        record = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise UnlearnError(f"the tuned defaults in {path} are unreadable ({exc}); delete the file or retune") from None
    return record


def _tuned_entry(dataset: str | None, method: str, like: str = "") -> tuple[dict | None, str]:
    """The tuned record's entry of ``method`` on ``dataset``, else that of ``like`` (a method it shares its
    settings with, e.g. AMUN-A with AMUN), and whose entry it is."""
    methods = ((_tuned_record(dataset) if dataset else None) or {}).get("methods") or {}
    if methods.get(method):
        return methods[method], method
    if like and methods.get(like):
        return methods[like], like
    return None, method


def tuned_params(dataset: str | None, method: str, like: str = "") -> dict[str, Any]:
    """The tuned hyperparameters of ``method`` on ``dataset`` (else those of ``like``; empty: the paper's defaults
    apply)."""
    entry, _ = _tuned_entry(dataset, method, like)
    return dict((entry or {}).get("params", {}))


def tuned_provenance(dataset: str | None, method: str, like: str = "") -> str | None:
    """One line on where ``method``'s tuned defaults on ``dataset`` come from, or None (the paper's values)."""
    record = _tuned_record(dataset) if dataset else None
    entry, whose = _tuned_entry(dataset, method, like)
    if not entry:
        return None
    paper = entry.get("paper_score")
    score = entry.get("score")
    shared = "" if whose == method else f"of {whose} (shared): "
    return (f"{shared}tuned on {record.get('created', '?')} by `{record.get('command') or 'engine tune'}`: held-out "
            f"forget seeds {record.get('heldout_forget_seeds')}, {entry.get('candidates')} candidates"
            + (f", Avg Gap {score:.2f}" if score is not None and score == score else "")
            + (f" (the paper's default: {paper:.2f})" if paper is not None else ""))
