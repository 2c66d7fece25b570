"""Membership inference: ROC curves of every attack for every model, low-FPR table, most exposed samples."""

import numpy as np
import pandas as pd
import streamlit as st

from engine.figures import roc_curves
from ui import state, tiles

st.set_page_config(page_title="Membership inference · Unlearning audit", page_icon="🧹", layout="wide")
spec = state.sidebar()
st.title("Membership inference")
cmp = state.need_comparison()

c1, c2 = st.columns([1, 3])
seed = c1.selectbox("Seed", cmp.seeds, key="mia_seed")
attack_names = list(cmp.audits[("original", seed)].attacks)
attack = c2.segmented_control("Attack", attack_names, default=attack_names[0], key="mia_attack")
st.caption("Members = forget samples, non-members = test samples. What good looks like: the curve of an unlearned "
           "model lies on Retrain's, near the diagonal; on the log-log plot, low TPR at 1 % and 0.1 % FPR.")
curves = {m: (cmp.labels[m], cmp.audits[(m, seed)].attacks[attack]) for m in cmp.methods}
a, b = st.columns(2)
a.plotly_chart(roc_curves(curves, log=False, title="ROC (linear)"), width="stretch", key="roc_lin")
b.plotly_chart(roc_curves(curves, log=True, title="ROC (log-log)"), width="stretch", key="roc_log")

rows = []
for m in cmp.methods:
    for name, res in cmp.audits[(m, seed)].attacks.items():
        rows.append({"model": cmp.labels[m], "attack": name, "AUC %": 100 * res.auc,
                     "TPR@1%FPR %": 100 * res.tpr_at_1pct, "TPR@0.1%FPR %": 100 * res.tpr_at_01pct})
table = pd.DataFrame(rows).pivot_table(index="model", columns="attack",
                                       values=["AUC %", "TPR@1%FPR %", "TPR@0.1%FPR %"],
                                       sort=False)
st.dataframe(table.round(2), width="stretch")
st.caption("RMIA's AUC here uses all forget and test samples; the table on the Compare page uses the AMUN paper's "
           "balanced subsamples (averaged over 3 draws), so the two can differ slightly.")

st.subheader("Most exposed forget samples")
model = st.selectbox("Model", cmp.methods, index=cmp.methods.index("original"), format_func=lambda k: cmp.labels[k],
                     key="mia_model")
ps = cmp.audits[(model, seed)].per_sample
order = np.argsort(-np.asarray(ps["forget_rmia_score"]))[:12]
imgs = cmp.models[(model, seed)].data.x_train[ps["forget_index"][order]]
st.image([tiles.upscale(tiles.to_rgb(img), 72) for img in imgs], width=72,
         caption=[f"#{ps['forget_index'][i]} · y={ps['forget_label'][i]} · score {ps['forget_rmia_score'][i]:.2f}"
                  for i in order])
st.caption("RMIA score = fraction of population points this sample dominates by likelihood ratio; high means the "
           "model still treats it as a member.")
