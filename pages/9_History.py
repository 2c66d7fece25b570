"""History: every audit in the run store, newest first; open one on the Compare page, or compare two side by side."""

import numpy as np
import pandas as pd
import streamlit as st

from engine.audit.compare import Comparison
from engine.figures import paired_bars
from ui import cached, history, state, tables

st.set_page_config(page_title="History · Unlearning audit", page_icon="🧹", layout="wide")
spec = state.sidebar()
st.title("Stored audits")

recs = history.records(cached.store())
if not recs:
    st.info("No finished audit in the run store yet. Run one on the **Run** page; every finished audit is listed "
            "here, also after a restart.")
    st.page_link("pages/2_Run.py", label="Open Run", icon=":material/play_arrow:")
    st.stop()

table = history.overview(recs)
st.dataframe(table, hide_index=True, width="stretch", height="content",
             column_config={"when": st.column_config.TextColumn("when", pinned=True),
                            "methods": st.column_config.NumberColumn("methods", help="unlearning methods (Original "
                                                                     "and Retrain come with every audit)")})
st.caption(f"{len(recs)} audit(s) in `{cached.store().root}`, newest first. Each keeps its settings and results; "
           "the models and signals it needs stay in the store, so opening one runs nothing.")

by_key = {r.key: r for r in recs}
keys = [r.key for r in recs]
# a new audit since this session last looked: A and B go back to their defaults (the newest two) unless the address
# names them — a selection made while there was one audit would otherwise pin both to that old one
if st.session_state.get("history_newest") != keys[0]:
    if st.session_state.get("history_newest") is not None:
        state.forget_views("a", "b")
    st.session_state["history_newest"] = keys[0]


def pick(col, title: str, name: str, default: str) -> history.Record:
    key = col.selectbox(title, keys, format_func=lambda k: by_key[k].label(), **state.view(name, keys, default))
    state.sync_view(name, key, default)
    return by_key[key]


def open_button(col, rec: history.Record, which: str) -> None:
    settings = state.settings_of(rec.request) if rec.request is not None else None
    if col.button(f"Open {which} on the Compare page", key=f"open_{which}", disabled=settings is None,
                  icon=":material/leaderboard:",
                  help="makes it the current audit of every page (sidebar and Run settings)" if settings else
                  "its settings (e.g. a learning rate set on the command line) are not ones the sidebar can hold; "
                  "it is compared here"):
        state.open_audit(settings)
        st.switch_page("pages/7_Compare.py")


def load(rec: history.Record) -> tuple[Comparison | None, str | None]:
    """The audit from the store (as every page loads it); its stored rows when models have left the store."""
    if rec.request is None:
        return None, f"this record cannot be read back ({rec.problem})"
    cmp = cached.comparison(rec.request)
    if cmp is not None:
        return cmp, None
    return (Comparison(rec.request.spec, rec.rows()),
            "some of its models or signals are no longer in the store: the table comes from the audit's record")


st.subheader("Compare two audits")
a_col, b_col = st.columns(2)
rec_a = pick(a_col, "Audit A", "a", keys[0])
rec_b = pick(b_col, "Audit B", "b", keys[1] if len(keys) > 1 else keys[0])
open_button(a_col, rec_a, "A")
open_button(b_col, rec_b, "B")
if rec_a.key == rec_b.key:
    st.info("Choose two different audits to compare them; below is the one chosen.")

with st.spinner("Loading the audits from the store…"):
    (cmp_a, note_a), (cmp_b, note_b) = load(rec_a), load(rec_b)
for which, note in (("A", note_a), ("B", note_b)):
    if note:
        st.warning(f"Audit {which}: {note}.")

if rec_a.key != rec_b.key and rec_a.request is not None and rec_b.request is not None:
    diff = history.differences(rec_a.request, rec_b.request)
    same_spec = rec_a.request.spec == rec_b.request.spec
    if not same_spec:
        st.warning("**The two audits ran on different settings**, so their numbers compare different experiments "
                   "(a model, data set or forget set of its own): \n" + "\n".join(f"- `{d}`" for d in diff),
                   icon=":material/compare_arrows:")
    elif diff:
        st.info("Same data, model and forget set; these settings differ:\n" + "\n".join(f"- `{d}`" for d in diff))
    else:
        st.success("Same data, model, forget set and settings; only the methods differ.")

if cmp_a is not None and cmp_b is not None and rec_a.key != rec_b.key:
    gaps = history.gap_side_by_side(cmp_a.rows, cmp_b.rows)
    st.markdown("**Avg Gap to Retrain, side by side** (mean over each audit's seeds; lower is better)")
    g1, g2 = st.columns([2, 3])
    g1.dataframe(gaps.drop(columns="method"), width="stretch", height="content",
                 column_config={"_index": st.column_config.TextColumn("model", pinned=True),
                                **{c: st.column_config.NumberColumn(c, format="%.2f") for c in gaps.columns}})
    values = {m: (label, a, b) for label, m, a, b in zip(gaps.index, gaps["method"], gaps["Avg Gap A"],
                                                          gaps["Avg Gap B"])}
    g2.plotly_chart(paired_bars({m: (lab, None if np.isnan(a) else a, None if np.isnan(b) else b)
                                 for m, (lab, a, b) in values.items()}, ("A", "B"), "Avg Gap to Retrain",
                                "Avg Gap"), width="stretch", key="gap_pairs")

for which, rec, cmp in (("A", rec_a, cmp_a), ("B", rec_b, cmp_b)):
    if which == "B" and rec_b.key == rec_a.key:
        break
    st.subheader(f"Audit {which}")
    m = rec.manifest
    st.caption((f"{state.describe(rec.request.spec)} · " if rec.request is not None else "")
               + f"seeds {', '.join(map(str, m.get('seeds', [])))} · K {m.get('k')} · "
               + ("with D_R" if m.get("use_remain", True) else "D_F only") + f" · stored {rec.created[:19]}")
    if cmp is None:
        st.dataframe(pd.DataFrame(rec.rows()), width="stretch")
        continue
    try:
        tables.comparison_table(cmp)
    except (KeyError, ValueError) as exc:  # a record written by an older engine: its rows as stored
        st.caption(f"(the stored rows, as the table format changed: {exc})")
        st.dataframe(cmp.rows, width="stretch")
