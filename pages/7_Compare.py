"""Compare: the AMUN paper's table for N methods (mean ± std over seeds), Avg Gap and wall-time charts."""

import streamlit as st

from engine.figures import bars
from ui import state, tables

st.set_page_config(page_title="Compare · Unlearning audit", page_icon="🧹", layout="wide")
spec = state.sidebar()
st.title("Compare methods")
cmp = state.need_comparison()

mia = st.segmented_control("MIA in Avg Gap", ["FT AUC (RMIA)", "MIA-efficacy"], default="FT AUC (RMIA)", key="cmp_mia",
                           help="the AMUN paper reports both (its Tables 1–2 and 10–11)")
mia_col = "ft_auc" if mia != "MIA-efficacy" else "mia_efficacy"
tables.comparison_table(cmp, mia_col)
st.caption(f"{len(cmp.seeds)} seed(s): each seed has its own original model, forget draw and retrained model; "
           "Avg Gap is computed per run against that retrain, then averaged (AMUN §5.2).")

t = cmp.table(mia_col)
methods = [m for m in t.index if m != "retrain"]
a, b = st.columns(2)
a.plotly_chart(bars({m: (t.loc[m, "label"], t.loc[m, "avg_gap_mean"], t.loc[m, "avg_gap_std"]) for m in methods},
                    "Avg Gap to Retrain (lower is better)", "Avg Gap"), width="stretch", key="gap_bars")
b.plotly_chart(bars({m: (t.loc[m, "label"], t.loc[m, "seconds_mean"], t.loc[m, "seconds_std"]) for m in t.index},
                    "Wall time (s)", "seconds"), width="stretch", key="time_bars")
st.download_button("Download metrics.csv (one row per model × seed)", cmp.rows.to_csv(index=False), "metrics.csv",
                   "text/csv", key="dl_metrics")
