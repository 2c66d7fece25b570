"""The guard: does the original model leak membership at all? If not, there is nothing to unlearn and every
difference between methods is noise — the one thing the product must never let a user read into.

Two conditions, both measured:

* the original model **fits** its training set (train accuracy ≥ 99 %): a model that does not memorise its
  samples treats them like unseen data from the start;
* its membership signal is **above the noise**: the original's AUC (forget vs test) exceeds Retrain's by more
  than their combined 95 % uncertainty and more than Retrain's own retrain-to-retrain spread.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

MIN_TRAIN_ACCURACY = 0.99


@dataclass(frozen=True)
class SignalCheck:
    """The verdict and the numbers behind it (AUCs in %, ``margin`` the difference that counts as signal)."""

    ok: bool
    fits: bool
    train_accuracy: float
    original: float
    retrain: float
    margin: float
    metric: str
    message: str


def membership_check(train_accuracy: float, original: float, retrain: float, *, halfwidth: float = 0.0,
                     noise: float = float("nan"), metric: str = "FT AUC", against: str = "Retrain") -> SignalCheck:
    """The guard's verdict from the original model's train accuracy (0–1) and the AUCs (in %, forget vs test) of the
    original and the retrained model, the 95 % half-width of their difference (paired: over seeds, or a paired
    bootstrap over the samples of one seed) and Retrain's noise floor (its leave-one-out spread; NaN if unknown).
    ``against``: what ``retrain`` is (``"chance"`` for an audit without a retrain, where 50 stands in for it)."""
    fits = train_accuracy >= MIN_TRAIN_ACCURACY
    unc = float(np.nan_to_num(halfwidth))
    margin = max(unc, noise if np.isfinite(noise) else 0.0)
    signal = original - retrain > margin
    numbers = (f"original {metric} {original:.1f} vs {against} {retrain:.1f} (difference {original - retrain:+.1f}, "
               f"noise {margin:.1f})")
    if not fits:
        message = (f"The original model fits only {100 * train_accuracy:.1f} % of its training set (below "
                   f"{100 * MIN_TRAIN_ACCURACY:.0f} %): it does not memorise its samples, so there is little "
                   f"membership to unlearn; {numbers}. Differences between methods here are mostly noise — train "
                   "longer or on fewer samples.")
    elif not signal:
        message = (f"No membership signal: {numbers}. The original model's forget set already looks like unseen "
                   "data to the attack, so a comparison of methods would compare noise — use more seeds, a larger "
                   "forget set or a recipe that memorises more.")
    else:
        message = f"Membership signal present: {numbers}; train accuracy {100 * train_accuracy:.1f} %."
    return SignalCheck(fits and signal, fits, train_accuracy, original, retrain, margin, metric, message)
