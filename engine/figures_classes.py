"""Class-level figures (no Streamlit): per-class accuracy, prediction matrices and the forget classes' confidence
against Retrain's — split from :mod:`engine.figures` (same conventions; imported from there too)."""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from .figure_style import METHOD_COLORS, SIGNAL_LABELS, TEXT_COLOR, method_color, titled


def fit_labels(fig: go.Figure) -> go.Figure:
    """Every axis grows its margin to fit its tick labels (plotly's ``automargin``, off by default: long class names
    such as Fashion-MNIST's "T-shirt/top" and "Ankle boot" were cut to "T-shirt/" and "Ankle b" at the plot's edge)."""
    fig.update_xaxes(automargin=True)
    fig.update_yaxes(automargin=True)
    return fig


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
    return fit_labels(fig)


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
    return fit_labels(fig)


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
