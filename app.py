"""Unlearning Audit Dashboard — entry page (run with ``streamlit run app.py``)."""

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
st.markdown(
    "1. **Setup and train** — pick data, model, forget set and seed; train the original and the retrained model; "
    "compare their confidence on remain / test / forget samples."
)
st.page_link("pages/1_Setup_and_train.py", label="Open Setup and train", icon="▶️")

st.subheader("Current settings")
st.markdown(state.describe(spec))

with st.expander("Data sets on this machine"):
    for key, info in DATASETS.items():
        ok, where = availability(key)
        st.markdown(f"- **{info.label}** (`{key}`): {'available — ' + where if ok else where}")

store = cached.store()
st.caption(f"Run store: `{store.root}` (set `UNLEARN_HOME` to move it). Every trained model and computed signal "
           "is kept there and reused.")
