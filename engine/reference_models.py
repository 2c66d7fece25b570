"""RMIA's K reference models (the membership attack's shadow models — not Retrain, the gold standard).

Each is the target's architecture and recipe trained on a random half of the pool P = train ∪ test;
``keep_matrix(|P|, k, seed)[r]`` marks model r's rows (each point IN for K/2 models). Each model is stored (weights,
keep row, logits on P) under a key of the data, model spec, recipe, index, K and seed (:func:`reference_keys`) —
independent of forget set and target seed, so one set serves every method and seed. They train one by one
(``single``) or as stacked ensembles (``ensemble``, :mod:`engine.ensemble`; the same computation up to float
rounding), ``auto`` choosing where it pays.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Callable
from typing import Any

import numpy as np
import torch

from . import config
from .artifacts import REFERENCE_TRAINING, Artifacts
from .audit.rmia import ReferenceSet, keep_matrix
from .config import RunSpec
from .data import Dataset
from .ensemble import ENSEMBLE_GROUP, choose_training, supports_ensemble, train_ensemble
from .errors import UnlearnError
from .kinds import Stage, reference_stage
from .models import build_model
from .store import Artifact
from .trained import fresh_model
from .training import check_cancel, predict, seed_everything, train_model


def reference_keys(spec: RunSpec, data: Dataset, k: int, seed: int, mode: str) -> list[str]:
    """The store keys of the K models; ``single`` keeps the keys of stores made before the ensemble existed."""
    parts = {"kind": "reference", "data": data.fingerprint, "model": spec.model, "train": spec.train, "k": k,
             "keep_seed": seed}
    if mode == "ensemble":
        parts["training"] = "ensemble"
    return [config.stable_hash({**parts, "index": r}) for r in range(k)]


def reference_mode(spec: RunSpec, data: Dataset, training: str, device: torch.device) -> str:
    """``single`` or ``ensemble``: what ``training`` (``auto`` | ``ensemble`` | ``single``) means for ``spec``."""
    if training not in REFERENCE_TRAINING:
        raise UnlearnError(f"reference training {training!r}: choose one of {', '.join(REFERENCE_TRAINING)}")
    if training == "single":
        return training
    with torch.device("meta"):  # the architecture only: no memory, no draw from the global RNG
        model = build_model(spec.model, data.shape, data.num_classes)
    if training == "ensemble" and not supports_ensemble(model):
        raise UnlearnError(f"{spec.model.arch} has batch norm (or dropout) and cannot train as a stacked "
                           "ensemble; use reference training 'single' or 'auto'")
    return choose_training(model, device) if training == "auto" else training


def _train_seed(seed: int, r: int, k: int) -> int:
    return int(config.stable_hash({"reference-train-seed": seed, "index": r, "k": k}), 16) % (2**31 - 1)


def reference_set(art: Artifacts, spec: RunSpec, k: int, seed: int = 0, *,
                  training: str | None = None) -> ReferenceSet:
    """The K models of ``spec`` (built or, on a store-only ``art``, found), as RMIA reads them.

    A cancelled call keeps the models it finished. Progress counts the steps of all models still to train, so a
    job's ETA covers the whole set. ``training`` (default: ``art.reference_training``): ``single`` trains one
    model after the other; ``ensemble`` trains the missing ones at once in groups of
    :data:`~engine.ensemble.ENSEMBLE_GROUP` (each member with its own rows, seed, shuffles and optimiser state; a
    cancel keeps none of the group); ``auto`` picks it where it pays (:func:`engine.ensemble.choose_training`).
    Ensemble-trained models are keyed with the mode, so the two kinds of set never mix.
    """
    data = art.data(spec)
    x_pool, y_pool = torch.cat([data.x_train, data.x_test]), torch.cat([data.y_train, data.y_test])
    n_pool = len(y_pool)
    keep = keep_matrix(n_pool, k, seed)
    mode = reference_mode(spec, data, training or art.reference_training, art.device)
    keys = reference_keys(spec, data, k, seed, mode)
    missing = [r for r in range(k) if not art.store.exists("reference", keys[r])]
    steps = [spec.train.epochs * math.ceil(int(keep[r].sum()) / spec.train.batch_size) for r in range(k)]
    total, state = sum(steps[r] for r in missing), {"offset": 0, "built": 0}

    def manifest_of(r: int, hist: Any, **extra: Any) -> dict:
        return {"data_fingerprint": data.fingerprint, "model": spec.model, "train": spec.train, "index": r,
                "k": k, "keep_seed": seed, "train_seed": _train_seed(seed, r, k), "n_train": int(keep[r].sum()),
                "n_pool": n_pool, "device": str(art.device), "seconds": hist.seconds, "history": hist.epochs,
                "training": mode, **extra}

    if mode == "ensemble" and missing and art.build:
        _train_together(art, spec, data, x_pool, y_pool, keep, keys, missing, seed, manifest_of, state)

    def build_for(r: int) -> Callable[[], Artifact]:
        def build() -> Artifact:
            if mode == "ensemble":  # a lost member is rebuilt with its whole group, as it was built: same bytes
                _train_together(art, spec, data, x_pool, y_pool, keep, keys, [r], seed, manifest_of, state,
                                held={r})
                return art.store.load("reference", keys[r], verify=False)
            idx = np.flatnonzero(keep[r])
            train_seed = _train_seed(seed, r, k)
            seed_everything(train_seed)
            model = fresh_model(spec, data, art.device)
            offset = state["offset"]

            def inner(stage: str, done: int, _total: int, metrics: dict) -> None:
                art._report(Stage.REFERENCE, offset + done, total, {**metrics, "model": r + 1, "of": k})

            hist = train_model(model, x_pool[idx], y_pool[idx], spec.train, seed=train_seed, device=art.device,
                               progress=inner, cancel=art.cancel, stage=reference_stage(r + 1, k))
            check_cancel(art.cancel)
            logits = predict(model, x_pool).numpy().astype(np.float32)
            manifest = manifest_of(r, hist)
            state["offset"] += steps[r]
            state["built"] += 1
            return art.store.save("reference", keys[r], manifest, tensors=model.state_dict(),
                                  arrays={"keep": keep[r], "logits": logits})
        return build

    logits, seconds = [], 0.0
    for r in range(k):
        check_cancel(art.cancel)
        stored = art._artifact("reference", keys[r], build_for(r))
        arrays = stored.arrays()
        if arrays["logits"].shape[0] != n_pool or not np.array_equal(arrays["keep"], keep[r]):
            raise UnlearnError(f"stored reference model {keys[r]} does not match its keep matrix; "
                               "delete it from the store to rebuild")
        logits.append(arrays["logits"])
        seconds += float(stored.manifest.get("seconds", 0.0))
    return ReferenceSet(np.stack(logits), keep, y_pool.numpy().astype(np.int64), len(data.y_train), seed,
                        tuple(keys), seconds, state["built"])


def _train_together(art: Artifacts, spec: RunSpec, data: Dataset, x_pool: torch.Tensor, y_pool: torch.Tensor,
                    keep: np.ndarray, keys: list[str], missing: list[int], seed: int, manifest_of: Callable,
                    state: dict, held: set[int] = frozenset()) -> None:
    """Train the ``missing`` reference models as stacked ensembles and store each (under every key's lock; the
    caller holds those of ``held``). The groups are fixed (indices 0..15, 16..31, …) and a group is trained whole
    even when one member is missing, so a rebuilt member has the bytes of the lost one (float rounding in a stacked
    training depends on the group)."""
    k = len(keys)
    with contextlib.ExitStack() as locks:
        for r in sorted(set(missing) - set(held), key=lambda r: keys[r]):
            locks.enter_context(art.store.lock("reference", keys[r]))
        todo = [r for r in missing if not art.store.exists("reference", keys[r])]  # others may have built some
        groups = [g for i in range(0, k, ENSEMBLE_GROUP) if set(g := list(range(i, min(i + ENSEMBLE_GROUP, k))))
                  & set(todo)]
        steps = spec.train.epochs * max((math.ceil(int(keep[r].sum()) / spec.train.batch_size)
                                         for g in groups for r in g), default=0)
        for g, group in enumerate(groups):
            check_cancel(art.cancel)
            models = []
            for r in group:
                seed_everything(_train_seed(seed, r, k))  # the same initialisation as a single training
                models.append(fresh_model(spec, data, art.device))

            def inner(stage: str, done: int, _total: int, metrics: dict, g: int = g, m: int = len(group)) -> None:
                art._report(Stage.REFERENCE, g * steps + done, len(groups) * steps,
                            {**metrics, "ensemble": m, "of": k})

            hists = train_ensemble(models, x_pool, y_pool, [np.flatnonzero(keep[r]) for r in group], spec.train,
                                   [_train_seed(seed, r, k) for r in group], device=art.device, progress=inner,
                                   cancel=art.cancel, stage=f"reference ensemble of {len(group)}")
            check_cancel(art.cancel)
            for r, model, hist in zip(group, models, hists):
                if r not in todo:  # stored and valid: trained again only to rebuild a lost member of its group
                    continue
                logits = predict(model, x_pool).numpy().astype(np.float32)
                art.store.save("reference", keys[r], manifest_of(r, hist, ensemble_size=len(group),
                                                                   ensemble_seconds=hist.seconds * len(group)),
                               tensors=model.state_dict(), arrays={"keep": keep[r], "logits": logits})
                state["built"] += 1


__all__ = ["REFERENCE_TRAINING", "reference_keys", "reference_mode", "reference_set"]
