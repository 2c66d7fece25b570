"""Statistics & game: KS / Wasserstein of the loss distributions, loss CDFs, and SG-Unlearn's game per round."""

import numpy as np
import pandas as pd
import streamlit as st

from engine.figures import game_column, game_plot, loss_cdfs
from ui import state

st.set_page_config(page_title="Statistics & game · Unlearning audit", page_icon="🧹", layout="wide")
spec = state.sidebar()
st.title("Distribution statistics and the SG-Unlearn game")
cmp = state.need_comparison()

#: stored row key → the column name shown
STAT_COLUMNS = {"ks": "KS forget vs test", "ks_p": "KS p-value", "wasserstein": "W1 forget vs test",
                "ks_vs_retrain": "KS vs Retrain (forget)", "w1_vs_retrain": "W1 vs Retrain (forget)"}
table = cmp.interval_cells(STAT_COLUMNS, bare=("ks_p",))
st.dataframe(table, width="stretch", height="content",
             column_config={"_index": st.column_config.TextColumn("model", pinned=True)})
interval = ("mean ± 95 % interval over seeds (Student t; the KS p-value: its mean)" if len(cmp.seeds) > 1 else
            "one seed: no interval")
st.caption(f"Computed on per-sample cross-entropy losses (SG-Unlearn's definitions); {interval}. What good looks "
           "like: forget-vs-test values close to Retrain's, and small distances to Retrain's own forget losses "
           "(0 = the forget set is treated exactly as if it had never been seen).")

seed = st.selectbox("Seed", cmp.seeds, key="stats_seed")
losses = {m: (cmp.labels[m], cmp.signals[(m, seed)]["forget"]["loss"]) for m in cmp.methods}
st.plotly_chart(loss_cdfs(losses, cmp.signals[("original", seed)]["test"]["loss"],
                          title=f"Forget-set loss: cumulative distribution per model (seed {seed})"),
                width="stretch", key="cdf")
st.caption("What good looks like: the unlearned model's curve close to Retrain's; the dotted curve is the original "
           "model's test loss (unseen data).")

st.subheader("SG-Unlearn: the auditor's game")
if "sg_unlearn" not in cmp.methods:
    st.info("Add SG-Unlearn on the Run page to see its game: per round, the auditor (a membership-inference model "
            "on [logits ‖ loss]) is fitted and the unlearner steps to lower its held-out success.")
else:
    arrays = cmp.models[("sg_unlearn", seed)].artifact.arrays()
    game = {k.removeprefix("game."): v for k, v in arrays.items() if k.startswith("game.")}
    if game:
        st.plotly_chart(game_plot(game), width="stretch", key="game")
        n = len(next(iter(game.values())))
        rounds = np.asarray(game["round"]) if "round" in game else np.arange(1, n + 1)
        log = pd.DataFrame({game_column(k): v for k, v in game.items() if k != "round"},
                           index=pd.Index(rounds, name="round"))
        st.dataframe(log, width="stretch",
                     column_config={"_index": st.column_config.NumberColumn("round", pinned=True),
                                    **{c: st.column_config.NumberColumn(c, format="%.4g") for c in log.columns}})
        st.caption("What good looks like: the auditor's held-out accuracy falls toward 50 % (it can no longer tell "
                   "forget samples from unseen validation samples) while the fine-tuning keeps test accuracy.")
    else:
        st.warning("This SG-Unlearn run stored no game log.")
