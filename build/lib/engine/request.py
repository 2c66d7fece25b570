"""What an audit runs: :class:`AuditRequest` (a spec, methods with their hyperparameters, seeds, setting, K, R),
validated before anything trains, with the store key and record of the comparison it produces.

:class:`engine.run.Runner` carries a request out; the CLI, the pages (:mod:`ui.state`), tune, sweep and reproduce
build one.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

from . import config
from .audit.rmia import DEFAULT_K
from .config import RunSpec, TrainConfig
from .errors import UnlearnError
from .presets import default_retrains
from .unlearning import Unlearner, chosen_methods, get_method

#: forget-seed offset of the held-out split (tuning): evaluation draws forget set s with seed s, tuning with s + 1000
HELDOUT = 1000


def short_recipe(train: TrainConfig) -> TrainConfig:
    """A quarter of ``train``'s epochs (at least one) with its StepLR step scaled alike: the same optimiser,
    batch size, augmentation and learning rates, a shorter schedule. For RMIA's reference models where the
    target's recipe is long (the GPU presets' 200 epochs): how far it moves FT AUC is measured in
    bench/results/short_references.md. (The AMUN and RMIA papers train references with the target's recipe.)"""
    epochs = max(1, round(train.epochs / 4))
    return replace(train, epochs=epochs, lr_step=max(1, round(train.lr_step * epochs / train.epochs)))



@dataclass(frozen=True)
class AuditRequest:
    """What an audit runs: a spec, methods with their hyperparameters (validated instances), seeds, setting, K.

    Build one with :meth:`build`, which checks everything a user can get wrong before anything trains.
    """

    spec: RunSpec
    methods: tuple[Unlearner, ...]
    seeds: tuple[int, ...] = (0,)
    use_remain: bool = True
    k: int = DEFAULT_K
    retrains: int = 1
    #: draw the forget sets from the held-out seeds (seed + HELDOUT) that no evaluation uses: for tuning
    heldout: bool = False
    #: bootstrap replicates for the one-seed intervals (0: none, e.g. when tuning scores many candidates)
    bootstrap: int = 200
    #: the key of an uploaded model (:meth:`Runner.upload`) audited in place of a trained original; None: train it
    original: str | None = None
    #: train RMIA's reference models with a short recipe (:func:`short_recipe`: a quarter of the epochs, StepLR
    #: scaled alike) instead of the target's own — the references are the audit's largest cost at scale
    short_references: bool = False

    @classmethod
    def build(cls, spec: RunSpec, methods: Sequence[str], seeds: Sequence[int] = (0,), *,
              overrides: dict[str, dict[str, Any]] | None = None, tuned: bool = True, use_remain: bool = True,
              k: int = DEFAULT_K, retrains: int | None = None, original: str | None = None,
              short_references: bool = False) -> AuditRequest:
        """Methods by key with the tuned (or, ``tuned=False``, the papers') defaults and ``overrides``.

        ``retrain`` is always the reference and need not be listed; in the D_F-only setting methods that need
        D_R are left out. ``retrains``: retrain replicas per seed (R; default: the preset's, see
        :func:`engine.presets.default_retrains`; 0: no retrain — the audit is then against the reference models alone,
        without a Retrain row or Avg Gap). ``original``: an uploaded model's key (:meth:`Runner.upload`) in place of
        the trained original. Raises :class:`UnlearnError` on an unknown method, a bad hyperparameter value, an
        override for a method not in the run, no seeds, a bad K or R.
        """
        chosen = chosen_methods(spec.data.dataset if tuned else None, methods, overrides, use_remain=use_remain)
        if not seeds:
            raise UnlearnError("give at least one seed")
        if k < 2:
            raise UnlearnError(f"RMIA needs at least 2 reference models, got K = {k}")
        retrains = default_retrains(spec.data.dataset) if retrains is None else int(retrains)
        if not 0 <= retrains <= 20:
            raise UnlearnError(f"retrains per seed must be between 0 and 20, got {retrains}")
        return cls(spec, tuple(chosen), tuple(dict.fromkeys(int(s) for s in seeds)), use_remain, int(k), retrains,
                   original=original or None, short_references=bool(short_references))

    @classmethod
    def from_record(cls, manifest: dict) -> AuditRequest:
        """The request a stored ``comparison`` record describes (its ``spec``, ``methods`` with their params,
        ``seeds``, ``use_remain``, ``k``): the way back from the store's list of audits to a view."""
        spec = config.from_dict(RunSpec, manifest["spec"])
        listed = manifest["methods"]  # [[key, params], …] in run order (older records: a dict, sorted by key)
        pairs = listed.items() if isinstance(listed, dict) else [tuple(x) for x in listed]
        methods = tuple(get_method(key, **params) for key, params in pairs)
        return cls(spec, methods, tuple(manifest["seeds"]), bool(manifest["use_remain"]), int(manifest["k"]),
                   int(manifest.get("retrains", 1)), bool(manifest.get("heldout", False)),
                   int(manifest.get("bootstrap", 200)), manifest.get("original"),
                   bool(manifest.get("short_references", False)))

    def key(self) -> str:
        parts = {"kind": "comparison", "spec": self.spec, "seeds": list(self.seeds),
                 "methods": [[m.key, m.params()] for m in self.methods], "use_remain": self.use_remain, "k": self.k}
        if self.retrains != 1:  # one retrain per seed: the key of the audits stored before replicas existed
            parts["retrains"] = self.retrains
        if self.heldout:
            parts["heldout"] = True
        if self.bootstrap != 200:
            parts["bootstrap"] = self.bootstrap
        if self.original:
            parts["original"] = self.original
        if self.short_references:
            parts["short_references"] = True
        return config.stable_hash(parts)

    def reference_spec(self, spec: RunSpec) -> RunSpec:
        """The spec RMIA's reference models of ``spec`` train with: ``spec`` itself, or its short recipe."""
        return replace(spec, train=short_recipe(spec.train)) if self.short_references else spec

    def method(self, key: str) -> Unlearner | None:
        return next((m for m in self.methods if m.key == key), None)

    def overrides(self, tuned: bool = True) -> dict[str, dict[str, Any]]:
        """Per method, the hyperparameters that differ from its (tuned) defaults — what a URL needs to carry."""
        out = {}
        for m in self.methods:
            base = get_method(m.key, dataset=self.spec.data.dataset if tuned else None).params()
            diff = {k: v for k, v in m.params().items() if base[k] != v}
            if diff:
                out[m.key] = diff
        return out



__all__ = ["HELDOUT", "AuditRequest", "short_recipe"]
