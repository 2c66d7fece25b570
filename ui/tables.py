"""Tables of audit results, shared by the pages (formatting only; numbers come from the engine)."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from engine.audit.compare import GLOSSARY as EXPLAIN
from engine.audit.compare import TABLE, Comparison


def formatted(result: Comparison, mia: str = "ft_auc") -> pd.DataFrame:
    t = result.table(mia)
    out = pd.DataFrame(index=t["label"].values)
    out.index.name = "method"
    for c, (label, _) in TABLE.items():
        digits = 3 if c in ("simple_mia_acc", "ks", "wasserstein", "tpr_at_1pct") else 2
        out[label] = [f"{m:.{digits}f} ± {0 if pd.isna(s) else s:.{digits}f}" if pd.notna(m) else "–"
                      for m, s in zip(t[f"{c}_mean"], t[f"{c}_std"])]
    return out


def comparison_table(result: Comparison, mia: str = "ft_auc") -> None:
    """The AMUN paper's table, mean ± std over seeds, the best per column highlighted."""
    t, best = result.table(mia), result.best(mia)
    df = formatted(result, mia)
    labels = dict(zip(t.index, t["label"]))

    def highlight(col: pd.Series) -> list[str]:
        key = next((c for c, (lab, _) in TABLE.items() if lab == col.name), None)
        winner = labels.get(best.get(key, ""), None)
        return ["background-color: #d8f0d2; font-weight: 600" if idx == winner else
                ("color: #2CA02C; font-weight: 600" if idx == "Retrain" else "") for idx in col.index]

    st.dataframe(df.style.apply(highlight, axis=0), width="stretch",
                 column_config={lab: st.column_config.TextColumn(lab, help=EXPLAIN.get(lab)) for lab in df.columns})
    st.caption("Green cell: closest to Retrain (lowest for Avg Gap and time). Retrain is the reference; hover a "
               "column title for what good looks like.")
