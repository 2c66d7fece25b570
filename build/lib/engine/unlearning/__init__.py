"""The method registry: the CLI, the UI and the tests enumerate ``METHODS``.

Every method is a dataclass of hyperparameters (paper defaults, with help text in the field metadata) and
one update rule; ``remain=None`` runs a method in the D_F-only setting (methods that need D_R refuse).
"""

from __future__ import annotations

import dataclasses
from typing import Any

from ..config import replace as _replace
from ..errors import UnlearnError
from ..presets import tuned_params
from .amun import Amun
from .amun_adaptive import AmunAdaptive
from .amun_salun import AmunSalUn
from .base import EpochUnlearner, Resources, SGDConfig, UnlearnContext, Unlearner, UnlearnResult
from .boundary_shrink import BoundaryShrink
from .finetune import FineTune
from .gradient_ascent import GradientAscent
from .l1_sparse import L1Sparse
from .random_label import RandomLabel
from .retrain import Retrain
from .salun import SalUn
from .sg_unlearn import SGUnlearn

METHODS: dict[str, type[Unlearner]] = {
    cls.key: cls
    for cls in [Retrain, FineTune, RandomLabel, GradientAscent, BoundaryShrink, L1Sparse, SalUn, Amun, AmunSalUn,
                SGUnlearn, AmunAdaptive]
}


def get_method(key: str, dataset: str | None = None, **overrides: Any) -> Unlearner:
    """An instance of method ``key``: the paper's defaults, then the tuned defaults for ``dataset`` (if any,
    see :mod:`engine.presets`; a method with ``tuned_as`` takes that method's where it has none of its own), then
    ``overrides`` (strings are converted to the field type)."""
    if key not in METHODS:
        raise UnlearnError(f"unknown method {key!r}; choose one of: {', '.join(METHODS)}")
    method = METHODS[key]()
    tuned = tuned_params(dataset, key, like=METHODS[key].tuned_as) if dataset else {}
    params = {**tuned, **overrides}
    return _replace(method, **params) if params else method


def chosen_methods(dataset: str | None, methods, overrides: dict[str, dict[str, Any]] | None = None, *,
                   use_remain: bool = True) -> tuple[Unlearner, ...]:
    """Validated instances of ``methods`` (keys, in order, once each) for a run: the tuned defaults of
    ``dataset`` (None: the papers') and ``overrides``; ``retrain`` (always the reference) and, in the D_F-only
    setting, methods that need D_R are left out. Raises :class:`UnlearnError` on an unknown method, settings for a
    method not in the run, or a bad hyperparameter value — before anything trains."""
    overrides = overrides or {}
    unknown = [m for m in methods if m not in METHODS]
    if unknown:
        raise UnlearnError(f"unknown method(s) {', '.join(unknown)}; choose from: {', '.join(METHODS)}")
    bad = sorted(set(overrides) - set(methods))
    if bad:
        raise UnlearnError(f"settings given for method(s) not in the run: {', '.join(bad)}")
    chosen = []
    for key in dict.fromkeys(methods):
        if key == "retrain" or (not use_remain and METHODS[key].needs_remain):
            continue
        method = get_method(key, dataset=dataset, **overrides.get(key, {}))
        method.validate()
        chosen.append(method)
    return tuple(chosen)


def hyperparameters(key: str) -> list[dict[str, Any]]:
    """Name, default, type and help of every hyperparameter of a method (for forms and docs)."""
    cls = METHODS[key]
    return [{"name": f.name, "default": f.default, "type": type(f.default).__name__, **f.metadata}
            for f in dataclasses.fields(cls)]


__all__ = ["METHODS", "EpochUnlearner", "Resources", "SGDConfig", "UnlearnContext", "UnlearnResult", "Unlearner",
           "chosen_methods", "get_method",
           "hyperparameters"]
