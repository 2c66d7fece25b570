"""Figures of the forgetting-quality audit (issue 17): the per-example ε of every method side by side, in the
challenge's buckets, and U-LiRA's ROC (log axes) — same conventions as :mod:`engine.figures`."""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go

from .audit.mia import from_scores
from .audit.quality import bucket_points, epsilon_ceiling
from .figure_style import method_color
from .figures import roc_curves


def epsilon_bins(n: int) -> list[tuple[float, float, str]]:
    """The bars' bins: the challenge's buckets for N models per side, then "past the ceiling" (0 points, every
    perfectly separated example among them). ``(start, end, label)``."""
    out = [(a, b, f"[{a:g}, {b:g}) · {p:g} pt") for a, b, p in bucket_points(n)]
    top = out[-1][1] if out else 0.0
    out.append((top, np.inf, f"≥ {top:g} · 0 pt (told apart)"))
    return out


def epsilon_buckets(rows: list, n: int) -> go.Figure:
    """Per method (``rows``: key, label, quality), the share of forget examples in each ε bucket, side by side.
    A method like Retrain has its mass on the left; one that did not forget, on the right."""
    bins = epsilon_bins(n)
    fig = go.Figure()
    for r in rows:
        eps = np.asarray(r.quality.epsilons, dtype=float)
        share = [100 * float(np.mean((eps >= a) & (eps < b))) if len(eps) else 0.0 for a, b, _ in bins]
        fig.add_trace(go.Bar(x=[lab for _, _, lab in bins], y=share, name=r.label,
                             marker_color=method_color(r.key),
                             hovertemplate="%{x}<br>%{y:.1f} % of forget examples<extra>" + r.label + "</extra>"))
    fig.update_layout(barmode="group", height=380, margin={"l": 60, "r": 10, "t": 40, "b": 60},
                      title=f"Per-example ε (N = {n}: at most ln(N − 1) = {epsilon_ceiling(n):.2f} is shown)",
                      xaxis={"title": "ε bucket · points it scores"},
                      yaxis={"title": "forget examples (%)", "rangemode": "tozero"}, legend={"font": {"size": 11}})
    return fig


def ulira_roc(rows: list) -> go.Figure:
    """U-LiRA's ROC per method on log axes: every unlearned model's forget examples (members) against every
    retrained model's (non-members), scored by the per-example likelihood ratio."""
    curves = {r.key: (r.label, from_scores("U-LiRA", np.ravel(r.ulira.member_scores),
                                           np.ravel(r.ulira.nonmember_scores))) for r in rows}
    return roc_curves(curves, log=True, title="U-LiRA: unlearned vs retrained models, per forget example")


__all__ = ["epsilon_bins", "epsilon_buckets", "ulira_roc"]
