"""Frozen specs for every artifact the engine builds, with stable hashing and (de)serialisation.

A spec is a frozen dataclass whose field defaults are the documented defaults. ``stable_hash`` turns any
spec (or a dict of specs and plain values) into a short hex key: sorted JSON of the fields plus
``ENGINE_VERSION``, so a change of the engine's numerics (bump the version) never serves a stale artifact.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from dataclasses import dataclass, field
from typing import Any

from .errors import UnlearnError

#: Bump when a change alters any stored number (training, signals, attacks); old artifacts then miss.
ENGINE_VERSION = "2"  # 2: the small CNN has BatchNorm


@dataclass(frozen=True)
class DataSpec:
    """Which data and which split of it.

    The location of the files (``--data-dir``) is not part of the spec: the data's identity is the
    content fingerprint of the loaded tensors, which the store keys on.
    """

    dataset: str = "digits"  # registry key, see engine.data.DATASETS
    train_size: int | None = None  # stratified, seeded subset of the training split; None = all
    test_size: int | None = None  # stratified, seeded subset of the official test split; None = all
    val_fraction: float = 0.5  # part of the test split carved out as validation (SG-Unlearn halves it)
    split_seed: int = 0  # seed of the subsets and of the test/val carve-out
    path: str | None = None  # imagefolder only: folder of class sub-folders
    image_size: int = 32  # imagefolder only: images are resized to image_size x image_size


@dataclass(frozen=True)
class ModelSpec:
    """Architecture key and width; input shape and class count come from the data."""

    arch: str = "mlp"  # registry key, see engine.models.MODELS
    width: int = 512  # hidden units (mlp) or base channels (cnn: 32, resnet18: 64)


@dataclass(frozen=True)
class TrainConfig:
    """The training recipe: SGD with momentum, weight decay and a step schedule (AMUN App. C)."""

    epochs: int = 200  # passes over the training set
    batch_size: int = 128  # samples per step (AMUN/SalUn: 128)
    lr: float = 0.1  # initial learning rate (AMUN train_vanilla: 0.1)
    momentum: float = 0.9  # SGD momentum (AMUN: 0.9)
    weight_decay: float = 5e-4  # L2 penalty (AMUN: 5e-4)
    lr_step: int = 40  # StepLR step size in epochs (AMUN: 40)
    lr_gamma: float = 0.1  # StepLR decay factor (AMUN: 0.1)
    augment: bool = True  # random crop (pad 4) + horizontal flip, batched (AMUN: CIFAR crop+flip)


@dataclass(frozen=True)
class RunSpec:
    """Everything that determines the original model, the forget set and the retrained model."""

    data: DataSpec = field(default_factory=DataSpec)
    model: ModelSpec = field(default_factory=ModelSpec)
    train: TrainConfig = field(default_factory=TrainConfig)
    forget: str = "random:0.1"  # forget spec, see engine.forget.select_forget
    seed: int = 0  # seed of model initialisation and of training (shuffles, augmentation)
    forget_seed: int = 0  # seed of the forget-set draw (AMUN draws split seeds apart from model seeds)


def to_dict(obj: Any) -> Any:
    """Plain JSON-able structure of a spec (nested dataclasses become dicts)."""
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {f.name: to_dict(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
    if isinstance(obj, dict):
        return {str(k): to_dict(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [to_dict(v) for v in obj]
    return obj


def from_dict(cls: type, data: dict) -> Any:
    """Rebuild a (possibly nested) spec dataclass from ``to_dict`` output; unknown keys are an error."""
    if not isinstance(data, dict):
        raise UnlearnError(f"{cls.__name__}: expected a mapping, got {type(data).__name__}")
    names = {f.name: f for f in dataclasses.fields(cls)}
    unknown = sorted(set(data) - set(names))
    if unknown:
        raise UnlearnError(f"{cls.__name__}: unknown field(s) {', '.join(unknown)}; known: {', '.join(names)}")
    kwargs = {}
    for name, value in data.items():
        ftype = names[name].type
        sub = _SPEC_TYPES.get(ftype) if isinstance(ftype, str) else None
        kwargs[name] = from_dict(sub, value) if sub is not None else value
    return cls(**kwargs)


def stable_hash(obj: Any, length: int = 16) -> str:
    """Short, stable hex key of a spec or a structure of specs and plain values."""
    payload = json.dumps({"engine": ENGINE_VERSION, "obj": to_dict(obj)}, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(payload.encode()).hexdigest()[:length]


def replace(obj: Any, **changes: Any) -> Any:
    """``dataclasses.replace`` that converts string values to the field's type (for ``--set k=v``)."""
    names = {f.name: f for f in dataclasses.fields(obj)}
    converted = {}
    for key, value in changes.items():
        if key not in names:
            raise UnlearnError(f"{type(obj).__name__} has no setting {key!r}; known: {', '.join(names)}")
        converted[key] = _coerce(value, getattr(obj, key), key) if isinstance(value, str) else value
    return dataclasses.replace(obj, **converted)


def _coerce(text: str, current: Any, key: str) -> Any:
    try:
        if isinstance(current, bool):
            if text.lower() in ("1", "true", "yes", "on"):
                return True
            if text.lower() in ("0", "false", "no", "off"):
                return False
            raise ValueError(text)
        if isinstance(current, int):
            return None if text.lower() == "none" else int(text)
        if isinstance(current, float):
            return float(text)
        if current is None:
            if text.lower() == "none":
                return None
            return int(text) if text.lstrip("-").isdigit() else float(text)
    except ValueError:
        raise UnlearnError(f"setting {key}: cannot read {text!r} as {type(current).__name__}") from None
    return text


_SPEC_TYPES = {"DataSpec": DataSpec, "ModelSpec": ModelSpec, "TrainConfig": TrainConfig}
