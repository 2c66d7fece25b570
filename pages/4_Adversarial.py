"""Adversarial examples: ε-to-flip of forget / remain / test before and after unlearning, and a grid of the forget
set's nearest adversarial examples with attributions; a detail panel per sample."""

import numpy as np
import pandas as pd
import streamlit as st

from engine.errors import UnlearnError
from engine.figures import GROUP_COLOR_NAMES, eps_to_flip
from ui import cached, drill, images, jobs, sample_panel, state, tiles
from ui.text import md

st.set_page_config(page_title="Adversarial examples · Unlearning audit", page_icon="🧹", layout="wide")
spec = state.sidebar()
st.title("Adversarial examples")
cmp = state.need_comparison()
s = st.session_state

c1, c2 = st.columns([1, 3])
seed = c1.selectbox("Seed", cmp.seeds, key="adv_seed")
reference = ["retrain"] if cmp.has_retrain else []  # an audit without a retrain has none
unlearned = [m for m in cmp.methods if m not in ("original", "retrain")] or reference or ["original"]
after_default = "amun" if "amun" in unlearned else unlearned[0]
after = c2.selectbox("After unlearning", unlearned, format_func=lambda k: cmp.labels[k],
                     help="the unlearned model compared with the original (Retrain is always shown as the reference)",
                     **state.view("after", unlearned, after_default))
state.sync_view("after", after, after_default)
models = list(dict.fromkeys(["original", *reference, after]))
try:
    prep = images.seed_prep(cmp.spec, seed)
except UnlearnError as exc:
    state.show_error(exc)
    st.stop()
classes = prep.data.classes
trained = {m: cmp.models[(m, seed)] for m in models}
rows = images.rows_for(prep, seed)

# ---------------------------------------------------------------------------- the search (a background job)
todo = images.missing(trained, prep, rows)
if todo:
    search = jobs.Adversarial(trained, prep, rows)
    job = jobs.running_for(jobs.Kind.ADVERSARIAL, search)
    if job is not None and not job.finished_ok:
        jobs.show_outcome(job)
        if not st.button("Try again", key="adv_retry"):
            st.stop()
    st.info(f"Searching the nearest adversarial example of every sample for {len(todo)} model × group set(s) "
            "(AMUN's L2 PGD with a doubling radius). Results are stored, so this runs once per model.")
    jobs.start(jobs.Kind.ADVERSARIAL, search)
    st.stop()

adv = {m: {g: images.stored(trained[m], prep, rows, g) for g in images.GROUPS} for m in models}

# ---------------------------------------------------------------------------- ε-to-flip distributions
st.subheader("Distance to the decision boundary")
MEASURES = {"delta_norm": "‖δ‖₂", "eps": "ε (radius)"}
value = st.segmented_control("Measure", list(MEASURES), format_func=MEASURES.get, required=True,
                             help="‖δ‖₂: length of the perturbation found; ε: the radius of the L2 ball it was "
                                  "found in (ε_init·2ᵏ, coarse steps)",
                             **state.view("measure", list(MEASURES), "delta_norm"))
state.sync_view("measure", value, "delta_norm")

panels = {m: (cmp.labels[m], {g: images.flip_values(adv[m][g], value) for g in images.GROUPS}) for m in models}
st.plotly_chart(eps_to_flip(panels, value), width="stretch", key="eps_cdf")
n = {g: len(rows.groups[g][1]) for g in images.GROUPS}
st.caption(f"Each curve: the fraction of samples whose nearest adversarial example lies within x of them "
           f"(forget {n['forget']}, remain {n['remain']} and test {n['test']} samples; larger sets are seeded "
           "subsamples). AMUN's insight: a model's training samples sit **farther from its decision boundary** than "
           f"unseen ones, so the original model's forget curve ({GROUP_COLOR_NAMES['forget']}) lies right of the "
           f"test curve ({GROUP_COLOR_NAMES['test']}). What good looks like: after unlearning, the forget curve sits "
           "on the test curve, as under Retrain.")
summary = images.flip_summary({cmp.labels[m]: panels[m][1] for m in models},
                              {cmp.labels[m]: adv[m] for m in models})
st.dataframe(summary, width="stretch",
             column_config={c: st.column_config.NumberColumn(format="%.3f") for c in summary.columns
                            if c != "not flipped"})
st.caption("What good looks like: **forget ÷ test** of the unlearned model close to Retrain's (≈ 1: forget samples "
           "are as easy to flip as unseen ones); the original model's ratio above 1 is the signal unlearning removes. "
           "'not flipped': samples still classified correctly at the largest radius tried (left out of the curves).")

# ---------------------------------------------------------------------------- the grid
st.subheader("Forget samples and their nearest adversarial examples")
g1, g2, g3, g4, g5 = st.columns([2, 3, 2, 2, 1])
attacked = g1.selectbox("Attacked model", models, format_func=lambda k: cmp.labels[k],
                        **state.view("attacked", models, "original"))
state.sync_view("attacked", attacked, "original")
forget_idx = rows.groups["forget"][1]
y_forget = prep.data.y_train[forget_idx].numpy()
present = sorted(set(y_forget.tolist()))
chosen = g2.multiselect("Classes", present, format_func=lambda c: classes[c], key="adv_classes",
                        placeholder="all classes", help="show forget samples of these true classes only")
ORDERS = ["index", "closest to the boundary", "farthest"]
order = g3.selectbox("Order", ORDERS, **state.view("order", ORDERS, "index"))
state.sync_view("order", order, "index")  # in the address: a shared link shows the same strips
method = g4.selectbox("Attribution", ["integrated_gradients", "saliency"], key="adv_attr",
                      format_func=lambda k: {"integrated_gradients": "Integrated Gradients", "saliency": "Saliency"}[k],
                      help="captum; red pixels raise the explained class's logit, blue pixels lower it")
A = adv[attacked]["forget"]
dn = A.delta_norm.numpy()
pos = np.flatnonzero(np.isin(y_forget, chosen)) if chosen else np.arange(len(forget_idx))
if order != "index":
    pos = pos[np.argsort(dn[pos] if order.startswith("closest") else -dn[pos], kind="stable")]
if not len(pos):
    st.warning("No forget sample of the chosen classes.")
    st.stop()
PER_PAGE = 12
pages = (len(pos) + PER_PAGE - 1) // PER_PAGE
page = g5.number_input(f"Page of {pages}", 1, pages, 1, key="adv_page", help=f"{len(pos)} samples, {PER_PAGE} a page")
page = min(int(page), pages)
shown = pos[(page - 1) * PER_PAGE: page * PER_PAGE]

net = trained[attacked].model
x, _ = rows.xy(prep, "forget")
x = x.numpy()
xa = A.x_adv.numpy()
attr_clean = cached.attributions(trained[attacked].key, net, x[shown], A.orig_pred.numpy()[shown], method)
attr_adv = cached.attributions(trained[attacked].key, net, xa[shown], A.y_adv.numpy()[shown], method)
size = 96 if x.shape[-1] <= 16 else 2 * x.shape[-1]


def describe(i: int) -> str:
    """A caption (Markdown): class names from the data are escaped."""
    head = f"#{forget_idx[i]} · y = {md(classes[y_forget[i]])}"
    if bool(A.already_wrong[i]):
        return f"{head} · already misclassified as {md(classes[int(A.y_adv[i])])} (ε = 0)"
    flip = f"→ {md(classes[int(A.y_adv[i])])}" if bool(A.flipped[i]) else "· not flipped"
    return f"{head} {flip} · ε = {float(A.eps[i]):.3g} · ‖δ‖₂ = {float(A.delta_norm[i]):.3f}"


st.caption(f"Attacked model: **{cmp.labels[attacked]}**. Each strip: clean image · adversarial image · perturbation δ "
           "amplified (grey = unchanged) · attribution of the clean prediction · attribution of the adversarial "
           "prediction. What good looks like: AMUN fine-tunes on exactly these adversarial images with their wrong "
           "labels; after unlearning, forget samples need perturbations as small as unseen samples do.")
STRIP_COLUMNS = ["clean", "adversarial", "δ amplified", "attribution (clean)", "attribution (adv.)"]
legend_col, legend_text = st.columns([1, 4])
legend_col.image(tiles.framed(tiles.upscale(tiles.heat(np.tile(np.linspace(-1, 1, 64), (6, 1))), 192)),
                 width="stretch", caption="attribution colours")
legend_text.caption("Attribution colours: **red** pixels raise the explained class's logit, **blue** pixels lower it, "
                    "white ones do not matter; each map scaled to its own largest |attribution|. δ: grey = unchanged, "
                    "lighter = brightened, darker = darkened.")
cols = st.columns(2)
for col in cols:  # column captions over the strips' five tiles
    for head, name in zip(col.columns(len(STRIP_COLUMNS)), STRIP_COLUMNS):
        head.caption(name)
for j, i in enumerate(shown):
    tile = tiles.strip([tiles.to_rgb(x[i]), tiles.to_rgb(xa[i]), tiles.amplified(xa[i] - x[i]),
                         tiles.heat(attr_clean[j]), tiles.heat(attr_adv[j])], size=size)
    cols[j % 2].image(tile, caption=describe(i), width="stretch")
    with cols[j % 2]:
        drill.button(int(forget_idx[i]), seed, key=f"adv_open_{int(forget_idx[i])}")

# ---------------------------------------------------------------------------- detail
st.subheader("Sample detail")
table = pd.DataFrame({"sample": forget_idx[pos], "class": [classes[c] for c in y_forget[pos]],
                      "adversarial class": [classes[c] for c in A.y_adv.numpy()[pos]],
                      **{f"‖δ‖₂ {cmp.labels[m]}": adv[m]["forget"].delta_norm.numpy()[pos] for m in models}})
picked = st.dataframe(table, hide_index=True, width="stretch", height=240, on_select="rerun",
                      selection_mode="single-row", key="adv_table",
                      column_config={c: st.column_config.NumberColumn(format="%.3f") for c in table if "δ" in c})
sel = list(picked.selection.rows) if picked is not None and hasattr(picked, "selection") else []
options = [int(v) for v in forget_idx[pos]]
if sel and sel != s.get("_adv_sel") and sel[0] < len(table):  # a row was clicked: open it in the detail panel
    state.set_view("detail", int(table["sample"].iloc[sel[0]]))
s["_adv_sel"] = sel
sample = st.selectbox("Sample (or click a row above)", options, **state.view("detail", options, options[0]),
                      format_func=lambda v: f"#{v} · {classes[int(prep.data.y_train[v])]}")
state.sync_view("detail", sample, options[0])  # in the address: a shared link opens the same detail
i = int(np.flatnonzero(forget_idx == sample)[0])
[a_clean] = cached.attributions(trained[attacked].key, net, x[i:i + 1], A.orig_pred.numpy()[i:i + 1], method)
[a_adv] = cached.attributions(trained[attacked].key, net, xa[i:i + 1], A.y_adv.numpy()[i:i + 1], method)
own = {m: adv[m]["forget"] for m in models}  # each model on the clean image and on its OWN adversarial example
probs = sample_panel.probabilities(
    {m: (f"{cmp.labels[m]} (→ {classes[int(own[m].y_adv[i])]}, ‖δ‖₂ {float(own[m].delta_norm[i]):.3f})", trained[m],
         x[i], own[m].x_adv.numpy()[i]) for m in models})
sample_panel.show(
    describe(i) + f" (attacked model: {cmp.labels[attacked]})", sample=int(sample), seed=seed,
    open_key="adv_open_detail", open_label="Every model", size=4 * size // 2,
    images={"clean": tiles.to_rgb(x[i]), "adversarial": tiles.to_rgb(xa[i]),
            "δ amplified": tiles.amplified(xa[i] - x[i]),
            f"attribution → {md(classes[int(A.orig_pred[i])])} (clean)": tiles.heat(a_clean),
            f"attribution → {md(classes[int(A.y_adv[i])])} (adversarial)": tiles.heat(a_adv)},
    probs=probs, classes=classes, label=int(y_forget[i]), chart_key="adv_probs",
    caption="Class probabilities of every model on the clean image (solid) and on its own nearest adversarial example "
            "(hatched; the strips above show the one found against "
            f"{cmp.labels[attacked]}); the shaded band marks the true class. What good looks like: the unlearned "
            "model's confidence on the clean forget image drops toward Retrain's, without collapsing to a wrong class.")
