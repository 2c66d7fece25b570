"""Exact low-FPR figures (engine.audit.lowfpr): Clopper–Pearson against known values and the withholding rule."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from engine.audit.lowfpr import clopper_pearson, low_fpr_figures, tpr_at_fpr_exact


def test_clopper_pearson_known_values():
    # textbook: 0 of 10 → upper 1 − 0.025^(1/10) = 0.3085; 10 of 10 → lower 0.025^(1/10)
    lo, hi = clopper_pearson(0, 10)
    assert lo == 0.0 and hi == pytest.approx(1 - 0.025 ** 0.1, rel=1e-9)
    lo, hi = clopper_pearson(10, 10)
    assert hi == 1.0 and lo == pytest.approx(0.025 ** 0.1, rel=1e-9)
    # equals scipy's own exact interval
    ref = stats.binomtest(7, 40).proportion_ci(0.95, method="exact")
    assert clopper_pearson(7, 40) == pytest.approx((ref.low, ref.high), rel=1e-9)
    assert all(math.isnan(v) for v in clopper_pearson(0, 0))


def test_clopper_pearson_covers_at_least_its_level():
    # exact intervals are conservative: coverage ≥ 95 % for every p (checked exactly over all k)
    n = 30
    bounds = [clopper_pearson(k, n) for k in range(n + 1)]
    for p in (0.02, 0.1, 0.5, 0.9):
        cover = sum(stats.binom.pmf(k, n, p) for k, (lo, hi) in enumerate(bounds) if lo <= p <= hi)
        assert cover >= 0.95


def test_tpr_at_fpr_counts_and_interval():
    members = np.arange(100, 200, dtype=float)  # 100 members, half above 149.5
    nonmembers = np.arange(1000, dtype=float) / 10  # 1,000 non-members in [0, 99.9]
    fig = tpr_at_fpr_exact(np.r_[members[:50] - 100, members[50:]], nonmembers, 0.001)
    # one false positive allowed: τ = 2nd highest non-member (99.8); members above: 50 shifted-down ones ≤ 49 do not
    assert fig.withheld is None and fig.false_positives <= 1
    assert fig.true_positives == 50 and fig.tpr == 0.5
    assert (fig.low, fig.high) == pytest.approx(clopper_pearson(50, 100))
    assert fig.text.startswith("50.0 % [")


def test_withheld_where_the_data_cannot_show_the_fpr():
    rng = np.random.default_rng(0)
    figs = low_fpr_figures(rng.normal(1, 1, 500), rng.normal(0, 1, 480))
    assert figs[0.01].withheld is None  # 100 ≤ 480 non-members
    assert figs[0.001].withheld is not None and math.isnan(figs[0.001].tpr)
    assert "1,000 non-members" in figs[0.001].text and "480" in figs[0.001].text
    assert figs[0.001].short == "— (1,000 non-members needed, 480 here)"
    assert figs[0.01].short == figs[0.01].text
