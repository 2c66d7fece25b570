"""The verdict against Retrain (engine/audit/verdict.py): hand values, and the promise that a method's marks do not
depend on which other methods ran."""

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from engine.audit import verdict as V
from engine.audit.compare import COLUMNS, Comparison
from engine.config import RunSpec


def _row(method, seed, replica=0, **values):
    base = dict.fromkeys(COLUMNS, 0.0)
    base.update({c: float("nan") for c in COLUMNS if c.endswith("_se")})
    base.update(method=method, label={"ft": "FT", "rl": "RL", "ga": "GA"}.get(method, method.capitalize()), seed=seed,
                replica=replica, setting="with D_R", train_acc=100.0, **values)
    return base


def _comparison(methods=("ft", "rl", "ga")):
    """Two seeds, two retrain replicas per seed. Retrain's FT AUC per seed: (50 + 52)/2 = 51 and 52 → mean 51.5."""
    r = dict(ra=100, mia_efficacy=20, simple_mia_acc=0.5, ks=0.1, wasserstein=0.1, tpr_at_1pct=1.0)
    rows = [
        _row("original", 0, ua=100, ra=100, ta=93, ft_auc=70, avg_gap=7, phi_shift=0.2, mia_efficacy=0,
             simple_mia_acc=0.6, ks=0.3, wasserstein=0.3, tpr_at_1pct=8, seconds=3),
        _row("retrain", 0, ua=90, ta=93, ft_auc=50, avg_gap=1.0, phi_shift=0.1, seconds=2.5, **r),
        _row("retrain", 0, replica=1, ua=92, ta=93, ft_auc=52, avg_gap=1.0, phi_shift=0.1, seconds=2.5, **r),
        _row("original", 1, ua=100, ra=100, ta=95, ft_auc=69, avg_gap=5, phi_shift=0.2, mia_efficacy=0,
             simple_mia_acc=0.6, ks=0.3, wasserstein=0.3, tpr_at_1pct=8, seconds=5),
        _row("retrain", 1, ua=96, ta=93, ft_auc=52, avg_gap=0.5, phi_shift=0.1, seconds=2.5, **r),
        _row("retrain", 1, replica=1, ua=96, ta=93, ft_auc=52, avg_gap=0.5, phi_shift=0.1, seconds=2.5, **r),
    ]
    per = {  # FT remembers; RL flattens and costs test accuracy; GA over-forgets
        "ft": [dict(ua=100, ta=93, ft_auc=66, avg_gap=6.75, phi_shift=0.1), dict(ua=100, ta=95, ft_auc=62,
                                                                                   avg_gap=4.0, phi_shift=0.1)],
        "rl": [dict(ua=94, ta=82, ft_auc=51, avg_gap=1.0, phi_shift=9.0), dict(ua=92, ta=84, ft_auc=52, avg_gap=1.0,
                                                                                  phi_shift=9.2)],
        "ga": [dict(ua=93, ta=93, ft_auc=30, avg_gap=1.0, phi_shift=0.1), dict(ua=95, ta=94, ft_auc=31, avg_gap=1.0,
                                                                                 phi_shift=0.1)],
    }
    for m in methods:
        for s in (0, 1):
            rows.append(_row(m, s, seconds=0.1, **{**r, **per[m][s]}))
    rows.sort(key=lambda x: x["seed"])
    return Comparison(RunSpec(), pd.DataFrame(rows)[COLUMNS])


def test_judge_by_hand():
    assert V.judge(52.0, 50.0, 3.0, "forgetting") == ("within", False)
    assert V.judge(53.0, 50.0, 3.0, "forgetting") == ("within", False)  # the edge is inside
    assert V.judge(54.0, 50.0, 3.0, "forgetting") == ("above", True)
    assert V.judge(46.0, 50.0, 3.0, "forgetting") == ("below", True)  # over-forgetting is outside too
    assert V.judge(80.0, 90.0, 3.0, "utility") == ("below", True)
    assert V.judge(99.0, 90.0, 3.0, "utility") == ("above", False)  # more accuracy is not a fault
    assert V.judge(0.0, 1.0, 0.5, "distance") == ("within", False)  # a distance at or below Retrain's own
    assert V.judge(2.0, 1.0, 0.5, "distance") == ("above", True)
    assert V.judge(0.0, 10.0, 1.0, "leak") == ("within", False)  # the forget set looks even less like members
    assert V.judge(12.0, 10.0, 1.0, "leak") == ("above", True)
    assert V.judge(50.0, 50.0, float("nan"), "forgetting") == ("unknown", False)


def test_retrains_interval_is_its_seed_interval_and_replica_spread_combined():
    t = _comparison().table()
    # FT AUC of Retrain per seed: 51, 52 → t interval; replica spread: seed 0: |50 − 52| = 2, seed 1: 0 → 1.0, times
    # the leave-one-out correction √(1 − 1/R²) at R = 2 (engine.audit.uncertainty.loo_factor: the unbiased floor)
    ci = stats.t.ppf(0.975, 1) * np.std([51, 52], ddof=1) / np.sqrt(2)
    assert V.retrain_interval(t, "ft_auc") == pytest.approx(math.hypot(ci, 1.0 * math.sqrt(1 - 1 / 4)))
    cells = V.cells(_comparison())
    c = cells["ft"]["ft_auc"]
    half = math.hypot(ci, 1.0 * math.sqrt(1 - 1 / 4))
    assert c.retrain == 51.5 and c.retrain_half == pytest.approx(half)
    assert c.value == 64.0 and c.status == "above" and c.colour == "red"
    assert cells["retrain"]["ft_auc"].status == "reference"
    assert cells["retrain"]["ft_auc"].ci == pytest.approx(half)  # its row shows what it judges by
    # a distance (Avg Gap): Retrain's own value is its replica spread; its interval over seeds alone sits on top
    gap = cells["ft"]["avg_gap"]
    assert gap.retrain == 0.75 and gap.retrain_half == pytest.approx(stats.t.ppf(0.975, 1) * np.std([1.0, 0.5], ddof=1)
                                                                     / np.sqrt(2))
    assert gap.value == pytest.approx(5.375) and gap.status == "above"
    # simple MIA and KS are shown in % (one unit per kind), like the accuracies and the AUC
    assert cells["ft"]["simple_mia_acc"].value == pytest.approx(50.0) and cells["ft"]["ks"].value == pytest.approx(10)


def test_verdicts_in_words_by_hand():
    vs = {v.method: v for v in V.verdicts(_comparison())}
    assert vs["ft"].sentence.startswith("did not forget (FT AUC 64.0 vs Retrain 51.5 ± ")
    assert vs["ft"].evidence == "membership" and not vs["ft"].like_retrain
    # RL: forgets (FT AUC within), but its confidence moved (no signals here: direction unknown) and TA dropped
    assert vs["rl"].sentence.startswith("forgets, but shifts confidence (Δφ 9.100 vs Retrain's 0.100")
    assert "costs 10.0 points of test accuracy (TA 83.0 vs Retrain 93.0" in vs["rl"].sentence
    assert vs["ga"].sentence.startswith("over-forgets (FT AUC 30.5 < Retrain's interval 51.5 ± ")


def test_a_method_like_retrain_is_said_so_and_green_everywhere():
    rows = _comparison(("ft",)).rows.copy()
    like = rows[rows.method == "retrain"].groupby("seed").first().reset_index()
    like["method"], like["label"], like["replica"] = "twin", "Twin", 0
    cmp = Comparison(RunSpec(), pd.concat([rows, like[COLUMNS]], ignore_index=True))
    (ft, twin) = V.verdicts(cmp)
    assert twin.like_retrain and twin.sentence == "behaves like Retrain on every measure"
    assert {c.colour for c in twin.cells.values() if c.measure.direction != "cost"} == {"green"}
    head = V.headline(cmp)
    assert head[0].text.startswith("The original model leaks: an attacker tells forget samples from unseen ones "
                                   "with AUC 70 % vs Retrain's 52 %") and head[0].evidence == "membership"
    assert head[1].text == "Twin behaves like Retrain on every measure (of 2 methods)."
    assert head[2].text.startswith("FT did not forget (FT AUC 64.0")


def test_no_cell_is_green_outside_retrains_interval():
    for cmp in (_comparison(), _comparison(("ft",))):
        for m, row in V.cells(cmp).items():
            for c in row.values():
                if c.colour == "green":
                    lo = -math.inf if c.measure.direction in ("distance", "leak") else c.retrain - c.retrain_half
                    assert lo - 1e-9 <= c.value <= c.retrain + c.retrain_half + 1e-9, (m, c.measure.key)


def test_marks_do_not_depend_on_the_other_methods():
    """The issue: FT's Avg Gap was green in a two-method run and not in a six-method one."""
    small, large = V.cells(_comparison(("ft",))), V.cells(_comparison(("ft", "rl", "ga")))
    for k in large["ft"]:
        assert (small["ft"][k].status, small["ft"][k].colour) == (large["ft"][k].status, large["ft"][k].colour)


def test_no_winner_while_intervals_overlap():
    cmp = _comparison()
    # Avg Gap: RL (1.0, 1.0) and GA (1.0, 1.0) are the same; FT (6.75, 4.0) has a wide interval over 2 seeds
    assert not V.separated(cmp, "rl", "ga", "avg_gap")
    assert set(V.lowest(cmp, "avg_gap")) >= {"rl", "ga"}
    # FT AUC: FT (66, 62) and GA (30, 31) separate
    assert V.separated(cmp, "ft", "ga", "ft_auc")


def test_one_seed_one_retrain_cannot_be_judged():
    rows = [_row("original", 0, ua=100, ra=100, ta=93, ft_auc=70), _row("retrain", 0, ua=90, ra=100, ta=92, ft_auc=50),
            _row("ft", 0, ua=100, ra=100, ta=93, ft_auc=66)]
    cmp = Comparison(RunSpec(), pd.DataFrame(rows)[COLUMNS])
    (ft,) = V.verdicts(cmp)
    assert ft.sentence.startswith("cannot be judged") and not ft.like_retrain
    assert all(c.colour == "" for c in ft.cells.values())


def test_headers_carry_unit_and_direction():
    assert V.BY_KEY["ua"].header == "UA (%) ≈ Retrain"
    assert V.BY_KEY["avg_gap"].header == "Avg Gap (pts) ↓"
    assert V.BY_KEY["seconds"].header == "time (s) ↓"
    assert all(m.help and "(" in m.header for m in V.MEASURES)


def test_two_and_six_method_digits_audits_mark_alike(tiny_spec, tmp_path):
    """A real digits audit (tiny recipe, 2 seeds, 2 retrains): FT and RL judged alike whether they ran alone or
    beside GA, SalUn, AMUN and SG-Unlearn."""
    from engine.request import AuditRequest
    from engine.run import Runner
    from engine.store import Store

    store = Store(tmp_path)
    two = Runner(store).compare(AuditRequest.build(tiny_spec, ["ft", "rl"], [0, 1], k=2, retrains=2))
    six = Runner(store).compare(AuditRequest.build(tiny_spec, ["ft", "rl", "ga", "salun", "amun", "sg_unlearn"],
                                                   [0, 1], k=2, retrains=2))
    a, b = V.cells(two), V.cells(six)
    for m in ("ft", "rl"):
        for k, c in a[m].items():
            if k == "seconds":
                continue
            assert (c.status, c.colour, c.text()) == (b[m][k].status, b[m][k].colour, b[m][k].text()), (m, k)
    va = {v.method: v.sentence for v in V.verdicts(two)}
    vb = {v.method: v.sentence for v in V.verdicts(six)}
    assert va["ft"] == vb["ft"] and va["rl"] == vb["rl"]


def test_still_remembered_counts_by_hand():
    from types import SimpleNamespace

    def audit(forget, test):
        return SimpleNamespace(per_sample={"forget_rmia_score": np.array(forget, float), "forget_index":
                                           np.array([10, 11, 12, 13]), "test_rmia_score": np.array(test, float)})

    test = np.arange(20.0)  # 20 unseen samples scored 0 … 19
    cmp = SimpleNamespace(audits={("m", 0): audit([30, 19, 5, 30], test), ("retrain", 0): audit([1, 2, 3, 30], test),
                                  ("original", 0): audit([30, 30, 30, 30], test)})
    idx, rank = V.membership_ranks(cmp, "m", 0)
    # 30 > every test score → 100 %; 19 ties the top one → (19 + 20) / 40 = 97.5 %; 5 → (5 + 6) / 40 = 27.5 %
    assert list(idx) == [10, 13, 11, 12] and list(rank) == [100.0, 100.0, 97.5, 27.5]
    out = V.still_remembered(cmp, "m", 0)
    assert (out["count"], out["retrain"], out["original"], out["n"]) == (3, 1, 4, 4)


def test_tpr_cell_has_no_interval_where_the_fpr_is_unreachable():
    assert V.tpr_cell(0.25, 0.05, 1000, 0.001) == "25.00 ± 5.00"  # one false positive: reachable
    assert V.tpr_cell(0.25, 0.05, 999, 0.001) == "25.00 (at 0 false positives: 999 < 1,000 unseen samples)"
    assert V.tpr_cell(0.1, 0.02, 90, 0.01) == "10.00 (at 0 false positives: 90 < 100 unseen samples)"
