"""One validation of every setting, before anything runs (issue 18): types, finite numbers, bounds with their
reason, the forget-set size every audit needs, and budgets (model parameters, memory, SGD steps).

The bounds live in the dataclass fields' metadata (:func:`engine.config.setting`, and the methods' :func:`hp`);
this module reads them. The CLI, the URL codec (:mod:`ui.state`), the forms and :meth:`AuditRequest.build` all call
:func:`check_spec` / :func:`check`, so a value refused in one place is refused everywhere, with the same line.

Budgets refuse what a shared link or a typo could make the server build (a ResNet-18 of width 4096 has ~46 billion
parameters); each refusal says the limit and how to lift it deliberately — an environment variable
(``UNLEARN_MAX_PARAMS``, ``UNLEARN_MAX_STEPS``, ``UNLEARN_MAX_MEMORY_GB``) on the machine that runs the engine.
"""

from __future__ import annotations

import dataclasses
import math
import numbers
import os
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from .config import DataSpec, ModelSpec, RunSpec
from .errors import UnlearnError

#: training-split sizes of the registered data sets (the step budget of a recipe without ``train_size``); digits
#: keeps the fixed 50 % train half of its 1,797 images; imagefolder: unknown before its files are read
TRAIN_SPLIT = {"digits": 898, "mnist": 60_000, "fashion-mnist": 60_000, "cifar10": 50_000, "cifar100": 50_000,
               "svhn": 73_257}
#: the fewest forget samples an audit can score: the simple MIA (logistic regression on the loss, forget vs test,
#: engine.audit.mia.simple_mia) needs 5 of each side; every audit computes it
MIN_FORGET = 5


@dataclass(frozen=True)
class Budget:
    """What one request may build. Defaults cover every preset (ResNet-18: 11.2 M parameters, 78,200 steps of the
    CIFAR recipe) with room; each is lifted by its environment variable."""

    max_params: int = 50_000_000  # UNLEARN_MAX_PARAMS
    max_steps: int = 2_000_000  # UNLEARN_MAX_STEPS: SGD steps of one training of the original model
    max_memory_gb: float = 16.0  # UNLEARN_MAX_MEMORY_GB: weights, gradients, momentum and one batch's activations

    @classmethod
    def from_env(cls) -> Budget:
        out = {}
        for name, var, kind in (("max_params", "UNLEARN_MAX_PARAMS", int), ("max_steps", "UNLEARN_MAX_STEPS", int),
                                ("max_memory_gb", "UNLEARN_MAX_MEMORY_GB", float)):
            raw = os.environ.get(var)
            if raw:
                try:
                    out[name] = kind(float(raw))
                except ValueError:
                    raise UnlearnError(f"${var}={raw!r}: expected a number") from None
        return cls(**out)


# ------------------------------------------------------------------------------------------ one field, one value
def field_kind(f: dataclasses.Field) -> tuple[type, bool]:
    """The value type of a field (from its default) and whether None is allowed (from its annotation)."""
    default = f.default if f.default is not dataclasses.MISSING else None
    optional = "None" in str(f.type)
    ann = str(f.type).replace("| None", "").strip()
    kind = {"int": int, "float": float, "bool": bool, "str": str}.get(ann, type(default))
    return kind, optional


def check_value(owner: str, name: str, value: Any, meta: dict, kind: type | None = None,
                optional: bool = False) -> Any:
    """``value`` checked against the field's type and bounds; returns it (an int given as an integral float is an
    int). Raises :class:`UnlearnError`: ``owner.name = value: reason``."""
    where = f"{owner}.{name}" if owner else name
    if value is None:
        if optional:
            return None
        raise UnlearnError(f"{where}: a value is required")
    if kind is bool:
        if not isinstance(value, bool):
            raise UnlearnError(f"{where} = {_show(value)}: expected true or false")
        return value
    if kind is int:
        if isinstance(value, bool) or not isinstance(value, numbers.Real) or (
                not isinstance(value, numbers.Integral) and (not math.isfinite(value) or value != int(value))):
            raise UnlearnError(f"{where} = {_show(value)}: expected a whole number")
        value = int(value)
    elif kind is float:
        if isinstance(value, bool) or not isinstance(value, numbers.Real):
            raise UnlearnError(f"{where} = {_show(value)}: expected a number")
        value = float(value)
        if not math.isfinite(value):
            raise UnlearnError(f"{where} = {value}: expected a finite number")
    elif kind is str:
        if not isinstance(value, str):
            raise UnlearnError(f"{where} = {_show(value)}: expected text")
        if len(value) > meta.get("max_len", 10_000):
            raise UnlearnError(f"{where}: {len(value):,} characters; at most {meta.get('max_len', 10_000):,}")
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        lo, hi, gt = meta.get("min"), meta.get("max"), meta.get("gt")
        if (lo is not None and value < lo) or (hi is not None and value > hi) or (gt is not None and value <= gt):
            low = f"({gt}" if gt is not None else (f"[{lo}" if lo is not None else "(-inf")
            why = f" ({meta['why']})" if meta.get("why") else ""
            high = f"{hi}]" if hi is not None else "inf)"
            raise UnlearnError(f"{where} = {value} is outside {low}, {high}{why}")
    if "choices" in meta and value not in meta["choices"]:
        raise UnlearnError(f"{where} = {_show(value)}; choose one of {', '.join(map(str, meta['choices']))}")
    return value


def _show(value: Any, limit: int = 40) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[:limit] + "…"


def check(obj: Any, owner: str | None = None) -> Any:
    """Every field of the dataclass ``obj`` (nested specs too) checked against its metadata; returns ``obj``."""
    owner = owner if owner is not None else type(obj).__name__
    for f in dataclasses.fields(obj):
        value = getattr(obj, f.name)
        if dataclasses.is_dataclass(value) and not isinstance(value, type):
            check(value, f.name)
            continue
        kind, optional = field_kind(f)
        if kind in (int, float, bool, str):
            check_value(owner, f.name, value, dict(f.metadata), kind, optional)
    return obj


def fields_with(cls: type, key: str) -> list[dataclasses.Field]:
    """The fields of ``cls`` whose metadata has ``key`` (e.g. ``url``: the settings a shared address carries)."""
    return [f for f in dataclasses.fields(cls) if key in f.metadata]


# ------------------------------------------------------------------------------------------ a whole spec
def check_spec(spec: RunSpec, budget: Budget | None = None, *, memorized: bool = False) -> RunSpec:
    """The spec checked field by field, its data set and model known, its forget spec well formed (without data:
    the syntax and any count), and within the budget. Returns ``spec``; raises :class:`UnlearnError`."""
    from .data import DATASETS
    from .models import MODELS

    if not isinstance(spec, RunSpec):
        raise UnlearnError(f"expected a RunSpec, got {type(spec).__name__}")
    check(spec, "")
    if spec.data.dataset not in DATASETS:
        raise UnlearnError(f"unknown data set {_show(spec.data.dataset)}; choose one of: {', '.join(DATASETS)}")
    if spec.model.arch not in MODELS:
        raise UnlearnError(f"unknown model {_show(spec.model.arch)}; choose one of: {', '.join(MODELS)}")
    check_forget_syntax(spec.forget, memorized=memorized)
    check_budget(spec, budget)
    return spec


def check_forget_syntax(forget: str, *, memorized: bool = False) -> None:
    """A forget spec's form, before any data is read: its kind, and a random count of at least :data:`MIN_FORGET`;
    the rest (fractions, class numbers, indices within the training set) :func:`engine.forget.select_forget` checks
    against the data, which :meth:`engine.run.Runner.compare` draws for every seed before anything trains.
    ``memorized``: also ``memorized:0.1`` / ``memorized:K`` (the quality flow resolves it into indices first)."""
    kind, colon, arg = forget.strip().partition(":")
    kind, arg = kind.strip().lower(), arg.strip()
    kinds = ("random", "class", "indices", "memorized") if memorized else ("random", "class", "indices")
    if not colon or kind not in kinds or not arg:
        extra = ", memorized:0.1 or memorized:K" if memorized else ""
        raise UnlearnError(f"forget spec {_show(forget)}: expected random:0.1, random:500, class:3, "
                           f"indices:3,7,10-15 or indices:FILE{extra}")
    if kind == "random" and arg.isdigit() and len(arg) < 6 and int(arg) < MIN_FORGET:
        raise UnlearnError(f"forget spec {_show(forget)}: {int(arg)} sample(s); every audit needs at least "
                           f"{MIN_FORGET} (the simple MIA fits forget vs test)")


def check_forget_size(n_forget: int, n_train: int) -> None:
    """The drawn forget set is large enough for every audit (:data:`MIN_FORGET`) and leaves a remain set."""
    if n_forget < MIN_FORGET:
        raise UnlearnError(f"the forget set has {n_forget} sample(s); every audit needs at least {MIN_FORGET} (the "
                           "simple MIA fits forget vs test): choose a larger forget set")
    if n_forget >= n_train:
        raise UnlearnError(f"the forget set holds all {n_train} training samples: nothing would remain to train on")


def input_shape(data: DataSpec) -> tuple[int, int, int]:
    """The image shape of ``data`` before reading it (imagefolder: RGB at ``image_size``)."""
    from .data import DATASETS

    info = DATASETS.get(data.dataset)
    return tuple(info.shape) if info is not None and info.shape else (3, data.image_size, data.image_size)


def parameter_count(model: ModelSpec, shape: tuple[int, int, int], num_classes: int = 10) -> int:
    """Exact parameter count of ``model`` without allocating it: built on PyTorch's meta device (shapes only)."""
    import torch

    from .models import build_model

    with torch.device("meta"):
        net = build_model(model, shape, num_classes)
    return sum(p.numel() for p in net.parameters())


def training_steps(spec: RunSpec) -> int | None:
    """SGD steps of one training of the original model (None when the training-set size is unknown unread)."""
    n = spec.data.train_size or TRAIN_SPLIT.get(spec.data.dataset)
    if n is None:
        return None
    if spec.data.train_size and spec.data.dataset in TRAIN_SPLIT:
        n = min(n, TRAIN_SPLIT[spec.data.dataset])
    return spec.train.epochs * math.ceil(n / spec.train.batch_size)


def memory_gb(spec: RunSpec, params: int) -> float:
    """Estimated training memory: float32 weights, gradients and momentum (3 × 4 bytes per parameter) plus one
    batch of activations, bounded above by 4 bytes × batch × the width's feature maps at the input resolution ×
    16 layers (an upper estimate for the small models and ResNet-18, whose maps shrink with depth)."""
    c, h, w = input_shape(spec.data)
    maps = spec.model.width * 2 * h * w if spec.model.arch != "mlp" else spec.model.width
    activations = 4 * spec.train.batch_size * maps * 16
    return (12 * params + activations) / 2**30


def check_budget(spec: RunSpec, budget: Budget | None = None) -> dict[str, float]:
    """Parameters, memory and steps of ``spec`` against ``budget`` (default: :meth:`Budget.from_env`); returns the
    figures. Each refusal names the limit and the variable that lifts it."""
    budget = budget or Budget.from_env()
    shape = input_shape(spec.data)
    from .data import DATASETS

    info = DATASETS.get(spec.data.dataset)
    classes = info.num_classes if info is not None and info.num_classes else 10
    params = parameter_count(spec.model, shape, classes)
    if params > budget.max_params:
        raise UnlearnError(f"{spec.model.arch} of width {spec.model.width} has {params:,} parameters, over the limit "
                           f"of {budget.max_params:,}; choose a smaller width, or lift the limit deliberately with "
                           "UNLEARN_MAX_PARAMS=N in the environment of the engine")
    gb = memory_gb(spec, params)
    if gb > budget.max_memory_gb:
        raise UnlearnError(f"training {spec.model.arch} of width {spec.model.width} at batch {spec.train.batch_size} "
                           f"needs about {gb:.1f} GB, over the limit of {budget.max_memory_gb:g} GB; choose a smaller "
                           "width or batch, or lift the limit deliberately with UNLEARN_MAX_MEMORY_GB=N")
    steps = training_steps(spec)
    if steps is not None and steps > budget.max_steps:
        raise UnlearnError(f"{spec.train.epochs:,} epochs at batch {spec.train.batch_size} are {steps:,} SGD steps "
                           f"per model, over the limit of {budget.max_steps:,}; choose fewer epochs, or lift the "
                           "limit deliberately with UNLEARN_MAX_STEPS=N in the environment of the engine")
    return {"params": params, "memory_gb": gb, "steps": steps or 0}


def check_seeds(seeds: Iterable[Any], meta: dict, owner: str = "seeds") -> tuple[int, ...]:
    """A list of seeds: whole numbers within the seed bounds, at most ``meta['max_count']``, duplicates dropped."""
    out = tuple(dict.fromkeys(check_value("", owner, s, meta, int) for s in seeds))
    if not out:
        raise UnlearnError("give at least one seed")
    if len(out) > meta.get("max_count", 100):
        raise UnlearnError(f"{len(out)} seeds; at most {meta.get('max_count', 100)} (each trains its own models)")
    return out


__all__ = ["MIN_FORGET", "Budget", "check", "check_budget", "check_forget_size", "check_forget_syntax",
           "check_seeds", "check_spec", "check_value", "field_kind", "fields_with", "parameter_count", "training_steps"]
