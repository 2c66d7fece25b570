"""Continual unlearning (AMUN §6.3): the requests, the chained runs, AMUN's D_A of θ_o vs AMUN-A's of the current
model, the per-request audits and the claim table. Tiny models: the whole file runs in seconds."""

import io
import zipfile

import numpy as np
import pandas as pd
import pytest
import torch

from engine.__main__ import main
from engine.audit import continual as ca
from engine.continual import ContinualRequest, request_count, request_rows
from engine.errors import UnlearnError
from engine.figures_amun import continual_curves
from engine.run import NotStored, Runner
from engine.store import Store


# ------------------------------------------------------------------------------------------ the requests
def test_requests_are_disjoint_sorted_seeded_and_sized():
    rows = request_rows(200, 5, 0.02, seed=3)
    assert [len(r) for r in rows] == [4] * 5
    flat = np.concatenate(rows)
    assert len(set(flat.tolist())) == 20 and flat.min() >= 0 and flat.max() < 200
    assert all(np.array_equal(r, np.sort(r)) for r in rows)
    assert all(np.array_equal(a, b) for a, b in zip(rows, request_rows(200, 5, 0.02, seed=3)))
    assert not np.array_equal(np.concatenate(request_rows(200, 5, 0.02, seed=4)), flat)
    assert request_count(300, 7) == 7 and request_count(300, 0.1) == 30


@pytest.mark.parametrize("kw, words", [
    ({"requests": 0}, "between 1 and 50"), ({"size": 0.0}, "fraction"), ({"size": 2.5}, "whole number"),
    ({"k": 1}, "at least 2 reference"), ({"seeds": []}, "at least one seed"),
])
def test_bad_requests_are_one_clear_error(tiny_spec, kw, words):
    args = {"methods": ["ft"], "seeds": [0], **kw}
    with pytest.raises(UnlearnError, match=words):
        ContinualRequest.build(tiny_spec, args.pop("methods"), args.pop("seeds"), **args)


def test_unknown_method_and_too_many_samples_are_refused(tiny_spec):
    with pytest.raises(UnlearnError, match="unknown method"):
        ContinualRequest.build(tiny_spec, ["nope"])
    with pytest.raises(UnlearnError, match="forget all"):
        request_rows(100, 5, 0.2, seed=0)
    with pytest.raises(UnlearnError, match="no sample"):
        request_count(10, 0.01)
    # the D_F-only setting leaves out what needs D_R; AMUN-A shares AMUN's tuned settings
    req = ContinualRequest.build(tiny_spec, ["ft", "amun", "amun_a"], use_remain=False)
    assert [m.key for m in req.methods] == ["amun", "amun_a"]
    assert req.methods[0].params() == req.methods[1].params()


# ------------------------------------------------------------------------------------------ the runs
@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """Two requests of 10 samples, FT, AMUN and AMUN-A, one seed, K = 2, on the tiny digits spec."""
    from engine.config import DataSpec, ModelSpec, RunSpec, TrainConfig

    spec = RunSpec(data=DataSpec("digits", train_size=200), model=ModelSpec("mlp", 32),
                   train=TrainConfig(epochs=3, batch_size=64, lr=0.1, lr_step=2, augment=False), forget="random:0.1")
    store = Store(tmp_path_factory.mktemp("store"))
    req = ContinualRequest.build(spec, ["ft", "amun", "amun_a"], [0], requests=2, size=10, k=2)
    return store, req, Runner(store).continual(req)


def test_every_model_after_every_request_is_audited_on_everything_forgotten(run):
    store, req, res = run
    rows = res.rows
    assert list(rows.columns) == ca.COLUMNS
    assert len(rows) == 2 * 5  # 2 requests × (original, retrain, 3 methods)
    assert set(rows["method"]) == {"original", "retrain", "ft", "amun", "amun_a"}
    assert (rows[rows.request == 1].n_forgotten == 10).all() and (rows[rows.request == 2].n_forgotten == 20).all()
    assert (rows.n_request == 10).all()
    assert np.allclose(rows[rows.method == "retrain"].avg_gap, 0.0)
    # the paper's AUC_FR − AUC_FT: FR AUC (remain = 1, forgotten = 0) minus FT AUC; RT − FT under its own name
    np.testing.assert_allclose(rows.auc_gap, rows.rf_auc - rows.ft_auc, atol=1e-9)
    np.testing.assert_allclose(rows.rt_gap, rows.rt_auc - rows.ft_auc, atol=1e-9)
    assert not res.failures
    # the CLI's tables name every model and the paper's claim gets its verdict
    text = res.to_markdown()
    assert "AMUN-A" in text and "request 2" in text and "claim" in text


def test_each_request_starts_from_the_previous_output(run):
    store, req, res = run
    by = {(a.manifest["method"], a.manifest["n_remain"]): a for a in store.list("unlearned")}
    for method in ("ft", "amun", "amun_a"):
        first, second = by[(method, 190)], by[(method, 180)]
        assert second.manifest["original"] == first.key  # request 2 unlearns request 1's model
        assert first.manifest["origin"] == second.manifest["origin"] == first.manifest["original"]  # θ_o


def test_amun_keeps_the_original_d_a_and_amun_a_searches_the_current_model(run):
    store, req, res = run
    unlearned = {(a.manifest["method"], a.manifest["n_remain"]): a for a in store.list("unlearned")}
    origin = unlearned[("amun", 190)].manifest["origin"]
    adv_models = [a.manifest["model"] for a in store.list("adversarial")]
    # AMUN: both requests' D_A under θ_o; AMUN-A: request 1 under θ_o (the same set), request 2 under its own model
    assert adv_models.count(origin) == 2
    assert unlearned[("amun_a", 190)].key in adv_models
    assert unlearned[("amun", 190)].key not in adv_models
    # on the first request AMUN-A is AMUN: the same D_A, the same seed, the same weights and audit
    wa, wb = unlearned[("amun", 190)].arrays(), unlearned[("amun_a", 190)].arrays()
    assert wa.keys() == wb.keys() and all(np.array_equal(wa[k], wb[k]) for k in wa)
    r1 = res.rows[res.rows.request == 1].set_index("method")
    for col in ("ua", "ra", "ta", "ft_auc"):
        assert r1.loc["amun", col] == pytest.approx(r1.loc["amun_a", col])


def test_a_rerun_trains_nothing_and_a_store_only_reader_gets_the_same_rows(run):
    store, req, res = run
    before = {kind: len(store.list(kind)) for kind in ("original", "retrain", "unlearned", "adversarial", "signals")}
    again = Runner(store, build=False).continual(req)
    pd.testing.assert_frame_equal(again.rows.drop(columns=["seconds", "one_time_seconds"]),
                                  res.rows.drop(columns=["seconds", "one_time_seconds"]))
    assert before == {kind: len(store.list(kind)) for kind in before}
    bigger = ContinualRequest.build(req.spec, ["ft"], [0], requests=3, size=10, k=2)
    with pytest.raises(NotStored):
        Runner(store, build=False).continual(bigger)


def test_the_chain_of_a_method_that_diverges_stops_and_the_rest_go_on(run, monkeypatch):
    store, req, _ = run
    from engine.errors import Diverged
    from engine.unlearning.base import Unlearner

    real = Unlearner.unlearn

    def boom(self, model, data, forget, remain, **kw):
        if self.key == "ga":
            raise Diverged("GA: loss became NaN")
        return real(self, model, data, forget, remain, **kw)

    monkeypatch.setattr(Unlearner, "unlearn", boom)
    r = ContinualRequest.build(req.spec, ["ga", "ft"], [0], requests=2, size=10, k=2)
    res = Runner(store).continual(r)
    assert ("ga", 0) in res.failures and "request 1" in res.failures[("ga", 0)]
    assert "ga" not in set(res.rows["method"]) and len(res.rows[res.rows.method == "ft"]) == 2
    assert "failed: Gradient Ascent" in res.to_markdown()


# ------------------------------------------------------------------------------------------ audits (pure)
def _rows(values: dict[str, list[list[float]]]) -> pd.DataFrame:
    """method → per seed, per request auc_gap values."""
    out = []
    for method, per_seed in values.items():
        for seed, vals in enumerate(per_seed):
            for j, v in enumerate(vals, 1):
                out.append({"method": method, "seed": seed, "request": j, "auc_gap": v})
    return pd.DataFrame(out)


def test_the_claim_table_uses_paired_differences_and_the_best_baseline():
    rows = _rows({"retrain": [[10, 10], [12, 12]], "original": [[0, 0], [0, 0]],
                  "amun_a": [[8, 9], [9, 10]], "amun": [[6, 7], [7, 8]], "ft": [[5, 1], [5, 1]],
                  "rl": [[2, 6], [2, 6]]})
    t = ca.claim(rows)
    assert list(t["best baseline"]) == ["ft", "rl"]
    assert t["amun_a over amun"].tolist() == [2.0, 2.0] and t["hw1"].tolist() == [0.0, 0.0]
    assert t["amun over baseline"].tolist() == [1.5, 1.5]
    assert t["retrain value"].tolist() == [11.0, 11.0]
    assert t["amun_a over baseline"].tolist() == [3.5, 3.5] and not t["identical"].any()
    text = ca.verdict(t)
    assert text.startswith("Holds") and "2 of 2" in text
    # AMUN-A = AMUN on a request (the first: one D_A): left out of that comparison, said so
    same = _rows({"retrain": [[10, 10], [12, 12]], "amun_a": [[6, 9], [7, 10]], "amun": [[6, 7], [7, 8]],
                  "ft": [[5, 1], [5, 1]]})
    t = ca.claim(same)
    assert t["identical"].tolist() == [True, False]
    text = ca.verdict(t)
    assert text.startswith("Holds") and "at 1 of 1 requests (at 1 request(s) the two are the same model" in text
    worse = _rows({"amun_a": [[1, 1], [1, 1]], "amun": [[2, 2], [2, 2]], "ft": [[3, 3], [3, 3]]})
    assert ca.verdict(ca.claim(worse)).startswith("Does not hold")
    with pytest.raises(ValueError):
        ca.claim(_rows({"amun": [[1]], "ft": [[1]]}))


def test_the_claim_read_as_distance_to_retrain_does_not_reward_overshooting():
    """A baseline far above Retrain wins the paper's reading but loses the distance-to-Retrain one."""
    rows = _rows({"retrain": [[10, 10], [10, 10]], "amun_a": [[9, 9], [9, 10]], "amun": [[8, 8], [8, 8]],
                  "salun": [[30, 30], [30, 30]], "ft": [[2, 2], [2, 2]]})
    high = ca.claim(rows)
    assert list(high["best baseline"]) == ["salun", "salun"] and not high["amun better"].any()
    close = ca.claim(rows, reading="retrain")
    assert list(close["best baseline"]) == ["ft", "ft"]  # |2 − 10| = 8 < |30 − 10| = 20
    assert close["amun"].tolist() == [2.0, 2.0] and close["amun over baseline"].tolist() == [6.0, 6.0]
    assert close["amun_a over amun"].tolist() == [1.0, 1.5] and close["amun_a better"].all()
    assert ca.verdict(close).startswith("Holds")
    with pytest.raises(ValueError, match="unknown reading"):
        ca.claim(rows, reading="nope")


def test_auc_fr_minus_auc_ft_is_the_papers_sign():
    """AMUN §6.3: FR AUC is remain (1) vs forgotten (0). A model that still holds the forgotten samples as members
    (the original) scores FR ≈ 50 and FT > 50: negative; one that never saw them (Retrain) FR > 50, FT ≈ 50:
    positive. The old reading RT − FT is ≈ 0 for the original, and survives as ``rt_gap``."""
    rng = np.random.default_rng(0)
    members, unseen = rng.normal(1.0, 1.0, 4000), rng.normal(0.0, 1.0, 4000)
    original = ca.auc_measures(forget=members[:2000], test=unseen[:2000], remain=members[2000:])
    retrain = ca.auc_measures(forget=unseen[:2000], test=unseen[2000:], remain=members[:2000])
    assert original["auc_gap"] < -20 and abs(original["rf_auc"] - 50) < 3 and abs(original["rt_gap"]) < 3
    assert retrain["auc_gap"] > 20 and abs(retrain["ft_auc"] - 50) < 3
    assert retrain["auc_gap"] == pytest.approx(retrain["rf_auc"] - retrain["ft_auc"])


def test_avg_gap_is_taken_against_the_retrain_of_the_same_request():
    base = {"n_request": 1, "n_forgotten": 1, "ua_request": 0, "rt_auc": 0, "rf_auc": 0, "auc_gap": 0, "rt_gap": 0,
            "ft_auc_sub": 0, "seconds": 0, "one_time_seconds": 0, "label": "x"}
    rows = pd.DataFrame([
        {**base, "method": "retrain", "seed": 0, "request": 1, "ua": 90, "ra": 100, "ta": 90, "ft_auc": 50},
        {**base, "method": "retrain", "seed": 0, "request": 2, "ua": 80, "ra": 100, "ta": 90, "ft_auc": 50},
        {**base, "method": "ft", "seed": 0, "request": 1, "ua": 94, "ra": 100, "ta": 90, "ft_auc": 54},
        {**base, "method": "ft", "seed": 0, "request": 2, "ua": 94, "ra": 96, "ta": 90, "ft_auc": 50},
    ])
    gaps = ca.with_gaps(rows).set_index(["method", "request"])["avg_gap"]
    assert gaps[("ft", 1)] == pytest.approx(2.0) and gaps[("ft", 2)] == pytest.approx(4.5)
    assert gaps[("retrain", 2)] == 0.0


def test_summary_and_wide_tables_give_mean_and_interval_per_request():
    rows = _rows({"amun": [[1, 2], [3, 4]], "retrain": [[5, 5], [5, 5]]})
    s = ca.summary(rows, "auc_gap")
    assert list(s["method"]) == ["amun", "amun", "retrain", "retrain"]
    assert s.loc[0, "mean"] == 2.0 and s.loc[0, "n"] == 2 and s.loc[0, "halfwidth"] > 0
    w = ca.wide(rows, "auc_gap", {"amun": "AMUN", "retrain": "Retrain"})
    assert list(w.index) == ["AMUN", "Retrain"] and list(w.columns) == ["request 1", "request 2"]
    assert w.loc["AMUN", "request 1"].startswith("2.00 ± ")
    fig = continual_curves({"auc_gap": s, "ft_auc": s}, {"amun": "AMUN", "retrain": "Retrain"})
    names = [t.name for t in fig.data]
    assert names.count("AMUN") == 2 and names[-1] == "Retrain"  # Retrain drawn last (on top), in every panel
    assert fig.data[-1].line.dash == "dash"


# ------------------------------------------------------------------------------------------ CLI
def test_cli_continual_writes_rows_and_tables(tmp_path, capsys):
    torch.manual_seed(0)
    out = tmp_path / "out"
    rc = main(["continual", "--store", str(tmp_path / "s"), "--methods", "ft,amun", "--requests", "2", "--size", "8",
               "--seeds", "0", "--k", "2", "--set", "data.train_size=200", "--set", "train.epochs=3",
               "--width", "32", "--out", str(out)])
    assert rc == 0
    text = capsys.readouterr().out
    assert "AUC_FR − AUC_FT" in text and "request 2" in text
    rows = pd.read_csv(out / "continual.csv")
    assert len(rows) == 2 * 4 and (out / "continual.md").exists()
    assert main(["continual", "--store", str(tmp_path / "s"), "--methods", "nope"]) == 2


def test_report_section_of_a_continual_run(run, tmp_path):
    from engine import report
    from engine.report_amun import continual_section
    from engine.run import AuditRequest

    store, req, res = run
    sec = continual_section(res)
    assert sec.name == "continual" and "claim" in " ".join(sec.text)
    assert len(sec.tables) == 2 + 6 and sec.figures[0].name == "continual-curves"
    assert set(sec.files) == {"continual/continual.csv", "continual/continual.md"}
    spec = req.spec
    cmp = Runner(store).compare(AuditRequest.build(spec, ["ft"], [0], k=2, retrains=1))
    html = report.html_report(cmp, [], sections=[sec])
    assert 'id="continual"' in html and 'href="#continual"' in html and 'id="continual-curves"' in html
    assert html.count("plotly.js v") <= 2 and "AMUN-A" in html  # plotly.js inlined once, with the section's figure
    data, _ = report.bundle(cmp, html, [], png=False, sections=[sec])
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        assert "continual/continual.csv" in z.namelist()
