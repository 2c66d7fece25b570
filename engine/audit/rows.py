"""The metrics rows of one seed of an audit (:func:`seed_rows`): one per model, Retrain replica and unlearning run,
with Avg Gap against the seed's retrains and the one-seed bootstrap errors. :meth:`engine.run.Runner.compare` makes
them; :class:`~engine.audit.compare.Comparison` tabulates them."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from ..kinds import Role
from .compare import COLUMNS, ModelAudit
from .uncertainty import BOOTSTRAP_METRICS, bootstrap_se, loo_factor


def avg_gap(row: dict, ref: dict, mia: str = "ft_auc") -> float:
    """Mean |Δ| of UA, RA, TA and the chosen MIA column to the reference row (AMUN §5.2)."""
    return float(np.mean([abs(row[k] - ref[k]) for k in ("ua", "ra", "ta", mia)]))


def seed_rows(audits: dict[str, ModelAudit], replicas: Sequence[ModelAudit], labels: dict[str, str],
              seconds: dict[str, float], *, seed: int, setting: str, n_boot: int = 200,
              one_time: dict[str, float] | None = None, runs: dict[tuple[str, int], ModelAudit] | None = None,
              forget_seed: int | None = None) -> list[dict[str, Any]]:
    """The metrics rows of one seed (one per model, retrain replica and unlearning run, :data:`COLUMNS`).

    Avg Gap of a model is taken against the mean of the seed's retrain ``replicas``; a replica's against the mean
    of the other replicas times :func:`~engine.audit.uncertainty.loo_factor` (the expected gap of one more retrain
    to the mean of all R; 0 with one replica). ``audits[Role.RETRAIN]`` is replica 0. Bootstrap standard errors
    (``*_se``) come from :func:`engine.audit.uncertainty.bootstrap_se` over this seed's samples. Without a retrain
    (no ``audits[Role.RETRAIN]``, no ``replicas``: an audit against the reference models alone) Avg Gap is NaN.
    ``runs``: a method's unlearning runs 1…N−1 by (method, run) (run 0 is ``audits[method]``): rows of their own
    (``replica`` = the run), Avg Gap against the same retrains; no bootstrap error (their spread is the interval).
    """
    def row(name: str, audit: ModelAudit, replica: int) -> dict[str, Any]:
        return {"method": name, "label": labels[name], "seed": seed,
                "forget_seed": seed if forget_seed is None else forget_seed, "replica": replica, "setting": setting,
                **audit.row, "seconds": seconds.get(name if replica == 0 else f"{name}#{replica}", float("nan")),
                "one_time_seconds": (one_time or {}).get(name, 0.0) if replica == 0 else 0.0}

    rows = {name: row(name, a, 0) for name, a in audits.items()}
    extra = [row(name, a, r) for (name, r), a in sorted((runs or {}).items()) if name in audits]
    reps = [rows[Role.RETRAIN]] + [row(Role.RETRAIN, a, r) for r, a in enumerate(replicas[1:], 1)] if replicas else []
    keys = ("ua", "ra", "ta", "ft_auc", "mia_efficacy")
    mean_ref = {k: float(np.mean([x[k] for x in reps])) if reps else float("nan") for k in keys}
    for x in [*(x for name, x in rows.items() if name != Role.RETRAIN), *extra]:
        x["avg_gap"], x["avg_gap_mis"] = avg_gap(x, mean_ref, "ft_auc"), avg_gap(x, mean_ref, "mia_efficacy")
    # a replica against the mean of the others overstates a retrain-like method's gap to the mean of all R
    # (σ²(1 + 1/(R − 1)) vs σ²(1 + 1/R)): the leave-one-out correction makes the floor unbiased (loo_factor)
    fix = loo_factor(len(reps)) if len(reps) >= 2 else 1.0
    for r, x in enumerate(reps):
        others = [y for q, y in enumerate(reps) if q != r] or [x]
        ref = {k: float(np.mean([y[k] for y in others])) for k in keys}
        x["avg_gap"], x["avg_gap_mis"] = fix * avg_gap(x, ref, "ft_auc"), fix * avg_gap(x, ref, "mia_efficacy")
    samples = {name: _samples(a) for name, a in audits.items()}
    samples.update({f"{Role.RETRAIN}#{r}": _samples(a) for r, a in enumerate(replicas[1:], 1)})
    names = [Role.RETRAIN] + [f"{Role.RETRAIN}#{r}" for r in range(1, len(replicas))] if replicas else []
    se = bootstrap_se(samples, names,
                      n_boot=n_boot, seed=seed)
    for name, x in rows.items():
        x.update({f"{m}_se": v for m, v in se[name].items()})
    for r, x in enumerate(reps[1:], 1):
        x.update({f"{m}_se": v for m, v in se[f"{Role.RETRAIN}#{r}"].items()})
    for x in extra:
        x.update({f"{m}_se": float("nan") for m in BOOTSTRAP_METRICS})
    return [{c: x[c] for c in COLUMNS} for x in [*rows.values(), *reps[1:], *extra]]


def _samples(a: ModelAudit) -> dict[str, np.ndarray]:
    p = a.per_sample
    return {"forget_correct": p["forget_correct"], "remain_correct": p["remain_correct"],
            "test_correct": p["test_correct"], "forget_score": p["forget_rmia_score"],
            "test_score": p["test_rmia_score"]}


__all__ = ["avg_gap", "seed_rows"]
