"""Run: choose methods and seeds, edit hyperparameters, run the audit in the background."""

import streamlit as st

from engine.errors import UnlearnError
from engine.presets import tuned_provenance
from engine.report import compute_seconds
from engine.tune import setting_key
from engine.unlearning import METHODS
from ui import cached, forms, jobs, state, tables, verdict
from ui.text import literal

st.set_page_config(page_title="Run · Unlearning audit", page_icon="🧹", layout="wide")
spec = state.sidebar()
st.title("Run unlearning methods")
st.caption(state.describe(spec))

audit = state.audit_settings()
s = st.session_state
if audit["original"]:
    st.info("The original model is **your uploaded model** (the Your model page): the methods below unlearn it.",
            icon=":material/upload_file:")
    st.page_link("pages/13_Your_model.py", label="Your model", icon=":material/upload_file:")
choices = [k for k in METHODS if k != "retrain"]


def _methods_changed() -> None:
    state.set_audit(methods=list(s["w_methods"]))


def _preset(keys: list[str]) -> None:
    state.set_audit(methods=[k for k in choices if k in keys])


s["w_methods"] = [k for k in choices if k in s["audit_methods"]]
st.multiselect("Methods", choices, format_func=forms.method_label, key="w_methods", on_change=_methods_changed,
               wrap=True, select_all=True, placeholder="choose methods (or use the buttons below)",
               help="Retrain (the gold standard) and the original model are always included.")
b = st.columns([1, 1, 1, 5])
b[0].button("All methods", key="methods_all", on_click=_preset, args=(choices,), width="stretch")
b[1].button("Default set", key="methods_default", on_click=_preset, args=(state.DEFAULT_METHODS,), width="stretch",
            help=", ".join(METHODS[k].label for k in state.DEFAULT_METHODS))
b[2].button("Clear", key="methods_none", on_click=_preset, args=([],), width="stretch")
c2, c3 = st.columns([1, 1])
seed_options = sorted({*range(10), *audit["seeds"]})  # a link's seeds beyond 0-9 stay choosable
state.set_audit(seeds=sorted(c2.multiselect("Seeds", seed_options, default=audit["seeds"], key="w_seeds",
                                            help="each seed: its own original model, forget draw and retrain")) or [0])
state.set_audit(use_remain=not c3.toggle("D_F only", value=not audit["use_remain"], key="w_dfonly",
                                         help="the methods never see the remain set (methods that need it are "
                                              "skipped)"))
with st.expander("Hyperparameters (defaults tuned for this data set; the papers' values one switch away)"):
    state.set_audit(tuned=not st.toggle("The papers' hyperparameters", value=not audit["tuned"], key="w_paper",
                                        on_change=forms.reset_forms,
                                        help="the values of the papers' code (tuned on CIFAR-10 / ResNet-18) instead "
                                             "of the ones tuned for this data set"))
    overrides = {}
    for key in s["audit_methods"]:
        st.markdown(f"**{METHODS[key].label}** — {METHODS[key].paper}")
        prov = tuned_provenance(spec.data.dataset, key, METHODS[key].tuned_as,  # this run's setting's winners
                                setting_key(spec.forget, s["audit_use_remain"])) if s["audit_tuned"] else None
        st.caption("Defaults " + (prov or "from the paper's code" + (" (not tuned for this data set; `python -m "
                                                                      "engine tune`)" if s["audit_tuned"] else "")))
        try:
            got = forms.method_form(key, spec.data.dataset, audit["overrides"].get(key, {}), tuned=s["audit_tuned"])
        except UnlearnError as exc:  # a value from a shared address that does not fit the field
            st.error(literal(f"{exc} — the address's values for {METHODS[key].label} are ignored; the defaults are "
                        "shown."), icon=":material/error:")
            state.set_audit(overrides={m: v for m, v in s["audit_overrides"].items() if m != key})
            got = forms.method_form(key, spec.data.dataset, {}, tuned=s["audit_tuned"])
        if got:
            overrides[key] = got
    state.set_audit(overrides=overrides)
    forms.run_settings(spec.data.dataset, audit)  # K, R, the short recipe: from the request's field metadata
on_ray = st.toggle("Run on Ray", value=False, key="w_ray",
                   help="train the audit's models as Ray tasks (engine.sweep.run_grid): a local Ray started for the "
                        "job (about 10 s), or the cluster in $RAY_ADDRESS; the results land in this run store")
if not s["audit_methods"]:
    st.warning("Choose at least one method.")
    st.stop()
try:  # every hyperparameter is checked here, before anything trains
    req = state.request(spec)
except UnlearnError as exc:
    state.show_error(exc)
    st.stop()
except Exception as exc:  # a bug, not the user's: one line, the details in the server's log
    state.show_failure("Checking the audit's settings", exc)
    st.stop()
state.sync_audit_url(req)

job = jobs.running_for(jobs.Kind.AUDIT, req)
result = cached.comparison(req)
if result is None:
    jobs.show_outcome(job)
    if st.button("Run audit", type="primary", key="run_audit"):
        jobs.start(jobs.Kind.AUDIT, req, on_ray=on_ray)
    st.stop()

st.success(f"Audit of {len(req.methods)} method(s) × {len(req.seeds)} seed(s) ready: its models took "
           f"{compute_seconds(result):.0f} s to train and unlearn; this view was computed from the stored models in "
           f"{result.seconds:.1f} s.")
verdict.headline(result, here="pages/2_Run.py")
tables.comparison_table(result)
st.page_link("pages/3_Confidence.py", label="Confidence histograms", icon=":material/bar_chart:")
st.page_link("pages/4_Adversarial.py", label="Adversarial examples", icon=":material/grid_view:")
st.page_link("pages/5_Membership.py", label="Membership inference", icon=":material/policy:")
st.page_link("pages/7_Compare.py", label="Comparison table and charts", icon=":material/leaderboard:")
st.page_link("pages/8_Report.py", label="Download the report", icon=":material/download:")
