"""The figures' shared look: one colour per data group and per method, text colour, signal labels, titled panels.

The figure modules (:mod:`engine.figures` and its siblings) import from here, so none imports another."""

from __future__ import annotations

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
