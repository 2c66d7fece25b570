"""Tables of audit results, shared by the pages (formatting only; numbers come from the engine)."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from engine.audit.compare import GLOSSARY, Comparison


def guard(check) -> None:
    """The membership guard (:mod:`engine.audit.guard`): a warning before anyone reads a comparison into noise."""
    if check.ok:
        st.caption(check.message)
    else:
        st.warning(check.message, icon=":material/warning:")


def comparison_table(result: Comparison, mia: str = "ft_auc") -> None:
    """The AMUN paper's table with 95 % intervals, the cells closest to Retrain (within noise) highlighted, and the
    membership guard above it when the original model leaks nothing to unlearn."""
    guard(result.membership_check())
    if result.failures:
        st.warning(result.failure_note(), icon=":material/error:")
    df = result.formatted(mia)
    best = set(result.best_cells(mia))

    def highlight(col: pd.Series) -> list[str]:
        return ["background-color: #d8f0d2; font-weight: 600" if (idx, col.name) in best else
                ("color: #2CA02C; font-weight: 600" if idx == "Retrain" else "") for idx in col.index]

    config = {lab: st.column_config.TextColumn(lab, help=GLOSSARY.get(lab)) for lab in df.columns}
    st.dataframe(df.style.apply(highlight, axis=0), width="stretch", height="content",
                 column_config={"_index": st.column_config.TextColumn("method", pinned=True), **config})
    st.caption(result.note(mia).replace("Marked:", "Green cells:") + " Hover a column title for what good looks "
               "like.")
