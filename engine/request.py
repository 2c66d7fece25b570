"""What an audit runs: :class:`AuditRequest` (a spec, methods with their hyperparameters, seeds, setting, K, R),
validated before anything trains, with the store key and record of the comparison it produces.

:class:`engine.run.Runner` carries a request out; the CLI, the pages (:mod:`ui.state`), tune, sweep and reproduce
build one.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

from . import config
from .audit.rmia import DEFAULT_K
from .config import MAX_SEED, RunSpec, TrainConfig, setting
from .errors import UnlearnError
from .presets import default_retrains
from .unlearning import Unlearner, chosen_methods, get_method

#: forget-seed offset of the held-out split (tuning): evaluation draws forget set s with seed s, tuning with s + 1000
HELDOUT = 1000


def refuse_tuning_seeds(seeds: Sequence[int], spec: RunSpec | None = None) -> None:
    """An audit's seeds must stay below :data:`HELDOUT`: the seeds from there on are tuning's (``engine tune``), as
    is the data part ``data.tuning``."""
    if spec is not None and spec.data.tuning:
        raise UnlearnError("data.tuning is engine tune's own part of the data; an audit runs on the audit part "
                           "(leave data.tuning unset)")
    bad = sorted(int(s) for s in seeds if int(s) >= HELDOUT or int(s) < 0)
    if bad:
        raise UnlearnError(f"seed(s) {', '.join(map(str, bad))} are not audit seeds: audits use seeds 0 to "
                           f"{HELDOUT - 1}; seeds from {HELDOUT} on belong to tuning (engine tune), whose models and "
                           "forget sets an audit must not reuse")


def short_recipe(train: TrainConfig) -> TrainConfig:
    """A quarter of ``train``'s epochs (at least one) with its StepLR step scaled alike: the same optimiser,
    batch size, augmentation and learning rates, a shorter schedule. For RMIA's reference models where the
    target's recipe is long (the GPU presets' 200 epochs): how far it moves FT AUC is measured in
    bench/results/short_references.md. (The AMUN and RMIA papers train references with the target's recipe.)"""
    epochs = max(1, round(train.epochs / 4))
    return replace(train, epochs=epochs, lr_step=max(1, round(train.lr_step * epochs / train.epochs)))



#: the audit settings that are plain values: the URL codec, the CLI options, the record and the store key are
#: derived from these fields' metadata (:func:`engine.config.setting`); adding one is one field here
_SEED_META = dict(min=0, max=MAX_SEED, max_count=100,
                  why="seeds are unsigned 32-bit numbers; at most 100 seeds, each trains its own models")


@dataclass(frozen=True)
class AuditRequest:
    """What an audit runs: a spec, methods with their hyperparameters (validated instances), seeds, setting, K.

    Build one with :meth:`build`, which checks everything a user can get wrong before anything trains.
    The fields after ``methods`` are settings said once: each carries its label, help, bounds (with the reason),
    URL key (``url``), command-line option (``cli``), whether the Run page draws it (``form="run"``) and the value
    left out of the store key (``key_omit``).
    """

    spec: RunSpec
    methods: tuple[Unlearner, ...]
    seeds: tuple[int, ...] = setting((0,), "model seeds (each one also the forget-set seed unless a forget seed is "
                                           "set)", label="Seeds", url="seeds",
                                     cli="--seeds", **_SEED_META)
    use_remain: bool = setting(True, "the methods may use the remain set D_R (False: the D_F-only setting)",
                               label="With D_R", url="remain")
    k: int = setting(DEFAULT_K, "RMIA reference models (the AMUN paper used 128; more is stronger and slower)",
                     label="RMIA reference models (K)", url="k", cli="--k", min=2, max=256, form="run",
                     why="RMIA needs at least 2 reference models; each one is a trained model")
    retrains: int = setting(1, "retrain replicas per seed: Avg Gap against their mean, their spread the noise floor; "
                               "0: no retrain (audit against the reference models alone)",
                            label="Retrains per seed (R)", url="r", cli="--retrains", min=0, max=128, key_omit=1,
                            default_text="the data set's preset", form="run",
                            why="retrains per seed are between 0 and 128 (forgetting quality's 2 × 64), each one a "
                                "full training")
    #: draw the forget sets from the held-out seeds (seed + HELDOUT) that no evaluation uses: for tuning
    heldout: bool = setting(False, "draw the forget sets from the held-out seeds (tuning)", key_omit=False)
    #: bootstrap replicates for the one-seed intervals (0: none, e.g. when tuning scores many candidates)
    bootstrap: int = setting(200, "bootstrap replicates of the one-seed intervals (0: none)", min=0, max=10_000,
                             key_omit=200, why="each replicate refits the attacks",
                             label="Bootstrap replicates", url="boot", cli="--bootstrap", form="run")
    #: the key of an uploaded model (:meth:`Runner.upload`) audited in place of a trained original; None: train it
    original: str | None = setting(None, "the store key of an uploaded model audited in place of the trained original",
                                   url="orig", max_len=128, key_omit=None, pattern="alnum")
    #: train RMIA's reference models with a short recipe (:func:`short_recipe`: a quarter of the epochs, StepLR
    #: scaled alike) instead of the target's own — the references are the audit's largest cost at scale
    short_references: bool = setting(False, "train RMIA's reference models with a quarter of the target's epochs "
                                            "(StepLR scaled alike): cheaper where the recipe is long; FT AUC moves "
                                            "(bench/results/short_references.md)",
                                     label="Short reference recipe", url="sref", cli="--short-references", form="run",
                                     widget="short_refs",
                                     key_omit=False)
    #: the forget split's seed, apart from the model seed (issue 17's seed axes): None draws each model seed's forget
    #: set with that seed (paired, the AMUN paper's protocol); a number draws one forget set for every model seed, so
    #: the spread over seeds is the models' own randomness on that one set
    forget_seed: int | None = setting(None, "one forget-set draw for every model seed (empty: each model seed s "
                                            "draws its own forget set with seed s)", label="Forget seed",
                                      url="fdraw", min=0, max=HELDOUT - 1, key_omit=None, form="run", widget="fdraw",
                                      why=f"audit seeds are 0 to {HELDOUT - 1}; from {HELDOUT} on they are tuning's")
    #: the unlearning run's seed: each method runs this many times from the same original model, run r with seed
    #: :func:`engine.artifacts.run_seed` (run 0: the model seed)
    runs: int = setting(1, "unlearning runs of each method per seed, from the same original model, differing only in "
                           "the method's own randomness (its spread is shown beside the seeds' spread)",
                        label="Unlearning runs per seed", url="runs", cli="--runs", min=1, max=64, key_omit=1,
                        form="run", why="each run is a model to unlearn and audit; at most 64")

    @classmethod
    def settings(cls) -> list[dataclasses.Field]:
        """The plain-valued settings (every field but ``spec`` and ``methods``), in order."""
        return [f for f in dataclasses.fields(cls) if f.name not in ("spec", "methods")]

    def __post_init__(self) -> None:
        """Every setting checked against its metadata (types, bounds with the reason): no request holds a value
        that would fail later, whichever way it was made (:meth:`build`, :meth:`from_record`, ``replace``)."""
        from .settings import check_seeds, check_value, field_kind

        for f in self.settings():
            value = getattr(self, f.name)
            if f.name == "seeds":
                object.__setattr__(self, "seeds", check_seeds(value, dict(f.metadata)))
                continue
            kind, optional = field_kind(f)
            if optional and value == "":
                value = None
            value = check_value("", f.name, value, dict(f.metadata), kind, optional)
            if f.metadata.get("pattern") == "alnum" and value is not None and not str(value).isalnum():
                raise UnlearnError(f"{f.name}: expected letters and digits only")
            object.__setattr__(self, f.name, value)

    @classmethod
    def build(cls, spec: RunSpec, methods: Sequence[str], seeds: Sequence[int] = (0,), *,
              overrides: dict[str, dict[str, Any]] | None = None, tuned: bool = True, use_remain: bool = True,
              retrains: int | None = None, budget: Any = None, **settings: Any) -> AuditRequest:
        """Methods by key with the tuned (or, ``tuned=False``, the papers') defaults and ``overrides``.

        ``retrain`` is always the reference and need not be listed; in the D_F-only setting methods that need
        D_R are left out. ``retrains``: retrain replicas per seed (R; default: the preset's, see
        :func:`engine.presets.default_retrains`; 0: no retrain — the audit is then against the reference models alone,
        without a Retrain row or Avg Gap). ``original``: an uploaded model's key (:meth:`Runner.upload`) in place of
        the trained original. ``settings``: any other setting by field name (``k``, ``short_references``, …).
        Raises :class:`UnlearnError` on a spec that fails :func:`engine.settings.check_spec`
        (bounds, budgets), an unknown method, a bad hyperparameter value, an override for a method not in the run,
        no seeds, a bad K or R — before anything trains.
        """
        from .settings import check_spec

        check_spec(spec, budget)
        refuse_tuning_seeds(seeds, spec)
        chosen = chosen_methods(spec.data.dataset if tuned else None, methods, overrides, use_remain=use_remain,
                                forget=spec.forget)
        retrains = default_retrains(spec.data.dataset) if retrains is None else retrains
        return cls(spec, tuple(chosen), tuple(seeds), use_remain=use_remain, retrains=retrains, **settings)

    def record(self) -> dict[str, Any]:
        """The stored record of this request (the ``comparison`` manifest, less its results): every field."""
        out = {"spec": self.spec, "methods": [[m.key, m.params()] for m in self.methods]}
        for f in self.settings():
            value = getattr(self, f.name)
            out[f.name] = list(value) if isinstance(value, tuple) else value
        return out

    @classmethod
    def from_record(cls, manifest: dict) -> AuditRequest:
        """The request a stored ``comparison`` record describes (:meth:`record`; older records lack the newer
        settings, which then take the value their key left out): the way back from the store's list to a view."""
        spec = config.from_dict(RunSpec, manifest["spec"])
        listed = manifest["methods"]  # [[key, params], …] in run order (older records: a dict, sorted by key)
        pairs = listed.items() if isinstance(listed, dict) else [tuple(x) for x in listed]
        methods = tuple(get_method(key, **params) for key, params in pairs)
        values = {}
        for f in cls.settings():
            if f.name in manifest:
                values[f.name] = tuple(manifest[f.name]) if f.name == "seeds" else manifest[f.name]
            elif "key_omit" in f.metadata:
                values[f.name] = f.metadata["key_omit"]
        return cls(spec, methods, **values)

    def key(self) -> str:
        """The store key: the spec, the methods with their parameters and every setting, except one equal to its
        ``key_omit`` (the value before the setting existed, so older audits keep their keys)."""
        parts: dict[str, Any] = {"kind": "comparison", **self.record()}
        for f in self.settings():
            if "key_omit" in f.metadata and getattr(self, f.name) == f.metadata["key_omit"]:
                del parts[f.name]
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



__all__ = ["HELDOUT", "AuditRequest", "refuse_tuning_seeds", "short_recipe"]
