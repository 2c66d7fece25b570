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
    assert [t.marker.color for t in fig.data[:2]] == [figures.GROUP_COLORS[g] for g in ("remain", "test")]
    assert fig.data[2].marker.line.color == figures.GROUP_COLORS["forget"]  # forget: an outline (issue 20)
    assert all(t.histnorm == "probability density" for t in fig.data)
    lo, hi = fig.data[0].xbins.start, fig.data[0].xbins.end
    assert all(t.xbins.start == lo and t.xbins.end == hi for t in fig.data)
    for t, (m, g) in zip(fig.data, [(m, g) for m in data for g in ("remain", "test", "forget")]):
        assert len(t.x) == len(data[m][g]["phi"])
        assert lo <= min(t.x) and max(t.x) <= hi
    assert max(fig.data[2].x) < 1e3 and abs(max(fig.data[2].x) - hi) < 1e-6  # clipped at the 99.5 % quantile
    np.testing.assert_allclose(fig.data[3].x, data["retrain"]["remain"]["phi"])  # in-range values untouched
    assert fig.layout.xaxis.title.text == fig.layout.xaxis2.title.text
    assert fig.layout.xaxis.title.text.startswith(figures.SIGNAL_LABELS["phi"] + " — range: 0.5–99.5 % quantiles")
    assert fig.layout.yaxis.title.text == "density"
    assert fig.layout.xaxis2.matches == "x"  # shared x: the panels line up


def _axes(fig, letter: str) -> list:
    return [fig.layout[k] for k in fig.layout if k.startswith(f"{letter}axis")]


def test_confidence_histograms_all_models_in_one_grid_with_shared_unclipped_axes():
    """Issue 12 (views): every model of an audit in one figure whose panels share x (the same bins and range);
    no panel has a fixed y-range that would clip a tall bar (each density axis scales to its own bars)."""
    keys = ["original", "retrain", "ft", "rl", "ga", "bs", "l1_sparse", "salun", "amun", "amun_salun", "sg_unlearn"]
    data = {k: _groups(0.3 * i) for i, k in enumerate(keys)}
    data["ga"]["forget"]["phi"] = np.full(100, 3.0)  # one tall spike: a density far above the others
    labels = {k: k.upper() for k in keys}
    fig = figures.confidence_histograms(data, signal="phi", labels=labels)
    assert len(fig.data) == 3 * len(keys)
    assert len({t.xaxis for t in fig.data}) == len(keys)  # one panel per model
    xs, ys = _axes(fig, "x"), _axes(fig, "y")
    assert len(xs) == len(ys) == 12  # 4 rows x 3 columns (one left empty)
    # one x-axis is the anchor, every other matches it
    assert sum(a.matches is None for a in xs) == 1 and len({a.matches for a in xs} - {None}) == 1
    assert all(a.range is None and a.autorange in (None, True) for a in ys), [a.range for a in ys]
    assert {t.xbins.start for t in fig.data} == {fig.data[0].xbins.start}
    assert {t.xbins.size for t in fig.data} == {fig.data[0].xbins.size}
    titles = _titles(fig)
    assert all(labels[k] in t and figures.method_color(k) in t for k, t in zip(keys, titles))  # swatch + label


def test_confidence_histograms_bin_losses_on_a_log_scale():
    """Issue 12 (views): losses span orders of magnitude (1e-6 … 5); on the loss scale they must spread over
    many bins, not all fall into the first one."""
    rng = np.random.default_rng(1)
    groups = {g: {"loss": 10 ** rng.uniform(-6, 0.7, n)} for g, n in (("remain", 300), ("test", 200), ("forget", 60))}
    fig = figures.confidence_histograms({"original": groups}, signal="loss")
    for t in fig.data:
        edges = np.arange(t.xbins.start, t.xbins.end + t.xbins.size, t.xbins.size)
        counts, _ = np.histogram(np.asarray(t.x), bins=edges)
        assert (counts > 0).sum() >= 10, (t.name, counts)
        assert counts.max() <= 0.25 * len(t.x), (t.name, counts)
    assert fig.layout.xaxis.title.text.startswith(figures.SIGNAL_LABELS["loss"])
    assert "log" in figures.SIGNAL_LABELS["loss"]
    assert "1e-05" in fig.layout.xaxis.ticktext and "1" in fig.layout.xaxis.ticktext  # ticks read as losses


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


def test_roc_curves_log_drops_zero_fpr_and_zero_tpr():
    fig = figures.roc_curves(_curves(), log=True)
    assert fig.layout.xaxis.type == fig.layout.yaxis.type == "log"
    assert tuple(fig.layout.xaxis.range) == tuple(fig.layout.yaxis.range) == (-3, 0)  # 0.1 % … 100 %
    np.testing.assert_array_equal(fig.data[0].x, [0.5, 1])  # FPR 0 has no place on a log axis
    np.testing.assert_array_equal(fig.data[0].y, [0.9, 1])
    np.testing.assert_array_equal(fig.data[1].x, [0.0005, 0.25, 1])
    np.testing.assert_array_equal(fig.data[1].y, [1e-4, 0.3, 1])  # below the floor: drawn as is, cut by the axis
    chance = fig.data[-1]
    assert chance.name == "chance" and min(chance.x) == 1e-3 and max(chance.x) == 1
    np.testing.assert_array_equal(chance.x, chance.y)


def test_roc_curves_log_never_pins_zero_tpr_to_the_axis_floor():
    """Issue 12 (views): a curve whose TPR stays 0 up to some FPR drew flat and vertical segments at 0.001 (the
    zeros pinned to the floor); those points are left out instead."""
    curves = {"retrain": ("Retrain", _attack([0, 0.002, 0.01, 0.01, 0.5, 1], [0, 0, 0, 1 / 60, 0.4, 1], 0.5))}
    fig = figures.roc_curves(curves, log=True)
    np.testing.assert_array_equal(fig.data[0].x, [0.01, 0.5, 1])
    np.testing.assert_allclose(fig.data[0].y, [1 / 60, 0.4, 1])
    assert (np.asarray(fig.data[0].y) > 1e-3).all()


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
    assert fig.layout.xaxis.type == "linear"


def test_forget_shift_on_losses_uses_log_axes():
    before = _arr([1e-5, 0.2, 3.0, 0.0])
    fig = figures.forget_shift(before, {"ga": ("GA", _arr([1e-3, 0.5, 2.0, 1.0]))}, np.zeros(4), "loss", log=True)
    assert fig.layout.xaxis.type == fig.layout.yaxis.type == "log"
    np.testing.assert_array_equal(fig.data[-1].x, [1e-5, 3.0])  # the diagonal over the positive losses


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
    assert fig.layout.title.text  # issue 12: the CDF has a title
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
    assert _titles(fig) == [figures.titled(k, v[0]) for k, v in _eps_panels().items()]
    assert [a.font.color for a in fig.layout.annotations] == [figures.TEXT_COLOR] * 3
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
    assert _titles(fig)[:2] == [figures.titled("original", "Original"), figures.titled("retrain", "Retrain")]
    assert [a.font.color for a in fig.layout.annotations[:2]] == [figures.TEXT_COLOR] * 2
    assert [(t.xaxis, t.name) for t in fig.data] == [("x", "clean"), ("x", "adversarial"),
                                                     ("x2", "clean"), ("x2", "adversarial")]
    assert [t.showlegend for t in fig.data] == [True, True, False, False]
    for t, p in zip(fig.data, [models[m][i] for m in models for i in (1, 2)]):
        assert list(t.x) == ["cat", "dog", "owl"]
        np.testing.assert_array_equal(t.y, p)
    clean, adv = fig.data[2], fig.data[3]
    assert clean.marker.color == RETRAIN and not clean.marker.pattern.shape
    assert adv.marker.color == "white" and adv.marker.pattern.shape == "/" and adv.marker.pattern.fgcolor == RETRAIN
    # the true class: a band behind its bars, wider than them, labelled above the panel (issue 12: the dotted
    # line it replaces sat between the two bars, hidden under them)
    assert [(s.type, s.x0, s.x1, s.xref, s.layer) for s in fig.layout.shapes] == [
        ("rect", 0.5, 1.5, "x", "below"), ("rect", 0.5, 1.5, "x2", "below")]
    labels = fig.layout.annotations[2:]
    assert [a.text for a in labels] == ["true class ▾"] * 2 and [a.yanchor for a in labels] == ["bottom"] * 2
    assert [(a.xref, a.yref, a.y) for a in labels] == [("x", "y domain", 1.0), ("x2", "y2 domain", 1.0)]  # above
    assert list(fig.layout.xaxis.ticktext) == ["cat", "<b>dog</b>", "owl"]
    assert fig.layout.xaxis.type == fig.layout.xaxis2.type == "category"
    assert fig.layout.xaxis.title.text == "class" and fig.layout.yaxis.title.text == "p(class | x)"
    assert tuple(fig.layout.yaxis.range) == (0, 1.02) and fig.layout.barmode == "group"
    assert not figures.probability_bars(models, ["cat", "dog", "owl"]).layout.shapes  # no true class, no band
    assert figures.probability_bars(models, ["cat", "dog", "owl"], y=0).layout.shapes[0].x0 == -0.5  # class 0 too


# ------------------------------------------------------------------------------------------ colours
#: Machado et al. (2009) colour-vision-deficiency matrices (severity 1), on linear RGB
_CVD = {"normal": np.eye(3),
        "protan": np.array([[0.152286, 1.052583, -0.204868], [0.114503, 0.786281, 0.099216],
                            [-0.003882, -0.048116, 1.051998]]),
        "deutan": np.array([[0.367322, 0.860646, -0.227968], [0.280085, 0.672501, 0.047413],
                            [-0.011820, 0.042940, 0.968881]]),
        "tritan": np.array([[1.255528, -0.076749, -0.178779], [-0.078411, 0.930809, 0.147602],
                            [0.004733, 0.691367, 0.303900]])}


def _linear(hex_color: str) -> np.ndarray:
    c = np.array([int(hex_color[i:i + 2], 16) / 255 for i in (1, 3, 5)])
    return np.where(c <= 0.04045, c / 12.92, ((c + 0.055) / 1.055) ** 2.4)


def _lab(rgb: np.ndarray) -> np.ndarray:
    xyz = np.array([[0.4124, 0.3576, 0.1805], [0.2126, 0.7152, 0.0722], [0.0193, 0.1192, 0.9505]]) @ np.clip(rgb, 0, 1)
    xyz = xyz / np.array([0.95047, 1.0, 1.08883])
    f = np.where(xyz > 0.008856, np.cbrt(xyz), 7.787 * xyz + 16 / 116)
    return np.array([116 * f[1] - 16, 500 * (f[0] - f[1]), 200 * (f[1] - f[2])])


def _contrast(hex_color: str, background: str = "#FFFFFF") -> float:
    def lum(c: str) -> float:
        return float(np.array([0.2126, 0.7152, 0.0722]) @ _linear(c))

    a, b = sorted([lum(hex_color), lum(background)], reverse=True)
    return (a + 0.05) / (b + 0.05)


def test_group_colours_stay_apart_for_colour_blind_viewers():
    """Issue 12 (views): test (orange) and forget (red) were hard to tell apart; every pair of the three groups
    must stay ≥ 40 ΔE*ab apart in normal vision and simulated protan-, deuter- and tritanopia."""
    for a, b in (("remain", "test"), ("remain", "forget"), ("test", "forget")):
        for vision, m in _CVD.items():
            d = np.linalg.norm(_lab(m @ _linear(figures.GROUP_COLORS[a])) - _lab(m @ _linear(figures.GROUP_COLORS[b])))
            assert d >= 40, (a, b, vision, round(float(d), 1))
    assert set(figures.GROUP_COLOR_NAMES) == set(figures.GROUP_COLORS)


def test_method_colours_visible_and_titles_readable_on_white():
    """Issue 12 (views): SG-Unlearn's pale colour made its panel title nearly invisible. Lines need ≥ 2:1
    against the white background; titles are dark text (≥ 4.5:1) with the method's colour as a swatch."""
    from engine.unlearning import METHODS

    for key in ["original", *METHODS]:
        assert _contrast(figures.method_color(key)) >= 2.0, (key, figures.method_color(key))
    assert _contrast(figures.TEXT_COLOR) >= 4.5
    fig = figures.eps_to_flip({"sg_unlearn": ("SG-Unlearn", {"forget": _arr([0.1, 0.2])})})
    assert fig.layout.annotations[0].font.color == figures.TEXT_COLOR
    assert "SG-Unlearn" in fig.layout.annotations[0].text


def test_interval_bars_stop_at_the_smallest_possible_value():
    """Avg Gap, Δφ and seconds are ≥ 0: a 1.0 ± 3.0 interval is drawn from 0 to 4, not through negative values."""
    from engine.figures import bars

    fig = bars({"a": ("A", 1.0, 3.0), "b": ("B", 5.0, 2.0), "c": ("C", 2.0, float("nan"))}, "t", "y")
    err = fig.data[0].error_y
    assert list(err.array) == [3.0, 2.0, 0.0] and list(err.arrayminus) == [1.0, 2.0, 0.0]
    free = bars({"a": ("A", 1.0, 3.0)}, "t", "y", lowest=None).data[0].error_y
    assert list(free.arrayminus) == [3.0]


def test_confidence_histograms_say_what_they_clip_and_draw_forget_as_an_outline():
    """Issue 20, defect 6: the 0.5–99.5 % quantile range was applied silently, and the forget histogram, filled dark
    red over orange, blended to brown."""
    rng = np.random.default_rng(0)
    groups = {"m": {g: {"phi": rng.normal(size=400)} for g in ("remain", "test", "forget")}}
    groups["m"]["forget"]["phi"][:3] = 1e6  # three extreme values
    fig = figures.confidence_histograms(groups, signal="phi")
    title = fig.layout.xaxis.title.text
    assert "0.5–99.5 % quantiles" in title and "values beyond it counted in the edge bins" in title
    n_out = int(title.split(" — range: 0.5–99.5 % quantiles; ")[1].split(" of ")[0])
    assert n_out >= 3
    forget = next(t for t in fig.data if t.name.startswith("forget"))
    assert forget.marker.color == "rgba(0,0,0,0)" and forget.marker.line.color == figures.GROUP_COLORS["forget"]
    assert all(t.marker.color == figures.GROUP_COLORS[t.name.split(" ")[0]] for t in fig.data
               if not t.name.startswith("forget"))
    p_y = figures.confidence_histograms({"m": {g: {"p_y": rng.uniform(size=50)} for g in ("remain", "test",
                                                                                        "forget")}}, signal="p_y")
    assert "quantiles" not in p_y.layout.xaxis.title.text  # p(y|x) is drawn over [0, 1]: nothing clipped


def test_class_figures_fit_long_class_names():
    """Issue 20, defect 8: Fashion-MNIST's tick labels were cut ("T-shirt/", "Ankle b"): plotly's automargin is off by
    default, so long labels ran past a fixed margin."""
    import pandas as pd

    names = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"]
    table = pd.DataFrame({"original": np.linspace(50, 100, 10), "retrain": np.linspace(40, 90, 10)})
    m = np.full((10, 10), 10.0)
    p = np.full(10, 0.1)
    for fig in (figures.class_accuracy_bars(table, {"original": "Original", "retrain": "Retrain"}, names, [9]),
                figures.confusion_heatmaps(m, m, names, ("A", "B")),
                figures.probability_bars({"original": ("Original", p, p)}, names, 0)):
        axes = [a for k, a in fig.layout.to_plotly_json().items() if k.startswith(("xaxis", "yaxis"))]
        assert axes and all(a.get("automargin") is True for a in axes)
