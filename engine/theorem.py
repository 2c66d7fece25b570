"""AMUN's Theorem 4.1 view of an audit (the flow; the per-sample factors are :mod:`engine.audit.theorem`, the figures
:mod:`engine.figures_amun`): per forget sample, the original model's nearest adversarial example and how forgotten
the sample is after a method. Served from the store like any other piece (kind ``theorem``: the logits of the
original model, Retrain and the unlearned model at x_adv).
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd

from . import config
from .artifacts import Artifacts
from .attacks import AdversarialSet, NearestAdversarial
from .audit import theorem as theorem_audit
from .audit.compare import Comparison
from .audit.theorem import TheoremView
from .errors import UnlearnError
from .kinds import Role
from .store import Artifact
from .trained import Prepared
from .training import check_cancel, predict
from .unlearning import get_method


def view(art: Artifacts, cmp: Comparison, method: str) -> TheoremView:
    """Per forget sample of every seed of ``cmp``: the original model's nearest adversarial example (‖δ‖₂, ε), the
    factors of AMUN's Theorem 4.1 and how forgotten the sample is after ``method``
    (:func:`engine.audit.theorem.per_sample`).

    D_A is the one AMUN searches: under the original model, with the settings of ``method`` when it is an AMUN
    variant (else of an AMUN variant in the audit, else AMUN's tuned defaults), served from the store like AMUN's
    own (the whole training set's when stored, else the forget rows'). The logits of the original model,
    Retrain and the unlearned model at x_adv are stored too (kind ``theorem``).
    """
    if method not in cmp.methods or method in (Role.ORIGINAL, Role.RETRAIN):
        raise UnlearnError(f"{method!r} is not an unlearned model of this audit; choose one of "
                           f"{', '.join(m for m in cmp.methods if m not in (Role.ORIGINAL, Role.RETRAIN))}")
    if not cmp.has_retrain:
        raise UnlearnError("AMUN's Theorem 4.1 view compares each forget sample with the retrained model (does "
                           "its adversarial example transfer to Retrain?); this audit has no retrain — run it with "
                           "retrains per seed ≥ 1")
    frames, adversarial = [], {}
    for seed in cmp.seeds:
        check_cancel(art.cancel)
        models = {"original": cmp.models[(Role.ORIGINAL, seed)], "retrain": cmp.models[(Role.RETRAIN, seed)],
                  "after": cmp.models[(method, seed)]}
        sig = {name: cmp.signals[(key, seed)] for name, key in (("original", Role.ORIGINAL), ("retrain", Role.RETRAIN),
                                                                 ("after", method))}
        data = models["original"].data
        prep = Prepared(replace(cmp.spec, seed=seed, forget_seed=seed), data, sig["after"].forget,
                        sig["after"].remain)
        attack = _attack(cmp, method, seed)
        adv, manifest = art.forget_adversarial(models["original"], prep, attack)
        key = config.stable_hash({"kind": "theorem", "adversarial": manifest["key"], "forget": prep.forget_key,
                                  "models": [tm.key for tm in models.values()]})

        def build(models: dict = models, adv: AdversarialSet = adv, manifest: dict = manifest,
                  key: str = key) -> Artifact:
            arrays = {f"logits_{name}": predict(tm.model, adv.x_adv).numpy().astype(np.float32)
                      for name, tm in models.items()}
            return art.store.save("theorem", key, {"adversarial": manifest["key"], "models": {
                name: tm.key for name, tm in models.items()}}, arrays=arrays)

        logits = art._artifact("theorem", key, build).arrays()
        scores = {name: cmp.audits[(k, seed)].per_sample["forget_rmia_score"]
                  for name, k in (("original", Role.ORIGINAL), ("retrain", Role.RETRAIN), ("after", method))}
        frame = theorem_audit.per_sample(
            index=prep.forget, labels=data.y_train.numpy()[prep.forget], eps=adv.eps.numpy(),
            delta_norm=adv.delta_norm.numpy(), y_adv=adv.y_adv.numpy(), flipped=adv.flipped.numpy(),
            logits_adv={name: logits[f"logits_{name}"] for name in models},
            phi={name: s["forget"]["phi"] for name, s in sig.items()},
            loss={name: s["forget"]["loss"] for name, s in sig.items()}, scores=scores)
        frames.append(frame.assign(seed=seed))
        adversarial[seed] = adv
    return TheoremView(method, cmp.labels[method], pd.concat(frames, ignore_index=True), adversarial)

def _attack(cmp: Comparison, method: str, seed: int) -> NearestAdversarial:
    """The search AMUN ran (or would run) in ``cmp``: the settings of ``method`` if it is an AMUN variant (with
    the ε_init it calibrated, if it did), else of the first AMUN variant in the audit, else AMUN's defaults."""
    for key in [method, *cmp.methods]:
        if key in (Role.ORIGINAL, Role.RETRAIN) or (key, seed) not in cmp.models:
            continue
        manifest = cmp.models[(key, seed)].artifact.manifest
        inst = get_method(manifest["method"], **manifest.get("params", {}))
        if hasattr(inst, "attack"):
            return inst.attack(float(manifest.get("extras", {}).get("eps_init", inst.eps_init)))
    amun = get_method("amun", dataset=cmp.spec.data.dataset)
    return amun.attack(amun.eps_init)


__all__ = ["view"]
