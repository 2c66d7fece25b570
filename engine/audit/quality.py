"""Forgetting quality as the NeurIPS 2023 Machine Unlearning challenge scores it: N unlearned vs N retrained
models, compared on each forget example (issue 17).

What this follows (read, not copied): the challenge's metric code, google-deepmind/unlearning_evaluation
``metric.py`` / ``main.py``, and its write-up (Triantafillou et al. 2024, arXiv 2406.09073). Per forget example x:

1. the **logit-scaled confidence** φ(x) = log p_y − log(1 − p_y) of x's true class under every one of the N
   unlearned models (all started from the *same* original model, one unlearning seed each) and the N retrained
   models (``Signals``' ``phi``: the same quantity, computed from the logits in float64);
2. an attacker's decision rules that separate the two samples of N values — every single threshold ("at or
   above t belongs to the class with the larger median") and every interval ("inside [l, r] belongs to the
   peakier class", the one with the smaller range) — each with its empirical FPR and FNR;
3. per rule, ε = max(log(1 − δ − FPR) − log FNR, log(1 − δ − FNR) − log FPR), clipped at 0; a rule with exactly
   one of FPR, FNR zero is dropped (too few models to tell); both zero (perfect separation) gives ε = ∞. The
   example's ε is the largest over rules, capped at :data:`EPSILON_CAP`. One guard as in the reference: when
   one sample's range is under 1 % of the other's (a near-deterministic method against a spread), ε is the cap.
   **δ = 1e-5** (:data:`DELTA`, the challenge's value);
4. **buckets**: ε in [0, 0.5) scores 1, [0.5, 1) ½, [1, 1.5) ¼, … halving every 0.5 up to ⌈ln(N − 1)⌉ (the
   largest finite ε that N models can show: FPR = FNR = 1/N gives ln(N − 1)); ε at or past that scores 0. The
   **forget score** F is the mean over forget examples;
5. the **final score** F × (RA_U / RA_R) × (TA_U / TA_R), mean accuracies of the unlearned and retrained models.

Differences from the reference, on purpose: the rules are *every* threshold and interval the samples allow (the
empirical rates change only at the samples' own values, so this is the supremum the reference's 0.01-spaced
grid approaches), computed on the CPU with numpy; with N_U ≠ N_R the buckets use the smaller N. The interval is
a normal interval from a bootstrap over models (the unlearned and the retrained models resampled with replacement;
the standard error of the draws around the point score — their percentiles are shifted by the repeated models a
draw holds). ε is a maximum over rules, an optimistic statistic at small N (identical distributions give ε > 0:
the noise floor, see tests/test_quality_metric.py), so the interval is a rough one — say so where it is shown.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
from scipy import stats

from ..errors import UnlearnError

#: δ of the (ε, δ) estimate per example (the challenge's value, ``metric.py`` DELTA)
DELTA = 1e-5
#: ε given to a perfectly separated example (and the clip of every ε), as the challenge's EPSILON_CAP
EPSILON_CAP = 50.0
#: width of one ε bucket; each bucket scores half the one before (the challenge's bucket_size and points)
BUCKET_WIDTH = 0.5
#: the "peaky" guard: a sample whose range is under this fraction of the other's gives ε = cap (as the reference)
PEAKY_RATIO = 0.01
#: fewest models per side: with 2, ln(N − 1) = 0 and no bucket can score
MIN_MODELS = 3
#: memory bound of the interval rules: examples are scored in chunks of ≤ this many (T × T × chunk) cells
_CELLS = 4_000_000


def epsilon_ceiling(n: int) -> float:
    """ln(N − 1): the largest finite ε that N models per side can show (FPR = FNR = 1/N)."""
    return math.log(n - 1) if n > 1 else 0.0


def bucket_points(n: int) -> list[tuple[float, float, float]]:
    """The challenge's buckets for N models per side: ``(start, end, points)`` with points 1, ½, ¼, … for ε in
    [0, 0.5), [0.5, 1), … up to ⌈ln(N − 1)⌉; ε at or past the last end scores 0."""
    top = math.ceil(epsilon_ceiling(n))
    out, start, points = [], 0.0, 1.0
    while start + BUCKET_WIDTH <= top + 1e-12:
        out.append((start, start + BUCKET_WIDTH, points))
        start, points = start + BUCKET_WIDTH, points / 2
    return out


def bucket_scores(eps: np.ndarray, n: int) -> np.ndarray:
    """Per example, the points of its ε (:func:`bucket_points`; 0 past the last bucket)."""
    eps = np.asarray(eps, dtype=float)
    out = np.zeros(eps.shape)
    for start, end, points in reversed(bucket_points(n)):
        out[(eps >= start) & (eps < end)] = points
    return out


def _rule_epsilons(fpr: np.ndarray, fnr: np.ndarray, delta: float) -> np.ndarray:
    """ε of each rule (same shapes): NaN where exactly one of FPR, FNR is 0, ∞ where both are."""
    with np.errstate(divide="ignore", invalid="ignore"):
        a = np.log(np.maximum(1 - delta - fpr, 1e-300)) - np.log(fnr)
        b = np.log(np.maximum(1 - delta - fnr, 1e-300)) - np.log(fpr)
        eps = np.clip(np.maximum(a, b), 0, None)
    both = (fpr == 0) & (fnr == 0)
    one = (fpr == 0) ^ (fnr == 0)
    eps = np.where(one, np.nan, eps)
    return np.where(both, np.inf, eps)


def _nanmax(eps: np.ndarray, axis: int) -> np.ndarray:
    """Largest non-NaN value along ``axis`` (0 where every rule was dropped: no evidence either way)."""
    filled = np.where(np.isnan(eps), -np.inf, eps)
    best = filled.max(axis=axis)
    return np.where(np.isneginf(best), 0.0, best)


def example_epsilons(unlearned: np.ndarray, retrained: np.ndarray, delta: float = DELTA) -> np.ndarray:
    """Per forget example, the ε of the best decision rule separating its φ under the unlearned models from its φ
    under the retrained models (module docstring, steps 2–3).

    Args:
        unlearned: (N_U, E) logit-scaled confidences, one row per unlearned model, one column per example.
        retrained: (N_R, E) the same under the retrained models (same example order).
        delta: δ of the estimate.

    Returns:
        (E,) ε per example in [0, :data:`EPSILON_CAP`]. The result does not depend on the order of the models.
    """
    u, r = np.asarray(unlearned, dtype=float), np.asarray(retrained, dtype=float)
    if u.ndim != 2 or r.ndim != 2 or u.shape[1] != r.shape[1]:
        raise UnlearnError(f"confidences must be (models, examples) with the same examples; got {u.shape} and "
                           f"{r.shape}")
    if not (np.isfinite(u).all() and np.isfinite(r).all()):
        raise UnlearnError("confidences must be finite")
    n_ex = u.shape[1]
    # the positive class per example is the one with the larger median (as the reference)
    retrain_pos = np.median(r, 0) > np.median(u, 0)
    pos = np.where(retrain_pos, r, u) if u.shape[0] == r.shape[0] else None
    eps = np.empty(n_ex)
    t = u.shape[0] + r.shape[0]
    chunk = max(1, _CELLS // (t * t))
    for s in range(0, n_ex, chunk):
        cols = slice(s, min(n_ex, s + chunk))
        uc, rc = u[:, cols], r[:, cols]
        rp = retrain_pos[cols]
        if pos is not None:
            p, q = pos[:, cols], np.where(rp, uc, rc)
            eps[cols] = _epsilons_chunk(p, q, delta)
        else:  # different model counts: pick sides per example
            for j in range(uc.shape[1]):
                p, q = (rc[:, j:j + 1], uc[:, j:j + 1]) if rp[j] else (uc[:, j:j + 1], rc[:, j:j + 1])
                eps[s + j] = _epsilons_chunk(p, q, delta)[0]
    return np.clip(eps, 0, EPSILON_CAP)


def _epsilons_chunk(pos: np.ndarray, neg: np.ndarray, delta: float) -> np.ndarray:
    """ε per column for samples ``pos`` (N_P, E) (the larger median) and ``neg`` (N_N, E)."""
    n_p, n_n = pos.shape[0], neg.shape[0]
    cand = np.concatenate([pos, neg], 0)  # (T, E): every threshold that changes a rate
    # counts at or above / strictly below each candidate
    pos_ge = (pos[:, None, :] >= cand[None]).sum(0)  # (T, E)
    neg_ge = (neg[:, None, :] >= cand[None]).sum(0)
    # single threshold: "x ≥ t → positive"
    single = _rule_epsilons(neg_ge / n_n, 1 - pos_ge / n_p, delta)  # (T, E)
    best = _nanmax(single, 0)
    # intervals [l, r]: "inside → the peakier class". count in [l, r] = #(x ≥ l) − #(x > r)
    pos_gt = (pos[:, None, :] > cand[None]).sum(0)
    neg_gt = (neg[:, None, :] > cand[None]).sum(0)
    pos_in = np.clip(pos_ge[:, None, :] - pos_gt[None, :, :], 0, None) / n_p  # (T_l, T_r, E)
    neg_in = np.clip(neg_ge[:, None, :] - neg_gt[None, :, :], 0, None) / n_n
    pos_peaky = np.ptp(pos, 0) < np.ptp(neg, 0)  # (E,)
    # peaky class positive: FPR = other's share inside, FNR = peaky's share outside
    fpr = np.where(pos_peaky, neg_in, pos_in)
    fnr = 1 - np.where(pos_peaky, pos_in, neg_in)
    best = np.maximum(best, _nanmax(_rule_epsilons(fpr, fnr, delta).reshape(-1, pos.shape[1]), 0))
    # the reference's guard: a near-constant sample against a spread one is as distinguishable as it gets
    rp, rn = np.ptp(pos, 0), np.ptp(neg, 0)
    hi, lo = np.maximum(rp, rn), np.minimum(rp, rn)
    peaky = (hi > 0) & (lo < PEAKY_RATIO * hi)
    both_const = hi == 0
    same = both_const & (pos[0] == neg[0])
    out = np.where(peaky, EPSILON_CAP, best)
    out = np.where(both_const, np.where(same, 0.0, EPSILON_CAP), out)
    return out


def forget_score(unlearned: np.ndarray, retrained: np.ndarray, delta: float = DELTA) -> tuple[float, np.ndarray]:
    """The challenge's forget score F (mean bucket points over the forget examples) and the per-example ε."""
    n = min(np.shape(unlearned)[0], np.shape(retrained)[0])
    if n < MIN_MODELS:
        raise UnlearnError(f"forgetting quality needs at least {MIN_MODELS} unlearned and {MIN_MODELS} retrained "
                           f"models (with N models the largest finite ε is ln(N − 1)); got {n}")
    eps = example_epsilons(unlearned, retrained, delta)
    return float(bucket_scores(eps, n).mean()), eps


@dataclass
class ForgettingQuality:
    """One method's forgetting quality (module docstring).

    Attributes:
        score: the final score F × (RA_U / RA_R) × (TA_U / TA_R).
        forget_score: F, mean bucket points over the forget examples (1 = every example indistinguishable).
        ra_ratio, ta_ratio: mean remain / test accuracy of the unlearned models over the retrained models'.
        low, high: ``score`` ± z × its bootstrap standard error over models, within [0, 1] (NaN without one).
        epsilons: (E,) per-example ε.
        n_unlearned, n_retrained: models per side.
        delta: δ of the estimate.
        level: the interval's level.
    """

    score: float
    forget_score: float
    ra_ratio: float
    ta_ratio: float
    low: float
    high: float
    epsilons: np.ndarray = field(repr=False)
    n_unlearned: int = 0
    n_retrained: int = 0
    delta: float = DELTA
    level: float = 0.95

    @property
    def n(self) -> int:
        return min(self.n_unlearned, self.n_retrained)

    @property
    def epsilon_ceiling(self) -> float:
        """ln(N − 1): the largest finite ε these N models can show; state it wherever ε is shown."""
        return epsilon_ceiling(self.n)

    def summary(self) -> dict[str, float]:
        finite = self.epsilons[self.epsilons < EPSILON_CAP]
        return {"score": self.score, "low": self.low, "high": self.high, "forget_score": self.forget_score,
                "ra_ratio": self.ra_ratio, "ta_ratio": self.ta_ratio,
                "eps_median": float(np.median(self.epsilons)),
                "separated": float(np.mean(self.epsilons >= EPSILON_CAP)),
                "eps_max_finite": float(finite.max()) if len(finite) else float("nan"),
                "eps_ceiling": self.epsilon_ceiling, "n": self.n, "delta": self.delta}


def _ratio(a: np.ndarray, b: np.ndarray) -> float:
    den = float(np.mean(b))
    return float(np.mean(a)) / den if den > 0 else float("nan")


def forgetting_quality(unlearned: np.ndarray, retrained: np.ndarray, *, ra_unlearned: np.ndarray,
                       ra_retrained: np.ndarray, ta_unlearned: np.ndarray, ta_retrained: np.ndarray,
                       delta: float = DELTA, n_boot: int = 200, level: float = 0.95,
                       seed: int = 0) -> ForgettingQuality:
    """The challenge's final score of one method, with a bootstrap interval over models.

    Args:
        unlearned, retrained: (N, E) logit-scaled confidences of the forget examples (rows: models).
        ra_unlearned, ra_retrained, ta_unlearned, ta_retrained: per model, remain / test accuracy (same row
            order as the confidences: a bootstrap draw keeps a model's confidences and accuracies together).
        delta: δ.
        n_boot: bootstrap replicates (< 2: no interval).
        level: interval level.
        seed: the resampling seed.
    """
    u, r = np.asarray(unlearned, float), np.asarray(retrained, float)
    ra_u, ra_r, ta_u, ta_r = (np.asarray(v, float) for v in (ra_unlearned, ra_retrained, ta_unlearned, ta_retrained))
    if len(ra_u) != len(u) or len(ta_u) != len(u) or len(ra_r) != len(r) or len(ta_r) != len(r):
        raise UnlearnError("one remain and one test accuracy per model are needed on each side")
    n = min(len(u), len(r))
    f, eps = forget_score(u, r, delta)
    ra, ta = _ratio(ra_u, ra_r), _ratio(ta_u, ta_r)
    score = f * ra * ta
    low = high = float("nan")
    if n_boot >= 2:
        rng = np.random.default_rng(seed)
        draws = []
        for _ in range(n_boot):
            i, j = rng.integers(0, len(u), len(u)), rng.integers(0, len(r), len(r))
            fb = float(bucket_scores(example_epsilons(u[i], r[j], delta), n).mean())
            draws.append(fb * _ratio(ra_u[i], ra_r[j]) * _ratio(ta_u[i], ta_r[j]))
        # a resampled side repeats models (ties), which moves ε itself (measured: the draws' percentiles can miss
        # the point estimate), so only the spread is taken from the bootstrap: score ± z·SE, within [0, 1]
        half = float(stats.norm.ppf(0.5 + level / 2) * np.std(draws, ddof=1))
        low, high = max(0.0, score - half), min(1.0, score + half)
    return ForgettingQuality(score, f, ra, ta, low, high, eps, len(u), len(r), delta, level)


__all__ = ["BUCKET_WIDTH", "DELTA", "EPSILON_CAP", "MIN_MODELS", "ForgettingQuality", "bucket_points",
           "bucket_scores", "epsilon_ceiling", "example_epsilons", "forget_score", "forgetting_quality"]
