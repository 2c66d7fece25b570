"""One forget sample up close, as the Adversarial examples page and the AMUN's-theorem page show it: a header line
with a button that opens the sample on the Sample page, its images (clean, adversarial, δ amplified, …) large, and
every model's class probabilities on the clean image and on an adversarial example."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import streamlit as st

from engine.figures import probability_bars

from . import cached, drill, tiles


def probabilities(entries: dict[str, tuple[str, object, np.ndarray, np.ndarray]]
                  ) -> dict[str, tuple[str, np.ndarray, np.ndarray]]:
    """model → (label, trained model, clean image, adversarial image) to model → (label, p(clean), p(adversarial)),
    the input of :func:`show`."""
    out = {}
    for m, (label, tm, x, xa) in entries.items():
        p = cached.probabilities(tm.key, tm.model, np.stack([x, xa]))
        out[m] = (label, p[0], p[1])
    return out


def show(header: str, *, sample: int, seed: int, open_key: str, open_label: str, images: dict[str, np.ndarray],
         size: int, probs: dict[str, tuple[str, np.ndarray, np.ndarray]], classes, label: int, chart_key: str,
         caption: str, beside: Callable[[object], None] | None = None) -> None:
    """The panel of training sample ``sample`` of ``seed``: ``header`` (Markdown) with the button to the Sample page,
    ``images`` (caption → HWC/CHW array) at ``size`` pixels, ``beside(column)`` drawing into a wide column right of
    them (a table), and the probability bars of ``probs`` (:func:`probabilities`) with the true class ``label``."""
    h1, h2 = st.columns([5, 1])
    h1.markdown(header)
    with h2:
        drill.button(int(sample), seed, key=open_key, label=open_label)
    cols = st.columns([1] * len(images) + ([4] if beside else []))
    for col, (name, img) in zip(cols, images.items()):
        col.image(tiles.framed(tiles.upscale(img, size)), caption=name, width="stretch")
    if beside:
        beside(cols[-1])
    st.plotly_chart(probability_bars(probs, classes, label), width="stretch", key=chart_key)
    st.caption(caption)
