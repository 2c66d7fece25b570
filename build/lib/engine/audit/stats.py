"""Distribution statistics of per-sample losses: Kolmogorov–Smirnov and 1-Wasserstein (SG-Unlearn §2).

SG-Unlearn's evaluation (``src/evaluate.py``) compares the cross-entropy losses of the forget set with those
of the test set: a model that forgot D_F should give it test-like losses (KS and W1 near the retrained
model's values, close to 0). :func:`distribution_stats` adds the comparison the dashboard needs most: the
method's forget losses against the retrained model's forget losses.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


def ks(a: np.ndarray, b: np.ndarray) -> tuple[float, float]:
    """Two-sample Kolmogorov–Smirnov test, ``scipy.stats.ks_2samp`` (two-sided, exact or asymptotic p).

    D = sup_t |F_a(t) − F_b(t)| over the empirical CDFs; symmetric in a and b. SG-Unlearn applies it to the
    forget and test CE losses after cutting both to the same n (see :func:`balanced`).

    Args:
        a: first sample.
        b: second sample.

    Returns:
        (statistic D in [0, 1], p-value).
    """
    from scipy.stats import ks_2samp

    a, b = _check(a, b)
    res = ks_2samp(a, b)
    return float(res.statistic), float(res.pvalue)


def wasserstein1(a: np.ndarray, b: np.ndarray) -> float:
    """1-Wasserstein (earth mover's) distance between two empirical distributions on the line.

    ``scipy.stats.wasserstein_distance``: W1 = ∫ |F_a(t) − F_b(t)| dt. For equal sizes this is SG-Unlearn's
    formula ``mean(|sort(forget) − sort(test)|)`` (tested to rounding).

    Args:
        a: first sample.
        b: second sample.

    Returns:
        W1 ≥ 0, in the samples' units (nats for losses).
    """
    from scipy.stats import wasserstein_distance

    a, b = _check(a, b)
    return float(wasserstein_distance(a, b))


def balanced(a: np.ndarray, b: np.ndarray, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Both samples shuffled with ``seed`` and cut to n = min(len(a), len(b)) (SG-Unlearn's 5k/5k cut)."""
    a, b = _check(a, b)
    n = min(len(a), len(b))
    rng = np.random.default_rng(seed)
    return a[rng.permutation(len(a))[:n]], b[rng.permutation(len(b))[:n]]


@dataclass
class DistributionStats:
    """KS and W1 of forget vs test losses, and of the method's vs the retrained model's forget losses.

    Attributes:
        ks_forget_test: KS statistic, forget vs test (balanced cut).
        p_forget_test: its p-value.
        w1_forget_test: W1 forget vs test (balanced cut).
        n: samples per side of the forget-vs-test comparison.
        ks_vs_retrain: KS of the method's forget losses vs the retrained model's on the same samples
            (None when no retrained losses were given).
        p_vs_retrain: its p-value.
        w1_vs_retrain: W1 of the same pair.
        forget_sample: the forget losses used in the forget-vs-test comparison (per-sample values).
        test_sample: the test losses used there.
        loss_gap: per forget sample (input order), method loss − retrained loss (None without retrain).
    """

    ks_forget_test: float
    p_forget_test: float
    w1_forget_test: float
    n: int
    forget_sample: np.ndarray
    test_sample: np.ndarray
    ks_vs_retrain: float | None = None
    p_vs_retrain: float | None = None
    w1_vs_retrain: float | None = None
    loss_gap: np.ndarray | None = None


def distribution_stats(
    forget_loss: np.ndarray,
    test_loss: np.ndarray,
    retrain_forget_loss: np.ndarray | None = None,
    seed: int = 0,
) -> DistributionStats:
    """SG-Unlearn's KS and W1 on CE losses, plus the same two against the retrained model.

    * forget vs test: both shuffled with ``seed`` and cut to n = min(|D_F|, |D_T|), then
      KS = sup|F_f − F_te| and W1 = mean|sort(ℓ_f) − sort(ℓ_te)|.
    * method vs retrain on D_F (same samples, same n, no cut): KS and W1 of ℓ_θu(D_F) vs ℓ_θr(D_F);
      0 means the forget losses are distributed as if the model had never seen D_F.

    Args:
        forget_loss: the audited model's per-sample loss on D_F.
        test_loss: its loss on D_T.
        retrain_forget_loss: the retrained model's loss on D_F, in the same order (optional).
        seed: seed of the balanced cut.

    Returns:
        :class:`DistributionStats`.
    """
    fs, ts = balanced(forget_loss, test_loss, seed)
    d, p = ks(fs, ts)
    out = DistributionStats(d, p, wasserstein1(fs, ts), len(fs), fs, ts)
    if retrain_forget_loss is not None:
        f, r = _check(forget_loss, retrain_forget_loss)
        if len(f) != len(r):
            raise ValueError(f"retrain_forget_loss has {len(r)} values for {len(f)} forget samples")
        out.ks_vs_retrain, out.p_vs_retrain = ks(f, r)
        out.w1_vs_retrain = wasserstein1(f, r)
        out.loss_gap = f - r
    return out


def _check(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    a, b = np.asarray(a, float).ravel(), np.asarray(b, float).ravel()
    if len(a) == 0 or len(b) == 0:
        raise ValueError("a distribution statistic needs two non-empty samples")
    return a, b
