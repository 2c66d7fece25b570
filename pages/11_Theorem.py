"""AMUN's Theorem 4.1 made visible: per forget sample, the distance of its nearest adversarial example (‖δ‖₂, ε),
whether that example transfers to Retrain, its confidence before / after against Retrain's, and how forgotten it is;
the aggregate (do closer, transferable adversarial examples forget better?) with its noise. The theorem's last
factor, the forget-set size, is the Forget-set sizes page (``pages/16_Forget_sizes.py``)."""

import numpy as np
import streamlit as st

from engine.audit.theorem import FACTORS, MEASURES, per_seed_display, spearman_display
from engine.figures_amun import theorem_groups, theorem_scatter
from ui import cached, jobs, sample_panel, state, tiles
from ui.text import md

st.set_page_config(page_title="AMUN's theorem · Unlearning audit", page_icon="🧹", layout="wide")
spec = state.sidebar()
st.title("AMUN's Theorem 4.1, sample by sample")
cmp = state.need_comparison()
req = state.request(spec)
s = st.session_state
st.markdown(
    "AMUN fine-tunes on each forget sample's **nearest adversarial example** (x_adv, labelled with the model's own "
    "wrong prediction y_adv). Its Theorem 4.1 bounds how far the result lands from the retrained model; the bound is "
    "tighter when the adversarial example is **close** (small ‖δ‖₂), **strong**, and **transfers** to the retrained "
    "model (Retrain also predicts y_adv at x_adv), and when the forget set is **small**. Here each forget sample "
    "shows those factors beside how forgotten it is after unlearning — do the samples the theorem favours forget "
    "better?")

if not cmp.has_retrain:
    st.info("This view compares each forget sample with the retrained model (does its adversarial example transfer "
            "to Retrain? how far is it from Retrain's confidence?), and this audit has no retrain. Set **Retrains per "
            "seed** to 1 or more on the Run page.", icon=":material/info:")
    st.stop()
unlearned = [m for m in cmp.methods if m not in ("original", "retrain")]
default = "amun" if "amun" in unlearned else unlearned[0]
c1, c2, c3 = st.columns([2, 2, 2])
method = c1.selectbox("Unlearned model", unlearned, format_func=lambda k: cmp.labels[k],
                      help="the adversarial examples are always the original model's (AMUN's D_A); any method's "
                           "forgetting can be set against them", **state.view("tmethod", unlearned, default))
state.sync_view("tmethod", method, default)
measures = list(MEASURES)
measure = c2.selectbox("How forgotten", measures, format_func=lambda m: MEASURES[m][0],
                       help=" · ".join(f"{v[0]}: {v[2]}" for v in MEASURES.values()),
                       **state.view("tmeasure", measures, "score_after"))
state.sync_view("tmeasure", measure, "score_after")
XS = ["delta_norm", "eps", "strength", "transfer_loss", "c_term"]
x_axis = c3.selectbox("x axis", XS, format_func=lambda k: FACTORS[k], **state.view("tx", XS, "delta_norm"))
state.sync_view("tx", x_axis, "delta_norm")

job = jobs.running_for(jobs.Kind.THEOREM, jobs.Theorem(req, cmp, method))
view = cached.theorem(req.key(), cmp, method)
if view is None:
    jobs.show_outcome(job)
    st.info("Searching the original model's nearest adversarial example of every forget sample (AMUN's D_A; served "
            "from the store when AMUN already ran) and every model's prediction there. Stored, so this runs once.")
    jobs.start(jobs.Kind.THEOREM, jobs.Theorem(req, cmp, method))
    st.stop()

frame = view.frame
seed_opts = ["all", *map(str, cmp.seeds)]
seed_pick = st.segmented_control("Seeds", seed_opts, required=True, help="pool every seed's forget samples, or one",
                                 **state.view("tseed", seed_opts, "all"))
state.sync_view("tseed", seed_pick, "all")
if seed_pick != "all":
    frame = frame[frame["seed"] == int(seed_pick)]
frame = frame.reset_index(drop=True)

# ------------------------------------------------------------------------------------------ the scatter
st.subheader(f"Every forget sample after {cmp.labels[method]}")
chosen = s.get("thm_row")
chosen = chosen if isinstance(chosen, int) and 0 <= chosen < len(frame) else None
event = st.plotly_chart(theorem_scatter(frame, measure, x=x_axis, selected=chosen), width="stretch",
                        key="thm_scatter", on_select="rerun", selection_mode="points")


def _row_of(point: dict) -> int | None:
    """The frame row a clicked point stands for: its customdata[0] (the browser sends customdata as a list, or as
    an object keyed "0", "1", … when plotly.js holds it as a typed array)."""
    data = point.get("customdata")
    if isinstance(data, dict):
        data = data.get("0", data.get(0))
    elif isinstance(data, (list, tuple)):
        data = data[0] if data else None
    try:
        return int(data) if data is not None else None
    except (TypeError, ValueError):
        return None


selection = event.get("selection", {}) if event is not None else {}
clicked = [r for r in (_row_of(pt) for pt in selection.get("points", [])) if r is not None]
if clicked and clicked != s.get("_thm_sel"):  # a new click (the selection persists over reruns): open that sample
    s["thm_row"] = chosen = clicked[0]
s["_thm_sel"] = clicked
n_att = int(frame["attacked"].sum())
st.caption(f"{len(frame)} forget samples ({n_att} with a real adversarial example; hollow: the original model already "
           f"misclassified the sample, so x_adv = x). Blue: Retrain also predicts y_adv at x_adv (the example "
           f"transfers); orange: it does not. y: {MEASURES[measure][2]}. **Click a point** to see its images below. "
           "What the theorem predicts: transferring and close (left) samples forget more.")

# ------------------------------------------------------------------------------------------ the aggregate
summary = view.aggregate(measure, None if seed_pick == "all" else int(seed_pick))
st.subheader("Do closer, transferable adversarial examples forget better?")
st.markdown(summary.sentence())
st.plotly_chart(theorem_groups(summary.by_transfer, summary.by_distance, measure), width="stretch",
                key="thm_groups")
st.caption("Means with 95 % t intervals over the attacked samples (pooled over the seeds shown). The within-seed "
           "tests treat samples as independent; the table per seed below is the noise between independent "
           "originals, forget draws and retrains — the effect is real only if it holds across seeds.")
a, b = st.columns(2)
a.markdown("**Rank correlation with each factor** (attacked samples)")
a.dataframe(spearman_display(summary.spearman), hide_index=True, width="stretch")
if summary.per_seed is not None:
    b.markdown("**Per seed** (ρ with ‖δ‖₂; transfer difference: mean if it transfers − if not)")
    b.dataframe(per_seed_display(summary.per_seed), hide_index=True, width="stretch")

# ------------------------------------------------------------------------------------------ one sample
st.subheader("One sample")
order = np.argsort(frame[x_axis].to_numpy(), kind="stable")
options = [int(i) for i in order]
if chosen is None or chosen not in options:
    chosen = options[0]
s["thm_pick"] = chosen


def _picked() -> None:
    s["thm_row"] = s["thm_pick"]


row_pos = st.selectbox("Sample (or click a point above)", options, key="thm_pick", on_change=_picked,
                       format_func=lambda i: f"#{int(frame.loc[i, 'index'])} (seed {int(frame.loc[i, 'seed'])}) · "
                                             f"{FACTORS[x_axis]} = {frame.loc[i, x_axis]:.3f}")
r = frame.loc[row_pos]
seed = int(r["seed"])
data = cmp.models[("original", seed)].data
classes = data.classes
seed_rows = view.frame[view.frame["seed"] == seed].reset_index(drop=True)
i = int(np.flatnonzero(seed_rows["index"].to_numpy() == int(r["index"]))[0])
adv = view.adversarial[seed]
x = data.x_train[int(r["index"])].numpy()
xa = adv.x_adv[i].numpy()
size = 96 if x.shape[-1] <= 16 else 2 * x.shape[-1]
y, ya = int(r["label"]), int(r["y_adv"])
probs = sample_panel.probabilities({m: (cmp.labels[m], cmp.models[(m, seed)], x, xa)
                                    for m in ("original", "retrain", method)})
# "predicts y_adv at x_adv" read off the same probabilities the bars below draw (it printed whether the original was
# the attacked model, "no" for a sample it already misclassified while its own bars showed y_adv winning)
predicts = {m: "yes" if int(np.argmax(probs[m][2])) == ya else "no" for m in probs}


def _factors(col) -> None:
    """The sample's terms beside its images: confidence, membership score, transfer and the losses of C."""
    col.dataframe(
        {"": ["confidence φ at x", "RMIA score", "predicts y_adv at x_adv", "loss of y at x_adv",
              "loss of y_adv at x_adv"],
         "Original": [f"{r['phi_original']:.3f}", f"{r['score_original']:.4f}", predicts["original"],
                      f"{r['strength']:.3f}", "–"],
         cmp.labels[method]: [f"{r['phi_after']:.3f}", f"{r['score_after']:.4f}", predicts[method], "–",
                              f"{r['overfit_loss']:.3f}"],
         "Retrain": [f"{r['phi_retrain']:.3f}", f"{r['score_retrain']:.4f}", predicts["retrain"], "–",
                     f"{r['transfer_loss']:.3f}"]},
        hide_index=True, width="stretch", key="thm_sample_table")
    col.caption(("" if r["attacked"] else "The original model already misclassifies this sample: x_adv = x, not an "
                     "attack. ") + "φ = log(p_y / (1 − p_y)) on the clean image; the RMIA score is the sample's own "
                    "membership score. "
                    "What good looks like: the unlearned model's φ and score at Retrain's, not the original's. The "
                    "losses are the terms of the theorem's C (– where it has none).")


sample_panel.show(
    f"**#{int(r['index'])}** · y = {md(classes[y])} → y_adv = {md(classes[ya])} · ε = {r['eps']:.3g} · "
    f"‖δ‖₂ = {r['delta_norm']:.3f} · " + ("**transfers** to Retrain" if r["transfers"] else
                                          "does **not** transfer to Retrain")
    + f" · {MEASURES[measure][0]} = {r[measure]:.3f}",
    sample=int(r["index"]), seed=seed, open_key="thm_open", open_label=f"Open #{int(r['index'])} on the Sample page",
    images={"clean x": tiles.to_rgb(x), "x_adv (original model)": tiles.to_rgb(xa),
            "δ amplified": tiles.amplified(xa - x)},
    size=2 * size, beside=_factors, probs=probs, classes=classes, label=y, chart_key="thm_probs",
    caption="Class probabilities on the clean image (solid) and on the original model's adversarial example "
            "(hatched), per model. Transfer: Retrain's hatched bar is highest at y_adv too.")

# ------------------------------------------------------------------------------------------ forget-set size
st.page_link("pages/16_Forget_sizes.py", label="The theorem's last factor: the forget-set size curve",
             icon=":material/stacked_line_chart:", query_params=state.link_params(("tmethod", "tsizes", "tsmethods")))
