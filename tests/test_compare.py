"""The product's headline numbers by hand: Avg Gap, the rows, the table, its intervals and the marks."""

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from engine.audit.compare import COLUMNS, TABLE, Comparison, ModelAudit
from engine.audit.rows import avg_gap, seed_rows
from engine.audit.uncertainty import auc, bootstrap_se, loo_factor, noise_floor, t_halfwidth
from engine.config import RunSpec


def _row(method, seed, replica=0, **values):
    base = dict.fromkeys(COLUMNS, 0.0)
    base.update({c: float("nan") for c in COLUMNS if c.endswith("_se")})
    base.update(method=method, label=method.capitalize(), seed=seed, replica=replica, setting="with D_R", **values)
    return base


def test_avg_gap_by_hand():
    ref = {"ua": 90.0, "ra": 100.0, "ta": 92.0, "ft_auc": 50.0, "mia_efficacy": 15.0}
    row = {"ua": 100.0, "ra": 99.0, "ta": 90.0, "ft_auc": 60.0, "mia_efficacy": 5.0}
    assert avg_gap(row, ref) == pytest.approx((10 + 1 + 2 + 10) / 4)  # 5.75
    assert avg_gap(row, ref, "mia_efficacy") == pytest.approx((10 + 1 + 2 + 10) / 4)
    assert avg_gap(ref, ref) == 0.0


def _audit(ua, ra, ta, auc_, mis, n=20, seed=0):
    metrics = [c for c in COLUMNS if c not in ("method", "label", "seed", "replica", "setting", "avg_gap",
                                               "avg_gap_mis", "seconds") and not c.endswith("_se")]
    row = dict.fromkeys(metrics, 0.25)
    row.update(ua=ua, ra=ra, ta=ta, ft_auc=auc_, mia_efficacy=mis)
    rng = np.random.default_rng(seed)
    per = {"forget_correct": rng.random(n) < ua / 100, "remain_correct": rng.random(3 * n) < ra / 100,
           "test_correct": rng.random(n) < ta / 100, "forget_rmia_score": rng.random(n) + (auc_ - 50) / 50,
           "test_rmia_score": rng.random(n)}
    return ModelAudit(row, {}, None, per)


def test_seed_rows_take_avg_gap_against_the_mean_of_the_retrains():
    audits = {"original": _audit(100, 100, 93, 69, 0), "retrain": _audit(93, 100, 92, 51, 15, seed=1),
              "ft": _audit(99, 100, 92.5, 60, 5, seed=2)}
    replicas = [audits["retrain"], _audit(95, 100, 94, 49, 17, seed=3)]
    seconds = {"original": 3.0, "retrain": 2.5, "ft": 0.1, "retrain#1": 2.6}
    rows = seed_rows(audits, replicas, {"original": "Original", "retrain": "Retrain", "ft": "Fine-tune"},
                     seconds, seed=7, setting="with D_R", n_boot=50)
    assert [list(r) for r in rows] == [COLUMNS] * 4
    by = {(r["method"], r["replica"]): r for r in rows}
    # the reference is the mean of the two retrains: UA 94, RA 100, TA 93, FT AUC 50, MIS 16
    assert by[("ft", 0)]["avg_gap"] == pytest.approx((5 + 0 + 0.5 + 10) / 4)
    assert by[("original", 0)]["avg_gap_mis"] == pytest.approx((6 + 0 + 0 + 16) / 4)
    # each replica against the other, with the leave-one-out correction √(1 − 1/R²) at R = 2: the noise floor
    assert by[("retrain", 0)]["avg_gap"] == pytest.approx((2 + 0 + 2 + 2) / 4 * np.sqrt(0.75))
    assert by[("retrain", 1)]["avg_gap"] == pytest.approx((2 + 0 + 2 + 2) / 4 * np.sqrt(0.75))
    assert by[("retrain", 1)]["seconds"] == 2.6 and by[("ft", 0)]["seed"] == 7 and by[("ft", 0)]["ks"] == 0.25
    assert all(r["ua_se"] >= 0 and r["avg_gap_se"] >= 0 for r in rows) and by[("ft", 0)]["ta_se"] > 0


def test_one_retrain_gives_zero_gap_for_retrain_and_no_noise():
    audits = {"retrain": _audit(93, 100, 92, 51, 15), "ft": _audit(99, 100, 92.5, 60, 5, seed=2)}
    rows = seed_rows(audits, [audits["retrain"]], {"retrain": "Retrain", "ft": "FT"}, {"retrain": 1, "ft": 1},
                     seed=0, setting="x", n_boot=20)
    assert rows[0]["avg_gap"] == 0.0 and len(rows) == 2


def _comparison():
    rows = [
        _row("original", 0, ua=100, ra=100, ta=93, ft_auc=70, avg_gap=7, phi_shift=0.2, seconds=3),
        _row("retrain", 0, ua=90, ra=100, ta=92, ft_auc=50, avg_gap=1.0, phi_shift=0.1, seconds=2.5),
        _row("retrain", 0, replica=1, ua=92, ra=100, ta=92, ft_auc=52, avg_gap=1.0, phi_shift=0.1, seconds=2.5),
        _row("ft", 0, ua=100, ra=100, ta=93, ft_auc=66, avg_gap=6.75, phi_shift=0.3, seconds=0.1),
        _row("rl", 0, ua=94, ra=99, ta=90, ft_auc=49, avg_gap=2.0, phi_shift=9.0, seconds=0.1),
        _row("original", 1, ua=100, ra=100, ta=95, ft_auc=68, avg_gap=5, phi_shift=0.2, seconds=5),
        _row("retrain", 1, ua=96, ra=100, ta=94, ft_auc=52, avg_gap=0.5, phi_shift=0.1, seconds=2.5),
        _row("retrain", 1, replica=1, ua=96, ra=100, ta=94, ft_auc=52, avg_gap=0.5, phi_shift=0.1, seconds=2.5),
        _row("ft", 1, ua=100, ra=100, ta=95, ft_auc=62, avg_gap=4.0, phi_shift=0.3, seconds=0.3),
        _row("rl", 1, ua=92, ra=97, ta=90, ft_auc=55, avg_gap=3.0, phi_shift=9.2, seconds=0.2),
    ]
    return Comparison(RunSpec(), pd.DataFrame(rows)[COLUMNS])


def test_table_means_intervals_and_noise_floor_by_hand():
    t = _comparison().table()
    assert list(t.index) == ["original", "retrain", "ft", "rl"]  # Original, Retrain first, then run order
    t1 = stats.t.ppf(0.975, 1)
    assert t.loc["ft", "ft_auc_mean"] == 64.0 and t.loc["ft", "ft_auc_std"] == 2.0  # (66, 62): ddof 0
    assert t.loc["ft", "ft_auc_ci"] == pytest.approx(t1 * np.std([66, 62], ddof=1) / np.sqrt(2))
    # Retrain: replicas averaged per seed, then over seeds: UA (91, 96) → 93.5
    assert t.loc["retrain", "ua_mean"] == 93.5 and t.loc["retrain", "n_replicas"] == 2
    # the noise floor: per seed mean |x_r − mean of the others| = (2 + 2) / 2 on seed 0, 0 on seed 1 → 1.0,
    # times the leave-one-out correction √(1 − 1/R²) at R = 2
    assert t.loc["rl", "ua_noise"] == pytest.approx(np.sqrt(0.75))
    assert t.loc["retrain", "avg_gap_mean"] == 0.75  # Retrain's Avg Gap is its own spread
    assert (t["n_seeds"] == 2).all() and set(t["ci_kind"]) == {"seeds"}
    assert set(f"{c}_mean" for c in TABLE) <= set(t.columns)


def test_best_marks_every_method_within_noise():
    best = _comparison().best()
    # Δφ: FT 0.3 vs RL 9.1 ± 1.3 — far apart: only FT
    assert best["phi_shift"] == ["ft"]
    # UA vs Retrain's 93.5: RL 93 (0.5) best; FT 100 (6.5) — the t interval of 2 seeds of RL is ±12.7: tied
    assert best["ua"] == ["ft", "rl"]
    # RA: FT 100 = Retrain exactly; RL 98 within RL's own interval of the best → both
    assert "ft" in best["ra"]
    assert "original" not in sum(best.values(), []) and "retrain" not in sum(best.values(), [])


def test_exact_ties_are_all_marked():
    rows = [_row("retrain", 0, ra=100), _row("ft", 0, ra=100), _row("rl", 0, ra=100), _row("ga", 0, ra=99)]
    best = Comparison(RunSpec(), pd.DataFrame(rows)[COLUMNS]).best()
    assert best["ra"] == ["ft", "rl"]  # no interval (one seed, no bootstrap): exact ties only


def test_cells_show_intervals_only_where_they_exist():
    cmp = _comparison()
    cells = cmp.formatted()
    t1 = stats.t.ppf(0.975, 1)
    assert cells.loc["Ft", "MIA (FT AUC)"] == f"64.00 ± {t1 * np.std([66, 62], ddof=1) / np.sqrt(2):.2f}"
    one = Comparison(RunSpec(), pd.DataFrame([_row("retrain", 0, ua=90), _row("ft", 0, ua=95)])[COLUMNS])
    assert one.formatted().loc["Ft", "UA"] == "95.00"  # one seed, no bootstrap: no "± 0.00"
    md = cmp.to_markdown()
    assert "± 95 % interval over 2 seeds" in md and "noise floor" in md
    assert "With 2 seeds the interval is 12.7 standard errors on each side" in cmp.note()  # a warning, not a table
    assert md.count("**") >= 2


@pytest.mark.parametrize("r", [2, 3, 5])
def test_noise_floor_is_unbiased_for_a_retrain_like_method(r):
    """Issue 19.4: a method that is one more retrain, compared with the mean of R retrains, has the expected gap
    the corrected floor gives; the uncorrected leave-one-out gap overstates it by √(R² / (R² − 1))."""
    rng = np.random.default_rng(r)
    x = rng.normal(0.0, 1.0, (200_000, r + 1))  # R replicas and one retrain-like method per trial
    reps, method = x[:, :r], x[:, r]
    method_gap = np.abs(method - reps.mean(axis=1)).mean()
    loo = np.abs(reps - (reps.sum(axis=1, keepdims=True) - reps) / (r - 1)).mean()
    assert loo_factor(r) == pytest.approx(np.sqrt(1 - 1 / r ** 2))
    assert loo * loo_factor(r) == pytest.approx(method_gap, rel=0.01)
    assert loo / method_gap == pytest.approx(1 / loo_factor(r), rel=0.01)  # +15 % at R = 2, +6 % at R = 3
    floors = [noise_floor(row) for row in reps[:20_000]]
    assert np.mean(floors) == pytest.approx(np.abs(method[:20_000] - reps[:20_000].mean(axis=1)).mean(), rel=0.03)


def test_uncertainty_helpers_by_hand():
    assert np.isnan(t_halfwidth([1.0])) and t_halfwidth([1.0, 3.0]) == pytest.approx(stats.t.ppf(0.975, 1))
    assert noise_floor([1.0, 3.0]) == pytest.approx(2.0 * np.sqrt(0.75)) and np.isnan(noise_floor([1.0]))
    assert auc([3, 4], [1, 2]) == 1.0 and auc([1, 2], [1, 2]) == 0.5 and auc([2], [2]) == 0.5
    rng = np.random.default_rng(0)
    n = 400
    same = {"forget_correct": rng.random(n) < 0.9, "remain_correct": rng.random(n) < 0.9,
            "test_correct": rng.random(n) < 0.9, "forget_score": rng.random(n), "test_score": rng.random(n)}
    se = bootstrap_se({"a": same, "b": same}, ["a"], n_boot=300, seed=0)
    # a proportion's standard error: sqrt(p(1-p)/n) in percent ≈ 1.5
    assert se["a"]["ua"] == pytest.approx(100 * np.sqrt(0.9 * 0.1 / n), rel=0.25)
    assert se["b"]["avg_gap"] == 0.0  # b is a against itself on every resample


def test_interval_cells_of_any_column_by_hand():
    rows = [_row("retrain", 0, 0, ks=0.10), _row("retrain", 0, 1, ks=0.20), _row("ft", 0, ks=0.30),
            _row("retrain", 1, 0, ks=0.30), _row("retrain", 1, 1, ks=0.30), _row("ft", 1, ks=0.50)]
    cells = Comparison(RunSpec(), pd.DataFrame(rows)[COLUMNS]).interval_cells({"ks": "KS"}, decimals=3)
    hw = stats.t.ppf(0.975, 1) * np.std([0.15, 0.30], ddof=1) / np.sqrt(2)  # Retrain: replicas averaged per seed
    assert cells.loc["Retrain", "KS"] == f"0.225 ± {hw:.3f}"
    assert cells.loc["Ft", "KS"] == f"0.400 ± {stats.t.ppf(0.975, 1) * np.std([0.3, 0.5], ddof=1) / np.sqrt(2):.3f}"
    bare = Comparison(RunSpec(), pd.DataFrame(rows)[COLUMNS]).interval_cells({"ks": "KS"}, decimals=3, bare=("ks",))
    assert bare.loc["Ft", "KS"] == "0.400"
    one = Comparison(RunSpec(), pd.DataFrame(rows[:3])[COLUMNS]).interval_cells({"ks": "KS"}, decimals=2)
    assert one.loc["Ft", "KS"] == "0.30"


def test_attack_halfwidths_match_the_normal_approximation():
    """AUC 0.5 with 100 members and 400 non-members: Hanley-McNeil SE ≈ sqrt((n1 + n0 + 1) / (12 n1 n0)) ≈ 0.032."""
    from engine.audit.uncertainty import attack_halfwidths

    rng = np.random.default_rng(1)
    hw = attack_halfwidths(rng.normal(size=100), rng.normal(size=400), n_boot=400)
    expected = 1.96 * np.sqrt((100 + 400 + 1) / (12 * 100 * 400))
    assert hw["auc"] == pytest.approx(expected, rel=0.2)
    assert 0 < hw["tpr_at_1pct"] < 0.1 and hw["tpr_at_01pct"] >= 0
    same = attack_halfwidths(np.ones(50), np.zeros(50))  # perfectly separated: no spread at all
    assert same["auc"] == 0.0
