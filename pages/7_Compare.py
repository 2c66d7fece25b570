"""Compare: the headline, every method judged against Retrain (table and verdicts in words), Avg Gap, Δφ and
wall-time charts."""

import streamlit as st

from engine.figures import table_bars
from ui import state, tables, verdict

st.set_page_config(page_title="Compare · Unlearning audit", page_icon="🧹", layout="wide")
spec = state.sidebar()
st.title("Compare methods")
cmp = state.need_comparison()

mia = st.segmented_control("MIA in Avg Gap", ["FT AUC (RMIA)", "MIA-efficacy"], default="FT AUC (RMIA)", key="cmp_mia",
                           help="the AMUN paper reports both (its Tables 1–2 and 10–11)")
mia_col = "ft_auc" if mia != "MIA-efficacy" else "mia_efficacy"
verdict.headline(cmp, mia_col, here="pages/7_Compare.py")
tables.comparison_table(cmp, mia_col)
st.caption(f"{cmp.axes_words()} Each model seed has its own original model and retrained model(s); Avg Gap is "
           "computed per model against the mean of that seed's retrains, then averaged (AMUN §5.2).")
tables.run_spread(cmp)

t = cmp.table(mia_col)
if not cmp.has_retrain:  # Avg Gap and Δφ are distances to Retrain: nothing to draw without one
    st.info("No retrain in this audit (it was not allowed): Avg Gap and Δφ, distances to Retrain, are not defined.")
    st.plotly_chart(table_bars(t, "seconds", "Wall time (s)", "seconds", with_reference=True), width="stretch",
                    key="time_bars")
    st.stop()
a, b, c = st.columns(3)
a.plotly_chart(table_bars(t, "avg_gap", "Avg Gap to Retrain (pts, lower is better)", "Avg Gap (pts)"),
               width="stretch", key="gap_bars")
b.plotly_chart(table_bars(t, "phi_shift", "Δφ vs Retrain (logit, lower is better)", "W1 of φ (logit)"),
               width="stretch", key="phi_bars")
c.plotly_chart(table_bars(t, "seconds", "Wall time (s)", "seconds", with_reference=True), width="stretch",
               key="time_bars")
st.caption(verdict.charts_caption(cmp, mia_col))
st.download_button("Download metrics.csv (one row per model × seed)", cmp.rows.to_csv(index=False), "metrics.csv",
                   "text/csv", key="dl_metrics")
