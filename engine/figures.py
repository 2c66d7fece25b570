"""Results → plotly figures (no Streamlit), shared by the pages and the HTML report.

Colours: one per data group (remain / test / forget) and one per method, the same on every figure.
"""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

GROUP_COLORS = {"remain": "#4C78A8", "test": "#F58518", "forget": "#E45756", "val": "#72B7B2"}
METHOD_COLORS = {"original": "#7F7F7F", "retrain": "#2CA02C"}

SIGNAL_LABELS = {
    "p_y": "confidence p(y|x)",
    "phi": "φ = log(p_y / (1 − p_y))",
    "loss": "cross-entropy loss",
}
MODEL_TITLES = {"original": "Original (trained on all of train)", "retrain": "Retrain (never saw the forget set)"}


def confidence_histograms(
    groups_by_model: dict[str, dict[str, dict[str, np.ndarray]]],
    signal: str = "phi",
    groups: tuple[str, ...] = ("remain", "test", "forget"),
    bins: int = 30,
) -> go.Figure:
    """Side-by-side histograms of a confidence signal for each model, one trace per data group.

    Densities, not counts, so groups of different sizes compare; the shared x-range uses the 0.5–99.5 %
    quantiles of all values so a few extreme φ values do not squash the picture.
    """
    models = list(groups_by_model)
    values = np.concatenate([groups_by_model[m][g][signal] for m in models for g in groups])
    values = values[np.isfinite(values)]
    if signal == "p_y":
        lo, hi = 0.0, 1.0
    else:
        lo, hi = (np.quantile(values, [0.005, 0.995]) if len(values) else (0.0, 1.0))
        if hi <= lo:
            hi = lo + 1.0
    size = (hi - lo) / bins
    fig = make_subplots(rows=1, cols=len(models), shared_yaxes=True, horizontal_spacing=0.04,
                        subplot_titles=[MODEL_TITLES.get(m, m) for m in models])
    for col, model in enumerate(models, 1):
        for group in groups:
            v = np.clip(groups_by_model[model][group][signal], lo, hi)
            fig.add_trace(
                go.Histogram(
                    x=v, name=f"{group} (n={len(v)})", legendgroup=group, showlegend=col == 1,
                    marker_color=GROUP_COLORS[group], opacity=0.55, histnorm="probability density",
                    xbins={"start": lo, "end": hi + 1e-9, "size": size},
                    hovertemplate=f"{group}<br>%{{x}}<br>density %{{y:.3f}}<extra>{model}</extra>",
                ),
                row=1, col=col,
            )
        fig.update_xaxes(title_text=SIGNAL_LABELS.get(signal, signal), row=1, col=col)
    fig.update_yaxes(title_text="density", row=1, col=1)
    fig.update_layout(barmode="overlay", height=380, margin={"l": 50, "r": 10, "t": 50, "b": 50},
                      legend={"orientation": "h", "y": -0.25, "x": 0})
    return fig
