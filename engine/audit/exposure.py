"""How exposed the forget samples still are, per sample (the Presentation's "still remembered" step), and a TPR at
a fixed FPR as an honest table cell. Pure; split from :mod:`engine.audit.verdict`, which re-exports them."""

from __future__ import annotations

import numpy as np

from ..kinds import Role
from .compare import Comparison


def membership_ranks(cmp: Comparison, model: str, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Per forget sample of ``seed``: its training index and its RMIA rank under ``model`` against the test samples,
    in % (50: scored like an unseen sample; near 100: still scored like a member), highest first."""
    ps = cmp.audits[(model, seed)].per_sample
    score, test = np.asarray(ps["forget_rmia_score"], float), np.sort(np.asarray(ps["test_rmia_score"], float))
    rank = 100 * (np.searchsorted(test, score, "left") + np.searchsorted(test, score, "right")) / (2 * len(test))
    order = np.argsort(-rank, kind="stable")
    return np.asarray(ps["forget_index"])[order], rank[order]


def still_remembered(cmp: Comparison, model: str, seed: int, threshold: float = 95.0) -> dict:
    """How many forget samples ``model`` still scores like members — RMIA rank against the test samples of at least
    ``threshold`` % — next to the same count under Retrain (which never saw them: its count is what chance gives)
    and the original. Returns ``indices``/``ranks`` (highest first), ``n``, ``count``, ``retrain`` and
    ``original`` (counts; None when that model is not in the audit)."""
    idx, rank = membership_ranks(cmp, model, seed)

    def count(m: str) -> int | None:
        return int((membership_ranks(cmp, m, seed)[1] >= threshold).sum()) if (m, seed) in cmp.audits else None

    return {"indices": idx, "ranks": rank, "n": len(idx), "count": int((rank >= threshold).sum()),
            "retrain": count(Role.RETRAIN), "original": count(Role.ORIGINAL), "threshold": threshold}


def tpr_cell(tpr: float, halfwidth: float, n_nonmembers: int, fpr: float) -> str:
    """A TPR at a fixed FPR as a table cell, in %: "value ± interval" only when the FPR is at least one false
    positive (n_nonmembers ≥ 1 / fpr). With fewer unseen samples the FPR cannot be reached: the value is the TPR at
    zero false positives, and an interval around it would pretend a precision the test set does not have."""
    if n_nonmembers * fpr < 1:
        return f"{100 * tpr:.2f} (at 0 false positives: {n_nonmembers} < {round(1 / fpr):,} unseen samples)"
    return f"{100 * tpr:.2f} ± {100 * halfwidth:.2f}"
