"""Results → plotly figures (no Streamlit), shared by the pages and the HTML report.

Colours: one per data group (remain / test / forget) and one per method, the same on every figure.
"""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

#: Data groups, colour-blind safe (Okabe–Ito blue and orange, Tol's dark red): every pair stays apart under
#: protanopia, deuteranopia and tritanopia (tests/test_figures.py checks the simulated colour distances).
GROUP_COLORS = {"remain": "#0072B2", "test": "#E69F00", "forget": "#661100", "val": "#009E73"}
#: the colours' names, for captions ("the forget histogram (dark red) …")
GROUP_COLOR_NAMES = {"remain": "blue", "test": "orange", "forget": "dark red", "val": "green"}
METHOD_COLORS = {"original": "#7F7F7F", "retrain": "#2CA02C"}
#: text on figures (titles): dark, whatever the method's colour (a pale method colour is shown as a swatch)
TEXT_COLOR = "#31333F"

SIGNAL_LABELS = {
    "p_y": "confidence p(y|x)",
    "phi": "φ = log(p_y / (1 − p_y))",
    "loss": "cross-entropy loss (log scale)",
}
MODEL_TITLES = {"original": "Original (trained on all of train)", "retrain": "Retrain (never saw the forget set)"}


def titled(key: str, label: str) -> str:
    """A panel title: a swatch in the method's colour, then the label in dark text (readable for any colour)."""
    return f"<span style='color:{method_color(key)}'>■</span> {label}"


def _loss_ticks(lo: float, hi: float) -> tuple[list[float], list[str]]:
    """Tick positions (log10 values) and labels (the losses) for an axis of log10 losses from lo to hi."""
    exps = list(range(int(np.floor(lo)), int(np.ceil(hi)) + 1))
    if len(exps) > 8:  # at most ~8 labels: every other decade
        exps = exps[::2]
    return [float(e) for e in exps], [f"{10.0 ** e:g}" for e in exps]


def confidence_histograms(
    groups_by_model: dict[str, dict[str, dict[str, np.ndarray]]],
    signal: str = "phi",
    groups: tuple[str, ...] = ("remain", "test", "forget"),
    bins: int = 30,
    cols: int | None = None,
    labels: dict[str, str] | None = None,
) -> go.Figure:
    """Histograms of a confidence signal per model, one trace per data group, in a grid of panels.

    Densities, not counts, so groups of different sizes compare. Every panel shares one x-axis and the same bins;
    each panel's density axis is autoscaled to its own bars (never a fixed range that would clip a tall bar).
    The x-range uses the 0.5–99.5 % quantiles of all values so a few extreme φ values do not squash the picture
    (values outside it are drawn in the edge bins). ``loss`` is binned on a log10 scale (losses span many
    orders of magnitude: on a linear scale nearly every sample falls in the first bin); its ticks show the
    losses themselves.

    Args:
        groups_by_model: ``{model key: {group: {signal: values}}}``.
        signal: ``phi``, ``p_y`` or ``loss``.
        groups: the groups to draw, coloured by :data:`GROUP_COLORS`.
        bins: number of bins over the shared range.
        cols: panels per row (default: all in one row up to 3, else 3).
        labels: display label per model key (default :data:`MODEL_TITLES`, else the key); method keys get a
            swatch in their colour.
    """
    models = list(groups_by_model)
    labels = labels or {}

    def values_of(m: str, g: str) -> np.ndarray:
        v = np.asarray(groups_by_model[m][g][signal], dtype=float)
        return np.log10(np.maximum(v, 1e-12)) if signal == "loss" else v

    values = np.concatenate([values_of(m, g) for m in models for g in groups])
    values = values[np.isfinite(values)]
    if signal == "p_y":
        lo, hi = 0.0, 1.0
    else:
        lo, hi = (np.quantile(values, [0.005, 0.995]) if len(values) else (0.0, 1.0))
        if hi <= lo:
            hi = lo + 1.0
    size = (hi - lo) / bins
    ncols = cols or min(len(models), 3)
    nrows = -(-len(models) // ncols)
    titles = [titled(m, labels[m]) if m in labels else MODEL_TITLES.get(m, m) for m in models]
    fig = make_subplots(rows=nrows, cols=ncols, shared_xaxes="all", horizontal_spacing=0.05,
                        vertical_spacing=0.1 if nrows > 1 else 0.0, subplot_titles=titles)
    unit = "log10 loss" if signal == "loss" else signal
    for i, model in enumerate(models):
        row, col = i // ncols + 1, i % ncols + 1
        for group in groups:
            v = np.clip(values_of(model, group), lo, hi)
            fig.add_trace(
                go.Histogram(
                    x=v, name=f"{group} (n={len(v)})", legendgroup=group, showlegend=i == 0,
                    marker_color=GROUP_COLORS[group], opacity=0.55, histnorm="probability density",
                    xbins={"start": lo, "end": hi + 1e-9, "size": size},
                    hovertemplate=f"{group}<br>{unit} %{{x}}<br>density %{{y:.3f}}<extra>{labels.get(model, model)}"
                                  "</extra>",
                ),
                row=row, col=col,
            )
        if row == nrows or i + ncols >= len(models):  # the bottom panel of each column carries the axis title
            fig.update_xaxes(title_text=SIGNAL_LABELS.get(signal, signal), row=row, col=col)
        if col == 1:
            fig.update_yaxes(title_text="density", row=row, col=col)
    fig.update_xaxes(showticklabels=True, range=[lo, hi])
    if signal == "loss":
        tickvals, ticktext = _loss_ticks(lo, hi)
        fig.update_xaxes(tickvals=tickvals, ticktext=ticktext)
    fig.update_yaxes(autorange=True)
    for ann in fig.layout.annotations:
        ann.font = {"color": TEXT_COLOR, "size": 13}
    fig.update_layout(barmode="overlay", height=90 + 290 * nrows, margin={"l": 50, "r": 10, "t": 90, "b": 50},
                      legend={"orientation": "h", "y": 1.0 + 45 / (290 * nrows), "yanchor": "bottom", "x": 1.0,
                              "xanchor": "right"})
    return fig


# ------------------------------------------------------------------------------------------ methods
#: one colour per method in registry order; every one at least 2:1 against white, so a line stays visible
_PALETTE = ["#1F77B4", "#FF7F0E", "#D62728", "#9467BD", "#8C564B", "#E377C2", "#17BECF", "#BCBD22", "#393B79",
            "#8C6D31", "#843C39"]


def method_color(key: str) -> str:
    """One colour per method, the same on every figure (Retrain green, Original grey)."""
    if key in METHOD_COLORS:
        return METHOD_COLORS[key]
    from .unlearning import METHODS

    keys = [k for k in METHODS if k not in METHOD_COLORS]
    return _PALETTE[keys.index(key) % len(_PALETTE)] if key in keys else "#333333"


def roc_curves(attacks: dict[str, tuple[str, object]], log: bool = False, title: str = "") -> go.Figure:
    """ROC of one attack for several models: ``{method_key: (label, AttackResult)}``.

    Log-log axes show the low-FPR regime that matters for privacy (Carlini et al.); the diagonal is chance.
    A point with FPR 0 or TPR 0 has no place on a log axis: it is left out (the curve starts at its first point
    with both rates positive; a TPR below the axis floor of 0.1 % is drawn as it is and cut by the axis), rather
    than pinned to the floor, which drew flat and vertical segments at 0.001 that are not in the data.
    """
    fig = go.Figure()
    for key, (label, res) in attacks.items():
        fpr, tpr = np.asarray(res.fpr, dtype=float), np.asarray(res.tpr, dtype=float)
        if log:
            keep = (fpr > 0) & (tpr > 0)
            fpr, tpr = fpr[keep], tpr[keep]
        fig.add_trace(go.Scatter(
            x=fpr, y=tpr, mode="lines", name=f"{label} (AUC {100 * res.auc:.1f})",
            line={"color": method_color(key), "width": 3 if key == "retrain" else 2,
                  "dash": "dash" if key == "original" else "solid"},
            hovertemplate="FPR %{x:.4f}<br>TPR %{y:.4f}<extra>" + label + "</extra>"))
    diag = np.logspace(-3, 0, 50) if log else np.array([0.0, 1.0])
    fig.add_trace(go.Scatter(x=diag, y=diag, mode="lines", name="chance", line={"color": "#999", "dash": "dot"},
                             hoverinfo="skip"))
    axis = {"type": "log", "range": [-3, 0], "dtick": 1} if log else {"range": [0, 1]}
    fig.update_layout(title=title, xaxis={"title": "false positive rate", **axis},
                      yaxis={"title": "true positive rate", **axis}, height=420,
                      margin={"l": 60, "r": 10, "t": 40, "b": 50}, legend={"font": {"size": 11}})
    return fig


def forget_shift(before: np.ndarray, after: dict[str, tuple[str, np.ndarray]], labels: np.ndarray,
                 signal_label: str = "φ", log: bool = False, indices: np.ndarray | None = None) -> go.Figure:
    """Per forget sample: the original model's confidence (x) against each model's (y).

    ``log``: both axes on a log scale (for losses, which span orders of magnitude); non-positive values are left
    out there. ``indices``: the samples' training indices, shown on hover and carried as the last item of each
    point's ``customdata`` (a click on the dashboard opens that sample: :func:`ui.drill.picked`).
    """
    fig = go.Figure()
    labels = np.asarray(labels)
    custom = labels if indices is None else np.stack([labels.astype(object), np.asarray(indices, dtype=object)], 1)
    head = "class %{customdata}" if indices is None else "#%{customdata[1]} · class %{customdata[0]}"
    for key, (name, values) in after.items():
        fig.add_trace(go.Scatter(
            x=before, y=values, mode="markers", name=name,
            marker={"color": method_color(key), "size": 6, "opacity": 0.7},
            customdata=custom, hovertemplate=head + "<br>original %{x:.3g}<br>after %{y:.3g}<extra>" + name
            + "</extra>"))
    b = np.asarray(before, dtype=float)
    b = b[np.isfinite(b) & (b > 0)] if log else b[np.isfinite(b)]
    lo, hi = (float(b.min()), float(b.max())) if len(b) else (1e-6 if log else 0.0, 1.0)
    fig.add_trace(go.Scatter(x=[lo, hi], y=[lo, hi], mode="lines", name="unchanged",
                             line={"color": "#999", "dash": "dot"}, hoverinfo="skip"))
    kind = "log" if log else "linear"
    fig.update_layout(xaxis={"title": f"{signal_label} under the original model", "type": kind},
                      yaxis={"title": f"{signal_label} after", "type": kind},
                      height=420, margin={"l": 60, "r": 10, "t": 30, "b": 50})
    return fig


def loss_cdfs(losses: dict[str, tuple[str, np.ndarray]], test: np.ndarray | None = None,
              title: str = "Forget-set loss: cumulative distribution per model") -> go.Figure:
    """Empirical CDFs of the forget-set loss per model (and the test loss of the original model)."""
    fig = go.Figure()
    series = dict(losses)
    for key, (name, v) in series.items():
        v = np.sort(np.asarray(v))
        fig.add_trace(go.Scatter(x=np.log10(v + 1e-8), y=np.arange(1, len(v) + 1) / len(v), mode="lines", name=name,
                                 line={"color": method_color(key), "shape": "hv"}))
    if test is not None:
        v = np.sort(np.asarray(test))
        fig.add_trace(go.Scatter(x=np.log10(v + 1e-8), y=np.arange(1, len(v) + 1) / len(v), mode="lines",
                                 name="test (original)",
                                 line={"color": GROUP_COLORS["test"], "dash": "dot", "shape": "hv"}))
    fig.update_layout(title=title, xaxis_title="log10 cross-entropy loss on D_F", yaxis_title="fraction of samples ≤ x",
                      height=400, margin={"l": 60, "r": 10, "t": 40, "b": 50})
    return fig


def bars(values: dict[str, tuple[str, float, float]], title: str, y_title: str, *,
         floor: float | None = None, floor_label: str = "noise floor", lowest: float | None = 0.0) -> go.Figure:
    """A bar per method with an error bar: ``{key: (label, value, half-width)}`` (NaN half-widths: no bar).

    ``floor`` draws a dashed horizontal line (e.g. Retrain's own spread: bars below it are indistinguishable).
    ``lowest``: the smallest value the quantity can take (Avg Gap, Δφ and seconds are ≥ 0); an interval is cut
    there rather than drawn through impossible values (None: no cut).
    """
    keys = list(values)
    err = [0.0 if values[k][2] != values[k][2] else values[k][2] for k in keys]
    ys = [values[k][1] for k in keys]
    below = err if lowest is None else [min(e, max(0.0, y - lowest)) for e, y in zip(err, ys)]
    fig = go.Figure(go.Bar(
        x=[values[k][0] for k in keys], y=ys,
        error_y={"type": "data", "array": err, "arrayminus": below,
                 "visible": any(values[k][2] == values[k][2] for k in keys)},
        marker_color=[method_color(k) for k in keys]))
    if floor is not None and floor == floor:
        fig.add_hline(y=floor, line_dash="dash", line_color=METHOD_COLORS["retrain"],
                      annotation_text=f"{floor_label} {floor:.3g}", annotation_position="top left")
    fig.update_layout(title=title, yaxis_title=y_title, height=360, margin={"l": 60, "r": 10, "t": 40, "b": 80})
    return fig


def table_bars(table, col: str, title: str, y_title: str, *, with_reference: bool = False) -> go.Figure:
    """:func:`bars` of one column of :meth:`engine.audit.compare.Comparison.table` (mean, 95 % interval); the
    dashed floor is Retrain's own value of it when Retrain has replicas (Avg Gap, Δφ: its noise floor)."""
    keys = [m for m in table.index if with_reference or m != "retrain"]
    values = {m: (table.loc[m, "label"], table.loc[m, f"{col}_mean"], table.loc[m, f"{col}_ci"]) for m in keys}
    has_floor = not with_reference and "retrain" in table.index and table.loc["retrain", "n_replicas"] > 1
    return bars(values, title, y_title, floor=table.loc["retrain", f"{col}_mean"] if has_floor else None)


# ------------------------------------------------------------------------------------------ class-level detail
FORGET_BAND = "#F0E442"  # the yellow band behind forget classes (as the true-class band of probability_bars)


def entities(text: object) -> str:
    """A name from the data (a class or folder name) for plotly text and HTML: every character other than a letter,
    a digit, a space, ``_``, ``-`` or ``.`` written as a numeric character reference. Plotly and browsers show the
    name as it is; nothing in it can act as markup (plotly's <b>/<br>, HTML, Markdown or template syntax)."""
    return "".join(c if c.isalnum() or c in " _-." else f"&#{ord(c)};" for c in str(text))


def class_accuracy_bars(table, labels: dict[str, str], classes: list[str], marked: list[int] | tuple = (),
                        title: str = "") -> go.Figure:
    """Per-class accuracy of several models side by side: one group of bars per class, one bar per model (in its
    colour), the ``marked`` (forget) classes behind a yellow band with their tick labels in bold.

    Args:
        table: index = class, one column of accuracies (%) per model key (extra columns are ignored).
        labels: model key → display label (the models drawn, in order).
        classes: class names.
        marked: the forget classes.
    """
    fig = go.Figure()
    for key, label in labels.items():
        fig.add_trace(go.Bar(x=list(table.index), y=table[key], name=label, marker_color=method_color(key),
                             marker_line={"color": "#333", "width": 1.5 if key == "retrain" else 0},
                             hovertemplate=f"class %{{customdata}}: %{{y:.1f}} %<extra>{label}</extra>",
                             customdata=[entities(classes[c]) for c in table.index]))
    for c in marked:
        fig.add_vrect(x0=c - 0.5, x1=c + 0.5, fillcolor=FORGET_BAND, opacity=0.45, line_width=0, layer="below")
        fig.add_annotation(x=c, y=1.0, yref="paper", yanchor="bottom", text="forget ▾", showarrow=False,
                           font={"color": TEXT_COLOR, "size": 11})
    fig.update_xaxes(tickvals=list(table.index), title_text="class",
                     ticktext=[f"<b>{entities(classes[c])}</b>" if c in marked else entities(classes[c])
                               for c in table.index])
    fig.update_layout(title=title, barmode="group", yaxis={"title": "accuracy (%)", "range": [0, 105]}, height=400,
                      margin={"l": 60, "r": 10, "t": 60, "b": 50}, legend={"orientation": "h", "y": -0.2, "x": 0},
                      bargap=0.25)
    return fig


def confusion_heatmaps(a: np.ndarray, b: np.ndarray, classes: list[str], names: tuple[str, str],
                       marked: list[int] | tuple = ()) -> go.Figure:
    """Two row-normalised prediction matrices (row = true class, column = predicted; % of the row) and their
    difference A − B, in three panels; ``marked`` (forget) classes are bold on both axes.

    Args:
        a, b: (C, C) fractions (NaN rows: no sample of that class), e.g. the unlearned model's and Retrain's.
        names: the two models' labels.
    """
    gap = 0.09  # room between panels for the middle colour bar and the next panel's class labels
    fig = make_subplots(rows=1, cols=3, horizontal_spacing=gap,
                        subplot_titles=[names[0], names[1], f"{names[0]} − {names[1]}"])
    width = (1 - 2 * gap) / 3
    ticks = [f"<b>{entities(c)}</b>" if i in marked else entities(c) for i, c in enumerate(classes)]
    diff = 100 * (a - b)
    lim = float(np.nanmax(np.abs(diff))) if np.isfinite(diff).any() else 1.0
    small = len(classes) <= 12
    for col, (z, scale, lo, hi) in enumerate(((100 * a, "Blues", 0, 100), (100 * b, "Blues", 0, 100),
                                              (diff, "RdBu_r", -max(lim, 1.0), max(lim, 1.0))), 1):
        fig.add_trace(go.Heatmap(
            z=z, x=ticks, y=ticks, colorscale=scale, zmin=lo, zmax=hi, showscale=col in (2, 3),
            colorbar={"x": 2 * width + gap + 0.005 if col == 2 else 1.005, "xanchor": "left", "len": 0.9,
                      "thickness": 10,
                      "title": {"text": "%" if col == 2 else "Δ pts", "side": "top"}},
            texttemplate="%{z:.0f}" if small else None, textfont={"size": 9},
            hovertemplate="true %{y} → predicted %{x}: %{z:.1f}<extra></extra>"), row=1, col=col)
        fig.update_xaxes(title_text="predicted class", type="category", row=1, col=col)
        fig.update_yaxes(type="category", autorange="reversed", row=1, col=col,
                         title_text="true class" if col == 1 else None)
    for ann in fig.layout.annotations:
        ann.font = {"color": TEXT_COLOR, "size": 13}
    fig.update_layout(height=420, margin={"l": 60, "r": 10, "t": 40, "b": 50})
    return fig


def class_confidence_histograms(values: dict[str, tuple[str, np.ndarray]], reference: tuple[str, np.ndarray] | None,
                                signal: str = "p_y", bins: int = 25, x_title: str = "") -> go.Figure:
    """The forget classes' confidence under each model (a panel each, in the model's colour) against the reference
    model's (Retrain: grey outline, drawn in every panel). Densities over shared bins.

    Args:
        values: model key → (label, values), e.g. p(y|x) of the forget-class training samples.
        reference: (label, values) of the reference, or None.
        signal: ``p_y`` (bins over [0, 1]), ``phi`` or ``entropy`` (bins over the pooled 0.5–99.5 % range).
    """
    keys = list(values)
    allv = np.concatenate([np.asarray(v, float) for _, v in values.values()]
                          + ([np.asarray(reference[1], float)] if reference is not None else []))
    allv = allv[np.isfinite(allv)]
    if signal == "p_y":
        lo, hi = 0.0, 1.0
    else:
        lo, hi = np.quantile(allv, [0.005, 0.995]) if len(allv) else (0.0, 1.0)
        hi = hi if hi > lo else lo + 1.0
    size = (hi - lo) / bins
    cols = min(len(keys), 3) or 1
    rows = -(-len(keys) // cols) or 1
    fig = make_subplots(rows=rows, cols=cols, shared_xaxes="all", horizontal_spacing=0.05,
                        vertical_spacing=0.12 if rows > 1 else 0.0,
                        subplot_titles=[titled(k, values[k][0]) for k in keys])
    xbins = {"start": lo, "end": hi + 1e-9, "size": size}
    for i, key in enumerate(keys):
        r, c = i // cols + 1, i % cols + 1
        label, v = values[key]
        fig.add_trace(go.Histogram(x=np.clip(np.asarray(v, float), lo, hi), xbins=xbins, histnorm="probability density",
                                   name=f"{label} (n={len(v)})", marker_color=method_color(key), opacity=0.7,
                                   hovertemplate=f"%{{x}}: density %{{y:.3f}}<extra>{label}</extra>"), row=r, col=c)
        if reference is not None:
            fig.add_trace(go.Histogram(
                x=np.clip(np.asarray(reference[1], float), lo, hi), xbins=xbins, histnorm="probability density",
                name=f"{reference[0]} (n={len(reference[1])})", legendgroup="reference", showlegend=i == 0,
                marker={"color": "rgba(0,0,0,0)", "line": {"color": METHOD_COLORS["retrain"], "width": 2}},
                hovertemplate=f"%{{x}}: density %{{y:.3f}}<extra>{reference[0]}</extra>"), row=r, col=c)
        if r == rows:
            fig.update_xaxes(title_text=x_title or SIGNAL_LABELS.get(signal, signal), row=r, col=c)
        if c == 1:
            fig.update_yaxes(title_text="density", row=r, col=c)
    fig.update_xaxes(range=[lo, hi], showticklabels=True)
    for ann in fig.layout.annotations:
        ann.font = {"color": TEXT_COLOR, "size": 13}
    fig.update_layout(barmode="overlay", height=80 + 280 * rows, margin={"l": 50, "r": 10, "t": 60, "b": 50},
                      legend={"orientation": "h", "y": 1.0 + 40 / (280 * rows), "yanchor": "bottom", "x": 1.0,
                              "xanchor": "right"})
    return fig


#: SG-Unlearn's game log, by stored key (``GameLog`` in engine/unlearning/sg_unlearn.py): (panel title, y title)
GAME_SERIES = {"auditor_acc": ("auditor held-out accuracy", "held-out accuracy"),
               "utility": ("auditor utility", "utility M·(n_s/N)")}
#: readable column names of the stored game log (tables show these, never the stored keys)
GAME_COLUMNS = {"round": "round", "auditor_acc": "auditor held-out accuracy", "utility": "auditor utility M·(n_s/N)",
                "ft_loss": "fine-tuning loss on D_R", "seconds": "round time (s)",
                "auditor_seconds": "auditor step time (s)"}


def game_column(key: str) -> str:
    """The readable name of a game-log key (an unknown key: its words, without underscores)."""
    return GAME_COLUMNS.get(key, key.replace("_", " "))


def game_plot(game: dict[str, np.ndarray]) -> go.Figure:
    """SG-Unlearn's game per round: the auditor's held-out accuracy and utility, one panel each.

    Args:
        game: the stored game log, ``{"round", "auditor_acc", "utility", …}`` (arrays of one value per round);
            series are looked up by exact key, a missing one leaves its panel empty with a note saying so.
    """
    n = len(next(iter(game.values())))
    rounds = np.asarray(game["round"]) if "round" in game else np.arange(1, n + 1)
    fig = make_subplots(rows=1, cols=2, subplot_titles=[title for title, _ in GAME_SERIES.values()])
    for col, (key, (title, y_title)) in enumerate(GAME_SERIES.items(), 1):
        if key in game:
            fig.add_trace(go.Scatter(x=rounds, y=np.asarray(game[key]), mode="lines+markers", name=title,
                                     showlegend=False, line={"color": method_color("sg_unlearn")},
                                     hovertemplate="round %{x}<br>%{y:.3f}<extra>" + title + "</extra>"),
                          row=1, col=col)
        else:
            axis = "" if col == 1 else str(col)
            fig.add_annotation(text=f"{title}: not in this game log", showarrow=False, x=0.5, y=0.5,
                               xref=f"x{axis} domain", yref=f"y{axis} domain")
        fig.update_xaxes(title_text="round", row=1, col=col)
        fig.update_yaxes(title_text=y_title, row=1, col=col)
    fig.update_layout(height=340, margin={"l": 50, "r": 10, "t": 40, "b": 50})
    return fig


# ------------------------------------------------------------------------------------ adversarial examples
EPS_LABELS = {
    "delta_norm": "‖δ‖₂ to flip (distance of the nearest adversarial example found)",
    "eps": "ε to flip (radius of the L2 ball it was found in: ε_init·2ᵏ)",
}


def eps_to_flip(panels: dict[str, tuple[str, dict[str, np.ndarray]]], value: str = "delta_norm",
                groups: tuple[str, ...] = ("forget", "remain", "test")) -> go.Figure:
    """Empirical CDFs of the distance to the decision boundary per data group, one panel per model.

    Args:
        panels: ``{method_key: (label, {group: values})}`` with one value per attacked sample (0 for samples
            the model already misclassifies; non-finite values, e.g. samples never flipped, are dropped).
        value: ``"delta_norm"`` or ``"eps"`` (axis title only).
        groups: the groups to draw, in this order, coloured by :data:`GROUP_COLORS`.

    Returns:
        A figure with one subplot per model, titled by its label after a swatch in the method's colour; one
        legend entry per group, shared by the panels; each curve's size and median in its hover text.
    """
    keys = list(panels)
    fig = make_subplots(rows=1, cols=len(keys), shared_yaxes=True, horizontal_spacing=0.04,
                        subplot_titles=[titled(k, panels[k][0]) for k in keys])
    hi = 0.0
    for col, key in enumerate(keys, 1):
        label, by_group = panels[key]
        for group in groups:
            v = np.asarray(by_group.get(group, []), dtype=float)
            v = np.sort(v[np.isfinite(v)])
            if not len(v):
                continue
            hi = max(hi, float(v[-1]))
            line = {"color": GROUP_COLORS[group], "shape": "hv", "width": 2.5 if group == "forget" else 2}
            fig.add_trace(go.Scatter(
                x=v, y=np.arange(1, len(v) + 1) / len(v), mode="lines", line=line,
                name=f"{group}", legendgroup=group, showlegend=col == 1,
                hovertemplate=f"{group} (n={len(v)}, median {np.median(v):.3f})<br>%{{x:.3f}}: %{{y:.0%}}"
                              f"<extra>{label}</extra>"), row=1, col=col)
        fig.update_xaxes(title_text="‖δ‖₂" if value == "delta_norm" else "ε", row=1, col=col)
    for ann in fig.layout.annotations:  # dark text; the method's colour is the swatch before it
        ann.font = {"color": TEXT_COLOR, "size": 14}
    fig.update_xaxes(range=[0, hi * 1.02 if hi > 0 else 1])
    fig.update_yaxes(title_text="fraction of samples ≤ x", row=1, col=1, range=[0, 1.02])
    fig.update_layout(height=360, margin={"l": 60, "r": 10, "t": 40, "b": 50},
                      title={"text": EPS_LABELS.get(value, value), "font": {"size": 13}, "x": 0.01, "y": 0.99},
                      legend={"orientation": "h", "y": -0.22, "x": 0})
    return fig


def probability_bars(models: dict[str, tuple[str, np.ndarray, np.ndarray]], classes: list[str],
                     y: int | None = None) -> go.Figure:
    """Class probabilities on a clean image and on its adversarial example, one panel per model.

    Args:
        models: ``{method_key: (label, p_clean, p_adv)}`` with probability vectors over ``classes``.
        classes: class names (x axis).
        y: the true class, marked by a shaded band behind its bars (wider than the bars, so no bar hides it),
            a "true class" label above the plot area and its tick label in bold.

    Returns:
        Solid bars (clean) and hatched bars (adversarial) in the method's colour.
    """
    keys = list(models)
    fig = make_subplots(rows=1, cols=len(keys), shared_yaxes=True, horizontal_spacing=0.05,
                        subplot_titles=[titled(k, models[k][0]) for k in keys])
    for col, key in enumerate(keys, 1):
        label, clean, adv = models[key]
        color = method_color(key)
        for name, p, pattern in (("clean", clean, ""), ("adversarial", adv, "/")):
            fig.add_trace(go.Bar(
                x=classes, y=np.asarray(p), name=name, legendgroup=name, showlegend=col == 1,
                marker={"color": color if name == "clean" else "white", "line": {"color": color, "width": 1.5},
                        "pattern": {"shape": pattern, "fgcolor": color}},
                hovertemplate=f"{name}<br>class %{{x}}: %{{y:.3f}}<extra>{label}</extra>"), row=1, col=col)
        if y is not None:  # category positions are 0 … C−1: the band spans the true class's slot
            fig.add_vrect(x0=y - 0.5, x1=y + 0.5, fillcolor="#F0E442", opacity=0.45, line_width=0, layer="below",
                          row=1, col=col)
            axis = "" if col == 1 else str(col)
            fig.add_annotation(x=y, xref=f"x{axis}", y=1.0, yref=f"y{axis} domain", yanchor="bottom",
                               text="true class ▾", showarrow=False, font={"color": TEXT_COLOR, "size": 11})
            fig.update_xaxes(tickvals=list(range(len(classes))),
                             ticktext=[f"<b>{c}</b>" if i == y else str(c) for i, c in enumerate(classes)],
                             row=1, col=col)
        fig.update_xaxes(title_text="class", type="category", row=1, col=col)
    for ann in fig.layout.annotations[:len(keys)]:  # the panel titles (the band labels follow them)
        ann.font = {"color": TEXT_COLOR, "size": 14}
        ann.yshift = 16
    fig.update_yaxes(title_text="p(class | x)", range=[0, 1.02], row=1, col=1)
    fig.update_layout(barmode="group", height=340, margin={"l": 60, "r": 10, "t": 60, "b": 50},
                      legend={"orientation": "h", "y": -0.3, "x": 0})
    return fig


def paired_bars(values: dict[str, tuple[str, float, float]], names: tuple[str, str], title: str,
                y_title: str) -> go.Figure:
    """Two bars per method, one per audit: ``{key: (label, value in A, value in B)}`` — A solid, B hatched, both in
    the method's colour (a missing value leaves its bar out)."""
    keys = list(values)
    fig = go.Figure()
    for i, (name, pattern) in enumerate(zip(names, ("", "/"))):
        colors = [method_color(k) for k in keys]
        fig.add_trace(go.Bar(
            x=[values[k][0] for k in keys], y=[values[k][1 + i] for k in keys], name=name,
            marker={"color": colors if not pattern else "white", "line": {"color": colors, "width": 1.5},
                    "pattern": {"shape": pattern, "fgcolor": colors}},
            hovertemplate=f"{name}<br>%{{x}}: %{{y:.3f}}<extra></extra>"))
    fig.update_layout(title=title, yaxis_title=y_title, barmode="group", height=380,
                      margin={"l": 60, "r": 10, "t": 40, "b": 80}, legend={"orientation": "h", "y": 1.08, "x": 0})
    return fig
