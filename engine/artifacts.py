"""The artifact builders: every expensive piece of an audit, built once and kept in the run store.

A trained model (original, retrain), an uploaded model, an unlearned model (or its stored failure), an adversarial
set, a model's signals — each is a store artifact under a key of everything it depends on (the ``*_key`` functions
below, which the plan (:mod:`engine.plan`) uses too, so it can say what the store holds without building anything).
RMIA's K reference models are :mod:`engine.reference_models`; the values handed out are :mod:`engine.trained`.
:class:`Artifacts` builds (or, ``build=False``, only loads) one piece per call; :class:`engine.run.Runner` adds the
flows that put the pieces together.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch

from . import config
from .attacks import AdversarialSet, NearestAdversarial
from .config import RunSpec
from .data import Dataset, load_dataset
from .errors import Diverged, UnlearnError
from .forget import forget_fingerprint, remain_indices, select_forget
from .kinds import Need, Role
from .models import build_model
from .signals import Signals
from .store import Artifact, Store
from .trained import Prepared, TrainedModel, fresh_model
from .training import CancelToken, Progress, check_cancel, default_device, predict, seed_everything, train_model
from .unlearning import Resources, Unlearner
from .upload import check_outputs, digest, load_weights


class NotStored(UnlearnError):
    """A store-only runner (``build=False``) met an artifact that is not in the store."""


#: How RMIA's reference models train (:mod:`engine.reference_models`): ``single`` (one train_model each),
#: ``ensemble`` (all at once, :func:`engine.ensemble.train_ensemble`; same computation up to float rounding) or
#: ``auto`` (the ensemble where it pays).
REFERENCE_TRAINING = ("auto", "ensemble", "single")


# ------------------------------------------------------------------------------------------------ store keys
def retrain_seed(seed: int, replica: int) -> int:
    """Retrain replica 0 trains with the run's seed, replica r with a seed derived from it."""
    return seed if replica == 0 else int(config.stable_hash({"retrain-replica": seed, "r": replica}), 16) % (2**31 - 1)


def run_seed(seed: int, run: int) -> int:
    """The unlearning seed of run ``run`` of a method from the original of model seed ``seed`` (the third seed axis,
    issue 17): run 0 unlearns with the model seed itself (the one-run audit's seed, so its models keep their keys),
    run r with a seed derived from both; the audit's ``runs`` and ``engine quality`` share these runs."""
    return seed if run == 0 else int(config.stable_hash({"unlearning-run": seed, "r": run}), 16) % (2**31 - 1)


def trained_key(role: Role, spec: RunSpec, data: Dataset, forget: np.ndarray | None) -> str:
    """The key of a model trained with ``spec`` on all of train (original) or without ``forget`` (retrain)."""
    parts = {"kind": str(role), "data": data.fingerprint, "model": spec.model, "train": spec.train, "seed": spec.seed}
    if forget is not None:
        parts["forget"] = forget_fingerprint(forget)
    return config.stable_hash(parts)


def unlearned_key(method: Unlearner, prep: Prepared, original: str, *, seed: int, use_remain: bool,
                  origin: str | None = None) -> str:
    """The key of ``method`` run from the model ``original`` (a key) on ``prep``; a stored failure shares it."""
    parts = {"kind": "unlearned", "method": method.key, "params": method.params(), "original": original,
             "forget": prep.forget_key, "seed": seed, "use_remain": use_remain, "data": prep.data.fingerprint}
    if origin is not None and origin != original:
        parts["origin"] = origin
    if len(prep.forget) + len(prep.remain) != len(prep.data.y_train):  # remain is not train minus forget
        parts["remain"] = forget_fingerprint(prep.remain)
    return config.stable_hash(parts)


def adversarial_key(model: str, data: Dataset, rows_id: str, attack: NearestAdversarial) -> str:
    return config.stable_hash({"kind": "adversarial", "model": model, "data": data.fingerprint, "rows": rows_id,
                               **attack.params()})


def rows_id(split: str, rows: np.ndarray | None) -> str:
    return split if rows is None else f"{split}-{forget_fingerprint(rows)}"


def signals_key(model: str, data: Dataset) -> str:
    return config.stable_hash({"kind": "signals", "model": model, "data": data.fingerprint})


# ------------------------------------------------------------------------------------------------ the builders
class Artifacts:
    """Builds (or, with ``build=False``, only loads) the pieces of an audit against one run store.

    Args:
        store: the run store (default ``$UNLEARN_HOME/store``).
        data_dir: where data files live (see :mod:`engine.data`).
        download: let torchvision download missing files (needs a network).
        device: CUDA when present, else the CPU.
        progress: ``progress(stage, done, total, metrics)`` from every long step.
        cancel: checked every batch; a cancelled step stores nothing.
        build: False = read the store only; a missing artifact raises :class:`NotStored`.
        reference_training: how RMIA's reference models train
            (:data:`REFERENCE_TRAINING`, :mod:`engine.reference_models`): ``auto`` (a stacked ensemble where it pays),
            ``ensemble`` or ``single``.
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

    def reader(self) -> Artifacts:
        """A store-only twin of these builders (same store, data and device): finds, never builds."""
        return Artifacts(self.store, data_dir=self.data_dir, device=self.device, build=False,
                         reference_training=self.reference_training)

    # -------------------------------------------------------------------------------------------- data
    def data(self, spec: RunSpec) -> Dataset:
        return load_dataset(spec.data, self.data_dir, self.download, cancel=self.cancel)

    def prepare(self, spec: RunSpec) -> Prepared:
        """The data of ``spec`` and its forget set (drawn with ``spec.forget_seed``)."""
        data = self.data(spec)
        forget = select_forget(spec.forget, data.y_train, data.num_classes, spec.forget_seed)
        return Prepared(spec, data, forget, remain_indices(forget, len(data.y_train)))

    # -------------------------------------------------------------------------------------------- models
    def original(self, spec: RunSpec) -> TrainedModel:
        """The model trained on all of train with ``spec``'s recipe and seed (no forget set involved)."""
        data = self.data(spec)
        return self._trained(Role.ORIGINAL, spec, data, np.arange(len(data.y_train)), None)

    def retrain(self, prep: Prepared, replica: int = 0) -> TrainedModel:
        """The gold standard: the same recipe on the remain set only; replica 0 with the run's seed, replica r
        with a seed derived from it (two retrains differ only by initialisation and shuffles)."""
        spec = replace(prep.spec, seed=retrain_seed(prep.spec.seed, replica))
        return self._trained(Role.RETRAIN, spec, prep.data, prep.remain, prep.forget)

    def _trained(self, role: Role, spec: RunSpec, data: Dataset, idx: np.ndarray,
                 forget: np.ndarray | None) -> TrainedModel:
        kind = str(role)
        key = trained_key(role, spec, data, forget)

        def build() -> Artifact:
            seed_everything(spec.seed)
            model = fresh_model(spec, data, self.device)
            hist = train_model(model, data.x_train[idx], data.y_train[idx], spec.train, seed=spec.seed,
                               device=self.device, progress=self.progress, cancel=self.cancel, stage=kind)
            check_cancel(self.cancel)
            manifest = {"spec": spec, "model_kind": kind, "data_fingerprint": data.fingerprint,
                        "forget_fingerprint": forget_fingerprint(forget) if forget is not None else None,
                        "n_train": int(len(idx)), "device": str(self.device), "seconds": hist.seconds,
                        "history": hist.epochs}
            return self.store.save(kind, key, manifest, tensors=model.state_dict(),
                                   arrays={"forget": forget} if forget is not None else None)

        return TrainedModel(role, self._artifact(kind, key, build), spec, data, self.device)

    def unlearned(self, method: Unlearner, prep: Prepared, original: TrainedModel, *, use_remain: bool = True,
                  seed: int | None = None, origin: TrainedModel | None = None) -> TrainedModel:
        """``method`` applied to ``original`` for ``prep.forget`` (``use_remain=False``: the D_F-only setting).

        The method gets only the resources it declares (:attr:`Unlearner.requires`): the run's recipe, the
        original model's stored adversarial set of the forget rows, or that of the model it starts from.
        ``seed`` defaults to the run's seed.

        Continual unlearning (:mod:`engine.continual`) passes the previous request's model as ``original`` and θ_o
        as ``origin`` (whose D_A AMUN keeps); ``prep.remain`` is then the training set minus everything forgotten so
        far. The key chains the starting model's key, and names ``origin`` and the remain set where they are not
        implied (a one-shot run keeps its key).

        A run whose loss, weights or outputs become non-finite raises :class:`Diverged`; the failure is stored
        too (kind ``failure``, the same key), so the same deterministic run is not retried and a store-only
        reader reports it instead of "not stored".
        """
        seed = prep.spec.seed if seed is None else seed
        origin = origin or original
        key = unlearned_key(method, prep, original.key, seed=seed, use_remain=use_remain, origin=origin.key)
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

        return TrainedModel(Role.UNLEARNED, self._artifact("unlearned", key, build), prep.spec, prep.data,
                            self.device)

    def _resources(self, method: Unlearner, prep: Prepared, start: TrainedModel, origin: TrainedModel) -> Resources:
        """What ``method`` declares: the recipe; D_A of the forget rows under ``origin`` (θ_o, "adversarial") or
        under ``start``, the model it is given ("current_adversarial"; the same model in a one-shot run)."""
        res = Resources()
        needs = set(method.requires)
        if Need.RECIPE in needs:
            res.recipe = prep.spec
        whose = origin if Need.ADVERSARIAL in needs else start if Need.CURRENT_ADVERSARIAL in needs else None
        if whose is not None:
            def adversarial(attack: NearestAdversarial) -> AdversarialSet:
                adv, manifest = self.forget_adversarial(whose, prep, attack)
                res.one_time["D_A search"] = float(manifest.get("seconds", 0.0))
                return adv
            res.adversarial = adversarial
        return res

    # -------------------------------------------------------------------------------------------- uploads
    # An uploaded model stands in for the original: stored once (kind "uploaded"), then named by its key in an
    # AuditRequest (``original=``), which the audit treats exactly as a trained original.
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

        return TrainedModel(Role.UPLOADED, self._artifact("uploaded", key, build), spec, data, self.device)

    def uploaded(self, key: str, spec: RunSpec) -> TrainedModel:
        """The stored upload ``key`` as the original of ``spec`` (same data and model spec as it was checked for)."""
        if not key.isalnum():
            raise UnlearnError(f"uploaded model {key!r}: not a key")
        art = self.store.load("uploaded", key)
        if art is None:
            raise NotStored(f"uploaded model {key} is not in the run store: upload its weights again")
        data = self.data(spec)
        if art.manifest["data_fingerprint"] != data.fingerprint or art.manifest["model"] != config.to_dict(spec.model):
            m, d = art.manifest["model"], art.manifest["data"]
            raise UnlearnError(f"uploaded model {key} ({art.manifest.get('name')}) was checked for {m['arch']} of "
                               f"width {m['width']} on {d['dataset']} (train size "
                               f"{d['train_size'] or 'all'}); the audit asks for {spec.model.arch} "
                               f"of width {spec.model.width} on {spec.data.dataset} (train size "
                               f"{spec.data.train_size or 'all'})")
        return TrainedModel(Role.UPLOADED, art, spec, data, self.device)

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
        rid = rows_id(split, rows)
        key = adversarial_key(trained.key, data, rid, attack)

        def build() -> Artifact:
            t0 = time.perf_counter()
            adv = attack(trained.model, x, y, device=self.device, progress=self.progress, cancel=self.cancel)
            check_cancel(self.cancel)
            manifest = {"model": trained.key, "data_fingerprint": data.fingerprint, "rows": rid,
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
        return self.store.exists("adversarial", adversarial_key(trained.key, data, rows_id(split, rows),
                                                                attack or NearestAdversarial()))

    def forget_adversarial(self, model: TrainedModel, prep: Prepared,
                           attack: NearestAdversarial) -> tuple[AdversarialSet, dict]:
        """D_A of ``prep.forget`` under ``model``: indexed from the whole training set's when that is stored (AMUN's
        code precomputes it once per original model; `hardest` by ε and tuning over many forget sets store it),
        else searched for the forget rows only."""
        whole = self.has_adversarial(model, prep.data, attack=attack)
        adv, manifest = self._adversarial(model, prep.data, "train", None if whole else prep.forget, attack)
        return (adv.subset(prep.forget) if whole else adv), manifest

    # -------------------------------------------------------------------------------------------- signals
    def signals(self, trained: TrainedModel, prep: Prepared) -> Signals:
        """Per-sample signals of a stored model on train / test / val, grouped by ``prep``'s forget set."""
        data = prep.data
        key = signals_key(trained.key, data)

        def build() -> Artifact:
            t0 = time.perf_counter()
            splits = {s: data.split(s) for s in ("train", "test", "val")}
            logits = {s: predict(trained.model, x) for s, (x, _) in splits.items()}
            arrays = Signals.compute(logits, {s: y for s, (_, y) in splits.items()})
            return self.store.save("signals", key, {"model": trained.key, "seconds": time.perf_counter() - t0},
                                   arrays=arrays)

        return Signals.from_flat(self._artifact("signals", key, build).arrays(), prep.forget, prep.remain)

    # -------------------------------------------------------------------------------------------- chores
    def _artifact(self, kind: str, key: str, build: Callable[[], Artifact]) -> Artifact:
        if self.build:
            return self.store.cached(kind, key, build)
        art = self.store.load(kind, key)
        if art is None:
            raise NotStored(f"{kind} {key} is not in the run store")
        return art

    def _report(self, stage: str, done: int, total: int, metrics: dict) -> None:
        if self.progress:
            self.progress(stage, done, total, metrics)
