"""Membership-inference attacks as pure functions of per-sample signals.

Every attack returns :class:`AttackResult`: an aggregate (AUC, TPR at low FPR) plus the per-sample scores,
so a view can rank the most exposed samples without recomputing.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from sklearn.metrics import roc_auc_score, roc_curve


@dataclass
class AttackResult:
    name: str
    auc: float  # ROC-AUC of members (label 1) vs non-members (label 0); 0.5 = no signal
    tpr_at_1pct: float  # TPR at FPR ≤ 1 %
    tpr_at_01pct: float  # TPR at FPR ≤ 0.1 %
    fpr: np.ndarray
    tpr: np.ndarray
    member_scores: np.ndarray  # higher = "more likely a member"
    nonmember_scores: np.ndarray


def tpr_at_fpr(fpr: np.ndarray, tpr: np.ndarray, target: float) -> float:
    ok = np.flatnonzero(fpr <= target)
    return float(tpr[ok[-1]]) if len(ok) else 0.0


def from_scores(name: str, member_scores: np.ndarray, nonmember_scores: np.ndarray) -> AttackResult:
    """ROC of a score where higher means "member"."""
    m, n = np.asarray(member_scores, float), np.asarray(nonmember_scores, float)
    labels = np.r_[np.ones(len(m)), np.zeros(len(n))]
    scores = np.r_[m, n]
    if len(m) == 0 or len(n) == 0:
        raise ValueError("an attack needs at least one member and one non-member score")
    fpr, tpr, _ = roc_curve(labels, scores)
    return AttackResult(name, float(roc_auc_score(labels, scores)), tpr_at_fpr(fpr, tpr, 0.01),
                        tpr_at_fpr(fpr, tpr, 0.001), fpr, tpr, m, n)


def loss_threshold(member_loss: np.ndarray, nonmember_loss: np.ndarray) -> AttackResult:
    """The LOSS attack (Yeom et al.): a lower cross-entropy loss means "member"."""
    return from_scores("loss threshold", -np.asarray(member_loss), -np.asarray(nonmember_loss))
