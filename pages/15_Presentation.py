"""Presentation: the stored audit told as a story in five steps, one screen each (a projector's 1280×720): the forget
set, the original model remembers it, each method against Retrain, the samples still remembered, the cost. Built from
the stored audit of the current settings; the address carries the settings and the step, so a link opens the same
slide."""

import numpy as np
import streamlit as st

from engine.audit import verdict as V
from engine.figures import roc_curves, table_bars
from engine.kinds import Role
from ui import state, tiles
from ui.nav import PRESENTATION_STEPS
from ui.text import md

st.set_page_config(page_title="Presentation · Unlearning audit", page_icon="🧹", layout="wide",
                   initial_sidebar_state="collapsed")
spec = state.sidebar()
cmp = state.need_comparison()

STEPS = PRESENTATION_STEPS
step = st.segmented_control("Step", STEPS, label_visibility="collapsed", **state.view("step", STEPS, STEPS[0]))
step = step or STEPS[0]
state.sync_view("step", step, STEPS[0])
n = STEPS.index(step)
seed = cmp.seeds[0]
original = cmp.models[("original", seed)]
data = original.data
classes = [str(c) for c in data.classes]
forget = np.asarray(cmp.signals[("original", seed)].forget)
t = cmp.table()


def images(indices, captions, per_row: int = 12, size: int = 72) -> None:
    """Training images in a grid of ``per_row`` columns (each ``size`` pixels), one caption each."""
    x = data.x_train[np.asarray(indices, dtype=np.int64)].numpy()
    for start in range(0, len(x), per_row):
        cols = st.columns(per_row)
        for col, img, cap in zip(cols, x[start:start + per_row], captions[start:start + per_row]):
            col.image(tiles.framed(tiles.upscale(tiles.to_rgb(img), size)), caption=cap, width=size)


if n == 0:
    st.subheader("The forget set: what the model must forget")
    st.markdown(f"**{len(forget)} training images** ({md(spec.forget)}, seed {seed}) of "
                f"{len(data.y_train)} that the model was trained on must be unlearned, as if it had never seen them. "
                f"The yardstick is **Retrain**: the same model trained again without them. "
                f"{len(cmp.seeds)} seed(s), each with its own forget draw; these are seed {seed}'s.")
    shown = forget[:24]
    images(shown, [f"#{int(i)} · {classes[int(data.y_train[int(i)])]}" for i in shown])
    if len(forget) > len(shown):
        st.caption(f"The first {len(shown)} of {len(forget)}.")
elif n == 1:
    st.subheader("The original model remembers them")
    check = cmp.membership_check()
    st.markdown(md(V.headline(cmp)[0].text))
    a, b = st.columns([3, 2])
    curves = {m: (cmp.labels[m], cmp.audits[(m, seed)].attacks["RMIA"]) for m in ("original", "retrain")
              if (m, seed) in cmp.audits}
    fig = roc_curves(curves, title=f"Membership attack (RMIA), seed {seed}")
    fig.update_layout(height=380)
    a.plotly_chart(fig, width="stretch", key="story_roc")
    auc = V.cells(cmp)[Role.ORIGINAL]["ft_auc"]  # the values with their 95 % intervals, as the table shows them
    b.metric("Attack AUC on the original (%) ↓", auc.text(),
             help="how well an attacker tells the forget samples from unseen ones; 50 % = a coin flip; ± the 95 % "
                  "interval")
    b.metric(f"Attack AUC against {'Retrain' if cmp.has_retrain else 'chance'} (%) — the target",
             auc.retrain_text() if cmp.has_retrain else f"{check.retrain:.1f}",
             help="± Retrain's own interval: its spread over seeds and retrains")
    b.caption("The original's curve bows above the diagonal: its forget samples look like members. Retrain's sits "
              "near the diagonal: to it they are unseen data. Unlearning should bring the curve there.")
elif n == 2:
    st.subheader("Each method against Retrain")
    if not cmp.has_retrain:
        st.info("This audit has no retrain: no method can be judged against Retrain.")
    else:
        vs = V.verdicts(cmp)
        yard = vs[0].cells if vs else {}
        lines = [f"**Retrain** (the yardstick): attack AUC {yard['ft_auc'].retrain_text()} % · test accuracy "
                 f"{yard['ta'].retrain_text()} %"] if vs else []
        for v in vs:
            icon = ":green[●]" if v.like_retrain else ":red[●]" if v.clauses else "○"
            c = v.cells
            out = sum(x.bad for x in c.values())
            judged = sum(x.status not in ("unknown", "reference") for x in c.values())
            first = v.clauses[0] if v.clauses else v.sentence
            lines.append(f"{icon} **{md(v.label)}** {md(first)} · outside Retrain's interval on {out} of {judged} "
                         f"measures · attack AUC {c['ft_auc'].text()} % · test accuracy {c['ta'].text()} %")
        # one paragraph with line breaks (no paragraph margins), so nine methods still fit a 1280×720 screen
        st.markdown("  \n".join(lines))
        st.caption("Green: behaves like Retrain on every measure (inside Retrain's own interval: its spread over "
                   "seeds and retrains). Red: outside it on at least one measure, in the bad direction. Attack AUC "
                   "(%): good ≈ Retrain's (50 % = a coin flip); test accuracy (%): good ≈ Retrain's, higher is fine. "
                   f"Intervals: 95 % over {len(cmp.seeds)} seed(s). The Compare page has every measure.")
elif n == 3:
    st.subheader("The examples still remembered")
    methods = [m for m in cmp.methods if m not in ("original", "retrain")]
    if not methods:
        st.info("No unlearning method in this audit.")
    else:
        method = st.selectbox("Method", methods, format_func=lambda m: cmp.labels[m],
                              **state.view("smethod", methods, methods[0]))
        state.sync_view("smethod", method, methods[0])
        r = V.still_remembered(cmp, method, seed)
        base = "" if r["retrain"] is None else f" Retrain, which never saw them: {r['retrain']} (what chance gives)."
        st.markdown(f"Under **{md(cmp.labels[method])}**, **{r['count']} of {r['n']}** forget samples still score "
                    f"like members (the attacker ranks them above {r['threshold']:.0f} % of unseen samples); the "
                    f"original: {r['original']}.{base}")
        top = r["indices"][:12]
        images(top, [f"#{int(i)} · rank {rk:.0f} %" for i, rk in zip(top, r["ranks"][:12])], per_row=12)
        st.caption("The forget samples the attacker finds most member-like after unlearning, highest first, seed "
                   f"{seed}. Rank: the share of unseen samples scored lower (50 % = like an unseen sample). The Sample "
                   "page shows any of them in full.")
else:
    st.subheader("The cost")
    cost = [v for v in V.verdicts(cmp) if v.cells["ta"].bad] if cmp.has_retrain else []
    retrain_s = float(t.loc["retrain", "seconds_mean"]) if "retrain" in t.index else float("nan")
    methods = [m for m in t.index if m not in ("original", "retrain")]
    times = {m: float(t.loc[m, "seconds_mean"]) + float(t.loc[m, "one_time_seconds_mean"]) for m in methods}
    if np.isfinite(retrain_s) and times:
        fastest, slowest = min(times.values()), max(times.values())
        st.markdown(f"Retraining from scratch took **{retrain_s:.2f} s** per seed; the methods took "
                    f"**{fastest:.2f}–{slowest:.2f} s** (their one-time work included).")
    st.markdown(("Test accuracy lost against Retrain: " + "; ".join(
        f"**{md(v.label)}** {v.cells['ta'].retrain - v.cells['ta'].value:.1f} points" for v in cost) + ".")
        if cost else "No method lost test accuracy beyond Retrain's own interval.")
    fig = table_bars(t, "seconds", "Wall time per seed (s) ↓", "seconds", with_reference=True)
    fig.update_layout(height=320)
    st.plotly_chart(fig, width="stretch", key="story_time")

def _go(to: int) -> None:
    """Back / Next: the step set before the page runs again (a callback, so no second run is needed)."""
    state.set_view("step", STEPS[to])


prev, _, nxt = st.columns([1, 6, 1])
if n > 0:
    prev.button("← Back", key="story_prev", width="stretch", on_click=_go, args=(n - 1,))
if n < len(STEPS) - 1:
    nxt.button("Next →", key="story_next", width="stretch", type="primary", on_click=_go, args=(n + 1,))
