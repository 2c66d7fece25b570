"""What reaches the plotly traces of every figure in engine/figures.py (hand-made inputs, no training)."""

import numpy as np

from engine import figures


def _game() -> dict[str, np.ndarray]:
    """A game log as SG-Unlearn stores it (``ctx.extras["game"]``), three rounds."""
    return {"round": np.array([1, 2, 3]), "auditor_acc": np.array([0.9, 0.7, 0.55]),
            "utility": np.array([0.4, 0.25, 0.1]), "ft_loss": np.array([1.5, 1.2, 1.1]),
            "seconds": np.array([2.0, 2.1, 2.2]), "auditor_seconds": np.array([0.5, 0.6, 0.7])}


def test_game_plot_draws_auditor_accuracy_and_utility():
    game = _game()
    fig = figures.game_plot(game)
    panels = {t.xaxis: t for t in fig.data}
    assert set(panels) == {"x", "x2"}, [(t.name, t.xaxis) for t in fig.data]
    np.testing.assert_array_equal(panels["x"].y, game["auditor_acc"])
    np.testing.assert_array_equal(panels["x2"].y, game["utility"])
    for t in fig.data:
        np.testing.assert_array_equal(t.x, game["round"])
    assert [t.name for t in fig.data] == ["auditor held-out accuracy", "auditor utility"]
    assert [a.text for a in fig.layout.annotations] == ["auditor held-out accuracy", "auditor utility"]
    assert fig.layout.xaxis.title.text == fig.layout.xaxis2.title.text == "round"
    titles = [fig.layout.yaxis.title.text, fig.layout.yaxis2.title.text]
    assert all(titles) and not set(titles) & set(game), titles  # readable, not column names


def test_game_plot_never_draws_another_series_in_a_missing_panel():
    game = {k: v for k, v in _game().items() if k not in ("round", "utility")}  # ft_loss must not stand in
    fig = figures.game_plot(game)
    assert len(fig.data) == 1 and fig.data[0].xaxis == "x"
    np.testing.assert_array_equal(fig.data[0].x, [1, 2, 3])  # rounds counted from 1 without a "round" key
    assert any("not in this game log" in a.text and a.xref == "x2 domain" for a in fig.layout.annotations)


# ------------------------------------------------------------------------------------------ helpers
RETRAIN = figures.METHOD_COLORS["retrain"]


def _arr(v) -> np.ndarray:
    return np.asarray(v, dtype=float)


def _titles(fig) -> list[str]:
    return [a.text for a in fig.layout.annotations]


def test_method_colors_are_fixed_and_distinct():
    from engine.unlearning import METHODS

    assert figures.method_color("retrain") == RETRAIN == "#2CA02C"
    assert figures.method_color("original") == figures.METHOD_COLORS["original"]
    colors = [figures.method_color(k) for k in ["original", *METHODS]]
    assert len(set(colors)) == len(colors), colors  # one colour per method, none shared with the reference
    assert figures.method_color("amun") == figures.method_color("amun")  # the same on every figure
    assert figures.method_color("no-such-method") == "#333333"


# ------------------------------------------------------------------------------------------ confidence
def _groups(shift: float) -> dict[str, dict[str, np.ndarray]]:
    rng = np.random.default_rng(0)
    return {"remain": {"phi": rng.normal(4 + shift, 1, 300), "p_y": rng.uniform(0.5, 1, 300)},
            "test": {"phi": rng.normal(2, 1, 200), "p_y": rng.uniform(0.2, 1, 200)},
            "forget": {"phi": rng.normal(3 + shift, 1, 100), "p_y": rng.uniform(0.4, 1, 100)}}


def test_confidence_histograms_one_panel_per_model_one_trace_per_group():
    data = {"original": _groups(1.0), "retrain": _groups(0.0)}
    data["original"]["forget"]["phi"][0] = 1e6  # one extreme value in 1,200 is clipped into the shared range
    fig = figures.confidence_histograms(data, signal="phi")
    assert _titles(fig) == [figures.MODEL_TITLES["original"], figures.MODEL_TITLES["retrain"]]
    assert len(fig.data) == 6
    assert [t.xaxis for t in fig.data] == ["x"] * 3 + ["x2"] * 3
    assert [t.legendgroup for t in fig.data] == ["remain", "test", "forget"] * 2
    assert [t.name for t in fig.data[:3]] == ["remain (n=300)", "test (n=200)", "forget (n=100)"]
    assert [t.showlegend for t in fig.data] == [True] * 3 + [False] * 3  # one legend entry per group
    assert [t.marker.color for t in fig.data[:3]] == [figures.GROUP_COLORS[g] for g in ("remain", "test", "forget")]
    assert all(t.histnorm == "probability density" for t in fig.data)
    lo, hi = fig.data[0].xbins.start, fig.data[0].xbins.end
    assert all(t.xbins.start == lo and t.xbins.end == hi for t in fig.data)
    for t, (m, g) in zip(fig.data, [(m, g) for m in data for g in ("remain", "test", "forget")]):
        assert len(t.x) == len(data[m][g]["phi"])
        assert lo <= min(t.x) and max(t.x) <= hi
    assert max(fig.data[2].x) < 1e3 and abs(max(fig.data[2].x) - hi) < 1e-6  # clipped at the 99.5 % quantile
    np.testing.assert_allclose(fig.data[3].x, data["retrain"]["remain"]["phi"])  # in-range values untouched
    assert fig.layout.xaxis.title.text == fig.layout.xaxis2.title.text == figures.SIGNAL_LABELS["phi"]
    assert fig.layout.yaxis.title.text == "density" and fig.layout.yaxis2.matches == "y"  # shared y


def test_confidence_histograms_p_y_spans_zero_to_one_and_keeps_unknown_titles():
    fig = figures.confidence_histograms({"AMUN": _groups(0.0)}, signal="p_y", groups=("forget", "test"), bins=10)
    assert _titles(fig) == ["AMUN"] and [t.legendgroup for t in fig.data] == ["forget", "test"]
    assert fig.data[0].xbins.start == 0.0 and abs(fig.data[0].xbins.size - 0.1) < 1e-12
    assert fig.layout.xaxis.title.text == figures.SIGNAL_LABELS["p_y"]


# ------------------------------------------------------------------------------------------ ROC
def _attack(fpr, tpr, auc):
    from engine.audit.mia import AttackResult

    return AttackResult("loss", auc, 0.0, 0.0, _arr(fpr), _arr(tpr), np.zeros(1), np.zeros(1))


def _curves():
    return {"original": ("Original", _attack([0, 0, 0.5, 1], [0, 0.6, 0.9, 1], 0.874)),
            "retrain": ("Retrain", _attack([0, 0.0005, 0.25, 1], [0, 0.0001, 0.3, 1], 0.5)),
            "amun": ("AMUN", _attack([0, 0.1, 1], [0, 0.2, 1], 0.55))}


def test_roc_curves_linear():
    fig = figures.roc_curves(_curves(), title="ROC (linear)")
    assert [t.name for t in fig.data] == ["Original (AUC 87.4)", "Retrain (AUC 50.0)", "AMUN (AUC 55.0)", "chance"]
    np.testing.assert_array_equal(fig.data[0].x, [0, 0, 0.5, 1])
    np.testing.assert_array_equal(fig.data[0].y, [0, 0.6, 0.9, 1])
    assert [t.line.color for t in fig.data[:3]] == [figures.METHOD_COLORS["original"], RETRAIN,
                                                     figures.method_color("amun")]
    assert fig.data[1].line.width > fig.data[2].line.width  # Retrain drawn as the reference
    assert fig.data[0].line.dash == "dash" and fig.data[2].line.dash == "solid"
    np.testing.assert_array_equal(fig.data[-1].x, [0, 1])
    np.testing.assert_array_equal(fig.data[-1].y, [0, 1])
    assert fig.layout.title.text == "ROC (linear)"
    assert fig.layout.xaxis.title.text == "false positive rate" and fig.layout.yaxis.title.text == "true positive rate"
    assert fig.layout.xaxis.type != "log" and tuple(fig.layout.xaxis.range) == (0, 1)


def test_roc_curves_log_drops_zero_fpr_and_floors_tpr():
    fig = figures.roc_curves(_curves(), log=True)
    assert fig.layout.xaxis.type == fig.layout.yaxis.type == "log"
    assert tuple(fig.layout.xaxis.range) == tuple(fig.layout.yaxis.range) == (-3, 0)  # 0.1 % … 100 %
    np.testing.assert_array_equal(fig.data[0].x, [0.5, 1])  # FPR 0 has no place on a log axis
    np.testing.assert_array_equal(fig.data[0].y, [0.9, 1])
    np.testing.assert_array_equal(fig.data[1].x, [0.0005, 0.25, 1])
    np.testing.assert_array_equal(fig.data[1].y, [1e-3, 0.3, 1])  # a TPR below the axis floor sits on it
    chance = fig.data[-1]
    assert chance.name == "chance" and min(chance.x) == 1e-3 and max(chance.x) == 1
    np.testing.assert_array_equal(chance.x, chance.y)


# ------------------------------------------------------------------------------------------ forget shift
def test_forget_shift_plots_each_model_against_the_original():
    before = _arr([1.0, 3.0, np.nan, -2.0])
    after = {"retrain": ("Retrain", _arr([0.5, 1.0, 0.0, -3.0])), "ga": ("GA", _arr([0.0, 2.0, 1.0, -1.0]))}
    labels = np.array([0, 1, 1, 2])
    fig = figures.forget_shift(before, after, labels, signal_label="φ")
    assert [t.name for t in fig.data] == ["Retrain", "GA", "unchanged"]
    for t, (_, values) in zip(fig.data, after.values()):
        assert t.mode == "markers"
        np.testing.assert_array_equal(t.x, before)
        np.testing.assert_array_equal(t.y, values)
        np.testing.assert_array_equal(t.customdata, labels)
    assert [t.marker.color for t in fig.data[:2]] == [RETRAIN, figures.method_color("ga")]
    np.testing.assert_array_equal(fig.data[-1].x, [-2.0, 3.0])  # the diagonal spans the finite range
    np.testing.assert_array_equal(fig.data[-1].y, [-2.0, 3.0])
    assert fig.layout.xaxis.title.text == "φ under the original model" and fig.layout.yaxis.title.text == "φ after"


# ------------------------------------------------------------------------------------------ loss CDFs
def test_loss_cdfs_are_step_cdfs_of_log_loss():
    losses = {"retrain": ("Retrain", _arr([1.0, 0.01, 0.1])), "amun": ("AMUN", _arr([10.0, 100.0]))}
    test = _arr([0.001, 1.0, 0.1, 10.0])
    fig = figures.loss_cdfs(losses, test)
    assert [t.name for t in fig.data] == ["Retrain", "AMUN", "test (original)"]
    np.testing.assert_allclose(fig.data[0].x, [-2, -1, 0], atol=1e-6)  # sorted, log10
    np.testing.assert_allclose(fig.data[0].y, [1 / 3, 2 / 3, 1])
    np.testing.assert_allclose(fig.data[1].x, [1, 2], atol=1e-6)
    np.testing.assert_allclose(fig.data[1].y, [0.5, 1])
    np.testing.assert_allclose(fig.data[2].x, [-3, -1, 0, 1], atol=1e-5)
    np.testing.assert_allclose(fig.data[2].y, [0.25, 0.5, 0.75, 1])
    assert all(t.line.shape == "hv" for t in fig.data)
    assert [t.line.color for t in fig.data] == [RETRAIN, figures.method_color("amun"), figures.GROUP_COLORS["test"]]
    assert fig.data[2].line.dash == "dot"
    assert fig.layout.xaxis.title.text.startswith("log10")
    assert fig.layout.yaxis.title.text == "fraction of samples ≤ x"
    assert np.isfinite(figures.loss_cdfs({"ft": ("FT", _arr([0.0, 1.0]))}).data[0].x).all()  # a zero loss
    assert len(figures.loss_cdfs(losses).data) == 2  # no test curve without test losses


# ------------------------------------------------------------------------------------------ bars
def test_bars_one_bar_per_method_with_error_bars():
    values = {"original": ("Original", 3.0, 0.5), "retrain": ("Retrain", 10.0, 1.0), "amun": ("AMUN", 1.0, 0.0)}
    fig = figures.bars(values, "Wall time (s)", "seconds")
    assert len(fig.data) == 1
    bar = fig.data[0]
    assert list(bar.x) == ["Original", "Retrain", "AMUN"]
    np.testing.assert_array_equal(bar.y, [3.0, 10.0, 1.0])
    np.testing.assert_array_equal(bar.error_y.array, [0.5, 1.0, 0.0])
    assert list(bar.marker.color) == [figures.METHOD_COLORS["original"], RETRAIN, figures.method_color("amun")]
    assert fig.layout.title.text == "Wall time (s)" and fig.layout.yaxis.title.text == "seconds"


# ------------------------------------------------------------------------------------------ adversarial
def _eps_panels():
    return {"original": ("Original", {"forget": _arr([0.7, 0.5, np.nan]), "remain": _arr([0.6, 0.9]),
                                      "test": _arr([0.0, 0.3])}),
            "retrain": ("Retrain", {"forget": _arr([0.2, 0.4]), "remain": _arr([0.6]), "test": _arr([np.nan])}),
            "amun": ("AMUN", {"forget": _arr([2.0]), "remain": _arr([0.1]), "test": _arr([0.3])})}


def test_eps_to_flip_cdfs_per_group_and_panel():
    fig = figures.eps_to_flip(_eps_panels())
    assert _titles(fig) == ["Original", "Retrain", "AMUN"]
    assert [a.font.color for a in fig.layout.annotations] == [figures.METHOD_COLORS["original"], RETRAIN,
                                                               figures.method_color("amun")]
    # Retrain's test group holds no finite value: no trace for it
    assert [(t.xaxis, t.name) for t in fig.data] == [
        ("x", "forget"), ("x", "remain"), ("x", "test"), ("x2", "forget"), ("x2", "remain"),
        ("x3", "forget"), ("x3", "remain"), ("x3", "test")]
    assert [t.legendgroup for t in fig.data] == [t.name for t in fig.data]
    assert [t.showlegend for t in fig.data] == [True] * 3 + [False] * 5
    assert [t.line.color for t in fig.data[:3]] == [figures.GROUP_COLORS[g] for g in ("forget", "remain", "test")]
    assert fig.data[0].line.width > fig.data[1].line.width  # forget stands out
    np.testing.assert_array_equal(fig.data[0].x, [0.5, 0.7])  # sorted; the never-flipped sample left out
    np.testing.assert_array_equal(fig.data[0].y, [0.5, 1.0])
    np.testing.assert_array_equal(fig.data[2].x, [0.0, 0.3])  # already wrong: distance 0
    np.testing.assert_array_equal(fig.data[3].x, [0.2, 0.4])
    assert "n=2" in fig.data[0].hovertemplate and "median 0.600" in fig.data[0].hovertemplate
    assert all(tuple(getattr(fig.layout, f"xaxis{i}").range) == (0, 2.0 * 1.02) for i in ("", 2, 3))  # shared
    assert [getattr(fig.layout, f"xaxis{i}").title.text for i in ("", 2, 3)] == ["‖δ‖₂"] * 3
    assert fig.layout.yaxis.title.text == "fraction of samples ≤ x" and tuple(fig.layout.yaxis.range) == (0, 1.02)
    assert fig.layout.title.text == figures.EPS_LABELS["delta_norm"]


def test_eps_to_flip_radius_axis_and_empty_panels():
    fig = figures.eps_to_flip(_eps_panels(), value="eps", groups=("forget",))
    assert [t.name for t in fig.data] == ["forget"] * 3
    assert fig.layout.xaxis.title.text == "ε" and fig.layout.title.text == figures.EPS_LABELS["eps"]
    empty = figures.eps_to_flip({"ft": ("FT", {"forget": _arr([np.nan]), "test": _arr([])})})
    assert len(empty.data) == 0 and tuple(empty.layout.xaxis.range) == (0, 1)


def test_probability_bars_clean_and_adversarial_per_model():
    models = {"original": ("Original", _arr([0.2, 0.5, 0.3]), _arr([0.1, 0.1, 0.8])),
              "retrain": ("Retrain", _arr([0.6, 0.3, 0.1]), _arr([0.0, 1.0, 0.0]))}
    fig = figures.probability_bars(models, ["cat", "dog", "owl"], y=1)
    assert _titles(fig) == ["Original", "Retrain"]
    assert [a.font.color for a in fig.layout.annotations] == [figures.METHOD_COLORS["original"], RETRAIN]
    assert [(t.xaxis, t.name) for t in fig.data] == [("x", "clean"), ("x", "adversarial"),
                                                     ("x2", "clean"), ("x2", "adversarial")]
    assert [t.showlegend for t in fig.data] == [True, True, False, False]
    for t, p in zip(fig.data, [models[m][i] for m in models for i in (1, 2)]):
        assert list(t.x) == ["cat", "dog", "owl"]
        np.testing.assert_array_equal(t.y, p)
    clean, adv = fig.data[2], fig.data[3]
    assert clean.marker.color == RETRAIN and not clean.marker.pattern.shape
    assert adv.marker.color == "white" and adv.marker.pattern.shape == "/" and adv.marker.pattern.fgcolor == RETRAIN
    assert [(s.x0, s.xref) for s in fig.layout.shapes] == [("dog", "x"), ("dog", "x2")]  # the true class
    assert fig.layout.xaxis.type == fig.layout.xaxis2.type == "category"
    assert fig.layout.xaxis.title.text == "class" and fig.layout.yaxis.title.text == "p(class | x)"
    assert tuple(fig.layout.yaxis.range) == (0, 1.02) and fig.layout.barmode == "group"
    assert not figures.probability_bars(models, ["cat", "dog", "owl"]).layout.shapes  # no true class, no line
    assert figures.probability_bars(models, ["cat", "dog", "owl"], y=0).layout.shapes[0].x0 == "cat"  # class 0 too
