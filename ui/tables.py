"""Tables of audit results, shared by the pages (formatting only; numbers come from the engine)."""

from __future__ import annotations

import streamlit as st

from engine.audit.compare import Comparison


def guard(check) -> None:
    """The membership guard (:mod:`engine.audit.guard`): a warning before anyone reads a comparison into noise."""
    if check.ok:
        st.caption(check.message)
    else:
        st.warning(check.message, icon=":material/warning:")


def comparison_table(result: Comparison, mia: str = "ft_auc") -> None:
    """The audit's table judged against Retrain (:mod:`ui.verdict`): the membership guard, failures, the cells with
    units and directions, green inside Retrain's interval and red outside it on the bad side, and the verdict per
    method in words."""
    from ui import verdict

    verdict.comparison(result, mia)


def run_spread(cmp: Comparison) -> None:
    """With several unlearning runs per method: how far one run lands from another beside the seeds' spread."""
    from engine.report import spread_cells

    spread = cmp.run_spread()
    if not len(spread):
        return
    st.markdown("**Unlearning runs**: how far one run of a method lands from another run from the same original (SD), "
                "beside how far the seeds' means move (SD over seeds)")
    st.dataframe(spread_cells(spread), width="stretch", height="content")
