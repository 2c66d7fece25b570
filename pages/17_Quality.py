"""Forgetting quality: N unlearning runs of each method against N retrains, judged per forget example (the NeurIPS
2023 unlearning challenge's score, U-LiRA beside it). The cost is shown before anything trains; the result comes
from the store (a shared link shows it without running anything)."""

import numpy as np
import streamlit as st

from engine.audit import quality_words as W
from engine.audit.quality import DELTA, epsilon_ceiling
from engine.errors import UnlearnError
from engine.figures_quality import epsilon_buckets, ulira_roc
from engine.quality import ORIGINAL_ROW, RETRAIN_ROW, QualityRequest
from engine.report_quality import FORMATS, PARTS, display_table, table_note
from engine.run import Runner
from engine.unlearning import METHODS
from ui import cached, drill, jobs, state, tiles
from ui.text import literal, md

st.set_page_config(page_title="Forgetting quality · Unlearning audit", page_icon="🧹", layout="wide")
spec = state.sidebar()
st.title("Forgetting quality")
st.caption("Many unlearned models against many retrained ones, per forget example: each method is run N times from "
           "the same original model (its own randomness only), Retrain N times, and every forget example's "
           "logit-scaled confidence is compared between the two groups of N (the NeurIPS 2023 unlearning "
           "challenge's ε per example and its score; U-LiRA's per-example likelihood-ratio test beside it).")

audit = state.audit_settings()
choices = [k for k in METHODS if k != "retrain"]
NS, KS = [4, 8, 16, 32, 64], [0, 8]
c1, c2, c3 = st.columns([3, 2, 1])
methods = c1.multiselect("Methods", choices, format_func=lambda k: METHODS[k].label,
                         **state.view("qmethods", choices, [m for m in audit["methods"] if m in choices],
                                      multi=True))
n = c2.segmented_control("Runs per side (N)", NS, **state.view("qn", NS, 16),
                         help="unlearning runs per method and retrains; ε can show at most ln(N − 1), so a larger "
                              "N resolves more (and costs N models per method)")
k = c3.segmented_control("RMIA models (K)", KS, **state.view("qk", KS, 0),
                         help="0: U-LiRA only; 8: RMIA on the same pairs too, with 8 reference models")
n, k = n or 16, 0 if k is None else k
state.sync_view("qmethods", methods, [m for m in audit["methods"] if m in choices])
state.sync_view("qn", n, 16)
state.sync_view("qk", k, 0)
if not methods:
    st.warning("Choose at least one method.")
    st.stop()
try:  # every setting checked before anything trains
    req = QualityRequest.build(spec, methods, overrides=audit["overrides"], tuned=audit["tuned"], runs=int(n),
                               use_remain=audit["use_remain"], k=int(k))
except UnlearnError as exc:
    state.show_error(exc)
    st.stop()

job = jobs.running_for(jobs.Kind.QUALITY, req)
res = cached.quality(req)
if res is None:
    jobs.show_outcome(job)
    try:
        models, seconds, said = cached.quality_cost(cached.root(), req.key(), req)
    except UnlearnError as exc:
        state.show_error(exc)
        st.stop()
    st.info(literal(f"Not computed yet for these settings. Cost: {models} model(s) — {said}."),
            icon=":material/schedule:")
    if st.button("Compute forgetting quality", type="primary", key="run_quality"):
        jobs.start(jobs.Kind.QUALITY, req)
    st.stop()

rows = res.rows
ceiling = epsilon_ceiling(req.runs)
like = W.like_retrain_eps(rows)
with st.container(border=True, key="quality_headline"):
    st.markdown("**In short**")
    for sentence in W.headline(rows, req.runs, ceiling):
        st.markdown(md(sentence))
st.caption(f"{len(res.forget)} forget examples ({md(res.spec.forget)}), N = {req.runs} models per side "
           f"({2 * req.runs} retrains, {req.runs} runs of each method, one original), δ = {DELTA:g}; scored from "
           f"the stored models in {res.seconds:.1f} s.")
for key, msg in res.failures.items():
    st.error(literal(f"{METHODS[key].label if key in METHODS else key}: failed — {msg}"), icon=":material/error:")

t = res.table()
show = display_table(res)
for title, cols in PARTS.items():  # two tables, so neither scrolls sideways and hides a column
    st.markdown(f"**{title}**")
    st.dataframe(show[cols], width="stretch",
                 column_config={"_index": st.column_config.TextColumn("method", pinned=True),
                                **{c: st.column_config.NumberColumn(format=f) for c, f in FORMATS.items()
                                   if c in cols}})
st.caption(md(table_note(res)))

a, b = st.columns(2)
a.plotly_chart(epsilon_buckets(rows, req.runs), width="stretch", key="quality_eps")
b.plotly_chart(ulira_roc(rows), width="stretch", key="quality_ulira")
if "rmia_auc" in t:
    st.markdown("**RMIA on the same pairs** (a population attack) beside U-LiRA (per example). RMIA's scores are "
                "ranks within each model's own population, so pooled across models they are not on one scale: "
                "read U-LiRA for this test, RMIA for the retained examples' exposure (remain vs test).")
    st.dataframe(t[["label", "rmia_auc", "rmia_tpr_1pct", "rmia_tpr_01pct", "ulira_auc", "ulira_tpr_1pct",
                    "retained_rmia_auc"]].set_index("label"), width="stretch")

st.subheader("The examples each method fails to forget")
methods_shown = [r for r in rows if r.key not in (RETRAIN_ROW, ORIGINAL_ROW)]
pick = st.selectbox("Method", [r.key for r in methods_shown], format_func=lambda x: METHODS[x].label,
                    **state.view("qshow", [r.key for r in methods_shown], methods_shown[0].key))
state.sync_view("qshow", pick, methods_shown[0].key)
row = next(r for r in methods_shown if r.key == pick)
missed = W.not_forgotten(row, n=12, eps_like=like)
if not missed:
    st.success(literal(f"Every forget example of {row.label} is within Retrain's noise floor (ε ≤ {like:.2f})."))
else:
    data = Runner(cached.store(), build=False).data(res.spec)
    idx = np.asarray(res.forget)[missed]
    eps = np.asarray(row.quality.epsilons)[missed]
    images = [tiles.framed(tiles.upscale(tiles.to_rgb(x), 72)) for x in data.x_train[idx].numpy()]
    caps = [f"ε {e:.2f}" if e < 50 else "told apart" for e in eps]
    st.caption(md(f"The {len(missed)} forget examples with the largest ε under {row.label} (above Retrain's noise "
                  f"floor {like:.2f}), largest first; a button opens one on the Sample page (its audit of these "
                  "settings, when stored)."))
    drill.gallery(images, idx.tolist(), caps, seed=res.spec.seed, key="quality_missed")
