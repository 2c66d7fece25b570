"""Statistics & game: KS / Wasserstein of the loss distributions, loss CDFs, and SG-Unlearn's game per round."""

import pandas as pd
import streamlit as st

from engine.figures import game_plot, loss_cdfs
from ui import state

st.set_page_config(page_title="Statistics & game · Unlearning audit", page_icon="🧹", layout="wide")
spec = state.sidebar()
st.title("Distribution statistics and the SG-Unlearn game")
cmp = state.need_comparison()

rows = cmp.rows
table = rows.groupby("label", sort=False)[["ks", "ks_p", "wasserstein", "ks_vs_retrain", "w1_vs_retrain"]].mean()
table.columns = ["KS forget vs test", "KS p-value", "W1 forget vs test", "KS vs Retrain (forget)",
                 "W1 vs Retrain (forget)"]
st.dataframe(table.style.format("{:.4f}", na_rep="–"), width="stretch")
st.caption("Computed on per-sample cross-entropy losses (SG-Unlearn's definitions), mean over seeds. What good looks "
           "like: forget-vs-test values close to Retrain's, and small distances to Retrain's own forget losses "
           "(0 = the forget set is treated exactly as if it had never been seen).")

seed = st.selectbox("Seed", cmp.seeds, key="stats_seed")
losses = {m: (cmp.labels[m], cmp.signals[(m, seed)]["forget"]["loss"]) for m in cmp.methods}
st.plotly_chart(loss_cdfs(losses, cmp.signals[("original", seed)]["test"]["loss"]), width="stretch", key="cdf")

st.subheader("SG-Unlearn: the auditor's game")
if "sg_unlearn" not in cmp.methods:
    st.info("Add SG-Unlearn on the Run page to see its game: per round, the auditor (a membership-inference model "
            "on [logits ‖ loss]) is fitted and the unlearner steps to lower its held-out success.")
else:
    arrays = cmp.models[("sg_unlearn", seed)].artifact.arrays()
    game = {k.removeprefix("game."): v for k, v in arrays.items() if k.startswith("game.")}
    if game:
        st.plotly_chart(game_plot(game), width="stretch", key="game")
        st.dataframe(pd.DataFrame(game).rename_axis("round").rename(lambda i: i + 1), width="stretch")
        st.caption("What good looks like: the auditor's held-out accuracy falls toward 50 % (it can no longer tell "
                   "forget samples from unseen validation samples) while the fine-tuning keeps test accuracy.")
    else:
        st.warning("This SG-Unlearn run stored no game log.")
