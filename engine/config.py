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


#: the largest seed: numpy's and torch's generators take unsigned 32-bit seeds (the tuning split adds 1000)
MAX_SEED = 2**32 - 1 - 1000


def setting(default: Any = dataclasses.MISSING, help: str = "", *, label: str | None = None, url: str | None = None,
            min: float | None = None, max: float | None = None, gt: float | None = None, why: str = "",
            choices: tuple | None = None, key_omit: Any = dataclasses.MISSING, **more: Any) -> Any:
    """A setting said once: its default and the metadata every derived form of it reads — ``help`` (one line:
    unit and source), ``label`` (the form's), ``url`` (its query key in a shared address), the bounds ``min`` /
    ``max`` (inclusive) and ``gt`` (exclusive) with ``why`` (the reason a user reads when a value is refused), and
    ``key_omit`` (a value left out of the store key, so keys made before the setting existed stay valid).
    :func:`engine.settings.check` validates against it; the CLI, the URL codec and the forms are built from it."""
    meta = {"help": help, **more}
    for name, value in (("label", label), ("url", url), ("min", min), ("max", max), ("gt", gt),
                        ("choices", choices)):
        if value is not None:
            meta[name] = value
    if why:
        meta["why"] = why
    if key_omit is not dataclasses.MISSING:
        meta["key_omit"] = key_omit
    if callable(default) and isinstance(default, type):
        return field(default_factory=default, metadata=meta)
    return field(default=default, metadata=meta)


_SEED_WHY = "seeds are unsigned 32-bit numbers (numpy, torch); the tuning split adds 1000"


@dataclass(frozen=True)
class DataSpec:
    """Which data and which split of it.

    The location of the files (``--data-dir``) is not part of the spec: the data's identity is the
    content fingerprint of the loaded tensors, which the store keys on.
    """

    dataset: str = setting("digits", "registry key, see engine.data.DATASETS", label="Data set", url="ds")
    train_size: int | None = setting(None, "stratified, seeded subset of the training split; None = all",
                                     label="Training images", url="ntrain", min=1, max=10_000_000,
                                     why="a model needs at least one training image")
    test_size: int | None = setting(None, "stratified, seeded subset of the official test split; None = all",
                                    min=2, max=10_000_000, why="the test split is halved into test and validation")
    val_fraction: float = setting(0.5, "part of the test split carved out as validation (SG-Unlearn halves it)",
                                  min=0.01, max=0.95, why="the signals and SG-Unlearn's auditor need a "
                                                          "validation set, and the rest of the test split must stay "
                                                          "test data")
    split_seed: int = setting(0, "seed of the subsets and of the test/val carve-out", min=0, max=MAX_SEED,
                              why=_SEED_WHY)
    path: str | None = setting(None, "imagefolder only: folder of class sub-folders")
    image_size: int = setting(32, "imagefolder only: images are resized to image_size x image_size", min=8, max=512,
                              why="crop + flip pads 4 pixels, and a 512 px image set already fills gigabytes")
    tuning: bool = setting(False, "tuning's own part of the data (engine tune): the training subset is drawn from the "
                           "training rows the audit's subset (same split_seed) leaves out, so no tuning forget set "
                           "can meet an audit forget set; the test subset likewise where the test split has room "
                           "(else the same test split); left out of the hash when False", omit_default=True)


@dataclass(frozen=True)
class ModelSpec:
    """Architecture key and width; input shape and class count come from the data."""

    arch: str = setting("mlp", "registry key, see engine.models.MODELS", label="Model", url="model")
    width: int = setting(512, "hidden units (mlp) or base channels (cnn: 32, resnet18: 64)", label="Model width",
                         url="width", min=1, max=4096,
                         why="the form's range; a model too large for the parameter budget is refused by it")


@dataclass(frozen=True)
class TrainConfig:
    """The training recipe: SGD with momentum, weight decay and a step schedule (AMUN App. C)."""

    epochs: int = setting(200, "passes over the training set", label="Epochs", url="epochs", min=1, max=10_000,
                          why="0 epochs would store an untrained model; the step budget bounds long recipes")
    batch_size: int = setting(128, "samples per step (AMUN/SalUn: 128)", min=1, max=65_536,
                              why="a step needs at least one sample")
    lr: float = setting(0.1, "initial learning rate (AMUN train_vanilla: 0.1)", gt=0.0,
                        why="a learning rate of 0 trains nothing (a diverging one stops with a clear error)")
    momentum: float = setting(0.9, "SGD momentum (AMUN: 0.9)", min=0.0, max=0.999,
                              why="SGD momentum is a fraction below 1")
    weight_decay: float = setting(5e-4, "L2 penalty (AMUN: 5e-4)", min=0.0, max=1.0,
                                  why="a negative penalty rewards large weights")
    lr_step: int = setting(40, "StepLR step size in epochs (AMUN: 40)", min=1, max=10_000,
                           why="the schedule steps every lr_step epochs")
    lr_gamma: float = setting(0.1, "StepLR decay factor (AMUN: 0.1)", gt=0.0, max=1.0,
                              why="a decay factor is a fraction in (0, 1]")
    augment: bool = setting(True, "random crop (pad 4) + horizontal flip, batched (AMUN: CIFAR crop+flip)")


@dataclass(frozen=True)
class RunSpec:
    """Everything that determines the original model, the forget set and the retrained model."""

    data: DataSpec = setting(DataSpec, "which data and which split of it")
    model: ModelSpec = setting(ModelSpec, "architecture and width")
    train: TrainConfig = setting(TrainConfig, "the training recipe")
    forget: str = setting("random:0.1", "forget spec, see engine.forget.select_forget", label="Forget set",
                          url="forget", max_len=100_000)
    seed: int = setting(0, "seed of model initialisation and of training (shuffles, augmentation)", label="Seed",
                        url="seed", min=0, max=MAX_SEED, why=_SEED_WHY)
    forget_seed: int = setting(0, "seed of the forget-set draw (AMUN draws split seeds apart from model seeds)",
                               label="Forget seed", url="fseed", min=0, max=MAX_SEED, why=_SEED_WHY)


def to_dict(obj: Any) -> Any:
    """Plain JSON-able structure of a spec (nested dataclasses become dicts)."""
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {f.name: to_dict(getattr(obj, f.name)) for f in dataclasses.fields(obj)
                if not (f.metadata.get("omit_default") and getattr(obj, f.name) == f.default)}
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
