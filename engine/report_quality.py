"""Forgetting quality (:mod:`engine.quality`) for readers: the score table as the page and the report show it, and
the report's section (``engine report --quality METHODS``)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from .audit import quality_words as W
from .audit.quality import DELTA, EPSILON_CAP, epsilon_ceiling
from .figures_quality import epsilon_buckets, ulira_roc
from .quality import ORIGINAL_ROW, RETRAIN_ROW, QualityResult
from .report import ReportFigure, ReportSection, frame_html

#: the display table's two parts (so neither scrolls sideways) and each column's number format
PARTS = {"The challenge's score": ["score ↑", "95 % interval", "like Retrain (%)", "F ↑", "RA / RA_R", "TA / TA_R",
                                   "median ε ↓", "told apart (%) ↓"],
         "U-LiRA, the per-example membership test (unlearned vs retrained models)":
             ["U-LiRA AUC (→ 0.5)", "U-LiRA TPR @ 1 % FPR", "U-LiRA TPR @ 0.1 % FPR", "UA (%)"]}
FORMATS = {"score ↑": "%.3f", "like Retrain (%)": "%.0f", "F ↑": "%.3f", "RA / RA_R": "%.3f", "TA / TA_R": "%.3f",
           "median ε ↓": "%.2f", "told apart (%) ↓": "%.0f", "U-LiRA AUC (→ 0.5)": "%.3f", "UA (%)": "%.1f"}


def display_table(res: QualityResult) -> pd.DataFrame:
    """One row per method indexed by its label — Retrain (the best this N allows) first, the original last, the
    methods best score first between them — with the columns of :data:`PARTS` (numbers; intervals as text)."""
    t = res.table()
    rank = {RETRAIN_ROW: -1, ORIGINAL_ROW: 1}
    t = t.iloc[sorted(range(len(t)), key=lambda i: (rank.get(t["method"].iloc[i], 0), i))].reset_index(drop=True)
    like = W.like_retrain_eps(res.rows)
    shares = {r.key: 100 * W.share_like_retrain(r.quality, like) for r in res.rows}
    return pd.DataFrame({
        "method": t["label"], "score ↑": t["score"],
        "95 % interval": [f"[{lo:.3f}, {hi:.3f}]" if np.isfinite(lo) else "no interval"
                          for lo, hi in zip(t["low"], t["high"])],
        "like Retrain (%)": t["method"].map(shares), "F ↑": t["forget_score"], "RA / RA_R": t["ra_ratio"],
        "TA / TA_R": t["ta_ratio"], "median ε ↓": t["eps_median"], "told apart (%) ↓": 100 * t["separated"],
        "U-LiRA AUC (→ 0.5)": t["ulira_auc"], "U-LiRA TPR @ 1 % FPR": t["ulira_tpr_1pct"],
        "U-LiRA TPR @ 0.1 % FPR": t["ulira_tpr_01pct"], "UA (%)": 100 * t["ua"]}).set_index("method")


def table_note(res: QualityResult) -> str:
    """What the table's numbers mean, and which methods are separated beyond their intervals."""
    like = W.like_retrain_eps(res.rows)
    pairs = W.separated_pairs(res.rows)
    return ("score = F × RA/RA_R × TA/TA_R (higher is better; Retrain's row — N other retrains — is the best this N "
            "allows, the original's the worst); F = mean over forget examples of the points of their ε bucket; the "
            "interval is ± 1.96 bootstrap SE over models (rough: ε is a maximum over decision rules). "
            + (f"'like Retrain': ε ≤ {like:.2f}, the ε that 90 % of examples show between two groups of retrains. "
               if like < EPSILON_CAP else "'like Retrain' is not given: with this N even two groups of retrains "
               "are told apart completely on more than 10 % of examples. ")
            + "TPR "
            "intervals are exact (Clopper–Pearson); a figure is withheld where 1/FPR exceeds the non-member count. "
            + ("Separated beyond their intervals: " + "; ".join(f"{a} > {b}" for a, b in pairs) + "."
               if pairs else "No two methods are separated beyond their intervals."))


def _cells(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.apply(lambda col: [v if isinstance(v, str) else "–" if pd.isna(v) else FORMATS.get(col.name, "%s")
                                    % v for v in col])


def quality_section(res: QualityResult) -> ReportSection:
    """The report's forgetting-quality section: the protocol, the headline in words, the two tables, ε buckets and
    U-LiRA's ROC; quality.csv in the zip."""
    n = res.request.runs
    text = [f"N = {n} unlearning runs of each method from one original model (model seed {res.spec.seed}, forget "
            f"seed {res.spec.forget_seed}, {len(res.forget)} forget examples: {res.spec.forget[:80]}) against N "
            f"retrains; N other retrains score as 'Retrain' (the best this N allows). δ = {DELTA:g}; ε up to "
            f"ln(N − 1) = {epsilon_ceiling(n):.2f} can be shown (the NeurIPS 2023 unlearning challenge's metric; "
            "U-LiRA, Hayes et al. 2024, beside it).",
            *W.headline(res.rows, n, epsilon_ceiling(n))]
    text += [f"{k}: failed — {msg}" for k, msg in res.failures.items()]
    show = display_table(res)
    text.append(table_note(res))
    tables = [(title, frame_html(_cells(show[cols]))) for title, cols in PARTS.items()]
    figs = [ReportFigure("quality-eps", "Forgetting quality: ε per forget example, bucketed",
                         epsilon_buckets(res.rows, n), "Share of forget examples per ε bucket for every method "
                         "(lower ε: the N unlearned models are harder to tell from the N retrained ones)."),
            ReportFigure("quality-ulira", "U-LiRA's ROC (log axes)", ulira_roc(res.rows),
                         "Per-example likelihood-ratio test, unlearned vs retrained models; the diagonal is chance.")]
    return ReportSection("quality", "Forgetting quality (many models, per example)", text, tables, figs,
                         {"quality.csv": res.table().to_csv(index=False)})


__all__ = ["FORMATS", "PARTS", "display_table", "quality_section", "table_note"]
