"""The one runner: the engine's flow, top to bottom, in one place.

    prepare → original / retrain → reference set → methods → signals → audits → comparison

:meth:`Runner.compare` is that flow for an :class:`AuditRequest` (methods × seeds); :meth:`Runner.baseline`
is its first half (Setup page, ``engine train`` / ``signals``); :meth:`Runner.hardest` picks a forget set from
the original model. Every expensive step — a trained model, a reference model, an adversarial set, a model's
signals — is a store artifact keyed by a hash of everything it depends on, so a repeated request, from the
CLI, a page or another process, is served from the store. With ``build=False`` the runner only reads the
store and raises :class:`NotStored` where something is missing: that is how a page shows a finished audit
after a restart or from a shared link without training anything.

The CLI, the dashboard's jobs, tune, sweep and reproduce call this module; audits stay pure functions of
signals (:mod:`engine.audit`), attacks know nothing of the store (:mod:`engine.attacks`).
"""

from __future__ import annotations

import contextlib
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from torch import nn

from . import config
from .attacks import AdversarialSet, NearestAdversarial
from .audit import continual as continual_audit
from .audit import theorem as theorem_audit
from .audit.compare import BASELINE, REFERENCE, Comparison, ModelAudit, audit_model, seed_rows
from .audit.guard import SignalCheck, membership_check
from .audit.rmia import DEFAULT_K, ReferenceSet, keep_matrix
from .audit.theorem import TheoremView
from .audit.uncertainty import Z95, auc, auc_difference_se
from .config import RunSpec
from .continual import ContinualRequest, ContinualResult
from .data import Dataset, load_dataset
from .ensemble import ENSEMBLE_GROUP, choose_training, supports_ensemble, train_ensemble
from .errors import Diverged, UnlearnError
from .forget import forget_fingerprint, remain_indices, select_forget, validate_forget
from .models import build_model, prefers_channels_last
from .progress import ADVERSARIAL_PASSES_PER_SAMPLE, Piece, PlanTracker
from .request import HELDOUT, AuditRequest, short_recipe
from .signals import Signals
from .store import Artifact, Store
from .training import CancelToken, Progress, check_cancel, default_device, predict, seed_everything, train_model
from .unlearning import Resources, Unlearner, get_method
from .upload import check_outputs, digest, load_weights


class NotStored(UnlearnError):
    """A store-only runner (``build=False``) met an artifact that is not in the store."""


# ------------------------------------------------------------------------------------------------ values
@dataclass
class Prepared:
    """The loaded data and the forget / remain split of its training set."""

    spec: RunSpec
    data: Dataset
    forget: np.ndarray
    remain: np.ndarray

    @property
    def forget_key(self) -> str:
        return forget_fingerprint(self.forget)


@dataclass
class TrainedModel:
    """A stored model — original, retrain or unlearned — with its record; the weights load on first use."""

    kind: str
    artifact: Artifact
    spec: RunSpec
    data: Dataset
    device: torch.device
    _model: nn.Module | None = field(default=None, repr=False)

    @property
    def key(self) -> str:
        """The artifact key (what signals, audits and adversarial sets of this model are keyed by)."""
        return self.artifact.key

    @property
    def model(self) -> nn.Module:
        if self._model is None:
            self._model = load_model(self.artifact, self.spec, self.data, self.device)
        return self._model

    @property
    def seconds(self) -> float:
        return float(self.artifact.manifest.get("seconds", 0.0))

    @property
    def history(self) -> list[dict]:
        return self.artifact.manifest.get("history", [])


def load_model(art: Artifact, spec: RunSpec, data: Dataset, device: torch.device | None = None) -> nn.Module:
    """The stored weights of ``art`` in a fresh model of ``spec.model``, in eval mode on ``device``."""
    device = device or default_device()
    model = build_model(spec.model, data.shape, data.num_classes)
    model.load_state_dict(art.tensors())
    model.to(device).eval()
    if prefers_channels_last(spec.model, device):
        model = model.to(memory_format=torch.channels_last)
    return model


@dataclass
class Baseline:
    """Original and retrained models of one spec with their signals (the Setup page, ``engine train``)."""

    prep: Prepared
    original: TrainedModel
    retrain: TrainedModel
    signals: dict[str, Signals]

    def accuracies(self) -> dict[str, dict[str, float]]:
        return {m: {g: s.accuracy(g) for g in s} for m, s in self.signals.items()}

    def membership_check(self) -> SignalCheck:
        """The guard on one seed without reference models: the loss attack's AUC (forget vs test) of the
        original against Retrain's, each with a bootstrap standard error, and the original's train accuracy."""
        scores = {name: (-s["forget"]["loss"], -s["test"]["loss"]) for name, s in self.signals.items()}
        se = 100 * auc_difference_se(scores[BASELINE], scores[REFERENCE], seed=self.prep.spec.seed)
        train_acc = float(np.mean(self.signals[BASELINE].splits["train"]["correct"]))
        return membership_check(train_acc, 100 * auc(*scores[BASELINE]), 100 * auc(*scores[REFERENCE]),
                                halfwidth=Z95 * se, metric="loss-attack AUC")


#: the table's label of an uploaded model audited in place of the original (:meth:`Runner.upload`)
UPLOADED_LABEL = "Your model"

#: How :meth:`Runner.references` trains the K models: ``single`` (one train_model each), ``ensemble`` (all at
#: once, :func:`engine.ensemble.train_ensemble`; same computation up to float rounding) or ``auto``.
REFERENCE_TRAINING = ("auto", "ensemble", "single")

HARDEST_CRITERIA = {
    "confidence": "highest φ under the original model (the most confidently memorised samples)",
    "eps": "smallest ε-to-flip under the original model (AMUN's L2 search: samples closest to the boundary)",
}


# ------------------------------------------------------------------------------------------------ runner
class Runner:
    """Runs (or, with ``build=False``, only loads) every step of an audit against one run store.

    Args:
        store: the run store (default ``$UNLEARN_HOME/store``).
        data_dir: where data files live (see :mod:`engine.data`).
        download: let torchvision download missing files (needs a network).
        device: CUDA when present, else the CPU.
        progress: ``progress(stage, done, total, metrics)`` from every long step.
        cancel: checked every batch; a cancelled step stores nothing.
        build: False = read the store only; a missing artifact raises :class:`NotStored`.
        reference_training: how RMIA's reference models train (:data:`REFERENCE_TRAINING`): ``auto`` (a
            stacked ensemble where it pays, :func:`engine.ensemble.choose_training`), ``ensemble`` or ``single``.
    """

    def __init__(self, store: Store | None = None, *, data_dir: str | Path | None = None, download: bool = False,
                 device: torch.device | None = None, progress: Progress | None = None,
                 cancel: CancelToken | None = None, build: bool = True, reference_training: str = "auto"):
        if reference_training not in REFERENCE_TRAINING:
            raise UnlearnError(f"reference training {reference_training!r}: choose {', '.join(REFERENCE_TRAINING)}")
        self.reference_training = reference_training
        self.store = store or Store()
        self.data_dir, self.download = data_dir, download
        self.device = device or default_device()
        self.progress, self.cancel, self.build = progress, cancel, build
        self._audits: dict[tuple, ModelAudit] = {}

    # -------------------------------------------------------------------------------------------- the flow
    def compare(self, req: AuditRequest) -> Comparison:
        """Every model of every seed, audited and tabulated (the AMUN paper's protocol, §5.2).

        Per seed s: the data and the forget draw (forget-seed s), the original model (seed s), R retrains without
        D_F (replica 0 with seed s, the others with derived seeds), the reference set (shared by all seeds), every
        method on that original, the signals of every model, their audits, and the seed's rows with Avg Gap
        against the mean of that seed's retrains (a replica: against the others — the noise floor).
        """
        outer = self.progress
        track = PlanTracker(self.plan(req) if self.build and outer is not None else [], outer)
        self.progress = track if outer is not None else None
        try:
            return self._compare(req, track)
        finally:
            self.progress = outer

    def _compare(self, req: AuditRequest, track: PlanTracker) -> Comparison:
        t0 = time.perf_counter()
        setting = "with D_R" if req.use_remain else "D_F only"
        labels = {BASELINE: UPLOADED_LABEL if req.original else "Original",
                  **({REFERENCE: "Retrain"} if req.retrains else {}), **{m.key: m.label for m in req.methods}}
        rows, audits, signals, trained, failures = [], {}, {}, {}, {}
        for i, seed in enumerate(req.seeds):
            prep = self.prepare(self._seed_spec(req, seed))
            track.enter(("original", seed))
            original = self.original(prep.spec) if req.original is None else self.uploaded(req.original, prep.spec)
            retrains = []
            for r in range(req.retrains):
                track.enter(("retrain", seed, r))
                retrains.append(self.retrain(prep, replica=r))
            models = {BASELINE: original, **({REFERENCE: retrains[0]} if retrains else {})}
            track.enter(("references",))
            ref = self.references(req.reference_spec(prep.spec), req.k)
            for method in req.methods:
                check_cancel(self.cancel)
                track.enter(("unlearned", seed, method.key))
                try:
                    models[method.key] = self.unlearned(method, prep, original, use_remain=req.use_remain)
                except Diverged as exc:  # the rest of the audit goes on; the table says which run failed
                    failures[(method.key, seed)] = str(exc)
            sigs = {name: self.signals(tm, prep) for name, tm in models.items()}
            replica_sigs = [sigs[REFERENCE] if r == 0 else self.signals(tm, prep) for r, tm in enumerate(retrains)]
            y = prep.data.y_train.numpy()
            replica_models = list(retrains)
            seed_audits = {name: self._audit(sig, models[name], ref, y, seed, replica_sigs, replica_models,
                                             skip=0 if name == REFERENCE else None) for name, sig in sigs.items()}
            replicas = [seed_audits[REFERENCE] if r == 0 else
                        self._audit(s, retrains[r], ref, y, seed, replica_sigs, replica_models, skip=r)
                        for r, s in enumerate(replica_sigs)]
            seconds = {n: tm.seconds for n, tm in models.items()}
            seconds.update({f"{REFERENCE}#{r}": tm.seconds for r, tm in enumerate(retrains) if r > 0})
            one_time = {n: float(tm.artifact.manifest.get("one_time_seconds", 0.0)) for n, tm in models.items()}
            rows += seed_rows(seed_audits, replicas, labels, seconds, seed=seed, setting=setting, n_boot=req.bootstrap,
                              one_time=one_time)
            for name in models:
                audits[(name, seed)], signals[(name, seed)] = seed_audits[name], sigs[name]
                trained[(name, seed)] = models[name]
            self._report("audit", i + 1, len(req.seeds), {})
        cmp = Comparison(req.spec, pd.DataFrame(rows), audits, time.perf_counter() - t0, signals, trained, labels,
                         failures)
        if self.build:
            self._record(req, cmp)
        return cmp

    @staticmethod
    def _seed_spec(req: AuditRequest, seed: int) -> RunSpec:
        """``req``'s spec for one seed: model seed ``seed``, forget draw ``seed`` (held-out: ``seed + HELDOUT``)."""
        return replace(req.spec, seed=seed, forget_seed=seed + (HELDOUT if req.heldout else 0))

    def plan(self, req: AuditRequest) -> list[Piece]:
        """The pieces of :meth:`compare` the store does not hold yet, in the order it builds them, each with its
        work in sample passes (:mod:`engine.progress`; the overall ETA). Found with a store-only twin of this
        runner, so nothing is trained; signals and audits (seconds) are not counted."""
        probe = Runner(self.store, data_dir=self.data_dir, device=self.device, build=False,
                       reference_training=self.reference_training)

        def stored(fn: Callable[..., Any], *args: Any, **kw: Any) -> Any:
            try:
                return fn(*args, **kw)
            except NotStored:
                return None
            except Diverged:  # a stored failure: nothing to build
                return True

        train, pieces, refs_planned = req.spec.train, [], False
        for seed in req.seeds:
            prep = self.prepare(self._seed_spec(req, seed))
            n_train, n_forget, n_remain = len(prep.data.y_train), len(prep.forget), len(prep.remain)
            if req.original is not None:  # an uploaded model: nothing to train (a missing one fails in compare)
                original = stored(probe.uploaded, req.original, prep.spec)
            else:
                original = stored(probe.original, prep.spec)
            if original is None and req.original is None:
                pieces.append(Piece(("original", seed), f"original model (seed {seed})", train.epochs * n_train))
            for r in range(req.retrains):
                if stored(probe.retrain, prep, replica=r) is None:
                    pieces.append(Piece(("retrain", seed, r), f"retrained model {r + 1}/{req.retrains} (seed {seed})",
                                        train.epochs * n_remain))
            if not refs_planned:
                refs_planned = True
                if stored(probe.references, req.reference_spec(prep.spec), req.k) is None:
                    n_pool = n_train + len(prep.data.y_test)
                    epochs = req.reference_spec(prep.spec).train.epochs
                    pieces.append(Piece(("references",), f"{req.k} reference models", req.k * epochs * n_pool / 2))
            searched = False
            for m in req.methods:
                if original is not None and stored(probe.unlearned, m, prep, original,
                                                    use_remain=req.use_remain) is not None:
                    continue
                n = n_forget + (n_remain if req.use_remain else 0)
                work = getattr(m, "epochs", 10) * n
                if "adversarial" in m.requires and not searched:  # the first one searches D_A, the rest reuse it
                    searched, work = True, work + ADVERSARIAL_PASSES_PER_SAMPLE * n_forget
                pieces.append(Piece(("unlearned", seed, m.key), f"{m.label} (seed {seed})", float(work)))
        return pieces

    def baseline(self, spec: RunSpec) -> Baseline:
        """The original and the retrained model of ``spec`` and their signals."""
        prep = self.prepare(spec)
        original = self.original(spec)
        retrain = self.retrain(prep)
        signals = {}
        for i, (name, tm) in enumerate(((BASELINE, original), (REFERENCE, retrain))):
            signals[name] = self.signals(tm, prep)
            self._report("signals", i + 1, 2, {})
        return Baseline(prep, original, retrain, signals)

    def hardest(self, spec: RunSpec, n: int, by: str = "confidence") -> np.ndarray:
        """The ``n`` training samples that are "hardest" by ``by`` (:data:`HARDEST_CRITERIA`), sorted.

        Uses (or trains) the original model of ``spec``, which does not depend on any forget set.
        """
        if by not in HARDEST_CRITERIA:
            raise UnlearnError(f"unknown criterion {by!r}; choose one of: {', '.join(HARDEST_CRITERIA)}")
        data = self.data(spec)
        if not 0 < n < len(data.y_train):
            raise UnlearnError(f"hardest: choose between 1 and {len(data.y_train) - 1} samples, got {n}")
        original = self.original(spec)
        if by == "confidence":
            everything = np.arange(len(data.y_train))
            score = -self.signals(original, Prepared(spec, data, everything[:0], everything)).splits["train"]["phi"]
        else:
            adv = self.adversarial(original, data)
            score = adv.eps.numpy().astype(float) + 1e-9 * adv.delta_norm.numpy()  # ties broken by ‖δ‖₂
        chosen = np.sort(np.argsort(score, kind="stable")[:n])
        return validate_forget(chosen, data.y_train.numpy(), data.num_classes)

    # -------------------------------------------------------------------------------------------- data
    def data(self, spec: RunSpec) -> Dataset:
        return load_dataset(spec.data, self.data_dir, self.download)

    def prepare(self, spec: RunSpec) -> Prepared:
        """The data of ``spec`` and its forget set (drawn with ``spec.forget_seed``)."""
        data = self.data(spec)
        forget = select_forget(spec.forget, data.y_train, data.num_classes, spec.forget_seed)
        return Prepared(spec, data, forget, remain_indices(forget, len(data.y_train)))

    # -------------------------------------------------------------------------------------------- models
    def original(self, spec: RunSpec) -> TrainedModel:
        """The model trained on all of train with ``spec``'s recipe and seed (no forget set involved)."""
        data = self.data(spec)
        return self._trained("original", spec, data, np.arange(len(data.y_train)), None)

    def retrain(self, prep: Prepared, replica: int = 0) -> TrainedModel:
        """The gold standard: the same recipe on the remain set only; replica 0 with the run's seed, replica r
        with a seed derived from it (two retrains differ only by initialisation and shuffles)."""
        seed = prep.spec.seed if replica == 0 else \
            int(config.stable_hash({"retrain-replica": prep.spec.seed, "r": replica}), 16) % (2**31 - 1)
        return self._trained("retrain", replace(prep.spec, seed=seed), prep.data, prep.remain, prep.forget)

    def _trained(self, kind: str, spec: RunSpec, data: Dataset, idx: np.ndarray,
                 forget: np.ndarray | None) -> TrainedModel:
        parts = {"kind": kind, "data": data.fingerprint, "model": spec.model, "train": spec.train, "seed": spec.seed}
        if forget is not None:
            parts["forget"] = forget_fingerprint(forget)
        key = config.stable_hash(parts)

        def build() -> Artifact:
            seed_everything(spec.seed)
            model = self._fresh(spec, data)
            hist = train_model(model, data.x_train[idx], data.y_train[idx], spec.train, seed=spec.seed,
                               device=self.device, progress=self.progress, cancel=self.cancel, stage=kind)
            check_cancel(self.cancel)
            manifest = {"spec": spec, "model_kind": kind, "data_fingerprint": data.fingerprint,
                        "forget_fingerprint": parts.get("forget"), "n_train": int(len(idx)),
                        "device": str(self.device), "seconds": hist.seconds, "history": hist.epochs}
            return self.store.save(kind, key, manifest, tensors=model.state_dict(),
                                   arrays={"forget": forget} if forget is not None else None)

        return TrainedModel(kind, self._artifact(kind, key, build), spec, data, self.device)

    def _fresh(self, spec: RunSpec, data: Dataset) -> nn.Module:
        model = build_model(spec.model, data.shape, data.num_classes).to(self.device)
        if prefers_channels_last(spec.model, self.device):
            model = model.to(memory_format=torch.channels_last)
        return model

    def unlearned(self, method: Unlearner, prep: Prepared, original: TrainedModel, *, use_remain: bool = True,
                  seed: int | None = None, origin: TrainedModel | None = None) -> TrainedModel:
        """``method`` applied to ``original`` for ``prep.forget`` (``use_remain=False``: the D_F-only setting).

        The method gets only the resources it declares (:attr:`Unlearner.requires`): the run's recipe, the
        original model's stored adversarial set of the forget rows, or that of the model it starts from.
        ``seed`` defaults to the run's seed.

        Continual unlearning (:meth:`continual`) passes the previous request's model as ``original`` and θ_o as
        ``origin`` (whose D_A AMUN keeps); ``prep.remain`` is then the training set minus everything forgotten so
        far. The key chains the starting model's key, and names ``origin`` and the remain set where they are not
        implied (a one-shot run keeps its key).

        A run whose loss, weights or outputs become non-finite raises :class:`Diverged`; the failure is stored
        too (kind ``failure``, the same key), so the same deterministic run is not retried and a store-only
        reader reports it instead of "not stored".
        """
        seed = prep.spec.seed if seed is None else seed
        origin = origin or original
        parts = {"kind": "unlearned", "method": method.key, "params": method.params(), "original": original.key,
                 "forget": prep.forget_key, "seed": seed, "use_remain": use_remain, "data": prep.data.fingerprint}
        if origin.key != original.key:
            parts["origin"] = origin.key
        if len(prep.forget) + len(prep.remain) != len(prep.data.y_train):  # remain is not train minus forget
            parts["remain"] = forget_fingerprint(prep.remain)
        key = config.stable_hash(parts)
        failed = self.store.load("failure", key)
        if failed is not None:
            raise Diverged(failed.manifest["message"])

        def build() -> Artifact:
            resources = self._resources(method, prep, original, origin)
            try:
                res = method.unlearn(original.model, prep.data, prep.forget, prep.remain if use_remain else None,
                                     seed=seed, device=self.device, progress=self.progress, cancel=self.cancel,
                                     augment=prep.spec.train.augment, resources=resources)
                check_cancel(self.cancel)
                probe = torch.cat([prep.data.x_train[prep.forget], prep.data.x_test])
                if not torch.isfinite(predict(res.model, probe)).all():
                    raise Diverged(f"{method.label}: the model's outputs became non-finite — lower the learning "
                                   "rate")
            except Diverged as exc:
                self.store.save("failure", key, {"method": method.key, "params": method.params(), "seed": seed,
                                                 "message": str(exc)})
                raise
            arrays, scalars = {}, {}
            for name, value in res.extras.items():
                if hasattr(value, "to_arrays"):
                    arrays.update({f"{name}.{k}": v for k, v in value.to_arrays().items()})
                elif isinstance(value, np.ndarray):
                    arrays[name] = value
                else:
                    scalars[name] = value
            manifest = {"method": method.key, "label": method.label, "params": method.params(), "seed": seed,
                        "use_remain": use_remain, "original": original.key, "forget_fingerprint": prep.forget_key,
                        "origin": origin.key, "n_remain": int(len(prep.remain)),
                        "spec": prep.spec, "device": str(self.device), "history": res.history, "extras": scalars,
                        # the method's own time, without the shared one-time work it used (charged separately)
                        "seconds": res.seconds - float(res.extras.get("attack_seconds", 0.0)),
                        "one_time_seconds": sum(resources.one_time.values()), "one_time": resources.one_time}
            return self.store.save("unlearned", key, manifest, tensors=res.model.state_dict(), arrays=arrays or None)

        return TrainedModel("unlearned", self._artifact("unlearned", key, build), prep.spec, prep.data, self.device)

    def _resources(self, method: Unlearner, prep: Prepared, start: TrainedModel, origin: TrainedModel) -> Resources:
        """What ``method`` declares: the recipe; D_A of the forget rows under ``origin`` (θ_o, "adversarial") or
        under ``start``, the model it is given ("current_adversarial"; the same model in a one-shot run)."""
        res = Resources()
        if "recipe" in method.requires:
            res.recipe = prep.spec
        whose = origin if "adversarial" in method.requires else start if "current_adversarial" in method.requires \
            else None
        if whose is not None:
            def adversarial(attack: NearestAdversarial) -> AdversarialSet:
                adv, manifest = self._forget_adversarial(whose, prep, attack)
                res.one_time["D_A search"] = float(manifest.get("seconds", 0.0))
                return adv
            res.adversarial = adversarial
        return res

    def _forget_adversarial(self, model: TrainedModel, prep: Prepared,
                            attack: NearestAdversarial) -> tuple[AdversarialSet, dict]:
        """D_A of ``prep.forget`` under ``model``: indexed from the whole training set's when that is stored (AMUN's
        code precomputes it once per original model; `hardest` by ε and tuning over many forget sets store it),
        else searched for the forget rows only."""
        whole = self.has_adversarial(model, prep.data, attack=attack)
        adv, manifest = self._adversarial(model, prep.data, "train", None if whole else prep.forget, attack)
        return (adv.subset(prep.forget) if whole else adv), manifest
    # -------------------------------------------------------------------------------------------- uploads
    # An uploaded model stands in for the original: stored once (kind "uploaded"), then named by its key in an
    # AuditRequest (``original=``), which compare() audits exactly as a trained original.
    def upload(self, weights: bytes, spec: RunSpec, *, name: str = "the weights file") -> TrainedModel:
        """Your own model as the original of ``spec``: ``weights`` (the bytes of a safetensors file) checked
        against the model ``spec.model`` builds for ``spec``'s data (:mod:`engine.upload`: format, every tensor name
        and shape, class count, dtypes, finite values, finite outputs; one :class:`UnlearnError` line each; nothing
        is unpickled) and stored as kind ``uploaded`` under a key of the data, the model spec and the weights'
        content hash. Uploading the same weights again finds them. A store-only runner checks and looks only.
        """
        data = self.data(spec)
        state = load_weights(weights, spec.model, data.shape, data.num_classes, name=name,
                             dataset=spec.data.dataset)
        key = config.stable_hash({"kind": "uploaded", "data": data.fingerprint, "model": spec.model,
                                  "weights": digest(state)})

        def build() -> Artifact:
            model = build_model(spec.model, data.shape, data.num_classes)
            model.load_state_dict(state)
            check_outputs(model, data.x_train[:512], name)
            manifest = {"name": name, "model": spec.model, "data": spec.data, "data_fingerprint": data.fingerprint,
                        "weights_sha256": digest(state), "bytes": len(weights), "seconds": 0.0,
                        "n_params": int(sum(t.numel() for t in state.values()))}
            return self.store.save("uploaded", key, manifest, tensors=state)

        return TrainedModel("uploaded", self._artifact("uploaded", key, build), spec, data, self.device)

    def uploaded(self, key: str, spec: RunSpec) -> TrainedModel:
        """The stored upload ``key`` as the original of ``spec`` (same data and model spec as it was checked for)."""
        if not key.isalnum():
            raise UnlearnError(f"uploaded model {key!r}: not a key")
        art = self.store.load("uploaded", key)
        if art is None:
            raise NotStored(f"uploaded model {key} is not in the store {self.store.root}: upload its weights again")
        data = self.data(spec)
        if art.manifest["data_fingerprint"] != data.fingerprint or art.manifest["model"] != config.to_dict(spec.model):
            m, d = art.manifest["model"], art.manifest["data"]
            raise UnlearnError(f"uploaded model {key} ({art.manifest.get('name')}) was checked for {m['arch']} of "
                               f"width {m['width']} on {d['dataset']} (train size "
                               f"{d['train_size'] or 'all'}); the audit asks for {spec.model.arch} "
                               f"of width {spec.model.width} on {spec.data.dataset} (train size "
                               f"{spec.data.train_size or 'all'})")
        return TrainedModel("uploaded", art, spec, data, self.device)

    # -------------------------------------------------------------------------------------------- references
    def references(self, spec: RunSpec, k: int = DEFAULT_K, seed: int = 0, *,
                   training: str | None = None) -> ReferenceSet:
        """RMIA's K reference models: the target's architecture and recipe on random halves of the pool.

        The pool P = train ∪ test; ``keep_matrix(|P|, k, seed)[r]`` marks model r's training rows (each point
        IN for K/2 models). Each model is stored (weights, keep row, logits on P) under a key of the data,
        model spec, recipe, index, K and seed — independent of forget set and target seed, so one set serves
        every method and seed. A cancelled call keeps the models it finished. Progress counts the steps of
        all models still to train, so a job's ETA covers the whole set.

        ``training`` (default: the runner's ``reference_training``): ``single`` trains one model after the
        other; ``ensemble`` trains the missing ones at once as a stacked ensemble (:mod:`engine.ensemble`:
        each member with its own rows, seed, shuffles and optimiser state, the same computation up to float
        rounding; groups of :data:`~engine.ensemble.ENSEMBLE_GROUP`; a cancel keeps none of the group);
        ``auto`` picks it where it pays (:func:`engine.ensemble.choose_training`). Ensemble-trained models are keyed
        with the mode, so the two kinds of set never mix.
        """
        data = self.data(spec)
        x_pool, y_pool = torch.cat([data.x_train, data.x_test]), torch.cat([data.y_train, data.y_test])
        n_pool = len(y_pool)
        keep = keep_matrix(n_pool, k, seed)
        mode = self._reference_mode(spec, data, training)
        parts = {"kind": "reference", "data": data.fingerprint, "model": spec.model, "train": spec.train, "k": k,
                 "keep_seed": seed}
        if mode == "ensemble":  # single keeps its original keys: stores made before the ensemble stay valid
            parts["training"] = "ensemble"
        keys = [config.stable_hash({**parts, "index": r}) for r in range(k)]
        missing = [r for r in range(k) if not self.store.exists("reference", keys[r])]
        steps = [spec.train.epochs * math.ceil(int(keep[r].sum()) / spec.train.batch_size) for r in range(k)]
        total, state = sum(steps[r] for r in missing), {"offset": 0, "built": 0}

        def train_seed_of(r: int) -> int:
            return int(config.stable_hash({"reference-train-seed": seed, "index": r, "k": k}), 16) % (2**31 - 1)

        def manifest_of(r: int, hist: Any, **extra: Any) -> dict:
            return {"data_fingerprint": data.fingerprint, "model": spec.model, "train": spec.train, "index": r,
                    "k": k, "keep_seed": seed, "train_seed": train_seed_of(r), "n_train": int(keep[r].sum()),
                    "n_pool": n_pool, "device": str(self.device), "seconds": hist.seconds, "history": hist.epochs,
                    "training": mode, **extra}

        if mode == "ensemble" and missing and self.build:
            self._references_together(spec, data, x_pool, y_pool, keep, keys, missing, train_seed_of, manifest_of,
                                      state)

        def build_for(r: int) -> Callable[[], Artifact]:
            def build() -> Artifact:
                idx = np.flatnonzero(keep[r])
                train_seed = train_seed_of(r)
                seed_everything(train_seed)
                model = self._fresh(spec, data)
                offset = state["offset"]

                def inner(stage: str, done: int, _total: int, metrics: dict) -> None:
                    self._report("reference", offset + done, total, {**metrics, "model": r + 1, "of": k})

                hist = train_model(model, x_pool[idx], y_pool[idx], spec.train, seed=train_seed, device=self.device,
                                   progress=inner, cancel=self.cancel, stage=f"reference {r + 1}/{k}")
                check_cancel(self.cancel)
                logits = predict(model, x_pool).numpy().astype(np.float32)
                manifest = manifest_of(r, hist)
                state["offset"] += steps[r]
                state["built"] += 1
                return self.store.save("reference", keys[r], manifest, tensors=model.state_dict(),
                                       arrays={"keep": keep[r], "logits": logits})
            return build

        logits, seconds = [], 0.0
        for r in range(k):
            check_cancel(self.cancel)
            art = self._artifact("reference", keys[r], build_for(r))
            arrays = art.arrays()
            if arrays["logits"].shape[0] != n_pool or not np.array_equal(arrays["keep"], keep[r]):
                raise UnlearnError(f"stored reference model {keys[r]} does not match its keep matrix; "
                                   "delete it from the store to rebuild")
            logits.append(arrays["logits"])
            seconds += float(art.manifest.get("seconds", 0.0))
        return ReferenceSet(np.stack(logits), keep, y_pool.numpy().astype(np.int64), len(data.y_train), seed,
                            tuple(keys), seconds, state["built"])

    def _reference_mode(self, spec: RunSpec, data: Dataset, training: str | None) -> str:
        mode = training or self.reference_training
        if mode not in REFERENCE_TRAINING:
            raise UnlearnError(f"reference training {mode!r}: choose one of {', '.join(REFERENCE_TRAINING)}")
        if mode == "single":
            return mode
        with torch.device("meta"):  # the architecture only: no memory, no draw from the global RNG
            model = build_model(spec.model, data.shape, data.num_classes)
        if mode == "ensemble" and not supports_ensemble(model):
            raise UnlearnError(f"{spec.model.arch} has batch norm (or dropout) and cannot train as a stacked "
                               "ensemble; use reference training 'single' or 'auto'")
        return choose_training(model, self.device) if mode == "auto" else mode

    def _references_together(self, spec: RunSpec, data: Dataset, x_pool: torch.Tensor, y_pool: torch.Tensor,
                             keep: np.ndarray, keys: list[str], missing: list[int], train_seed_of: Callable,
                             manifest_of: Callable, state: dict) -> None:
        """Train the ``missing`` reference models as stacked ensembles and store each (under every key's lock)."""
        k = len(keys)
        with contextlib.ExitStack() as locks:
            for r in sorted(missing, key=lambda r: keys[r]):
                locks.enter_context(self.store.lock("reference", keys[r]))
            todo = [r for r in missing if not self.store.exists("reference", keys[r])]  # others may have built some
            steps = spec.train.epochs * max((math.ceil(int(keep[r].sum()) / spec.train.batch_size) for r in todo),
                                            default=0)
            groups = [todo[i : i + ENSEMBLE_GROUP] for i in range(0, len(todo), ENSEMBLE_GROUP)]
            for g, group in enumerate(groups):
                check_cancel(self.cancel)
                models = []
                for r in group:
                    seed_everything(train_seed_of(r))  # the same initialisation as a single training
                    models.append(self._fresh(spec, data))

                def inner(stage: str, done: int, _total: int, metrics: dict, g: int = g, m: int = len(group)) -> None:
                    self._report("reference", g * steps + done, len(groups) * steps,
                                 {**metrics, "ensemble": m, "of": k})

                hists = train_ensemble(models, x_pool, y_pool, [np.flatnonzero(keep[r]) for r in group], spec.train,
                                       [train_seed_of(r) for r in group], device=self.device, progress=inner,
                                       cancel=self.cancel, stage=f"reference ensemble of {len(group)}")
                check_cancel(self.cancel)
                for r, model, hist in zip(group, models, hists):
                    logits = predict(model, x_pool).numpy().astype(np.float32)
                    self.store.save("reference", keys[r], manifest_of(r, hist, ensemble_size=len(group),
                                                                        ensemble_seconds=hist.seconds * len(group)),
                                    tensors=model.state_dict(), arrays={"keep": keep[r], "logits": logits})
                    state["built"] += 1

    # -------------------------------------------------------------------------------------------- adversarial
    def adversarial(self, trained: TrainedModel, data: Dataset, *, split: str = "train",
                    rows: np.ndarray | None = None, attack: NearestAdversarial | None = None) -> AdversarialSet:
        """``attack`` (default: AMUN's settings) on ``rows`` of ``split`` (default: all of it) under a model.

        Stored under a key of the model, the data, the exact rows and the attack's settings. AMUN computes D_A
        once for the whole training set and indexes it with :meth:`AdversarialSet.subset`.
        """
        return self._adversarial(trained, data, split, rows, attack or NearestAdversarial())[0]

    def _adversarial(self, trained: TrainedModel, data: Dataset, split: str, rows: np.ndarray | None,
                     attack: NearestAdversarial) -> tuple[AdversarialSet, dict]:
        x, y = data.split(split)
        if rows is not None:
            t = torch.as_tensor(np.asarray(rows), dtype=torch.long)
            x, y = x[t], y[t]
        rows_id = split if rows is None else f"{split}-{forget_fingerprint(rows)}"
        key = config.stable_hash({"kind": "adversarial", "model": trained.key, "data": data.fingerprint,
                                  "rows": rows_id, **attack.params()})

        def build() -> Artifact:
            t0 = time.perf_counter()
            adv = attack(trained.model, x, y, device=self.device, progress=self.progress, cancel=self.cancel)
            check_cancel(self.cancel)
            manifest = {"model": trained.key, "data_fingerprint": data.fingerprint, "rows": rows_id,
                        "params": attack.params(), "n": len(adv), "device": str(self.device),
                        "seconds": time.perf_counter() - t0, "summary": adv.summary()}
            return self.store.save("adversarial", key, manifest, arrays=adv.to_arrays())

        art = self._artifact("adversarial", key, build)
        adv = AdversarialSet.from_arrays(art.arrays())
        if len(adv) != len(y):
            raise UnlearnError(f"stored adversarial set {key} has {len(adv)} samples but {len(y)} were asked for")
        return adv, {**art.manifest, "key": key}

    def has_adversarial(self, trained: TrainedModel, data: Dataset, *, split: str = "train",
                        rows: np.ndarray | None = None, attack: NearestAdversarial | None = None) -> bool:
        try:
            Runner(self.store, data_dir=self.data_dir, device=self.device, build=False).adversarial(
                trained, data, split=split, rows=rows, attack=attack)
        except NotStored:
            return False
        return True

    # -------------------------------------------------------------------------------------------- signals
    def signals(self, trained: TrainedModel, prep: Prepared) -> Signals:
        """Per-sample signals of a stored model on train / test / val, grouped by ``prep``'s forget set."""
        data = prep.data
        key = config.stable_hash({"kind": "signals", "model": trained.key, "data": data.fingerprint})

        def build() -> Artifact:
            t0 = time.perf_counter()
            splits = {s: data.split(s) for s in ("train", "test", "val")}
            logits = {s: predict(trained.model, x) for s, (x, _) in splits.items()}
            arrays = Signals.compute(logits, {s: y for s, (_, y) in splits.items()})
            return self.store.save("signals", key, {"model": trained.key, "seconds": time.perf_counter() - t0},
                                   arrays=arrays)

        return Signals.from_flat(self._artifact("signals", key, build).arrays(), prep.forget, prep.remain)

    # -------------------------------------------------------------------------------------------- chores
    def _audit(self, sig: Signals, model: TrainedModel, ref: ReferenceSet, labels: np.ndarray, seed: int,
               replica_sigs: list[Signals], replica_models: list[TrainedModel], skip: int | None) -> ModelAudit:
        """:func:`audit_model` against the retrain replicas (without replica ``skip``), memoised per runner: a
        tune or a sweep audits the same original and retrains once, however many candidates it scores."""
        others = [i for i in range(len(replica_sigs)) if i != skip]
        key = (model.key, sig.forget.tobytes(), ref.keys, tuple(replica_models[i].key for i in others), seed)
        if key not in self._audits:
            if len(self._audits) >= 256:
                self._audits.pop(next(iter(self._audits)))
            self._audits[key] = audit_model(sig, ref, labels=labels, seed=seed,
                                            retrains=[replica_sigs[i] for i in others])
        return self._audits[key]

    def _artifact(self, kind: str, key: str, build: Callable[[], Artifact]) -> Artifact:
        if self.build:
            return self.store.cached(kind, key, build)
        art = self.store.load(kind, key)
        if art is None:
            raise NotStored(f"{kind} {key} is not in the store {self.store.root}")
        return art

    def _report(self, stage: str, done: int, total: int, metrics: dict) -> None:
        if self.progress:
            self.progress(stage, done, total, metrics)

    def _record(self, req: AuditRequest, cmp: Comparison) -> None:
        """A small record of a finished audit (kind ``comparison``): what ran, when, and its rows."""
        key = req.key()
        if self.store.exists("comparison", key):
            return
        self.store.save("comparison", key, {
            "spec": req.spec, "methods": [[m.key, m.params()] for m in req.methods], "seeds": list(req.seeds),
            "use_remain": req.use_remain, "k": req.k, "retrains": req.retrains, "heldout": req.heldout,
            "bootstrap": req.bootstrap, "original": req.original, "short_references": req.short_references,
            "seconds": cmp.seconds,
            "rows": cmp.rows.to_dict(orient="records")})

    # -------------------------------------------------------------------------------------------- continual requests
    def continual(self, req: ContinualRequest) -> ContinualResult:
        """Continual unlearning (AMUN §6.3): every method unlearns ``req``'s requests one after the other.

        Per seed s: the original model (seed s), the k disjoint requests (drawn with s), the reference set (shared
        with every audit of the spec), and per request j the Retrain on train − (D_F^1 ∪ … ∪ D_F^j) and each
        method's model after request j — started from its model after request j − 1 (:meth:`unlearned` with
        ``origin`` θ_o, whose D_A AMUN keeps; AMUN-A's is searched on the model it starts from). Each model is
        audited on everything forgotten so far (:func:`engine.audit.continual.step_audit`); the original model,
        audited the same way, is the "no unlearning" curve. A method that diverges at request j keeps its rows
        before j and is listed in ``failures``. Every model, D_A and signal is stored; a rerun trains nothing.
        """
        t0 = time.perf_counter()
        labels = req.labels()
        rows, failures = [], {}
        total, done = len(req.seeds) * req.requests * (len(req.methods) + 1), 0
        for seed in req.seeds:
            spec = replace(req.spec, seed=seed, forget_seed=seed)
            data = self.data(spec)
            original = self.original(spec)
            ref = self.references(spec, req.k)
            chunks = req.rows(len(data.y_train), seed)
            steps = []  # per request: (its rows, everything forgotten so far with the remain set)
            for j in range(req.requests):
                forgotten = np.sort(np.concatenate(chunks[: j + 1]))
                steps.append((chunks[j], Prepared(spec, data, forgotten, remain_indices(forgotten, len(data.y_train)))))

            def row(name: str, j: int, tm: TrainedModel, seconds: float, one_time: float = 0.0, *, steps: list = steps,
                    ref: ReferenceSet = ref, seed: int = seed) -> dict:
                request, cum = steps[j]
                audited = continual_audit.step_audit(self.signals(tm, cum), ref, request)
                return {"method": name, "label": labels[name], "seed": seed, "request": j + 1, **audited,
                        "seconds": seconds, "one_time_seconds": one_time}

            for j, (_, cum) in enumerate(steps):
                check_cancel(self.cancel)
                retrain = self.retrain(cum)
                rows += [row(REFERENCE, j, retrain, retrain.seconds), row(BASELINE, j, original, 0.0)]
                done += 1
                self._report("continual", done, total, {"seed": seed, "request": j + 1})
            for method in req.methods:
                current = original
                for j, (request, cum) in enumerate(steps):
                    check_cancel(self.cancel)
                    step = Prepared(spec, data, request, cum.remain)
                    try:
                        current = self.unlearned(method, step, current, use_remain=req.use_remain, origin=original)
                    except Diverged as exc:  # its chain stops; the requests before are kept
                        failures[(method.key, seed)] = f"request {j + 1}: {exc}"
                        done += req.requests - j
                        break
                    rows.append(row(method.key, j, current, current.seconds,
                                    float(current.artifact.manifest.get("one_time_seconds", 0.0))))
                    done += 1
                    self._report("continual", done, total, {"seed": seed, "request": j + 1})
        frame = continual_audit.with_gaps(pd.DataFrame(rows, columns=[c for c in continual_audit.COLUMNS
                                                                      if c != "avg_gap"]))
        return ContinualResult(req, frame[continual_audit.COLUMNS], time.perf_counter() - t0, failures)

    # -------------------------------------------------------------------------------------------- AMUN's Theorem 4.1
    def theorem(self, cmp: Comparison, method: str) -> TheoremView:
        """Per forget sample of every seed of ``cmp``: the original model's nearest adversarial example (‖δ‖₂, ε), the
        factors of AMUN's Theorem 4.1 and how forgotten the sample is after ``method``
        (:func:`engine.audit.theorem.per_sample`).

        D_A is the one AMUN searches: under the original model, with the settings of ``method`` when it is an AMUN
        variant (else of an AMUN variant in the audit, else AMUN's tuned defaults), served from the store like AMUN's
        own (the whole training set's when stored, else the forget rows'). The logits of the original model,
        Retrain and the unlearned model at x_adv are stored too (kind ``theorem``).
        """
        if method not in cmp.methods or method in (BASELINE, REFERENCE):
            raise UnlearnError(f"{method!r} is not an unlearned model of this audit; choose one of "
                               f"{', '.join(m for m in cmp.methods if m not in (BASELINE, REFERENCE))}")
        if not cmp.has_retrain:
            raise UnlearnError("AMUN's Theorem 4.1 view compares each forget sample with the retrained model (does "
                               "its adversarial example transfer to Retrain?); this audit has no retrain — run it with "
                               "retrains per seed ≥ 1")
        frames, adversarial = [], {}
        for seed in cmp.seeds:
            check_cancel(self.cancel)
            models = {"original": cmp.models[(BASELINE, seed)], "retrain": cmp.models[(REFERENCE, seed)],
                      "after": cmp.models[(method, seed)]}
            sig = {name: cmp.signals[(key, seed)] for name, key in (("original", BASELINE), ("retrain", REFERENCE),
                                                                     ("after", method))}
            data = models["original"].data
            prep = Prepared(replace(cmp.spec, seed=seed, forget_seed=seed), data, sig["after"].forget,
                            sig["after"].remain)
            attack = self._theorem_attack(cmp, method, seed)
            adv, manifest = self._forget_adversarial(models["original"], prep, attack)
            key = config.stable_hash({"kind": "theorem", "adversarial": manifest["key"], "forget": prep.forget_key,
                                      "models": [tm.key for tm in models.values()]})

            def build(models: dict = models, adv: AdversarialSet = adv, manifest: dict = manifest,
                      key: str = key) -> Artifact:
                arrays = {f"logits_{name}": predict(tm.model, adv.x_adv).numpy().astype(np.float32)
                          for name, tm in models.items()}
                return self.store.save("theorem", key, {"adversarial": manifest["key"], "models": {
                    name: tm.key for name, tm in models.items()}}, arrays=arrays)

            logits = self._artifact("theorem", key, build).arrays()
            scores = {name: cmp.audits[(k, seed)].per_sample["forget_rmia_score"]
                      for name, k in (("original", BASELINE), ("retrain", REFERENCE), ("after", method))}
            frame = theorem_audit.per_sample(
                index=prep.forget, labels=data.y_train.numpy()[prep.forget], eps=adv.eps.numpy(),
                delta_norm=adv.delta_norm.numpy(), y_adv=adv.y_adv.numpy(), flipped=adv.flipped.numpy(),
                logits_adv={name: logits[f"logits_{name}"] for name in models},
                phi={name: s["forget"]["phi"] for name, s in sig.items()},
                loss={name: s["forget"]["loss"] for name, s in sig.items()}, scores=scores)
            frames.append(frame.assign(seed=seed))
            adversarial[seed] = adv
        return TheoremView(method, cmp.labels[method], pd.concat(frames, ignore_index=True), adversarial)

    def _theorem_attack(self, cmp: Comparison, method: str, seed: int) -> NearestAdversarial:
        """The search AMUN ran (or would run) in ``cmp``: the settings of ``method`` if it is an AMUN variant (with
        the ε_init it calibrated, if it did), else of the first AMUN variant in the audit, else AMUN's defaults."""
        for key in [method, *cmp.methods]:
            if key in (BASELINE, REFERENCE) or (key, seed) not in cmp.models:
                continue
            manifest = cmp.models[(key, seed)].artifact.manifest
            inst = get_method(manifest["method"], **manifest.get("params", {}))
            if hasattr(inst, "attack"):
                return inst.attack(float(manifest.get("extras", {}).get("eps_init", inst.eps_init)))
        amun = get_method("amun", dataset=cmp.spec.data.dataset)
        return amun.attack(amun.eps_init)

    def forget_sizes(self, req: AuditRequest, sizes: Sequence[str]) -> dict[str, Comparison]:
        """``req`` once per forget spec in ``sizes`` (e.g. ``random:0.05``…``random:0.4``): the forget-set-size
        effect AMUN's Theorem 4.1 names (:func:`engine.audit.theorem.size_effect`). Each is an ordinary audit
        (stored, listed in the History); originals and reference models are shared by all sizes."""
        out = {}
        for i, size in enumerate(sizes):
            check_cancel(self.cancel)
            out[size] = self.compare(replace(req, spec=replace(req.spec, forget=size)))
            self._report("forget sizes", i + 1, len(sizes), {})
        return out


def audit(spec: RunSpec, methods: Sequence[str], seeds: Sequence[int] = (0,), store: Store | None = None,
          **kw: Any) -> Comparison:
    """One call: :meth:`AuditRequest.build` then :meth:`Runner.compare` (tests, notebooks)."""
    runner_kw = {k: kw.pop(k) for k in ("data_dir", "device", "progress", "cancel") if k in kw}
    return Runner(store, **runner_kw).compare(AuditRequest.build(spec, methods, seeds, **kw))


__all__ = ["HARDEST_CRITERIA", "HELDOUT", "UPLOADED_LABEL", "AuditRequest", "Baseline", "NotStored", "Prepared",
           "Runner", "TrainedModel", "audit", "load_model", "short_recipe"]
