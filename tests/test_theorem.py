"""AMUN's Theorem 4.1 made visible: the per-sample factors (hand-checked), the aggregate with its noise, the runner's
stored view and the forget-set-size effect. Tiny models: seconds."""

import numpy as np
import pandas as pd
import pytest

from engine.__main__ import main
from engine.audit import theorem as th
from engine.errors import UnlearnError
from engine.figures_amun import size_curves, theorem_groups, theorem_scatter
from engine.run import AuditRequest, NotStored, Runner
from engine.store import Store


def test_cross_entropy_matches_a_hand_computation():
    z = np.array([[0.0, 0.0], [2.0, 0.0]])
    np.testing.assert_allclose(th.cross_entropy(z, np.array([0, 1])), [np.log(2), np.log(1 + np.exp(2))])
    assert np.isfinite(th.cross_entropy(np.array([[1000.0, 0.0]]), np.array([1]))).all()  # stable


def _frame(n=3):
    logits = {"original": np.array([[0.0, 3.0], [0.0, 3.0], [2.0, 0.0]]),  # x_adv pushed to class 1 (rows 0, 1)
              "retrain": np.array([[0.0, 1.0], [1.0, 0.0], [2.0, 0.0]]),   # row 0 transfers, row 1 does not
              "after": np.array([[0.0, 2.0], [0.0, 2.0], [2.0, 0.0]])}
    return th.per_sample(
        index=np.array([5, 9, 11]), labels=np.array([0, 0, 1]), eps=np.array([0.04, 0.08, 0.0]),
        delta_norm=np.array([0.03, 0.07, 0.0]), y_adv=np.array([1, 1, 0]), flipped=np.array([True, True, True]),
        logits_adv=logits, phi={m: np.array([1.0, 2.0, -1.0]) * k for m, k in (("original", 3), ("after", 1),
                                                                                ("retrain", 0.5))},
        loss={m: np.array([0.1, 0.2, 2.0]) for m in ("original", "after", "retrain")},
        scores={"original": np.array([0.9, 0.8, 0.1]), "after": np.array([0.4, 0.7, 0.1]),
                "retrain": np.array([0.3, 0.3, 0.1])})


def test_per_sample_factors_and_measures_by_hand():
    f = _frame()
    assert f["transfers"].tolist() == [True, False, True]
    assert f["attacked"].tolist() == [True, True, False]  # ε = 0: the original already misclassified it
    ce = th.cross_entropy
    assert f.loc[0, "strength"] == pytest.approx(ce(np.array([[0.0, 3.0]]), np.array([0]))[0])
    assert f.loc[1, "transfer_loss"] == pytest.approx(np.log(1 + np.e))  # loss of y_adv = 1 under [1, 0]
    c = f.loc[0, "strength"] + f.loc[0, "overfit_loss"] - f.loc[0, "retrain_loss"] - f.loc[0, "transfer_loss"]
    assert f.loc[0, "c_term"] == pytest.approx(c)
    assert f["excess"].tolist() == pytest.approx([0.1, 0.4, 0.0])
    assert f["drop"].tolist() == pytest.approx([0.5, 0.1, 0.0])
    assert f["phi_gap"].tolist() == pytest.approx([0.5, 1.0, 0.5])


def _synthetic(seeds=3, n=60, slope=1.0, transfer_gain=0.2, rng=0):
    """Samples whose score after unlearning grows with ‖δ‖₂ and is lower when the example transfers."""
    g = np.random.default_rng(rng)
    parts = []
    for s in range(seeds):
        d = g.uniform(0.05, 1.0, n)
        t = g.random(n) < 0.5
        score = slope * d - transfer_gain * t + g.normal(0, 0.05, n)
        parts.append(pd.DataFrame({"seed": s, "delta_norm": d, "eps": d * 1.2, "transfers": t, "attacked": True,
                                   "score_after": score, **{k: g.normal(size=n) for k in th.FACTORS
                                                            if k not in ("delta_norm", "eps")}}))
    return pd.concat(parts, ignore_index=True)


def test_aggregate_finds_the_planted_effects_with_their_noise():
    s = th.aggregate(_synthetic(), "score_after")
    t = s.by_transfer.set_index("transfers")
    assert t.loc[True, "mean"] < t.loc[False, "mean"] and s.transfer_p < 0.05
    rho = s.spearman.set_index("factor").loc["delta_norm", "rho"]
    assert rho > 0.8
    assert list(s.by_distance["quartile"]) == ["Q1", "Q2", "Q3", "Q4"]
    assert s.by_distance["mean"].is_monotonic_increasing
    assert list(s.per_seed["seed"]) == ["0", "1", "2", "mean ± 95 %"]
    mean = s.per_seed.iloc[-1]
    assert mean.rho_delta > 0.8 and mean.rho_delta_hw > 0 and mean.transfer_diff < 0
    text = s.sentence()
    assert "forget better than the others" in text and "closer adversarial examples forget better" in text
    assert "over 3 seeds" in text
    assert "| seed |" in s.to_markdown()
    shown = th.per_seed_display(s.per_seed)
    assert " ± " in shown.iloc[-1, 1] and " ± " not in shown.iloc[0, 1]  # half-widths only over seeds
    corr = th.spearman_display(s.spearman)
    assert corr.loc[0, "factor"] == "‖δ‖₂" and corr.loc[0, "Spearman ρ"].startswith("+")
    assert "e-" in corr.loc[0, "p"] or float(corr.loc[0, "p"]) < 0.05  # small p-values keep their digits


def test_aggregate_without_an_effect_says_so_and_skips_unattacked_samples():
    f = _synthetic(slope=0.0, transfer_gain=0.0, rng=1)
    f.loc[:9, "attacked"] = False
    f.loc[:9, "score_after"] = 100.0  # never used
    s = th.aggregate(f, "score_after")
    assert s.n_skipped == 10 and s.n_attacked == len(f) - 10
    assert s.by_transfer["mean"].max() < 1
    assert abs(s.spearman.set_index("factor").loc["delta_norm", "rho"]) < 0.2
    with pytest.raises(ValueError, match="unknown measure"):
        th.aggregate(f, "nope")


def test_size_effect_table_and_curves():
    def rows(gap_amun, ft_auc):
        return pd.DataFrame([
            {"method": m, "label": m.upper(), "seed": s, "replica": r, "avg_gap": g, "ft_auc": a}
            for s in (0, 1) for (m, r, g, a) in (("original", 0, 9, 70), ("retrain", 0, 0.5, 50),
                                                   ("retrain", 1, 0.7, 52), ("amun", 0, gap_amun + s, ft_auc))])
    table = th.size_effect({"random:0.1": rows(1, 53), "random:30": rows(3, 60)}, n_train=100)
    assert list(table["fraction"].unique()) == [0.1, 0.3]
    amun = table[table.method == "amun"].set_index("fraction")
    assert amun.loc[0.1, "avg_gap"] == 1.5 and amun.loc[0.1, "ft_gap"] == pytest.approx(53 - 51)  # the replicas' mean
    assert amun.loc[0.3, "ft_gap"] == pytest.approx(9) and amun.loc[0.1, "avg_gap_hw"] > 0
    assert "original" not in set(table.method)
    assert "10%" in th.size_markdown(table)
    fig = size_curves(table)
    assert {t.name for t in fig.data} == {"AMUN", "RETRAIN (noise floor)"}


# ------------------------------------------------------------------------------------------ the runner's view
@pytest.fixture(scope="module")
def audit(tmp_path_factory):
    from engine.config import DataSpec, ModelSpec, RunSpec, TrainConfig

    spec = RunSpec(data=DataSpec("digits", train_size=200), model=ModelSpec("mlp", 32),
                   train=TrainConfig(epochs=30, batch_size=32, lr=0.1, lr_step=20, augment=False), forget="random:0.2")
    store = Store(tmp_path_factory.mktemp("store"))
    req = AuditRequest.build(spec, ["ft", "amun"], [0, 1], k=2, retrains=1)
    runner = Runner(store)
    return store, req, runner.compare(req)


def test_the_view_has_one_row_per_forget_sample_and_the_amun_d_a(audit):
    store, req, cmp = audit
    view = Runner(store).theorem(cmp, "amun")
    f = view.frame
    assert len(f) == 2 * 40 and set(f["seed"]) == {0, 1}
    for seed in (0, 1):
        part = f[f.seed == seed]
        forget = cmp.signals[("amun", seed)].forget
        assert np.array_equal(part["index"], forget)
        adv = view.adversarial[seed]
        assert len(adv) == len(forget) and np.allclose(part["delta_norm"], adv.delta_norm.numpy())
        # the D_A is the one AMUN trained on: same model, rows and settings as its stored set
        assert np.array_equal(part["y_adv"], adv.y_adv.numpy())
        assert np.allclose(part["score_after"], cmp.audits[("amun", seed)].per_sample["forget_rmia_score"])
    # transfer is Retrain's argmax at x_adv (checked against the stored Retrain)
    import torch

    seed0 = f[f.seed == 0]
    with torch.no_grad():
        pred = cmp.models[("retrain", 0)].model.cpu()(view.adversarial[0].x_adv).argmax(1).numpy()
    assert np.array_equal(seed0["transfers"], pred == seed0["y_adv"].to_numpy())
    # stored: a store-only reader gets the same view; FT's view uses AMUN's D_A too
    again = Runner(store, build=False).theorem(cmp, "amun")
    pd.testing.assert_frame_equal(again.frame, f)
    ft = Runner(store).theorem(cmp, "ft")
    assert np.allclose(ft.frame["delta_norm"], f["delta_norm"])
    assert view.aggregate("excess").n_attacked + view.aggregate("excess").n_skipped == len(f)


def test_the_view_refuses_the_reference_models(audit):
    store, _, cmp = audit
    with pytest.raises(UnlearnError, match="not an unlearned model"):
        Runner(store).theorem(cmp, "retrain")


def test_the_scatter_and_groups_figures(audit):
    store, _, cmp = audit
    view = Runner(store).theorem(cmp, "amun")
    fig = theorem_scatter(view.frame, "score_after", selected=3)
    pos = np.concatenate([np.asarray(t.customdata)[:, 0] for t in fig.data if t.customdata is not None])
    assert sorted(pos.astype(int).tolist()) == list(range(len(view.frame)))  # every sample once, by its row
    assert fig.data[-1].name == "selected"
    s = view.aggregate("score_after")
    g = theorem_groups(s.by_transfer, s.by_distance, "score_after")
    assert len(g.data) == 2


def test_forget_sizes_runs_one_audit_per_size(audit):
    store, req, _ = audit
    from dataclasses import replace

    small = replace(req, seeds=(0,), methods=tuple(m for m in req.methods if m.key == "ft"))
    out = Runner(store).forget_sizes(small, ["random:0.1", "random:0.3"])
    assert list(out) == ["random:0.1", "random:0.3"]
    assert len(out["random:0.3"].signals[("ft", 0)].forget) == 60
    table = th.size_effect({k: c.rows for k, c in out.items()}, 200)
    assert table["fraction"].tolist()[0] == pytest.approx(0.1)
    with pytest.raises(NotStored):
        Runner(store, build=False).forget_sizes(small, ["random:0.25"])


def test_cli_theorem_prints_the_aggregate_and_writes_rows(tmp_path, capsys):
    out = tmp_path / "out"
    args = ["theorem", "--store", str(tmp_path / "s"), "--methods", "amun", "--seeds", "0", "--k", "2",
            "--retrains", "1", "--set", "data.train_size=200", "--set", "train.epochs=5", "--width", "32",
            "--measure", "excess", "--out", str(out)]
    assert main(args) == 0
    text = capsys.readouterr().out
    assert "How forgotten: score after − Retrain's" in text and "Spearman" in text
    frame = pd.read_csv(out / "per_sample.csv")
    assert len(frame) == 80 and {"delta_norm", "transfers", "excess"} <= set(frame.columns)
    assert main([*args[:-2], "--method", "ft", "--out", str(out)]) == 2  # not in --methods


def test_report_section_and_cli_report_with_the_theorem(audit, tmp_path):
    from engine import report
    from engine.report_amun import theorem_section

    store, req, cmp = audit
    view = Runner(store).theorem(cmp, "amun")
    sizes = th.size_effect({"random:0.2": cmp.rows}, 200)
    sec = theorem_section(view, sizes)
    assert [f.name for f in sec.figures] == ["theorem-scatter-score_after", "theorem-groups-score_after",
                                             "theorem-scatter-excess", "theorem-groups-excess", "forget-sizes"]
    assert "theorem/amun_per_sample.csv" in sec.files and "theorem/forget_sizes.csv" in sec.files
    html = report.html_report(cmp, [], sections=[sec])
    assert 'id="theorem-scatter-excess"' in html and "Spearman" in html
    # the CLI: a section the store lacks is one clear error; stored, it lands in report.html
    base = ["report", "--store", str(store.root), "--methods", "ft,amun", "--seeds", "0,1", "--k", "2", "--retrains",
            "1", "--set", "data.train_size=200", "--set", "train.epochs=30", "--set", "train.batch_size=32",
            "--set", "train.lr_step=20", "--width", "32", "--forget", "random:0.2", "--out", str(tmp_path / "r")]
    assert main([*base, "--continual", "--requests", "2", "--size", "5"]) == 2
    assert main([*base, "--theorem", "amun"]) == 0
    assert 'id="theorem"' in (tmp_path / "r" / "report.html").read_text()
