"""Your model: upload a model's weights (safetensors) for an architecture the engine builds, with its data set and
forget set, and run every audit against it — with a retrain when allowed, or against the reference models alone."""

import streamlit as st

from engine import upload
from engine.errors import UnlearnError
from engine.forget import MAX_INDEX_FILE_BYTES, indices_from_bytes, indices_spec, select_forget
from engine.run import Runner
from ui import cached, jobs, state, tables
from ui.text import md

st.set_page_config(page_title="Your model · Unlearning audit", page_icon="🧹", layout="wide")
spec = state.sidebar()
st.title("Audit your own model")
st.markdown("Bring a model you trained (and perhaps unlearned) elsewhere: its weights stand in for the original "
            "model, and every audit of the dashboard runs against it — Retrain, the unlearning methods of the Run "
            "page, the membership attacks, the class-level and per-sample views.")
s = st.session_state
audit = state.audit_settings()

# ---------------------------------------------------------------------------- 1. architecture and data
st.subheader("1 · Architecture and data")
st.caption("The data set and the architecture are the sidebar's (a built-in data set, or an image folder); the "
           "width is set here. The data set must be the one your model was trained on, in the engine's split: set "
           "**Training images** to 0 (all) unless your model was trained on the engine's seeded subset, and the forget "
           "indices below index that training split.")
c1, c2 = st.columns([1, 3])
state.width_control(spec, c1)
with c2:
    state.recipe_controls(spec)
spec = state.current_spec()
st.caption(state.describe(spec) + " — the recipe is the one Retrain and the reference models are trained with.")
try:
    data = Runner(cached.store()).data(spec)
except UnlearnError as exc:
    state.show_error(exc)
    st.stop()

# ---------------------------------------------------------------------------- 2. forget set
st.subheader("2 · The forget set")
f1, f2 = st.columns([2, 3])
shown = (spec.forget if len(spec.forget) <= 80 else spec.forget[:77] + "...").replace("`", "'")
f1.markdown(f"Forget set now: `{shown}` (the "
            "sidebar's; type `indices:3,7,10-15` there, or upload a file of indices here).")
idx_file = f2.file_uploader("Forget indices (text, one training index a line)", key="yours_indices",
                            max_upload_size=MAX_INDEX_FILE_BYTES >> 20,
                            help=f"at most {MAX_INDEX_FILE_BYTES >> 20} MB; `#` starts a comment. Replaces the "
                                 "sidebar's forget set.")
if idx_file is not None:
    if s.get("_yours_indices") != idx_file.file_id:  # a new file: read once
        s["_yours_indices"], s["_yours_indices_error"] = idx_file.file_id, None
        try:
            values = indices_from_bytes(idx_file.getvalue(), idx_file.name)
            text = indices_spec(values)
            select_forget(text, data.y_train, data.num_classes)  # in range, not every sample of the training set
        except UnlearnError as exc:
            s["_yours_indices_error"] = str(exc)
        else:
            state.set_forget(text)
            st.rerun()
    if s.get("_yours_indices_error"):  # shown while the file stays in the uploader
        st.error(s["_yours_indices_error"], icon=":material/error:")

# ---------------------------------------------------------------------------- 3. the weights
st.subheader("3 · The weights")
st.caption(f"A **safetensors** file of the model's `state_dict()` (`safetensors.torch.save_file(model.state_dict(), "
           f"'model.safetensors')`), at most {upload.MAX_UPLOAD_BYTES >> 20} MB. Pickles (`.pt`, `.pth`, `.pkl` "
           "from `torch.save`) are refused unopened: loading one can run code. Every tensor's name and shape is "
           "checked against the architecture, the output layer against the data set's class count, every value "
           "must be finite, and the model's outputs on the data too.")
gen = s.get("_yours_gen", 0)  # a new uploader (an empty one) after "Stop auditing it"
weights = st.file_uploader("Weights (.safetensors)", key="yours_weights" if not gen else f"yours_weights_{gen}",
                           max_upload_size=upload.MAX_UPLOAD_BYTES >> 20)
if weights is not None:
    checked = (weights.file_id, spec)  # this file checked for this model and data set
    if s.get("_yours_checked") != checked:
        try:
            upload.check_size(weights.size, weights.name)
            with st.spinner(f"Checking {weights.name}…"):
                tm = Runner(cached.store()).upload(weights.getvalue(), spec, name=weights.name)
        except UnlearnError as exc:
            s["_yours_checked"] = None
            state.show_error(exc)
            st.stop()
        s["_yours_checked"] = checked
        state.set_audit(original=tm.key)

key = s.get("audit_original")
if not key:
    if "orig" in st.query_params:  # the address no longer names an upload
        del st.query_params["orig"]
    st.info("Upload the weights to audit them.")
    st.stop()
try:
    mine = Runner(cached.store(), build=False).uploaded(key, spec)
except UnlearnError as exc:  # NotStored or checked for another model / data set than the sidebar's
    state.show_error(exc)
    if st.button("Stop auditing this upload", key="yours_forget_upload"):
        state.set_audit(original=None)
        s["_yours_checked"], s["_yours_gen"] = None, gen + 1
        st.rerun()
    st.stop()
m = mine.artifact.manifest
st.success(f"Your model **{md(m['name'])}** fits {md(spec.model.arch)} (width {spec.model.width}) on "
           f"{md(spec.data.dataset)}: {m['n_params']:,} parameters, checked and stored (key `{key[:12]}…`). It stands "
           "in for the original model on every page while this address is open.", icon=":material/check_circle:")
if st.button("Stop auditing it (use a trained original again)", key="yours_stop"):
    state.set_audit(original=None)
    s["_yours_checked"], s["_yours_gen"] = None, gen + 1
    st.rerun()

# ---------------------------------------------------------------------------- 4. the audit
st.subheader("4 · The audit")
allow = st.toggle("Allow a retrain", value=audit["retrains"] != 0, key="yours_retrain",
                  help="train the gold standard, a model from scratch on the remain set with the recipe above "
                       "(Avg Gap, the distances to Retrain, the class-level comparisons). Off: the audit runs against "
                       "the reference models alone — FT AUC, MIA-efficacy, KS/W1 forget vs test — and trains no "
                       "retrain.")
state.allow_retrain(allow)  # off: no retrain; on again: the data set's preset
try:
    req = state.request(spec)
except UnlearnError as exc:
    state.show_error(exc)
    st.stop()
state.sync_audit_url(req)
st.caption(f"Methods unlearning your model: {', '.join(md(x.label) for x in req.methods) or 'none'} (choose them, "
           f"and their hyperparameters, on the Run page); seeds {', '.join(map(str, req.seeds))}; {req.k} reference "
           f"models; " + (f"{req.retrains} retrain(s) per seed." if req.retrains else "no retrain."))
st.page_link("pages/2_Run.py", label="Choose methods on the Run page", icon=":material/tune:")
job = jobs.running_for(jobs.Kind.YOUR_AUDIT, req)
try:
    result = cached.comparison(req)
except UnlearnError as exc:
    state.show_error(exc)
    st.stop()
if result is None:
    jobs.show_outcome(job)
    if st.button("Run the audit", type="primary", key="yours_run"):
        jobs.start(jobs.Kind.YOUR_AUDIT, req)
    st.stop()

st.success(f"Audit of your model ready ({len(req.methods)} method(s) × {len(req.seeds)} seed(s)).")
tables.comparison_table(result)
st.markdown("Every result page now shows it:")
links = st.columns(4)
links[0].page_link("pages/3_Confidence.py", label="Confidence", icon=":material/bar_chart:")
links[1].page_link("pages/5_Membership.py", label="Membership inference", icon=":material/policy:")
links[2].page_link("pages/12_Classes.py", label="Class-level detail", icon=":material/category:")
links[3].page_link("pages/14_Sample.py", label="One forget sample", icon=":material/zoom_in:")
