"""Results → plotly figures (no Streamlit), shared by the pages and the HTML report.

Colours: one per data group (remain / test / forget) and one per method, the same on every figure.
"""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from .figure_style import (  # noqa: F401  (every name stays importable from engine.figures)
    GROUP_COLOR_NAMES,
    GROUP_COLORS,
    METHOD_COLORS,
    MODEL_TITLES,
    SIGNAL_LABELS,
    TEXT_COLOR,
    method_color,
    titled,
)


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
    (values outside it are drawn in the edge bins, and the x-axis title says how many). The forget set is drawn as
    an outline over the filled remain and test histograms (filled, its dark red over orange blended to brown).
    ``loss`` is binned on a log10 scale (losses span many
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
    # values beyond the drawn range land in the edge bins: say how many, on the axis itself
    outside = int(np.sum((values < lo) | (values > hi)))
    axis_title = SIGNAL_LABELS.get(signal, signal) + (
        f" — range: 0.5–99.5 % quantiles; {outside} of {len(values)} values beyond it counted in the edge bins"
        if outside else "")
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
            # the forget set as an outline over the filled remain and test: a dark red filled over orange blended
            # to brown, a colour of neither
            marker = ({"color": "rgba(0,0,0,0)", "line": {"color": GROUP_COLORS[group], "width": 2}}
                      if group == "forget" else {"color": GROUP_COLORS[group]})
            fig.add_trace(
                go.Histogram(
                    x=v, name=f"{group} (n={len(v)})", legendgroup=group, showlegend=i == 0,
                    marker=marker, opacity=1.0 if group == "forget" else 0.5, histnorm="probability density",
                    xbins={"start": lo, "end": hi + 1e-9, "size": size},
                    hovertemplate=f"{group}<br>{unit} %{{x}}<br>density %{{y:.3f}}<extra>{labels.get(model, model)}"
                                  "</extra>",
                ),
                row=row, col=col,
            )
        if row == nrows or i + ncols >= len(models):  # the bottom panel of each column carries the axis title
            fig.update_xaxes(title_text=axis_title, row=row, col=col)
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


#: a legend above the plot area, right-aligned: below it took a third of a short chart's height
_TOP_LEGEND = {"orientation": "h", "y": 1.0, "yanchor": "bottom", "x": 1.0, "xanchor": "right"}


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
        marker_color=[method_color(k) for k in keys], showlegend=False))
    if floor is not None and floor == floor:
        # the floor's label in the legend, not on the plot, where it hid behind the first bar
        fig.add_hline(y=floor, line_dash="dash", line_color=METHOD_COLORS["retrain"])
        fig.add_trace(go.Scatter(x=[None], y=[None], mode="lines", name=f"{floor_label} {floor:.3g}",
                                 line={"dash": "dash", "color": METHOD_COLORS["retrain"]}))
    fig.update_layout(title=title, yaxis_title=y_title, height=360, margin={"l": 60, "r": 10, "t": 40, "b": 80},
                      showlegend=bool(floor is not None and floor == floor), legend=_TOP_LEGEND)
    if fig.layout.showlegend:
        _room_for_legend(fig)
    return fig


def _room_for_legend(fig: go.Figure) -> None:
    """A legend above the plot gets its own band under the title (in a narrow column they overlapped)."""
    fig.update_layout(margin={"t": 95}, title={"y": 0.98, "yanchor": "top"})


def table_bars(table, col: str, title: str, y_title: str, *, with_reference: bool = False) -> go.Figure:
    """:func:`bars` of one column of :meth:`engine.audit.compare.Comparison.table` (mean, 95 % interval); the
    dashed floor is Retrain's own value of it when Retrain has replicas (Avg Gap, Δφ: its noise floor). For
    ``seconds``, the one-time work a method is charged (AMUN's D_A search) is stacked on its own time, hatched."""
    keys = [m for m in table.index if with_reference or m != "retrain"]
    values = {m: (table.loc[m, "label"], table.loc[m, f"{col}_mean"], table.loc[m, f"{col}_ci"]) for m in keys}
    has_floor = not with_reference and "retrain" in table.index and table.loc["retrain", "n_replicas"] > 1
    fig = bars(values, title, y_title, floor=table.loc["retrain", f"{col}_mean"] if has_floor else None)
    if col == "seconds" and "one_time_seconds_mean" in table.columns:
        once = [float(table.loc[m, "one_time_seconds_mean"]) for m in keys]
        if any(v > 0 for v in once):
            fig.data[0].name, fig.data[0].showlegend = "own work", True
            fig.add_trace(go.Bar(x=[values[k][0] for k in keys], y=once, name="one-time (AMUN's D_A search)",
                                 marker={"color": "white", "line": {"color": [method_color(k) for k in keys],
                                                                    "width": 1.5},
                                         "pattern": {"shape": "/", "fgcolor": [method_color(k) for k in keys]}},
                                 hovertemplate="%{x}: one-time %{y:.2f} s<extra></extra>"))
            fig.update_layout(barmode="stack", showlegend=True, legend=_TOP_LEGEND)
            _room_for_legend(fig)
    return fig


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


# the class-level and adversarial-example figures live in their own modules; every name stays importable from here
from .figures_adversarial import EPS_LABELS, eps_to_flip, probability_bars  # noqa: E402, F401
from .figures_classes import (  # noqa: E402, F401
    FORGET_BAND,
    class_accuracy_bars,
    class_confidence_histograms,
    confusion_heatmaps,
    entities,
)
