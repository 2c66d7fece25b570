"""Confidence: remain / test / forget histograms for every model, and the per-sample shift of the forget set."""

import numpy as np
import pandas as pd
import streamlit as st

from engine.figures import SIGNAL_LABELS, confidence_histograms, forget_shift
from ui import state

st.set_page_config(page_title="Confidence · Unlearning audit", page_icon="🧹", layout="wide")
spec = state.sidebar()
st.title("Confidence on remain / test / forget")
cmp = state.need_comparison()

c1, c2, c3 = st.columns([1, 1, 2])
seed = c1.selectbox("Seed", cmp.seeds, key="conf_seed")
scale = c2.segmented_control("Scale", ["φ (log-odds)", "p(y|x)", "loss"], default="φ (log-odds)", key="conf_scale2")
signal = {"p(y|x)": "p_y", "loss": "loss"}.get(scale, "phi")
methods = [m for m in cmp.methods if m not in ("original", "retrain")]
shown = c3.multiselect("Methods", methods, default=methods[:4], format_func=lambda k: cmp.labels[k], key="conf_methods")
st.caption("What good looks like: after unlearning, the **forget** histogram (red) sits on the **test** histogram "
           "(orange), as it does for Retrain — not on the **remain** histogram (blue), as it does for the original "
           "model.")

models = ["original", "retrain", *shown]
for row in range(0, len(models), 2):
    pair = models[row:row + 2]
    groups = {cmp.labels[m]: cmp.signals[(m, seed)] for m in pair}
    st.plotly_chart(confidence_histograms(groups, signal=signal), width="stretch", key=f"hist_{row}")
    stats = []
    for m in pair:
        r = cmp.rows[(cmp.rows.method == m) & (cmp.rows.seed == seed)].iloc[0]
        stats.append(f"**{cmp.labels[m]}**: KS forget vs test {r.ks:.3f} (p = {r.ks_p:.2g}), W1 {r.wasserstein:.3f}"
                     + (f"; vs Retrain's forget losses KS {r.ks_vs_retrain:.3f}, W1 {r.w1_vs_retrain:.3f}"
                        if m != "retrain" and pd.notna(r.ks_vs_retrain) else ""))
    st.markdown(" · ".join(stats))

st.subheader("Per-sample shift of the forget set")
st.caption("Each point is one forget sample: its confidence under the original model (x) and after unlearning (y). "
           "Points below the diagonal lost confidence; Retrain shows where they would be had they never been seen.")
before = cmp.signals[("original", seed)]["forget"][signal]
after = {m: (cmp.labels[m], cmp.signals[(m, seed)]["forget"][signal]) for m in ["retrain", *shown]}
y_forget = np.asarray(cmp.audits[("original", seed)].per_sample["forget_label"])
st.plotly_chart(forget_shift(before, after, y_forget, SIGNAL_LABELS.get(signal, signal)), width="stretch",
                key="shift")
