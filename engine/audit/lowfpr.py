"""Honest low-FPR figures: TPR at a fixed FPR with an exact (Clopper–Pearson) interval, withheld where the data
cannot show that FPR (issue 17 item 5).

A TPR "at 0.1 % FPR" needs at least 1/0.001 = 1,000 non-members: with fewer, the smallest non-zero FPR the data can
show is 1/n > 0.1 %, and the figure is really "TPR at 0 false positives" under another name. :func:`tpr_at_fpr_exact`
withholds it then, with the reason, instead of printing a number. Where it is shown, the interval is the exact
binomial one of the TPR at the chosen threshold (the members are n_m Bernoulli trials); it does not cover the
threshold's own uncertainty (the FPR is itself measured on n non-members), so it is a lower bound on the real spread.
Pages call :func:`low_fpr_figures` and show ``text`` (a figure with its interval, or the reason it is withheld).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import stats

#: the FPRs the dashboard reports
LOW_FPRS = (0.01, 0.001)


def clopper_pearson(k: int, n: int, level: float = 0.95) -> tuple[float, float]:
    """The exact (Clopper–Pearson) ``level`` interval of a binomial proportion with ``k`` successes in ``n`` trials:
    Beta((1−level)/2; k, n−k+1) to Beta((1+level)/2; k+1, n−k); 0 and 1 at the ends. (NaN, NaN) for n = 0."""
    if n <= 0:
        return float("nan"), float("nan")
    if not 0 <= k <= n:
        raise ValueError(f"k = {k} successes out of n = {n}")
    a = (1 - level) / 2
    low = 0.0 if k == 0 else float(stats.beta.ppf(a, k, n - k + 1))
    high = 1.0 if k == n else float(stats.beta.ppf(1 - a, k + 1, n - k))
    return low, high


@dataclass(frozen=True)
class LowFprFigure:
    """TPR at one fixed FPR with its exact interval, or why it is withheld.

    Attributes:
        fpr: the target FPR (e.g. 0.001).
        tpr: members above the threshold / members (NaN when withheld).
        low, high: Clopper–Pearson interval of ``tpr`` (NaN when withheld).
        true_positives: members above the threshold.
        false_positives: non-members above it (at most ⌊fpr × n_nonmembers⌋).
        n_members, n_nonmembers: how many scores of each.
        withheld: None, or the reason the figure is not shown.
        level: the interval's level.
    """

    fpr: float
    tpr: float
    low: float
    high: float
    true_positives: int
    false_positives: int
    n_members: int
    n_nonmembers: int
    withheld: str | None = None
    level: float = 0.95

    @property
    def text(self) -> str:
        """``"12.5 % [9.1, 16.6]"`` (percent, the exact interval) or ``"withheld: …"``."""
        if self.withheld:
            return f"withheld: {self.withheld}"
        return f"{100 * self.tpr:.1f} % [{100 * self.low:.1f}, {100 * self.high:.1f}]"

    @property
    def short(self) -> str:
        """The figure as :attr:`text`, or a short reason: ``"— (1,000 non-members needed, 80 here)"``."""
        if self.withheld:
            return f"— ({math.ceil(1 / self.fpr - 1e-9):,} non-members needed, {self.n_nonmembers:,} here)"
        return self.text


def _fpr_label(fpr: float) -> str:
    return f"{100 * fpr:g} %"


def tpr_at_fpr_exact(member_scores: np.ndarray, nonmember_scores: np.ndarray, fpr: float,
                     level: float = 0.95) -> LowFprFigure:
    """TPR at ``fpr`` (higher score = "member") with a Clopper–Pearson interval, or withheld.

    The threshold τ is the (a+1)-th highest non-member score with a = ⌊fpr × n⌋ allowed false positives; a score
    strictly above τ is called a member, so at most a non-members are (ties at τ are not called). Withheld when
    1/fpr exceeds the number of non-members (the data cannot show that FPR) or when there is no member.
    """
    m = np.asarray(member_scores, dtype=float).ravel()
    n = np.asarray(nonmember_scores, dtype=float).ravel()
    nm, nn = len(m), len(n)
    if nm == 0 or nn == 0:
        return LowFprFigure(fpr, math.nan, math.nan, math.nan, 0, 0, nm, nn,
                            f"needs member and non-member scores (have {nm} and {nn})", level)
    need = math.ceil(1 / fpr - 1e-9)
    if need > nn:
        return LowFprFigure(fpr, math.nan, math.nan, math.nan, 0, 0, nm, nn,
                            f"TPR at {_fpr_label(fpr)} FPR needs ≥ {need:,} non-members (1/FPR); there are {nn:,}, "
                            f"so the smallest FPR shown is {_fpr_label(1 / nn)}", level)
    allowed = math.floor(fpr * nn + 1e-9)
    desc = np.sort(n)[::-1]
    tau = desc[allowed] if allowed < nn else -np.inf
    tp, fp = int(np.sum(m > tau)), int(np.sum(n > tau))
    low, high = clopper_pearson(tp, nm, level)
    return LowFprFigure(fpr, tp / nm, low, high, tp, fp, nm, nn, None, level)


def low_fpr_figures(member_scores: np.ndarray, nonmember_scores: np.ndarray, fprs: tuple[float, ...] = LOW_FPRS,
                    level: float = 0.95) -> dict[float, LowFprFigure]:
    """:func:`tpr_at_fpr_exact` at each of ``fprs`` (default 1 % and 0.1 %)."""
    return {f: tpr_at_fpr_exact(member_scores, nonmember_scores, f, level) for f in fprs}


__all__ = ["LOW_FPRS", "LowFprFigure", "clopper_pearson", "low_fpr_figures", "tpr_at_fpr_exact"]
