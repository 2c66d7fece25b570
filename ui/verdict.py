"""The verdict on the pages: the headline box, the table judged against Retrain (units, directions, green / red) and
the verdict per method in words. The logic is :mod:`engine.audit.verdict`; this is only how it is drawn.

The Run page shows the headline with one line: ``verdict.headline(result)``.
"""

from __future__ import annotations

import pandas as pd
import streamlit as st

from engine.audit import verdict as V
from engine.audit.compare import Comparison, retrain_replicas
from engine.kinds import Role
from ui.text import md

#: where each kind of evidence is shown: page file and link label
EVIDENCE = {
    "membership": ("pages/5_Membership.py", "Evidence: the membership attack's ROC curves"),
    "confidence": ("pages/3_Confidence.py", "Evidence: the confidence histograms"),
    "statistics": ("pages/6_Statistics.py", "Evidence: the forget-set loss distributions"),
    "table": ("pages/7_Compare.py", "Evidence: the table judged against Retrain"),
}
GREEN, RED = "#d8f0d2", "#f8d7da"
GROUPS = V.GROUPS


def headline(cmp: Comparison, mia: str = "ft_auc", *, here: str | None = None) -> None:
    """The two or three sentences on top of Compare, the Run page's result and the presentation, each with a link to
    the view that shows its evidence (once per view; none to ``here``, the page it is on)."""
    shown = {here}
    with st.container(border=True, key="headline"):
        st.markdown("**In short**")
        for s in V.headline(cmp, mia):
            page, label = EVIDENCE.get(s.evidence, EVIDENCE["table"])
            st.markdown(md(s.text))
            if page not in shown:  # each view linked once, under the first sentence it backs
                st.page_link(page, label=label, icon=":material/arrow_forward:")
                shown.add(page)


def judged_frames(cmp: Comparison, mia: str = "ft_auc") -> dict[str, tuple[pd.DataFrame, pd.DataFrame]]:
    """Per group: (text cells, colours) — rows the models by label, columns :attr:`Measure.header`."""
    cells = V.cells(cmp, mia)
    t = cmp.table(mia)
    labels = [str(t.loc[m, "label"]) for m in t.index]
    out = {}
    for title, keys in GROUPS.items():
        ms = [V.BY_KEY[k] for k in keys]
        text = pd.DataFrame([[cells[m][k].text() for k in keys] for m in t.index], index=labels,
                            columns=[x.header for x in ms])
        colours = pd.DataFrame([[{"green": GREEN, "red": RED}.get(cells[m][k].colour, "") for k in keys]
                                for m in t.index], index=labels, columns=text.columns)
        text.index.name = colours.index.name = "method"
        out[title] = (text, colours)
    return out


def table(cmp: Comparison, mia: str = "ft_auc") -> None:
    """The audit's table judged against Retrain, in three parts; every header with its unit and direction, a tooltip
    in plain words; green: inside Retrain's interval, red: outside it on the bad side."""
    for title, (text, colours) in judged_frames(cmp, mia).items():
        st.markdown(f"**{title}**")

        def paint(col: pd.Series, colours=colours) -> list[str]:
            return [f"background-color: {c}" if c else ("font-weight: 600" if idx == "Retrain" else "")
                    for idx, c in zip(col.index, colours[col.name])]

        config = {x.header: st.column_config.TextColumn(x.header, help=x.help)
                  for x in V.MEASURES if x.header in text.columns}
        st.dataframe(text.style.apply(paint, axis=0), width="stretch", height="content",
                     column_config={"_index": st.column_config.TextColumn("method", pinned=True), **config})
    st.caption(legend(cmp, mia))


def legend(cmp: Comparison, mia: str = "ft_auc") -> str:
    t = cmp.table(mia)
    r, interval = retrain_replicas(t), cmp.interval_words(mia)
    return (f"Cells: {interval}; Retrain's row: the interval every method is judged by. Each method is judged "
            "against **Retrain** alone, never against the other methods: "
            f"green = inside Retrain's own interval (its interval over seeds and the spread of its {r} retrain(s) per "
            "seed combined — indistinguishable from retraining); red = outside it on the bad side; plain = outside on "
            "the harmless side (e.g. higher test accuracy) or not judged. ≈ Retrain: good is Retrain's value; ↓: "
            "lower is better, green up to the top of Retrain's interval. Rates and AUCs are in %, distances of "
            "losses in nats, of confidence in logit units. "
            "Hover a column title for what it measures.")


def verdict_list(cmp: Comparison, mia: str = "ft_auc") -> None:
    """The verdict per method, one line each."""
    if not cmp.has_retrain:
        return
    st.markdown("**Verdict per method** (against Retrain)")
    lines = []
    for v in V.verdicts(cmp, mia):
        icon = ":green[●]" if v.like_retrain else ":red[●]" if v.clauses else "○"
        lines.append(f"- {icon} **{md(v.label)}** {md(v.sentence)}")
    st.markdown("\n".join(lines))


def comparison(cmp: Comparison, mia: str = "ft_auc") -> None:
    """The guard, failures, the judged table and the verdicts: what every page that shows an audit shows."""
    from ui import tables

    tables.guard(cmp.membership_check())
    if cmp.failures:
        st.warning(cmp.failure_note(), icon=":material/error:")
    if Role.RETRAIN not in set(cmp.rows["method"]):
        st.info("No retrain in this audit: no method can be judged against Retrain; the cells are plain.")
    table(cmp, mia)
    verdict_list(cmp, mia)


def charts_caption(cmp: Comparison, mia: str = "ft_auc") -> str:
    """What the three charts show, with the Δφ sentence from the measured direction of each method's confidence
    shift (flattened or sharpened — never "flattening" for a method whose confidence went up)."""
    parts = ["Error bars: 95 % intervals (over seeds, or a bootstrap over the samples of one seed). Dashed line: "
             "Retrain against Retrain (its own spread) — bars at or below it cannot be told apart from retraining."]
    moved = [v for v in V.verdicts(cmp, mia) if v.cells["phi_shift"].bad]
    flat = [md(v.label) for v in moved if v.phi_direction is not None and v.phi_direction < 0]
    sharp = [md(v.label) for v in moved if v.phi_direction is not None and v.phi_direction > 0]
    if flat:
        parts.append(f"Δφ above Retrain's spread with confidence lowered (median φ down): {', '.join(flat)} — "
                     "membership hidden by flattening confidence everywhere, unlike Retrain.")
    if sharp:
        parts.append(f"Δφ above Retrain's spread with confidence raised (median φ up): {', '.join(sharp)} — the "
                     "model became more confident everywhere than Retrain is.")
    if moved and not (flat or sharp):
        parts.append("Δφ above Retrain's spread: " + ", ".join(md(v.label) for v in moved) + " (the direction needs "
                     "the models' signals, no longer in the store).")
    parts.append("Wall time: a method's own work, with the one-time work it is charged (AMUN's search for its "
                 "adversarial set) stacked on it, hatched.")
    return " ".join(parts)
