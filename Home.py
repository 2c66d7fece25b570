"""Unlearning Audit Dashboard — the home page and entry point (``streamlit run Home.py``; ``make run``).

Streamlit names the first entry of the sidebar after this file, so it is called Home.py (not app.py); the other
pages are discovered from pages/ (numbered file names).
"""

import streamlit as st

from engine.data import DATASETS, availability
from ui import cached, state

st.set_page_config(page_title="Unlearning audit", page_icon="🧹", layout="wide")
spec = state.sidebar()

st.title("Unlearning audit dashboard")
st.markdown(
    "Train an image classifier, **unlearn a chosen forget set**, and audit whether the model now behaves "
    "*as if the data were never seen* — measured against the gold standard, a model retrained from scratch "
    "without it."
)
PAGES = [
    ("pages/1_Setup_and_train.py", "Setup and train", "pick data, model, forget set and seed; train the original "
     "and the retrained model; compare their confidence on remain / test / forget samples"),
    ("pages/2_Run.py", "Run", "choose unlearning methods and seeds, edit hyperparameters, run the audit in the "
     "background"),
    ("pages/3_Confidence.py", "Confidence", "remain / test / forget histograms for every model; per-sample shift"),
    ("pages/4_Adversarial.py", "Adversarial examples", "clean / adversarial / perturbation / attribution per forget "
     "sample; ε-to-flip for forget, remain and test, before and after unlearning"),
    ("pages/5_Membership.py", "Membership inference", "ROC curves (linear and log-log), TPR at low FPR, most exposed "
     "samples"),
    ("pages/6_Statistics.py", "Statistics & game", "KS / Wasserstein and loss CDFs; SG-Unlearn's auditor per round"),
    ("pages/7_Compare.py", "Compare", "the AMUN paper's table, mean ± std over seeds; Avg Gap and wall-time charts"),
    ("pages/8_Report.py", "Report", "the audit as one self-contained HTML file (every figure interactive) and a zip "
     "of every table, per-sample value and, where a browser is installed, PNG figures"),
    ("pages/9_History.py", "History", "every audit in the run store; open one, or compare two side by side"),
    ("pages/10_Continual.py", "Continual requests", "the forget set in k requests, each method on its own previous "
     "output (AMUN §6.3): UA / RA / TA, FT AUC and AUC_FR − AUC_FT per request; AMUN vs AMUN-A vs the baselines"),
    ("pages/11_Theorem.py", "AMUN's theorem", "per forget sample: ‖δ‖₂ of its adversarial example, transfer to "
     "Retrain, how forgotten it is; do close, transferable examples forget better? The forget-set-size curve"),
    ("pages/12_Classes.py", "Classes", "per-class accuracy of every model (forget classes marked), prediction matrices "
     "against Retrain's, the forgotten class's confidence against Retrain's"),
    ("pages/13_Your_model.py", "Your model", "upload your model's weights (safetensors) and its forget set; every "
     "audit runs against it, with a retrain or against the reference models alone"),
    ("pages/14_Sample.py", "Sample", "one forget sample across every model: image, adversarial example, signals and "
     "membership scores, with a shareable address"),
]
for path, label, what in PAGES:
    c1, c2 = st.columns([1, 4])
    c1.page_link(path, label=label)
    c2.markdown(what)

st.subheader("Current settings")
st.markdown(state.describe(spec))

with st.expander("Data sets on this machine"):
    for key, info in DATASETS.items():
        ok, where = availability(key)
        st.markdown(f"- **{info.label}** (`{key}`): {'available — ' + where if ok else where}")

store = cached.store()
st.caption(f"Run store: `{store.root}` (set `UNLEARN_HOME` to move it). Every trained model and computed signal "
           "is kept there and reused.")
