"""Confidence: remain / test / forget histograms for every model, and the per-sample shift of the forget set."""

import numpy as np
import pandas as pd
import streamlit as st

from engine.figures import GROUP_COLOR_NAMES, SIGNAL_LABELS, confidence_histograms, forget_shift
from ui import drill, state

st.set_page_config(page_title="Confidence · Unlearning audit", page_icon="🧹", layout="wide")
spec = state.sidebar()
st.title("Confidence on remain / test / forget")
cmp = state.need_comparison()

SCALES = {"phi": "φ (log-odds)", "p_y": "p(y|x)", "loss": "loss"}
c1, c2, c3 = st.columns([1, 2, 4])
seed = c1.selectbox("Seed", cmp.seeds, key="conf_seed")
signal = c2.segmented_control("Scale", list(SCALES), format_func=SCALES.get, required=True,
                              help="φ = log(p/(1−p)) spreads out the confident tail where members and non-members "
                                   "differ; the loss is binned on a log scale",
                              **state.view("scale", list(SCALES), "phi"))
state.sync_view("scale", signal, "phi")
methods = [m for m in cmp.methods if m not in ("original", "retrain")]
shown = c3.multiselect("Methods", methods, format_func=lambda k: cmp.labels[k], wrap=True,
                       help="every method of the audit by default; Original and Retrain are always shown",
                       **state.view("show", methods, methods, multi=True))
state.sync_view("show", shown, methods)
names = GROUP_COLOR_NAMES
st.caption(f"What good looks like: after unlearning, the **forget** histogram ({names['forget']}) sits on the "
           f"**test** histogram ({names['test']}), as it does for Retrain — not on the **remain** histogram "
           f"({names['remain']}), as it does for the original model. Every panel shares the x-axis and its bins; the "
           "forget histogram is drawn as an outline over the filled ones. The x-axis title says how many extreme "
           "values fall outside the drawn range (the 0.5–99.5 % quantiles), counted in the edge bins.")

reference = ["retrain"] if cmp.has_retrain else []  # an audit without a retrain has none
models = ["original", *reference, *shown]
groups = {m: cmp.signals[(m, seed)] for m in models}
st.plotly_chart(confidence_histograms(groups, signal=signal, labels={m: cmp.labels[m] for m in models}),
                width="stretch", key="hist")

stats = []
for m in models:
    r = cmp.rows[(cmp.rows.method == m) & (cmp.rows.seed == seed)].iloc[0]
    stats.append({"model": cmp.labels[m], "KS forget vs test": r.ks, "KS p-value": r.ks_p,
                  "W1 forget vs test": r.wasserstein,
                  "KS vs Retrain's forget losses": r.ks_vs_retrain, "W1 vs Retrain's forget losses": r.w1_vs_retrain})
table = pd.DataFrame(stats).set_index("model")
st.dataframe(table, width="stretch", height="content",
             column_config={"_index": st.column_config.TextColumn("model", pinned=True),
                            **{c: st.column_config.NumberColumn(c, format="%.3f") for c in table.columns}})
st.caption("Distances between the loss distributions (per-sample cross-entropy; the Statistics page has them "
           "averaged over seeds). What good looks like: values close to Retrain's, and small distances to Retrain's "
           "own forget losses.")

st.subheader("Per-sample shift of the forget set")
if signal == "loss":
    st.caption("Each point is one forget sample: its loss under the original model (x) and after unlearning (y), on "
               "log axes. Points **above** the diagonal lost confidence (their loss grew); Retrain shows where they "
               "would be had they never been seen.")
else:
    st.caption(f"Each point is one forget sample: its {SCALES[signal]} under the original model (x) and after "
               "unlearning (y). Points **below** the diagonal lost confidence; Retrain shows where they would be had "
               "they never been seen.")
before = cmp.signals[("original", seed)]["forget"][signal]
after = {m: (cmp.labels[m], cmp.signals[(m, seed)]["forget"][signal]) for m in [*reference, *shown]}
y_forget = np.asarray(cmp.audits[("original", seed)].per_sample["forget_label"])
label = "cross-entropy loss" if signal == "loss" else SIGNAL_LABELS.get(signal, signal)
index = np.asarray(cmp.audits[("original", seed)].per_sample["forget_index"])
event = st.plotly_chart(forget_shift(before, after, y_forget, label, log=signal == "loss", indices=index),
                        width="stretch", key="shift", on_select="rerun", selection_mode="points")
st.caption("Click a point to open that sample on the Sample page (its image, adversarial example and every model's "
           "signals).")
if (clicked := drill.picked(event, "shift")) is not None:
    drill.open_sample(clicked, seed)
