"""The per-sample drill-down: any page opens one forget sample on the Sample page (``pages/14_Sample.py``).

The Sample page keeps the sample in its address (``sample`` = the training index, ``sseed`` = the audit seed when
not the first) beside the audit's settings, so a copied address opens the same panel. Other pages call
:func:`button` (or :func:`gallery`) under a sample they show; a click sets the view and switches page.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import streamlit as st

PAGE = "pages/14_Sample.py"


def open_sample(index: int, seed: int) -> None:
    """Show training sample ``index`` (a forget sample of audit seed ``seed``) on the Sample page, now."""
    s = st.session_state
    s["view_sample"], s["view_sseed"] = int(index), int(seed)
    st.switch_page(PAGE, query_params={"sample": str(int(index)), "sseed": str(int(seed))})


def button(index: int, seed: int, key: str, label: str | None = None) -> None:
    """A small button that opens ``index`` on the Sample page (call it in the page body, not in a callback)."""
    if st.button(label or f"Open #{int(index)}", key=key, icon=":material/zoom_in:",
                 help="image, adversarial example, signals in every model and membership scores of this sample, "
                      "with a shareable address"):
        open_sample(index, seed)


def gallery(images: Sequence[np.ndarray], indices: Sequence[int], captions: Sequence[str], seed: int, key: str,
            per_row: int = 6) -> None:
    """Image tiles (H, W, 3 in [0, 1]) with a caption and an "open" button each, ``per_row`` to a row."""
    for start in range(0, len(images), per_row):
        cols = st.columns(per_row)
        for col, img, idx, cap in zip(cols, images[start:start + per_row], indices[start:start + per_row],
                                      captions[start:start + per_row]):
            with col:
                st.image(img, caption=cap, width=96)
                button(int(idx), seed, key=f"{key}_{int(idx)}", label=f"#{int(idx)}")


def picked(event, key: str) -> int | None:
    """The training index of a point newly clicked on a plotly chart drawn with ``on_select="rerun"`` whose points
    carry the index as the last item of their ``customdata`` (e.g. :func:`engine.figures.forget_shift` with
    ``indices``); None when nothing new was clicked. The last selection handled per ``key`` is remembered, so a
    selection Streamlit hands back again (a rerun, a return to the page) opens nothing."""
    selection = event.get("selection", {}) if isinstance(event, dict) else getattr(event, "selection", None)
    points = (selection.get("points") if isinstance(selection, dict) else getattr(selection, "points", None)) or []
    seen = st.session_state.get(f"_drill_{key}")
    signature = [(p.get("curve_number"), p.get("point_index")) for p in points]
    st.session_state[f"_drill_{key}"] = signature
    if not points or signature == seen:
        return None
    custom = points[0].get("customdata")
    try:
        return int(custom[-1] if isinstance(custom, (list, tuple)) else custom)
    except (TypeError, ValueError):
        return None
