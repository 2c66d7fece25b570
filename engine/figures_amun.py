"""Figures of the AMUN paper's own analyses (no Streamlit): continual requests (§6.3), Theorem 4.1 per forget sample
and the forget-set-size effect. Same conventions as :mod:`engine.figures`: one colour per method, Retrain the
reference (green, dashed), the original model grey and dotted, dark titles."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from .audit.continual import METRICS
from .audit.theorem import FACTORS, MEASURES
from .figure_style import GROUP_COLORS, TEXT_COLOR, method_color

#: the transfer groups, colour-blind safe (Okabe–Ito blue / orange, as remain / test elsewhere)
TRANSFER_COLORS = {True: GROUP_COLORS["remain"], False: GROUP_COLORS["test"]}
TRANSFER_NAMES = {True: "transfers to Retrain", False: "does not transfer"}


def _line(key: str) -> dict:
    dash = {"retrain": "dash", "original": "dot"}.get(key, "solid")
    return {"color": method_color(key), "dash": dash, "width": 3 if key == "retrain" else 2}


def _err(values: Sequence[float]) -> dict:
    arr = [0.0 if not np.isfinite(v) else float(v) for v in values]
    return {"type": "data", "array": arr, "visible": any(a > 0 for a in arr), "thickness": 1.2, "width": 3}


def _dark_titles(fig: go.Figure) -> None:
    for ann in fig.layout.annotations:  # the subplot titles
        ann.font = {"color": TEXT_COLOR, "size": 14}


# ------------------------------------------------------------------------------------------ continual requests
def continual_curves(summaries: dict[str, pd.DataFrame], labels: dict[str, str], *,
                     methods: Sequence[str] | None = None, cols: int = 2) -> go.Figure:
    """One panel per metric: each model's mean over seeds after request 1…k, with 95 % intervals as error bars.

    Args:
        summaries: metric → :func:`engine.audit.continual.summary` (columns method, request, mean, halfwidth, n).
        labels: display label per model key.
        methods: the models to draw (default: all; Retrain is always drawn, dashed, as the reference).
        cols: panels per row.
    """
    metrics = list(summaries)
    rows = (len(metrics) + cols - 1) // cols
    fig = make_subplots(rows=rows, cols=min(cols, len(metrics)), horizontal_spacing=0.08,
                        vertical_spacing=0.16 if rows > 1 else 0.1,
                        subplot_titles=[f"{METRICS[m][0]}" for m in metrics])
    shown: set[str] = set()
    for i, metric in enumerate(metrics):
        r, c = i // cols + 1, i % cols + 1
        s = summaries[metric]
        keys = [k for k in dict.fromkeys(s["method"]) if methods is None or k in methods or k == "retrain"]
        keys = [k for k in keys if k != "retrain"] + (["retrain"] if "retrain" in keys else [])  # reference on top
        for n, key in enumerate(keys):
            part = s[s["method"] == key]
            dodge = 0.3 * (n / max(len(keys) - 1, 1) - 0.5)  # within ±0.15 of the request, so error bars stay apart
            fig.add_trace(go.Scatter(
                x=part["request"] + dodge, y=part["mean"], error_y=_err(part["halfwidth"]), mode="lines+markers",
                name=labels.get(key, key), legendgroup=key, showlegend=key not in shown, line=_line(key),
                marker={"size": 7, "symbol": "diamond" if key == "retrain" else "circle"},
                customdata=np.c_[part["halfwidth"].fillna(0), part["n"], part["request"]],
                hovertemplate=f"{labels.get(key, key)}<br>request %{{customdata[2]}}: %{{y:.2f}} ± "
                              f"%{{customdata[0]:.2f}} (%{{customdata[1]}} seeds)<extra>{METRICS[metric][0]}</extra>"),
                row=r, col=c)
            shown.add(key)
        fig.update_xaxes(title_text="request", dtick=1, row=r, col=c)
    _dark_titles(fig)
    fig.update_layout(height=330 * rows + 60, margin={"l": 55, "r": 10, "t": 40, "b": 50},
                      legend={"orientation": "h", "y": -0.08 if rows > 1 else -0.2, "x": 0})
    return fig


# ------------------------------------------------------------------------------------------ Theorem 4.1
def theorem_scatter(frame: pd.DataFrame, measure: str = "score_after", *, x: str = "delta_norm",
                    selected: int | None = None) -> go.Figure:
    """Each forget sample at (its adversarial example's ‖δ‖₂, how forgotten it is), coloured by whether that example
    transfers to Retrain. Samples without a real adversarial example (already misclassified, δ = 0) are hollow.
    ``customdata[0]`` is the row position in ``frame`` (for a click-through); ``selected`` rings one row."""
    label, better, _ = MEASURES[measure]
    fig = go.Figure()
    pos = np.arange(len(frame))
    for flag in (True, False):
        for attacked in (True, False):
            m = (frame["transfers"].to_numpy() == flag) & (frame["attacked"].to_numpy() == attacked)
            if not m.any():
                continue
            part = frame[m]
            name = TRANSFER_NAMES[flag] + ("" if attacked else " (no attack needed)")
            fig.add_trace(go.Scatter(
                x=part[x], y=part[measure], mode="markers", name=name, legendgroup=str(flag),
                marker={"color": TRANSFER_COLORS[flag] if attacked else "white", "size": 8, "opacity": 0.85,
                        "line": {"color": TRANSFER_COLORS[flag], "width": 1.5},
                        "symbol": "circle" if flag else "x-thin-open" if not attacked else "square"},
                customdata=np.c_[pos[m], part["index"], part["label"], part["y_adv"], part["eps"], part["seed"]],
                hovertemplate="sample #%{customdata[1]} (seed %{customdata[5]}) · y = %{customdata[2]} → y_adv = "
                              "%{customdata[3]}<br>ε = %{customdata[4]:.3g} · ‖δ‖₂ = %{x:.3f}<br>" + label
                              + " = %{y:.3f}<extra>" + name + "</extra>"))
    if selected is not None and 0 <= selected < len(frame):
        row = frame.iloc[selected]
        fig.add_trace(go.Scatter(x=[row[x]], y=[row[measure]], mode="markers", name="selected", showlegend=False,
                                 marker={"size": 18, "color": "rgba(0,0,0,0)", "line": {"color": TEXT_COLOR,
                                                                                         "width": 2.5}},
                                 hoverinfo="skip"))
    fig.update_layout(xaxis_title=FACTORS.get(x, x) + " of the original model's nearest adversarial example",
                      yaxis_title=f"{label} ({better} = more forgotten)", height=430, clickmode="event+select",
                      margin={"l": 60, "r": 10, "t": 20, "b": 50}, legend={"orientation": "h", "y": -0.18, "x": 0})
    return fig


def theorem_groups(by_transfer: pd.DataFrame, by_distance: pd.DataFrame, measure: str) -> go.Figure:
    """Two panels: the measure's mean (95 % interval) for samples whose adversarial example transfers or not, and
    per ‖δ‖₂ quartile."""
    label = MEASURES[measure][0]
    fig = make_subplots(rows=1, cols=2, column_widths=[0.35, 0.65], horizontal_spacing=0.1,
                        subplot_titles=["by transfer to Retrain", "by ‖δ‖₂ quartile (attacked samples)"])
    t = by_transfer
    fig.add_trace(go.Bar(x=[TRANSFER_NAMES[bool(f)] for f in t["transfers"]], y=t["mean"], error_y=_err(t["halfwidth"]),
                         marker_color=[TRANSFER_COLORS[bool(f)] for f in t["transfers"]], showlegend=False,
                         customdata=t["n"], hovertemplate="%{x}: %{y:.4f} (n = %{customdata})<extra></extra>"),
                  row=1, col=1)
    d = by_distance
    if len(d):
        fig.add_trace(go.Bar(x=[f"{q}<br>{lo:.2f}–{hi:.2f}" for q, lo, hi in zip(d["quartile"], d["lo"], d["hi"])],
                             y=d["mean"], error_y=_err(d["halfwidth"]), marker_color=method_color("amun"),
                             showlegend=False, customdata=d["n"],
                             hovertemplate="%{x}: %{y:.4f} (n = %{customdata})<extra></extra>"), row=1, col=2)
    fig.update_yaxes(title_text=label, row=1, col=1)
    _dark_titles(fig)
    fig.update_layout(height=340, margin={"l": 60, "r": 10, "t": 40, "b": 60})
    return fig


# ------------------------------------------------------------------------------------------ forget-set size
def size_curves(table: pd.DataFrame) -> go.Figure:
    """Avg Gap and FT AUC gap to Retrain against the forget set's size, one line per method (mean over seeds,
    95 % intervals); Retrain's Avg Gap is its replicas' spread (the noise floor), drawn dashed."""
    fig = make_subplots(rows=1, cols=2, horizontal_spacing=0.1,
                        subplot_titles=["Avg Gap to Retrain", "|FT AUC − Retrain's FT AUC|"])
    for key in dict.fromkeys(table["method"]):
        part = table[table["method"] == key].sort_values("fraction")
        label = part["label"].iloc[0] + (" (noise floor)" if key == "retrain" else "")
        for col, metric in enumerate(("avg_gap", "ft_gap"), 1):
            if key == "retrain" and metric == "ft_gap":
                continue
            fig.add_trace(go.Scatter(
                x=100 * part["fraction"], y=part[metric], error_y=_err(part[f"{metric}_hw"]), mode="lines+markers",
                name=label, legendgroup=key, showlegend=col == 1, line=_line(key),
                hovertemplate=f"{label}<br>forget %{{x:.0f}} %: %{{y:.2f}}<extra></extra>"), row=1, col=col)
    fig.update_xaxes(title_text="forget set (% of train)")
    _dark_titles(fig)
    fig.update_layout(height=360, margin={"l": 55, "r": 10, "t": 40, "b": 50},
                      legend={"orientation": "h", "y": -0.25, "x": 0})
    return fig
