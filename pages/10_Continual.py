"""Continual unlearning: the forget set arrives in k requests (AMUN §6.3); every method unlearns request after request
on its own previous output. Curves of UA / RA / TA, FT AUC of everything forgotten so far and AUC_FR − AUC_FT per
request, and the paper's claim (AMUN-A > AMUN > the baselines) measured with its noise."""

import streamlit as st

from engine.audit import continual as ca
from engine.continual import DEFAULT_METHODS, REQUESTS, SIZE, ContinualRequest, request_count, request_rows
from engine.errors import UnlearnError
from engine.figures_amun import continual_curves
from engine.unlearning import METHODS
from ui import amun, cached, forms, jobs, state

st.set_page_config(page_title="Continual requests · Unlearning audit", page_icon="🧹", layout="wide")
spec = state.sidebar()
st.title("Continual unlearning requests")
st.caption(state.describe(spec) + " — the sidebar's forget set is not used here: the requests are drawn per seed.")
st.markdown(
    "Deletion requests rarely come at once. Here the forget set arrives in **k requests**; each method unlearns "
    "request after request **starting from its own previous output**, and after every request it is audited on "
    "**everything forgotten so far** against a Retrain on what remains (AMUN paper §6.3). **AMUN** keeps the "
    "adversarial set D_A it searched on the original model; **AMUN-A** searches D_A again on the current model at "
    "each request.")

audit = state.audit_settings()  # K, setting, tuned/paper values and hyperparameters come from the Run page
choices = [k for k in METHODS if k != "retrain"]
c1, c2, c3, c4 = st.columns([4, 1, 1, 3])
methods = c1.multiselect("Methods", choices, format_func=forms.method_label, wrap=True,
                         help="Retrain (the reference) and the original model (no unlearning) are always shown",
                         **state.view("cmethods", choices, list(DEFAULT_METHODS), multi=True))
state.sync_view("cmethods", methods, list(DEFAULT_METHODS))
n_req = c2.selectbox("Requests", list(range(2, 11)), help="k (the paper: 5)",
                     **state.view("creq", list(range(2, 11)), REQUESTS))
state.sync_view("creq", n_req, REQUESTS)
SIZES = [1, 2, 4, 5, 8, 10]
pct = c3.selectbox("Per request, % of train", SIZES, help="the paper: 2 % of CIFAR-10 (1,000 images) per request",
                   **state.view("csize", SIZES, int(SIZE * 100)))
state.sync_view("csize", pct, int(SIZE * 100))
SEEDS = list(range(10))
seeds = c4.multiselect("Seeds", SEEDS, help="each seed: its own original model, request draw and retrains",
                       **state.view("cseeds", SEEDS, amun.DEFAULT_SEEDS, multi=True)) or [0]
state.sync_view("cseeds", seeds, amun.DEFAULT_SEEDS)

if not methods:
    st.warning("Choose at least one method.")
    st.stop()
try:
    overrides = {m: v for m, v in audit["overrides"].items() if m in methods}
    req = ContinualRequest.build(spec, methods, seeds, requests=n_req, size=pct / 100, overrides=overrides,
                                 tuned=audit["tuned"], use_remain=audit["use_remain"], k=audit["k"])
    n_train = spec.data.train_size or None
    if n_train:
        per = request_count(n_train, req.size)
        request_rows(n_train, req.requests, req.size, 0)  # refuses requests that would forget the whole set
        st.caption(f"{n_req} requests × {per} samples = {n_req * per} of {n_train} training samples forgotten in "
                   f"the end ({100 * n_req * per / n_train:.0f} %); K = {req.k} RMIA reference models, "
                   f"{'with D_R' if req.use_remain else 'D_F only'}, "
                   f"{'tuned' if audit['tuned'] else 'the papers’'} hyperparameters (set on the **Run** page).")
except UnlearnError as exc:
    state.show_error(exc)
    st.stop()

job = jobs.running_for(jobs.Kind.CONTINUAL, req)
try:
    result = cached.continual(req)
except UnlearnError as exc:  # e.g. more samples asked for than the training set holds
    state.show_error(exc)
    st.stop()
if result is None:
    jobs.show_outcome(job)
    n_runs = len(req.seeds) * req.requests * (len(req.methods) + 1)
    st.info(f"Not run yet: {n_runs} trainings ({len(req.seeds) * req.requests} retrains and "
            f"{len(req.seeds) * req.requests * len(req.methods)} unlearning runs), each stored, so a rerun or a "
            "shared address loads them.")
    if st.button("Run the requests", type="primary", key="run_continual"):
        jobs.start(jobs.Kind.CONTINUAL, req)
    st.stop()

for (method, seed), why in result.failures.items():
    st.warning(f"{result.labels.get(method, method)}, seed {seed}, stopped: {why}")

# ------------------------------------------------------------------------------------------ curves
st.subheader("Across requests")
CURVES = ["auc_gap", "ft_auc", "ua", "ra", "ta", "avg_gap", "rf_auc", "rt_auc", "rt_gap", "ua_request"]
DEFAULT_CURVES = ["auc_gap", "ft_auc", "ua", "ta"]
shown = st.multiselect("Metrics", CURVES, format_func=lambda m: ca.METRICS[m][0],
                       **state.view("ccurves", CURVES, DEFAULT_CURVES, multi=True)) or DEFAULT_CURVES
state.sync_view("ccurves", shown, DEFAULT_CURVES)
summaries = {m: result.summary(m) for m in shown}
st.plotly_chart(continual_curves(summaries, result.labels), width="stretch", key="continual_curves")
st.caption("Mean over seeds after each request, with 95 % t intervals (error bars). Dashed green: Retrain on what "
           "remains — the target; dotted grey: the original model (no unlearning). "
           + " ".join(f"**{ca.METRICS[m][0]}**: {ca.METRICS[m][1]}." for m in shown))

# ------------------------------------------------------------------------------------------ the paper's claim
st.subheader("The paper's claim, measured")
reading = st.segmented_control("Reading", list(ca.READINGS), format_func=lambda r: ca.READINGS[r], required=True,
                               help="The paper reads a higher AUC_FR − AUC_FT as better. Above Retrain's value the "
                                    "forgotten samples look less like members than unseen data do (over-unlearning): "
                                    "the second reading counts the distance to Retrain instead.",
                               **state.view("creading", list(ca.READINGS), "higher"))
state.sync_view("creading", reading, "higher")
claim = result.claim(reading)
if claim is None:
    st.info("The claim compares AMUN-A, AMUN and at least one baseline: add them to the methods.")
else:
    st.markdown("AMUN paper, Fig. 2: on AUC_FR − AUC_FT, **AMUN-A > AMUN > every baseline at every request**. Here, "
                f"{ca.READINGS[reading]}: " + ca.verdict(claim, labels=result.labels))
    show = ca.claim_display(claim, result.labels)
    for col in [c for c in show.columns if c.startswith("± (95 %)") and show[c].isna().all()]:
        show[col] = "one seed — no interval"  # not a blank "None" cell
    st.dataframe(show, hide_index=True, width="stretch",
                 column_config={c: st.column_config.NumberColumn(format="%.2f") for c in show.columns
                                if show[c].dtype.kind == "f"})
    st.caption("Per request: means over seeds of AUC_FR − AUC_FT (the paper's §6.3 measure: RMIA AUC of remain = 1 vs "
               "forgotten = 0 minus forgotten vs test, ×100; the original model's is negative, Retrain's positive)"
               + (" as distances to Retrain's value" if reading == "retrain" else "") + ", the best baseline "
               "at that request, Retrain's own value, and the paired advantages over seeds (positive = better) with "
               "their 95 % t half-widths (NaN with one seed). 'Beyond the interval' means the advantage holds for "
               "these seeds' originals, draws and retrains, not just on average.")

with st.expander("Tables per request (mean ± 95 % half-width over seeds)"):
    for metric in ("auc_gap", "ft_auc", "ua", "ra", "ta", "avg_gap", "seconds"):
        st.markdown(f"**{ca.METRICS[metric][0]}** — {ca.METRICS[metric][1]}")
        st.dataframe(result.wide(metric), width="stretch")
st.download_button("Download continual.csv (one row per model × seed × request)", result.rows.to_csv(index=False),
                   "continual.csv", "text/csv", key="dl_continual")
rows = result.rows
compute = float(rows["seconds"].sum() + rows.groupby(["method", "seed"])["one_time_seconds"].max().sum())
st.caption(f"Its models took {compute:.0f} s to train and unlearn; this view was computed from the stored models in "
           f"{result.seconds:.1f} s. The same run from the command line: `python -m engine "
           f"continual --dataset {spec.data.dataset} --methods {','.join(m.key for m in req.methods)} --requests "
           f"{req.requests} --size {req.size:g} --seeds {','.join(map(str, req.seeds))} --k {req.k}`.")
