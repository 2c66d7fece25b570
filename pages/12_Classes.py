"""Classes: per-class accuracy of every model (forget classes marked), a model's prediction matrix against Retrain's
and their difference, and — for class-wise forgetting — the forget classes' confidence against Retrain's."""

import streamlit as st

from engine.audit import classes as cl
from engine.figures import class_accuracy_bars, class_confidence_histograms, confusion_heatmaps
from engine.forget import forget_classes
from ui import state

st.set_page_config(page_title="Classes · Unlearning audit", page_icon="🧹", layout="wide")
spec = state.sidebar()
st.title("Class-level detail")
cmp = state.need_comparison()

GROUPS = {"test": "test", "forget": "forget (D_F)", "remain": "remain (D_R)"}
c1, c2 = st.columns([1, 3])
seed = c1.selectbox("Seed", cmp.seeds, key="cls_seed")
group = c2.segmented_control("Samples", list(GROUPS), format_func=GROUPS.get, required=True,
                             help="which samples the accuracies and the prediction matrix count",
                             **state.view("group", list(GROUPS), "test"))
state.sync_view("group", group, "test")

data = cmp.models[("original", seed)].data
names = [str(c) for c in data.classes]
marked = forget_classes(cmp.spec.forget)
y_train, y_test = data.y_train.numpy(), data.y_test.numpy()
per_model = {m: cl.class_accuracy(cmp.signals[(m, seed)], y_train, y_test, data.num_classes) for m in cmp.methods}
wide = cl.accuracy_by_class(per_model, group)
reference = "retrain" if cmp.has_retrain else "original"

# ---------------------------------------------------------------------------- per-class accuracy
st.subheader("Accuracy per class")
st.plotly_chart(class_accuracy_bars(wide, {m: cmp.labels[m] for m in cmp.methods}, names, marked,
                                    title=f"Accuracy per class on the {GROUPS[group]} samples (seed {seed})"),
                width="stretch", key="cls_bars")
shown = wide.rename(columns={m: cmp.labels[m] for m in cmp.methods})
shown.index = [f"{names[c]} ★" if c in marked else names[c] for c in wide.index]  # a table: plain text
shown.index.name = "class"
st.dataframe(shown.style.apply(lambda r: ["background-color: #FAF5C8" if r.name.endswith("★") else ""] * len(r),
                               axis=1),
             width="stretch", height="content",
             column_config={"_index": st.column_config.TextColumn("class", pinned=True),
                            "n": st.column_config.NumberColumn("n", help="samples of the class in this group"),
                            **{cmp.labels[m]: st.column_config.NumberColumn(cmp.labels[m], format="%.1f")
                               for m in cmp.methods}})
what = ("a whole class was forgotten (★): Retrain never saw it, so its **test** accuracy on that class is 0 — an "
        "unlearned model that still recognises the class has not forgotten it, however good its average looks"
        if marked else "a random forget set: every class keeps most of its samples, so what good looks like is each "
        "class's accuracy close to Retrain's, the forget samples' (D_F) included")
st.caption(f"Accuracy (%) per class of every model, side by side. Here {what}.")

# ---------------------------------------------------------------------------- prediction matrix
st.subheader("Prediction matrix")
others = [m for m in cmp.methods if m != reference]
if not others:
    st.info("This audit has a single model: add methods on the Run page to compare prediction matrices.")
else:
    default = next((m for m in others if m != "original"), others[0])
    model = st.selectbox("Model", others, format_func=lambda k: cmp.labels[k],
                         help=f"its prediction matrix beside {cmp.labels[reference]}'s",
                         **state.view("cm", others, default))
    state.sync_view("cm", model, default)
    a, b = (cl.row_normalised(cl.prediction_matrix(cmp.signals[(m, seed)], y_train, y_test, data.num_classes, group))
            for m in (model, reference))
    st.plotly_chart(confusion_heatmaps(a, b, names, (cmp.labels[model], cmp.labels[reference]), marked),
                    width="stretch", key="cls_confusion")
    st.caption(f"Row = true class, column = predicted class, each row in % of its {GROUPS[group]} samples; the third "
               f"panel is the difference in points (red: {cmp.labels[model]} predicts that cell more often). What good "
               f"looks like: a difference near 0 everywhere"
               + (" — for a forgotten class, its row spread over the other classes as Retrain spreads it." if marked
                  else "." if cmp.has_retrain else "; without a Retrain in this audit the reference is the original "
                  "model, so the difference is what unlearning changed."))

# ---------------------------------------------------------------------------- class-wise forgetting
st.subheader("Forget classes: confidence against Retrain's")
if not marked:
    st.info("This view is for class-wise forgetting (`class:K` in the sidebar's forget set): the confidence of the "
            "forgotten class's samples under each model against Retrain's, where SG-Unlearn is known to struggle.")
    k1, k2, _ = st.columns([2, 1, 3])
    k = k1.selectbox("Forget a whole class", range(data.num_classes), format_func=lambda c: names[c], key="cls_pick")
    if k2.button("Use it", key="cls_use", help=f"sets the forget set to class:{k}; run the audit for it on the Run "
                                               "page"):
        state.set_forget(f"class:{k}")
        st.rerun()
elif not cmp.has_retrain:
    st.info("This audit has no Retrain (it was not allowed), so there is no reference histogram to compare with.")
else:
    SIG = {"p_y": "p(y|x)", "phi": "φ (log-odds)", "entropy": "entropy"}
    s1, s2 = st.columns([2, 2])
    signal = s1.segmented_control("Signal", list(SIG), format_func=SIG.get, required=True,
                                  **state.view("conf", list(SIG), "p_y"))
    state.sync_view("conf", signal, "p_y")
    SAMPLES = {"forget": "training samples (D_F)", "test": "test samples"}
    which = s2.segmented_control("Samples of the forget class", list(SAMPLES), format_func=SAMPLES.get, required=True,
                                 default="forget", key="cls_which")
    values = {m: cl.class_confidence(cmp.signals[(m, seed)], y_train, y_test, marked, signal) for m in cmp.methods}
    panels = {m: (cmp.labels[m], values[m][which]) for m in cmp.methods if m != "retrain"}
    st.plotly_chart(class_confidence_histograms(panels, (cmp.labels["retrain"], values["retrain"][which]), signal,
                                                x_title=cl.CONFIDENCE[signal]), width="stretch", key="cls_hist")
    st.caption("Each panel: the model's confidence on the forgotten class's samples (filled) against Retrain's "
               "(green outline). What good looks like: the filled histogram on the outline — low p(y|x), high "
               "entropy, as a model that never saw the class. A method that leaves a peak near p = 1 still "
               "recognises the class (SG-Unlearn is known to struggle here).")
