"""U-LiRA (engine.audit.ulira) on synthetic confidences with known answers."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from engine.audit.ulira import ulira
from engine.errors import UnlearnError


def test_same_distribution_has_no_signal():
    rng = np.random.default_rng(0)
    mean = rng.normal(0, 2, 300)
    res = ulira(mean + rng.normal(0, 1, (32, 300)), mean + rng.normal(0, 1, (32, 300)))
    assert abs(res.auc - 0.5) < 0.03
    assert abs(np.median(res.example_accuracy) - 0.5) < 0.1


def test_shifted_distribution_matches_the_optimal_test():
    # per example N(μ+d, 1) vs N(μ, 1): the likelihood-ratio test's AUC is Φ(d/√2)
    rng = np.random.default_rng(1)
    d, mean = 1.0, rng.normal(0, 2, 300)
    res = ulira(mean + d + rng.normal(0, 1, (32, 300)), mean + rng.normal(0, 1, (32, 300)))
    assert res.auc == pytest.approx(stats.norm.cdf(d / np.sqrt(2)), abs=0.03)
    assert res.low_fpr[0.001].withheld is None  # 32 × 300 non-member pairs ≥ 1,000
    assert res.low_fpr[0.01].low <= res.low_fpr[0.01].tpr <= res.low_fpr[0.01].high


def test_per_example_beats_a_population_threshold():
    # Hayes et al.'s point: examples differ, so one global threshold on φ sees little while per-example fits see it
    rng = np.random.default_rng(2)
    mean = rng.normal(0, 4, 300)
    u, r = mean + 0.8 + rng.normal(0, 0.5, (32, 300)), mean + rng.normal(0, 0.5, (32, 300))
    population = stats.mannwhitneyu(u.ravel(), r.ravel()).statistic / (u.size * r.size)
    assert ulira(u, r).auc > population + 0.2


def test_deterministic_method_is_caught_and_low_fpr_withheld_when_few():
    rng = np.random.default_rng(3)
    mean = rng.normal(0, 2, 20)
    res = ulira(np.tile(mean + 0.5, (8, 1)), mean + rng.normal(0, 1, (8, 20)))
    assert res.auc > 0.9
    assert res.low_fpr[0.001].withheld  # 160 non-member pairs < 1,000
    with pytest.raises(UnlearnError, match="at least 4"):
        ulira(np.zeros((3, 5)), np.zeros((3, 5)))
