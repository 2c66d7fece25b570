"""How sure is a number: confidence intervals over seeds, a bootstrap over samples for one seed, and Retrain's
own spread (the noise floor).

Three sources of uncertainty in an unlearning audit, each with its estimate here:

* **seeds** — every seed trains its own original model, draws its own forget set and retrains: the spread of a
  metric over seeds, as a Student-t 95 % interval of the mean (:func:`t_halfwidth`);
* **samples** — with one seed, the forget / remain / test sets are finite samples: a paired bootstrap over
  them (the same resampled indices for every model) gives a standard error per metric (:func:`bootstrap_se`);
* **retraining itself** — two retrains of the same remain set differ (initialisation, shuffles): the
  leave-one-out spread of R retrain replicas, corrected to what one more retrain would score against the mean of
  all R (:func:`noise_floor`, :func:`loo_factor`). A method closer to Retrain than this is indistinguishable from
  retraining.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
from scipy import stats

#: metrics the bootstrap re-estimates (the columns of the AMUN paper's Avg Gap, and Avg Gap itself)
BOOTSTRAP_METRICS = ("ua", "ra", "ta", "ft_auc", "avg_gap")
Z95 = 1.959963984540054


def t_factor(n: int, level: float = 0.95) -> float:
    """Student t quantile for a ``level`` interval of the mean of ``n`` values (12.7 for two, 4.3 for three)."""
    return float(stats.t.ppf(0.5 + level / 2, n - 1))


def proportion_halfwidth(p: float, n: int) -> float:
    """95 % half-width of an accuracy ``p`` (0–1) measured on ``n`` samples (normal approximation, 1.96 × the
    binomial standard error; 0 when every sample agrees — the same as a bootstrap of that seed)."""
    return float(Z95 * np.sqrt(p * (1 - p) / n)) if n else float("nan")


def t_halfwidth(values: Sequence[float], level: float = 0.95) -> float:
    """Half-width of the Student-t confidence interval of the mean of ``values`` (NaN for fewer than 2)."""
    v = np.asarray([x for x in values if np.isfinite(x)], dtype=float)
    if len(v) < 2:
        return float("nan")
    return float(stats.t.ppf(0.5 + level / 2, len(v) - 1) * v.std(ddof=1) / np.sqrt(len(v)))


def auc(pos: np.ndarray, neg: np.ndarray) -> float:
    """ROC-AUC of scores ``pos`` (label 1) vs ``neg`` (label 0): the Mann–Whitney statistic, ties counted ½."""
    pos, neg = np.asarray(pos, float), np.asarray(neg, float)
    if len(pos) == 0 or len(neg) == 0:
        return float("nan")
    ranks = stats.rankdata(np.r_[pos, neg])
    return float((ranks[: len(pos)].sum() - len(pos) * (len(pos) + 1) / 2) / (len(pos) * len(neg)))


def loo_factor(replicas: int) -> float:
    """The leave-one-out correction of a noise floor measured on ``replicas`` retrains: √(1 − 1/R²).

    A method indistinguishable from retraining (one more exchangeable replica x) is compared with the mean of all R
    retrains: Var(x − mean_R) = σ²(1 + 1/R). A replica compared with the mean of the other R − 1 has
    Var = σ²(1 + 1/(R − 1)), larger — its gap overstates the method's expected one by √(R² / (R² − 1)) (+6 % at
    R = 3, +15 % at R = 2). An expected absolute gap scales with the standard deviation of the difference (exactly
    for normal differences), so multiplying the replica's gap by √((1 + 1/R) / (1 + 1/(R − 1))) = √(1 − 1/R²)
    makes it the expected gap of a retrain-like method. NaN for fewer than 2 replicas."""
    return float(np.sqrt(1.0 - 1.0 / replicas ** 2)) if replicas >= 2 else float("nan")


def noise_floor(values: Sequence[float]) -> float:
    """Retrain's own spread for one metric: the mean over replicas r of |x_r − mean of the other replicas|, times
    :func:`loo_factor` (so it is the expected |x − mean of all R| of one more retrain, unbiased, not the larger
    leave-one-out gap); NaN for fewer than 2 replicas. The same corrected gap the rows give each replica."""
    v = np.asarray(values, dtype=float)
    if len(v) < 2:
        return float("nan")
    others = (v.sum() - v) / (len(v) - 1)
    return float(np.mean(np.abs(v - others))) * loo_factor(len(v))


def _metrics(s: Mapping[str, np.ndarray], idx: Mapping[str, np.ndarray]) -> dict[str, float]:
    return {"ua": 100 * float(np.mean(s["forget_correct"][idx["forget"]])),
            "ra": 100 * float(np.mean(s["remain_correct"][idx["remain"]])),
            "ta": 100 * float(np.mean(s["test_correct"][idx["test"]])),
            "ft_auc": 100 * auc(s["forget_score"][idx["forget"]], s["test_score"][idx["test"]])}


def bootstrap_se(samples: Mapping[str, Mapping[str, np.ndarray]], replicas: Sequence[str], *, n_boot: int = 200,
                 seed: int = 0) -> dict[str, dict[str, float]]:
    """Standard errors of UA, RA, TA, FT AUC and Avg Gap from a paired bootstrap over the samples of one seed.

    Each replicate draws the forget, remain and test sets with replacement (one draw shared by every model,
    so differences between models are not inflated) and recomputes every model's metrics; FT AUC uses all
    resampled forget vs test RMIA scores (the paper's protocol averages three balanced subsamples instead, so
    its point value differs slightly; the spread is what is estimated here). Avg Gap is taken against the mean
    of the retrain ``replicas`` (a replica against the mean of the others, times :func:`loo_factor`; none: NaN).

    Args:
        samples: per model, ``forget_correct``, ``remain_correct``, ``test_correct`` (bool) and ``forget_score``,
            ``test_score`` (RMIA scores) arrays, in the same sample order for every model.
        replicas: the names of the retrain replicas in ``samples``.
        n_boot: bootstrap replicates (fewer than 2: no bootstrap, every error NaN).
        seed: seed of the resampling.

    Returns:
        ``{model: {metric: standard error}}`` for :data:`BOOTSTRAP_METRICS`.
    """
    names = list(samples)
    if n_boot < 2:
        return {n: dict.fromkeys(BOOTSTRAP_METRICS, float("nan")) for n in names}
    first = samples[names[0]]
    sizes = {"forget": len(first["forget_correct"]), "remain": len(first["remain_correct"]),
             "test": len(first["test_correct"])}
    rng = np.random.default_rng(seed)
    draws: dict[str, list[float]] = {(n, m): [] for n in names for m in BOOTSTRAP_METRICS}
    for _ in range(n_boot):
        idx = {g: rng.integers(0, n, n) for g, n in sizes.items()}
        vals = {n: _metrics(samples[n], idx) for n in names}
        for n in names:
            refs = [r for r in replicas if r != n] or list(replicas)
            ref = {k: float(np.mean([vals[r][k] for r in refs])) for k in ("ua", "ra", "ta", "ft_auc")} if refs else {}
            vals[n]["avg_gap"] = float(np.mean([abs(vals[n][k] - ref[k]) for k in ref])) if ref else float("nan")
            if n in replicas and len(replicas) >= 2:  # a replica's leave-one-out gap, corrected as in seed_rows
                vals[n]["avg_gap"] *= loo_factor(len(replicas))
            for m in BOOTSTRAP_METRICS:
                draws[(n, m)].append(vals[n][m])
    return {n: {m: float(np.std(draws[(n, m)], ddof=1)) if np.isfinite(draws[(n, m)]).all() else float("nan")
                for m in BOOTSTRAP_METRICS} for n in names}


def auc_difference_se(a: tuple[np.ndarray, np.ndarray], b: tuple[np.ndarray, np.ndarray], *, n_boot: int = 300,
                      seed: int = 0) -> float:
    """Standard error of AUC(a) − AUC(b) for two models scored on the same samples, by a paired bootstrap: each
    replicate resamples the members and the non-members once and scores both models on that draw (``a`` and
    ``b`` are (member scores, non-member scores) in the same sample order)."""
    (pa, na), (pb, nb) = ((np.asarray(p, float), np.asarray(n, float)) for p, n in (a, b))
    rng = np.random.default_rng(seed)
    draws = []
    for _ in range(n_boot):
        i, j = rng.integers(0, len(pa), len(pa)), rng.integers(0, len(na), len(na))
        draws.append(auc(pa[i], na[j]) - auc(pb[i], nb[j]))
    return float(np.std(draws, ddof=1))


def attack_halfwidths(member: np.ndarray, nonmember: np.ndarray, *, n_boot: int = 200,
                      seed: int = 0) -> dict[str, float]:
    """95 % half-widths (1.96 × bootstrap standard error) of an attack's AUC and TPR at 1 % / 0.1 % FPR on one
    seed: each replicate resamples the members and the non-members with replacement and recomputes the ROC.
    Keys ``auc``, ``tpr_at_1pct``, ``tpr_at_01pct`` (same units as the attack's: fractions)."""
    from sklearn.metrics import roc_curve

    m, n = np.asarray(member, float), np.asarray(nonmember, float)
    rng = np.random.default_rng(seed)
    labels = np.r_[np.ones(len(m)), np.zeros(len(n))]
    draws = []
    for _ in range(n_boot):
        scores = np.r_[m[rng.integers(0, len(m), len(m))], n[rng.integers(0, len(n), len(n))]]
        fpr, tpr, _ = roc_curve(labels, scores)
        low = [tpr[np.flatnonzero(fpr <= t)[-1]] if np.any(fpr <= t) else 0.0 for t in (0.01, 0.001)]
        draws.append((np.trapezoid(tpr, fpr), *low))
    se = np.std(np.asarray(draws), axis=0, ddof=1)
    return {"auc": float(Z95 * se[0]), "tpr_at_1pct": float(Z95 * se[1]), "tpr_at_01pct": float(Z95 * se[2])}


def half_text(half: float, decimals: int) -> str:
    """An interval's half-width with the value's ``decimals``, but no more than three significant digits: the
    fourth digit of a half-width of 105.9 (two seeds' Student t) says nothing and widened the tables."""
    if half >= 100:
        decimals = 0
    elif half >= 10:
        decimals = min(decimals, 1)
    return f"{half:.{decimals}f}"
