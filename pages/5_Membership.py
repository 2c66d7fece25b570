"""Membership inference: ROC curves of every attack for a chosen set of models, low-FPR table, most exposed
samples."""

import numpy as np
import pandas as pd
import streamlit as st

from engine.audit.verdict import tpr_cell
from engine.figures import roc_curves
from ui import cached, drill, state, tiles
from ui.text import md

st.set_page_config(page_title="Membership inference · Unlearning audit", page_icon="🧹", layout="wide")
spec = state.sidebar()
st.title("Membership inference")
cmp = state.need_comparison()

c1, c2 = st.columns([1, 3])
seed = c1.selectbox("Seed", cmp.seeds, key="mia_seed")
attack_names = list(cmp.audits[("original", seed)].attacks)
attack = c2.segmented_control("Attack", attack_names, required=True,
                              **state.view("attack", attack_names, attack_names[0]))
state.sync_view("attack", attack, attack_names[0])

# the curves: Original, Retrain and (by default) the four methods closest to Retrain by Avg Gap — eleven curves
# on one plot tangle; the user picks any others
methods = [m for m in cmp.methods if m not in ("original", "retrain")]
gap = cmp.rows[cmp.rows.seed == seed].set_index("method")["avg_gap"]
closest = sorted(methods, key=lambda m: (gap.get(m, np.inf), methods.index(m)))[:4]
default = ["original", *(["retrain"] if cmp.has_retrain else []), *[m for m in methods if m in closest]]
curves_for = st.multiselect("Curves", cmp.methods, format_func=lambda k: cmp.labels[k], wrap=True,
                            help="models drawn on both plots; by default Original, Retrain and the four methods "
                                 "closest to Retrain (lowest Avg Gap). The table below has every model.",
                            **state.view("curves", cmp.methods, default, multi=True))
state.sync_view("curves", curves_for, default)
st.caption("Members = forget samples, non-members = test samples. What good looks like: the curve of an unlearned "
           "model lies on Retrain's, near the diagonal; on the log-log plot, low TPR at 1 % and 0.1 % FPR (points "
           "with a TPR of 0 cannot be drawn on a log axis: a curve starts at its first detected member).")
curves = {m: (cmp.labels[m], cmp.audits[(m, seed)].attacks[attack]) for m in curves_for}
a, b = st.columns(2)
a.plotly_chart(roc_curves(curves, log=False, title="ROC (linear)"), width="stretch", key="roc_lin")
b.plotly_chart(roc_curves(curves, log=True, title="ROC (log-log)"), width="stretch", key="roc_log")

rows = []
for m in cmp.methods:
    res = cmp.audits[(m, seed)].attacks[attack]
    hw = cached.attack_halfwidths(res.member_scores, res.nonmember_scores)
    n_test = len(res.nonmember_scores)  # below 1 / FPR unseen samples the FPR is not reachable: no interval
    rows.append({"model": cmp.labels[m], "AUC (%) ≈ Retrain": f"{100 * res.auc:.2f} ± {100 * hw['auc']:.2f}",
                 "TPR at 1 % FPR (%) ↓": tpr_cell(res.tpr_at_1pct, hw["tpr_at_1pct"], n_test, 0.01),
                 "TPR at 0.1 % FPR (%) ↓": tpr_cell(res.tpr_at_01pct, hw["tpr_at_01pct"], n_test, 0.001)})
table = pd.DataFrame(rows).set_index("model")
st.markdown(f"**{attack}**, every model (seed {seed}):")
st.dataframe(table, width="stretch", height="content",
             column_config={"_index": st.column_config.TextColumn("model", pinned=True)})
st.caption("± 95 % interval of this seed from a bootstrap over its forget and test samples (200 draws); a TPR at an "
           "FPR below one false positive (fewer than 1 / FPR test samples) is the TPR at zero false positives and "
           "has no interval. AUC: good ≈ Retrain's (50 % = a coin flip); TPR: lower is better. RMIA's AUC "
           "here uses all forget and test samples; the table on the Compare page uses the AMUN paper's balanced "
           "subsamples (averaged over 3 draws), so the two can differ slightly.")

st.subheader("Most exposed forget samples")
model = st.selectbox("Model", cmp.methods, index=cmp.methods.index("original"), format_func=lambda k: cmp.labels[k],
                     key="mia_model")
ps = cmp.audits[(model, seed)].per_sample
order = np.argsort(-np.asarray(ps["forget_rmia_score"]), kind="stable")[:12]
imgs = cmp.models[(model, seed)].data.x_train[ps["forget_index"][order]]
classes = [str(c) for c in cmp.models[(model, seed)].data.classes]
drill.gallery([tiles.upscale(tiles.to_rgb(img), 96) for img in imgs], ps["forget_index"][order],
              [f"y={md(classes[ps['forget_label'][i]])} · {ps['forget_rmia_score'][i]:.2f}" for i in order],
              seed, key="mia_open")
st.caption("Under each image: its class and RMIA score — the fraction of population points this sample dominates by "
           "likelihood ratio; high means the model still treats it as a member. The button under a sample opens it on "
           "the Sample page: its image, adversarial example, signals in every model and membership scores.")
