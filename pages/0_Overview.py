"""Overview: what the dashboard does, every page under its section (``ui/nav.py``), the current settings.

The first page of ``app.py``'s navigation (the one "/" opens); registered there as "Overview".
"""

import streamlit as st

from engine.data import DATASETS, availability
from ui import cached, state
from ui.nav import OVERVIEW, SECTIONS

spec = state.sidebar()

st.title("Unlearning audit dashboard")
st.markdown(
    "Train an image classifier, **unlearn a chosen forget set**, and audit whether the model now behaves "
    "*as if the data were never seen* — measured against the gold standard, a model retrained from scratch "
    "without it."
)
for section, pages in SECTIONS.items():
    st.subheader(section)
    for info in pages:
        if info is OVERVIEW:
            continue
        c1, c2 = st.columns([1, 4])
        c1.page_link(info.path, label=info.title, icon=info.icon)
        c2.markdown(info.what)

st.subheader("Current settings")
st.markdown(state.describe(spec))

with st.expander("Data sets on this machine"):
    for key, info in DATASETS.items():
        ok, where = availability(key)
        st.markdown(f"- **{info.label}** (`{key}`): {'available — ' + where if ok else where}")

store = cached.store()
st.caption(f"Run store: `{store.root}` (set `UNLEARN_HOME` to move it). Every trained model and computed signal "
           "is kept there and reused.")
