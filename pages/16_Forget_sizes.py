"""The forget-set-size effect of AMUN's Theorem 4.1 (its last factor) as a curve: the current audit run again at
several forget sizes, Avg Gap and the Retrain-vs-Retrain noise floor per size. The per-sample view of the theorem
is the AMUN's-theorem page (``pages/11_Theorem.py``)."""

from dataclasses import replace

import streamlit as st

from engine.audit.theorem import size_effect, size_markdown
from engine.errors import UnlearnError
from engine.figures_amun import size_curves
from ui import amun, cached, jobs, state

st.set_page_config(page_title="Forget-set sizes · Unlearning audit", page_icon="🧹", layout="wide")
spec = state.sidebar()
st.title("Forget-set size")
cmp = state.need_comparison()
req = state.request(spec)
st.markdown("The last factor of AMUN's Theorem 4.1: the retrained model must generalise to the forgotten samples, "
            "which gets harder as the forget set grows — **smaller forget sets should unlearn better**. Each size is "
            "an ordinary audit (same seeds, K and retrains; listed in the History).")
st.page_link("pages/11_Theorem.py", label="The theorem sample by sample", icon=":material/query_stats:",
             query_params=state.link_params(("tmethod", "tmeasure", "tx", "tseed")))

if not cmp.has_retrain:
    st.info("The size curve measures each size's audit against its retrained model, and this audit has no retrain. "
            "Set **Retrains per seed** to 1 or more on the Run page.", icon=":material/info:")
    st.stop()
unlearned = [m for m in cmp.methods if m not in ("original", "retrain")]
if not unlearned:
    st.info("This audit has no unlearning method: choose one on the Run page.", icon=":material/info:")
    st.stop()
method = amun.theorem_method(unlearned)  # the AMUN's-theorem page's method comes first
SIZES = ["random:0.05", "random:0.1", "random:0.2", "random:0.4", "random:0.6"]
DEFAULT_SIZES = ["random:0.1", "random:0.2", "random:0.4", "random:0.6"]
d1, d2 = st.columns([3, 2])
sizes = d1.multiselect("Forget sizes", SIZES, format_func=lambda f: f"{float(f.partition(':')[2]):.0%}",
                       **state.view("tsizes", SIZES, DEFAULT_SIZES, multi=True))
state.sync_view("tsizes", sizes, DEFAULT_SIZES)
size_default = [m for m in dict.fromkeys([method, "amun", "ft"]) if m in unlearned]
size_methods = d2.multiselect("Methods", unlearned, format_func=lambda k: cmp.labels[k],
                              **state.view("tsmethods", unlearned, size_default, multi=True))
state.sync_view("tsmethods", size_methods, size_default)
if len(sizes) < 2 or not size_methods:
    st.info("Choose at least two sizes and one method.")
    st.stop()
sizes = sorted(sizes, key=lambda f: float(f.partition(":")[2]))
sreq = replace(req, methods=tuple(m for m in req.methods if m.key in size_methods))
curve = jobs.ForgetSizes(sreq, tuple(sizes))
sjob = jobs.running_for(jobs.Kind.FORGET_SIZES, curve)
audits = cached.forget_sizes(sreq, tuple(sizes))
if audits is None:
    jobs.show_outcome(sjob)
    st.caption(f"{len(sizes)} audits × {len(sreq.seeds)} seed(s) × ({sreq.retrains} retrain(s) + "
               f"{len(sreq.methods)} method(s)); what is stored already (the current forget size) is reused.")
    if st.button("Run the size curve", type="primary", key="run_sizes"):
        jobs.start(jobs.Kind.FORGET_SIZES, curve)
    st.stop()
try:
    n_train = len(cmp.models[("original", cmp.seeds[0])].data.y_train)
    table = size_effect({k: c.rows for k, c in audits.items()}, n_train)
except UnlearnError as exc:
    state.show_error(exc)
    st.stop()
st.plotly_chart(size_curves(table), width="stretch", key="size_curves")
st.caption("Mean over seeds with 95 % t intervals. Avg Gap: mean |Δ| of UA, RA, TA and FT AUC to the mean of the "
           "seed's retrains; dashed: Retrain against Retrain, the noise floor at each size. What the theorem "
           "predicts: both gaps grow with the forget set.")
with st.expander("Table"):
    st.markdown(size_markdown(table))
