"""The product's headline numbers by hand: Avg Gap, the per-seed rows, the table and the "closest to Retrain" mark."""

import pandas as pd
import pytest

from engine.audit.compare import COLUMNS, TABLE, Comparison, ModelAudit, avg_gap, seed_rows
from engine.config import RunSpec


def _row(method, seed, **values):
    base = {c: 0.0 for c in COLUMNS}
    base.update(method=method, label=method.capitalize(), seed=seed, setting="with D_R", **values)
    return base


def test_avg_gap_by_hand():
    ref = {"ua": 90.0, "ra": 100.0, "ta": 92.0, "ft_auc": 50.0, "mia_efficacy": 15.0}
    row = {"ua": 100.0, "ra": 99.0, "ta": 90.0, "ft_auc": 60.0, "mia_efficacy": 5.0}
    assert avg_gap(row, ref) == pytest.approx((10 + 1 + 2 + 10) / 4)  # 5.75
    assert avg_gap(row, ref, "mia_efficacy") == pytest.approx((10 + 1 + 2 + 10) / 4)
    assert avg_gap(ref, ref) == 0.0


def test_seed_rows_take_avg_gap_against_that_seeds_retrain():
    metrics = [c for c in COLUMNS if c not in ("method", "label", "seed", "setting", "avg_gap", "avg_gap_mis",
                                               "seconds")]

    def audit(ua, ra, ta, auc, mis):
        row = dict.fromkeys(metrics, 0.25)
        row.update(ua=ua, ra=ra, ta=ta, ft_auc=auc, mia_efficacy=mis)
        return ModelAudit(row, {}, None, {})

    audits = {"original": audit(100, 100, 93, 69, 0), "retrain": audit(93, 100, 92, 51, 15),
              "ft": audit(99, 100, 92.5, 60, 5)}
    rows = seed_rows(audits, {"original": "Original", "retrain": "Retrain", "ft": "Fine-tune"},
                     {"original": 3.0, "retrain": 2.5, "ft": 0.1}, seed=7, setting="with D_R")
    by = {r["method"]: r for r in rows}
    assert list(rows[0]) == COLUMNS
    assert by["retrain"]["avg_gap"] == 0.0
    assert by["ft"]["avg_gap"] == pytest.approx((6 + 0 + 0.5 + 9) / 4)  # 3.875
    assert by["original"]["avg_gap_mis"] == pytest.approx((7 + 0 + 1 + 15) / 4)
    assert by["ft"]["seed"] == 7 and by["ft"]["seconds"] == 0.1 and by["ft"]["label"] == "Fine-tune"
    assert by["ft"]["ks"] == 0.25


def _comparison():
    rows = [
        _row("original", 0, ua=100, ra=100, ta=93, ft_auc=70, avg_gap=7, seconds=3),
        _row("retrain", 0, ua=90, ra=100, ta=92, ft_auc=50, avg_gap=0, seconds=2.5),
        _row("ft", 0, ua=100, ra=100, ta=93, ft_auc=66, avg_gap=6.75, seconds=0.1),
        _row("rl", 0, ua=94, ra=99, ta=90, ft_auc=49, avg_gap=2.0, seconds=0.1),
        _row("original", 1, ua=100, ra=100, ta=95, ft_auc=68, avg_gap=5, seconds=5),
        _row("retrain", 1, ua=96, ra=100, ta=94, ft_auc=52, avg_gap=0, seconds=2.5),
        _row("ft", 1, ua=100, ra=100, ta=95, ft_auc=62, avg_gap=4.0, seconds=0.3),
        _row("rl", 1, ua=92, ra=97, ta=90, ft_auc=55, avg_gap=3.0, seconds=0.2),
    ]
    return Comparison(RunSpec(), pd.DataFrame(rows)[COLUMNS])


def test_table_means_and_population_std_over_seeds():
    t = _comparison().table()
    assert list(t.index) == ["original", "retrain", "ft", "rl"]  # Original, Retrain first, then run order
    assert t.loc["ft", "ft_auc_mean"] == 64.0 and t.loc["ft", "ft_auc_std"] == 2.0  # (66, 62): ddof 0
    assert t.loc["rl", "ua_mean"] == 93.0 and t.loc["rl", "ua_std"] == 1.0
    assert t.loc["retrain", "avg_gap_mean"] == 0.0
    assert t.loc["rl", "avg_gap_mean"] == 2.5 and t.loc["rl", "avg_gap_std"] == 0.5
    assert (t["n_seeds"] == 2).all() and t.loc["rl", "label"] == "Rl"
    assert set(f"{c}_mean" for c in TABLE) <= set(t.columns)


def test_best_is_closest_to_retrain_or_lowest():
    best = _comparison().best()
    # UA: retrain mean 93; FT 100 (gap 7), RL 93 (gap 0)
    assert best["ua"] == "rl"
    # FT AUC: retrain 51; FT 64 (13), RL 52 (1)
    assert best["ft_auc"] == "rl"
    # TA: retrain 93; FT 94 (1), RL 90 (3)
    assert best["ta"] == "ft"
    # Avg Gap and time: lowest; Original and Retrain are never "best"
    assert best["avg_gap"] == "rl" and best["seconds"] == "rl"
    assert "original" not in best.values() and "retrain" not in best.values()


def test_markdown_table_marks_best_and_formats_mean_std():
    md = _comparison().to_markdown()
    lines = md.splitlines()
    rl = next(line for line in lines if line.startswith("| Rl |"))
    assert "**93.00 ± 1.00**" in rl  # UA, closest to Retrain
    assert "**2.50 ± 0.50**" in rl  # Avg Gap, lowest
    ft = next(line for line in lines if line.startswith("| Ft |"))
    assert "64.00 ± 2.00" in ft and "**64.00" not in ft
    assert "Mean ± std over 2 seed(s)" in md
