"""U-LiRA: a per-example likelihood-ratio membership test for unlearning (Hayes, Shumailov, Triantafillou, Khalifa,
Papernot 2024, "Inexact unlearning needs more careful evaluations to avoid a false sense of privacy", arXiv
2403.01218), issue 17 item 4.

The game: a model is either *unlearned* (trained with x, then x unlearned by the method) or *retrained* (never saw
x); the attacker sees the model's logit-scaled confidence φ(x) and says which. Per forget example x:

* fit a Gaussian to φ(x) under the **shadow** unlearned models, N(μ_U, σ_U²), and one under the shadow retrained
  models, N(μ_R, σ_R²) (LiRA's parametric fit, Carlini et al. 2022);
* score a **target** model by the log likelihood ratio log N(φ; μ_U, σ_U²) − log N(φ; μ_R, σ_R²) (higher =
  "unlearned");
* targets and shadows are disjoint: the models of each side are split into ``folds`` groups, each group is scored
  with Gaussians fitted on the other groups, so every model is a target once.

All (target model, example) pairs together give the attack's ROC: positives are unlearned targets, negatives
retrained ones. It is reported with its AUC, TPR at 1 % and 0.1 % FPR (exact intervals, withheld where the non-
member pairs are too few: :mod:`engine.audit.lowfpr`) and, per example, the balanced accuracy of the sign of the
ratio (Hayes et al. report per-example attack accuracy; 50 % = the example looks retrained).

Simplifications, stated: the shadow models here are the audit's own N unlearning runs (one original model, N
unlearning seeds) and N retrains, as in the challenge — Hayes et al. train a fresh original per shadow and draw the
forget set per shadow; their exact variance choice is not in our notes. Variance: with fewer than
:data:`GLOBAL_VARIANCE_BELOW` shadows per side, one variance per side pooled over examples (LiRA's advice for few
shadow models), else per example; a floor of :data:`SIGMA_FLOOR` keeps a deterministic method finite.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..errors import UnlearnError
from .lowfpr import LowFprFigure, low_fpr_figures
from .uncertainty import auc

#: below this many shadow models per side, one variance per side is pooled over the examples (Carlini et al. 2022)
GLOBAL_VARIANCE_BELOW = 64
#: smallest σ (logit-scaled confidence units): a method that is deterministic across seeds still gets a finite ratio
SIGMA_FLOOR = 1e-3


@dataclass
class UliraResult:
    """U-LiRA on one method's forget set.

    Attributes:
        auc: ROC-AUC of unlearned (1) vs retrained (0) target pairs (0.5 = no signal).
        low_fpr: TPR at 1 % and 0.1 % FPR with exact intervals, or withheld (:class:`LowFprFigure`).
        member_scores: (N_U, E) log likelihood ratio of every unlearned model on every example (as a target).
        nonmember_scores: (N_R, E) the same for the retrained models.
        example_accuracy: (E,) per example, balanced accuracy of "ratio > 0 → unlearned" over its targets.
        variance: ``"global"`` or ``"per-example"``.
    """

    auc: float
    low_fpr: dict[float, LowFprFigure]
    member_scores: np.ndarray = field(repr=False)
    nonmember_scores: np.ndarray = field(repr=False)
    example_accuracy: np.ndarray = field(repr=False)
    variance: str = "global"

    def summary(self) -> dict[str, object]:
        return {"ulira_auc": self.auc, "ulira_tpr_1pct": self.low_fpr[0.01].short,
                "ulira_tpr_01pct": self.low_fpr[0.001].short,
                "ulira_example_acc_median": float(np.median(self.example_accuracy)),
                "ulira_examples_over_90pct": float(np.mean(self.example_accuracy > 0.9))}


def _log_normal(x: np.ndarray, mu: np.ndarray, sigma: np.ndarray) -> np.ndarray:
    return -0.5 * ((x - mu) / sigma) ** 2 - np.log(sigma)


def _fit(shadow: np.ndarray, pooled: bool) -> tuple[np.ndarray, np.ndarray]:
    mu = shadow.mean(0)
    if pooled:
        sigma = np.full(shadow.shape[1], np.sqrt(np.mean((shadow - mu) ** 2) * len(shadow) / max(1, len(shadow) - 1)))
    else:
        sigma = shadow.std(0, ddof=1)
    return mu, np.maximum(sigma, SIGMA_FLOOR)


def ulira(unlearned: np.ndarray, retrained: np.ndarray, *, folds: int = 2, seed: int = 0,
          variance: str = "auto") -> UliraResult:
    """U-LiRA scores of every model on every forget example, with folds of shadows and targets (module docstring).

    Args:
        unlearned: (N_U, E) logit-scaled confidences under the unlearned models (rows: models).
        retrained: (N_R, E) the same under the retrained models.
        folds: groups per side; each is a target once, with Gaussians fitted on the other groups.
        seed: how the models are dealt into folds.
        variance: ``"global"``, ``"per-example"`` or ``"auto"`` (global below :data:`GLOBAL_VARIANCE_BELOW`
            shadows per side).
    """
    u, r = np.asarray(unlearned, float), np.asarray(retrained, float)
    if u.ndim != 2 or r.ndim != 2 or u.shape[1] != r.shape[1]:
        raise UnlearnError(f"U-LiRA needs (models, examples) confidences with the same examples; got {u.shape}, "
                           f"{r.shape}")
    if folds < 2 or min(len(u), len(r)) < 2 * folds:
        raise UnlearnError(f"U-LiRA with {folds} folds needs at least {2 * folds} models per side (two shadows "
                           f"per fold); got {len(u)} unlearned and {len(r)} retrained")
    shadows = min(len(u), len(r)) * (folds - 1) // folds
    if variance == "auto":
        variance = "global" if shadows < GLOBAL_VARIANCE_BELOW else "per-example"
    if variance not in ("global", "per-example"):
        raise UnlearnError(f"variance {variance!r}: choose global, per-example or auto")
    pooled = variance == "global"
    rng = np.random.default_rng(seed)
    fold_u = rng.permutation(len(u)) % folds
    fold_r = rng.permutation(len(r)) % folds
    s_u, s_r = np.empty_like(u), np.empty_like(r)
    for f in range(folds):
        mu_u, sd_u = _fit(u[fold_u != f], pooled)
        mu_r, sd_r = _fit(r[fold_r != f], pooled)

        def score(x: np.ndarray, mu_u=mu_u, sd_u=sd_u, mu_r=mu_r, sd_r=sd_r) -> np.ndarray:
            return _log_normal(x, mu_u, sd_u) - _log_normal(x, mu_r, sd_r)

        s_u[fold_u == f] = score(u[fold_u == f])
        s_r[fold_r == f] = score(r[fold_r == f])
    acc = 0.5 * (np.mean(s_u > 0, 0) + np.mean(s_r <= 0, 0))
    return UliraResult(auc(s_u.ravel(), s_r.ravel()), low_fpr_figures(s_u.ravel(), s_r.ravel()), s_u, s_r, acc,
                       variance)


__all__ = ["GLOBAL_VARIANCE_BELOW", "SIGMA_FLOOR", "UliraResult", "ulira"]
