"""Adversarial-example figures (no Streamlit): ε-to-flip CDFs and class probabilities on a clean image and its
adversarial example — split from :mod:`engine.figures` (same conventions; imported from there too)."""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from .figure_style import GROUP_COLORS, TEXT_COLOR, method_color, titled
from .figures_classes import fit_labels

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
    return fit_labels(fig)
