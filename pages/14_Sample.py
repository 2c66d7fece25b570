"""Sample: one forget sample across every model — image, nearest adversarial example, its signals and membership
scores in every model. Opened from the Membership page's most exposed samples, the Adversarial page's strips and
detail, or any page that calls ui.drill; the address carries the sample, so the panel can be shared."""

import numpy as np
import streamlit as st

from engine.audit.sample import COLUMNS, sample_table
from engine.errors import UnlearnError
from engine.figures import probability_bars
from engine.run import NotStored, Runner
from ui import cached, images, state, tiles
from ui.text import md

st.set_page_config(page_title="Sample · Unlearning audit", page_icon="🧹", layout="wide")
spec = state.sidebar()
st.title("One forget sample, every model")
cmp = state.need_comparison()
s = st.session_state

asked = st.query_params.get("sample") if "view_sample" not in s else None  # from an address, read once
c1, c2, c3 = st.columns([1, 2, 2])
seed = c1.selectbox("Seed", cmp.seeds, help="the audit seed: each seed draws its own forget set",
                    **state.view("sseed", cmp.seeds, cmp.seeds[0]))
state.sync_view("sseed", seed, cmp.seeds[0])
original = cmp.models[("original", seed)]
data = original.data
classes = [str(c) for c in data.classes]
forget_idx = [int(v) for v in cmp.signals[("original", seed)].forget]
y_train = data.y_train.numpy()
# the first sample by default: the original model's most exposed (highest RMIA score)
ps = cmp.audits[("original", seed)].per_sample
first = int(np.asarray(ps["forget_index"])[int(np.argmax(ps["forget_rmia_score"]))])
sample = c2.selectbox("Forget sample", forget_idx, format_func=lambda v: f"#{v} · {classes[y_train[v]]}",
                      help="a training index of the forget set (type to search); by default the sample the "
                           f"{cmp.labels['original']} model exposes most",
                      **state.view("sample", forget_idx, first))
state.sync_view("sample", sample, None)  # always in the address: the link names its sample
if asked is not None and asked != str(sample):
    st.warning(f"Sample {md(asked)} from the address is not in the forget set of seed {seed}; showing "
               f"#{sample}, the most exposed.", icon=":material/warning:")
attackable = list(cmp.methods)
attacked = c3.selectbox("Adversarial example against", attackable, format_func=lambda k: cmp.labels[k],
                        help="the model whose nearest adversarial example of this sample is shown (AMUN fine-tunes "
                             "on the original model's)", **state.view("attacked", attackable, "original"))
state.sync_view("attacked", attacked, "original")

y = int(y_train[sample])
x = data.x_train[sample:sample + 1].numpy()
tm = cmp.models[(attacked, seed)]


def nearest():
    """This sample's nearest adversarial example under the attacked model: from the Adversarial page's stored set
    of the forget rows when there is one, else its own (stored as a one-row set; computed here when missing)."""
    try:
        rows = images.rows_for(images.seed_prep(cmp.spec, seed), seed).groups["forget"][1]
        if sample in rows:
            return cached.adversarial(tm, data, "train", rows).subset([int(np.flatnonzero(rows == sample)[0])])
    except (NotStored, UnlearnError):
        pass
    one = np.array([sample])
    try:
        return cached.adversarial(tm, data, "train", one)
    except NotStored:
        with st.spinner(f"Searching the nearest adversarial example under {cmp.labels[attacked]}…"):
            Runner(cached.store()).adversarial(tm, data, split="train", rows=one)
        return cached.adversarial(tm, data, "train", one)


adv = nearest()
xa = adv.x_adv.numpy()
y_adv = int(adv.y_adv[0])

st.subheader(f"#{sample} · class {md(classes[y])}")
big = 160
left, _ = st.columns([3, 4])
with left:
    cols = st.columns(3)
    cols[0].image(tiles.framed(tiles.upscale(tiles.to_rgb(x[0]), big)), caption="clean", width="stretch")
    cols[1].image(tiles.framed(tiles.upscale(tiles.to_rgb(xa[0]), big)),
                  caption=f"adversarial → {md(classes[y_adv])}", width="stretch")
    cols[2].image(tiles.framed(tiles.upscale(tiles.amplified(xa[0] - x[0]), big)), caption="δ amplified",
                  width="stretch")
if bool(adv.already_wrong[0]):
    st.caption(f"{md(cmp.labels[attacked])} already misclassifies it (as {md(classes[y_adv])}): ε = 0.")
else:
    st.caption(f"Nearest adversarial example under **{md(cmp.labels[attacked])}**: "
               + (f"→ {md(classes[y_adv])}" if bool(adv.flipped[0]) else "not flipped")
               + f" · ε = {float(adv.eps[0]):.3g} · ‖δ‖₂ = {float(adv.delta_norm[0]):.3f} (AMUN's L2 PGD with a "
               "doubling radius; δ amplified: grey is unchanged).")

st.subheader("Its signals and membership scores in every model")
table = sample_table(cmp, seed, sample, classes)
LABELS = {"predicted": "predicted", "correct": "correct", "p_y": "p(y|x)", "phi": "φ", "loss": "loss",
          "entropy": "entropy", "rmia_score": "RMIA score", "rmia_rank": "rank vs test %",
          "rmia_rank_forget": "rank in D_F %", "mia_member": "MIA member",
          "loss_minus_retrain": "loss − Retrain's"}
shown = table.drop(columns="key").rename(columns=LABELS)
fmt = {"p_y": "%.3f", "phi": "%.2f", "loss": "%.3f", "entropy": "%.3f", "rmia_score": "%.3f", "rmia_rank": "%.0f",
       "rmia_rank_forget": "%.0f", "loss_minus_retrain": "%.3f"}
st.dataframe(shown, width="stretch", height="content",
             column_config={"_index": st.column_config.TextColumn("model", pinned=True),
                            **{LABELS[c]: st.column_config.NumberColumn(LABELS[c], help=COLUMNS[c], format=f)
                               for c, f in fmt.items()},
                            LABELS["predicted"]: st.column_config.TextColumn(LABELS["predicted"],
                                                                             help=COLUMNS["predicted"]),
                            LABELS["mia_member"]: st.column_config.CheckboxColumn(LABELS["mia_member"],
                                                                                  help=COLUMNS["mia_member"]),
                            LABELS["correct"]: st.column_config.CheckboxColumn(LABELS["correct"])})
ref = "Retrain" if cmp.has_retrain else "the test samples"
st.caption("Hover a column title for its meaning. RMIA ranks: the share of test samples (non-members) and of "
           "forget samples whose RMIA score is below this one. What good looks like: an unlearned model's row close "
           f"to {ref}'s — p(y|x), φ, RMIA score and ranks — and loss − Retrain's near 0"
           + ("." if cmp.has_retrain else "; without a retrain, a rank vs test near 50 is a score like an unseen "
              "sample's."))

probs = {}
for m in cmp.methods:
    t = cmp.models[(m, seed)]
    p = cached.probabilities(t.key, t.model, np.concatenate([x, xa]))
    probs[m] = (cmp.labels[m], p[0], p[1])
st.plotly_chart(probability_bars(probs, classes, y), width="stretch", key="sample_probs")
st.caption(f"Class probabilities of every model on the clean image (solid) and on the adversarial example found "
           f"against {md(cmp.labels[attacked])} (hatched: where a model also predicts {md(classes[y_adv])}, the "
           "example transfers to it); the shaded band marks the true class.")
st.caption("This panel's address carries the audit, the seed and the sample (`sample=` in the address bar): copy it "
           "to share this exact view.")
b1, b2, _ = st.columns([2, 2, 3])
b1.page_link("pages/5_Membership.py", label="Most exposed samples (Membership)", icon=":material/policy:")
b2.page_link("pages/4_Adversarial.py", label="Adversarial strips", icon=":material/grid_view:")
