"""Setup and train: choose data, model, forget set and seed; train original and retrain; see confidence."""

import numpy as np
import pandas as pd
import streamlit as st

from engine.audit.mia import loss_threshold
from engine.audit.uncertainty import proportion_halfwidth
from engine.errors import UnlearnError
from engine.estimate import baseline_cost, describe_seconds
from engine.figures import confidence_histograms
from engine.forget import forget_from_indices, indices_spec
from engine.run import HARDEST_CRITERIA, Runner
from ui import cached, jobs, state, tables, tiles
from ui.text import md

st.set_page_config(page_title="Setup and train · Unlearning audit", page_icon="🧹", layout="wide")
spec = state.sidebar()
st.title("Setup and train")
state.recipe_controls(spec)  # training-set size and epochs over the data set's preset (in the URL when changed)
spec = state.current_spec()
st.caption(state.describe(spec))

try:
    prep = Runner(cached.store()).prepare(spec)
except UnlearnError as exc:
    state.show_error(exc)
    st.stop()
except Exception as exc:  # a bug, not the user's: one line, the details in the server's log
    state.show_failure("Reading the data and drawing the forget set", exc)
    st.stop()

d = prep.data
c = st.columns(5)
c[0].metric("Train", len(d.y_train))
c[1].metric("Forget", len(prep.forget), help="D_F: the samples to unlearn")
c[2].metric("Remain", len(prep.remain), help="D_R = train − D_F: what the retrained model sees")
c[3].metric("Test", len(d.y_test))
c[4].metric("Validation", len(d.y_val), help="carved out of the test split; SG-Unlearn's auditor uses it")

with st.expander(f"Preview of the forget set ({len(prep.forget)} samples)", expanded=False):
    show = prep.forget[:40]
    st.image([tiles.upscale(tiles.to_rgb(img), 64) for img in d.x_train[show]], width=64,
             caption=[f"#{i} · {md(d.classes[int(d.y_train[i])])}" for i in show])

with st.expander("Pick the forget set by hand", expanded=False):
    st.caption("Select rows (click the boxes at the left; shift-click for a range), then use them as the forget set. "
               "The selection becomes an inline spec such as `indices:3,7,10-15` in the sidebar and the URL, so "
               "the link reproduces it anywhere.")
    classes = st.multiselect("Show classes", list(range(d.num_classes)), format_func=lambda c: d.classes[c],
                             key="pick_classes", help="filter the grid by label")
    pool = np.arange(len(d.y_train))
    if classes:
        pool = pool[np.isin(d.y_train.numpy(), classes)]
    pool = pool[:600]
    uris = cached.data_uris(d.fingerprint, d.x_train.numpy())
    grid = pd.DataFrame({"image": [uris[i] for i in pool], "index": pool,
                         "label": [d.classes[int(d.y_train[i])] for i in pool],
                         "in current forget set": np.isin(pool, prep.forget)})
    picked = st.dataframe(grid, hide_index=True, on_select="rerun", selection_mode="multi-row", key="pick_df",
                          column_config={"image": st.column_config.ImageColumn("image", width="small")}, height=320)
    rows = picked.selection.rows if picked and picked.selection else []
    chosen = pool[rows] if len(rows) else np.array([], dtype=int)
    if st.button(f"Use the {len(chosen)} selected samples as the forget set", disabled=not len(chosen), key="use_pick"):
        try:
            spec_text = indices_spec(forget_from_indices(chosen.tolist(), d.y_train, d.num_classes))
        except UnlearnError as exc:
            state.show_error(exc)
        else:
            state.set_forget(spec_text)
            st.rerun()

with st.expander("Pick the hardest samples", expanded=False):
    st.caption("Forget the samples the original model holds on to most — the hard case for unlearning.")
    h1, h2, h3 = st.columns([1, 2, 1])
    n_hard = h1.number_input("How many", 1, len(d.y_train) - 1, min(len(prep.forget), len(d.y_train) - 1), key="hard_n")
    by = h2.selectbox("Criterion", list(HARDEST_CRITERIA), format_func=lambda k: HARDEST_CRITERIA[k], key="hard_by")
    hardest = jobs.Hardest(spec, int(n_hard), by)
    hard_job = jobs.find(jobs.Kind.HARDEST, hardest)
    if hard_job is not None and hard_job.active:
        jobs.watch(hard_job)
    elif hard_job is not None and hard_job.finished_ok and st.session_state.get("hard_applied") != hard_job.id:
        st.session_state["hard_applied"] = hard_job.id  # this page's own key: the job whose result was applied
        try:
            spec_text = indices_spec(forget_from_indices(hard_job.result.tolist(), d.y_train, d.num_classes))
        except UnlearnError as exc:
            state.show_error(exc)
        else:
            state.set_forget(spec_text)
            st.rerun()
    else:
        jobs.show_outcome(hard_job)
        if h3.button("Select", key="hard_go", help="trains the original model first if it is not stored yet"):
            jobs.start(jobs.Kind.HARDEST, hardest)

job = jobs.running_for(jobs.Kind.BASELINE, spec)

res = cached.baseline(spec)
if res is None:
    jobs.show_outcome(job)
    st.info("Train the original model (all of train) and the gold-standard retrained model (remain only). "
            "Results are stored, so this runs once per setting.")
    if job is None or not job.active:
        per_step = cached.step_seconds(spec, d)
        cost = baseline_cost(spec, d, len(prep.remain), per_step=per_step)
        text = (f"Estimated training time: **about {describe_seconds(cost.seconds)}** — an estimate: {cost.steps:,} "
                f"SGD steps ({spec.train.epochs} epochs of {len(d.y_train)} and of {len(prep.remain)} images, batch "
                f"{spec.train.batch_size}) × {1000 * per_step:.1f} ms per step, measured just now for this model on "
                f"this machine ({cost.device}); other work on the machine changes it.")
        (st.warning if cost.seconds > 300 else st.caption)(text)
    if st.button("Train original and retrain", type="primary", key="train"):
        jobs.start(jobs.Kind.BASELINE, spec)
    st.stop()

st.success(f"Original trained in {res.original.seconds:.1f} s, retrain in {res.retrain.seconds:.1f} s.")
tables.guard(res.membership_check())

acc = res.accuracies()
rows = []
for model, groups in res.signals.items():
    attack = loss_threshold(groups["forget"]["loss"], groups["test"]["loss"])
    hw = cached.attack_halfwidths(attack.member_scores, attack.nonmember_scores)
    row = {"model": model}
    for g in ("remain", "forget", "test"):
        p, n = acc[model][g], len(groups[g]["loss"])
        row[f"{g} acc %"] = f"{100 * p:.1f} ± {100 * proportion_halfwidth(p, n):.1f}"
    row["loss-attack AUC (forget vs test) %"] = f"{100 * attack.auc:.1f} ± {100 * hw['auc']:.1f}"
    rows.append(row)
st.subheader("Accuracy and membership signal")
st.dataframe(pd.DataFrame(rows).set_index("model"), width="stretch")
st.caption("± 95 % interval of this seed (accuracies: binomial; AUC: a bootstrap over the forget and test samples). "
           "What good looks like: an unlearned model should match **Retrain** — forget accuracy near retrain's, "
           "and a loss-attack AUC near 50 % (an attacker cannot tell forget samples from unseen test samples). "
           "The original model's higher AUC is the membership signal that unlearning must remove.")

st.subheader("Confidence: remain / test / forget")
scale = st.segmented_control("Scale", ["φ (log-odds)", "p(y|x)"], default="φ (log-odds)", key="conf_scale",
                             help="φ = log(p/(1−p)) spreads out the confident tail where members and "
                                  "non-members differ")
signal = "p_y" if scale == "p(y|x)" else "phi"
st.plotly_chart(confidence_histograms(res.signals, signal=signal), width="stretch", key="conf_hist")
st.caption("The original model is more confident on the samples it trained on (remain and forget) than on test "
           "samples; the retrained model treats the forget set like test data. That gap is what an audit measures.")
