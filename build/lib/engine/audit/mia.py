"""Membership-inference attacks as pure functions of per-sample signals.

Every attack returns an aggregate plus per-sample values, so a view can rank the most exposed samples
without recomputing: :class:`AttackResult` (AUC, TPR at low FPR, per-sample scores) for threshold attacks,
:class:`MiaEfficacy` (SalUn / Sparse "MIA-efficacy", AMUN's MIS) and :class:`SimpleMia` (SG-Unlearn's
logistic-regression MIA, with its loss ranking as an AttackResult). RMIA with reference models lives in
:mod:`engine.audit.rmia`, KS / W1 in :mod:`engine.audit.stats`.
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


# ------------------------------------------------------------------------------------------- MIA-efficacy
@dataclass
class MiaEfficacy:
    """SalUn / Sparse "MIA-efficacy" (AMUN's MIS): how much of the forget set an SVC calls a non-member.

    Attributes:
        name: display name.
        value: fraction of the forget set predicted non-member, in [0, 1] (papers print ×100: AMUN's
            retrained CIFAR-10 model scores 12.53 % at 10 % forgetting).
        n_members: remain samples the SVC was fitted on as members (label 1).
        n_nonmembers: test samples it was fitted on as non-members (label 0).
        train_accuracy: the SVC's accuracy on its own fitting set (how separable remain vs test is).
        forget_pred: per forget sample, 1 = predicted member, 0 = predicted non-member.
        forget_decision: per forget sample, the SVC decision function (higher = more member-like).
    """

    name: str
    value: float
    n_members: int
    n_nonmembers: int
    train_accuracy: float
    forget_pred: np.ndarray
    forget_decision: np.ndarray

    @property
    def percent(self) -> float:
        return 100.0 * self.value


def mia_efficacy(
    remain_py: np.ndarray,
    test_py: np.ndarray,
    forget_py: np.ndarray,
    *,
    seed: int = 0,
    max_members: int | None = None,
) -> MiaEfficacy:
    """MIA-efficacy ("MIS") of SalUn / Sparse, as used in AMUN's Tables 10–11 (AMUN §5.2, App. C).

    An RBF SVC, ``SVC(C=3, gamma="auto", kernel="rbf")``, is fitted on one feature, the softmax probability of
    the true class p_y: members (label 1) are a random subset of the remain set D_R of the size of the test
    set D_T, non-members (label 0) are D_T. It is then applied to the forget set D_F:

        MIA-efficacy = |{x ∈ D_F : SVC(p_y(x)) = 0}| / |D_F|

    Higher means the forget set looks more like unseen data; the target is the retrained model's value,
    not 1.

    Deviations from the SalUn code, documented: the member subset is drawn at random with ``seed`` (SalUn
    takes the first |D_T| remain samples in storage order, AMUN's brief says "random"); when D_R is smaller
    than D_T (small presets) or ``max_members`` caps the fit, both classes are cut to the same size
    n = min(|D_R|, |D_T|, max_members) so the SVC still sees balanced classes, as the code does by design.

    Args:
        remain_py: p_y of the remain samples.
        test_py: p_y of the test samples.
        forget_py: p_y of the forget samples.
        seed: seed of the member (and, when cut, non-member) subsets.
        max_members: optional cap on n, to bound the SVC's O(n²) fit on large sets.

    Returns:
        :class:`MiaEfficacy` with the aggregate and per-forget-sample predictions and decision values.
    """
    from sklearn.svm import SVC

    remain_py, test_py, forget_py = (np.asarray(a, float).ravel() for a in (remain_py, test_py, forget_py))
    if len(remain_py) == 0 or len(test_py) == 0 or len(forget_py) == 0:
        raise ValueError("MIA-efficacy needs remain, test and forget samples")
    rng = np.random.default_rng(seed)
    n = min(len(remain_py), len(test_py), max_members or len(test_py))
    members = remain_py[rng.choice(len(remain_py), n, replace=False)]
    nonmembers = test_py if len(test_py) == n else test_py[rng.choice(len(test_py), n, replace=False)]
    x = np.r_[members, nonmembers][:, None]
    y = np.r_[np.ones(len(members)), np.zeros(len(nonmembers))]
    clf = SVC(C=3, gamma="auto", kernel="rbf").fit(x, y)
    pred = clf.predict(forget_py[:, None]).astype(np.int64)
    return MiaEfficacy(
        name="MIA-efficacy (SVC on p_y)",
        value=float(1.0 - pred.mean()),
        n_members=len(members),
        n_nonmembers=len(nonmembers),
        train_accuracy=float(clf.score(x, y)),
        forget_pred=pred,
        forget_decision=clf.decision_function(forget_py[:, None]),
    )


# ------------------------------------------------------------------------------------------- simple MIA
@dataclass
class SimpleMia:
    """SG-Unlearn's reported MIA: cross-validated logistic regression on the per-sample loss.

    Attributes:
        name: display name.
        accuracy: mean held-out accuracy over the splits, forget (1) vs test (0); 0.5 = no signal.
        fold_accuracies: the accuracy of every split.
        n: samples per side after balancing (min(|D_F|, |D_T|)).
        attack: the same loss as a threshold attack over all forget and all test samples: ROC-AUC, TPR at
            low FPR and per-sample scores (``member_scores`` = −loss of every forget sample, in input order).
    """

    name: str
    accuracy: float
    fold_accuracies: np.ndarray
    n: int
    attack: AttackResult

    @property
    def auc(self) -> float:
        return self.attack.auc


def simple_mia(forget_loss: np.ndarray, test_loss: np.ndarray, *, seed: int = 0, n_splits: int = 10) -> SimpleMia:
    """The "simple MIA" of SG-Unlearn's evaluation (``src/evaluate.py``; NeurIPS'23 unlearning starting kit).

    Features: the per-sample cross-entropy loss ℓ(x) = logsumexp(z) − z_y (one dimension). The forget and test
    losses are shuffled with ``seed`` and both cut to n = min(|D_F|, |D_T|); labels forget = 1, test = 0. The
    attacker is sklearn's ``LogisticRegression()`` (C = 1); the score is its mean accuracy over
    ``StratifiedShuffleSplit(n_splits, test_size=0.1, random_state=seed)``:

        MIA = (1/S) Σ_s acc_s(LR fitted on split s's 90 %, scored on its 10 %)

    The AUC comes from :func:`loss_threshold` on all samples (a 1-D logistic regression is monotone in the
    loss, so its ranking is the loss's; AUC does not depend on class balance in expectation).

    Deviation: SG-Unlearn shuffles only the forget losses (the test set is larger there and is kept whole);
    here both sides are shuffled before the cut, so a class-ordered test split cannot bias the subset.

    Args:
        forget_loss: per-sample loss on the forget set.
        test_loss: per-sample loss on the test set.
        seed: seed of the shuffle and of the splits.
        n_splits: number of random 90/10 splits (SG-Unlearn: 10).

    Returns:
        :class:`SimpleMia`.

    Raises:
        ValueError: when either side has fewer than 5 samples (a 10 % stratified split needs both classes).
    """
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedShuffleSplit, cross_val_score

    f, t = np.asarray(forget_loss, float).ravel(), np.asarray(test_loss, float).ravel()
    n = min(len(f), len(t))
    if n < 5:
        raise ValueError(f"simple MIA needs at least 5 forget and 5 test samples, got {len(f)} and {len(t)}")
    rng = np.random.default_rng(seed)
    fs, ts = f[rng.permutation(len(f))[:n]], t[rng.permutation(len(t))[:n]]
    x = np.r_[fs, ts][:, None]
    y = np.r_[np.ones(n, dtype=np.int64), np.zeros(n, dtype=np.int64)]
    cv = StratifiedShuffleSplit(n_splits=n_splits, random_state=seed)
    accs = cross_val_score(LogisticRegression(), x, y, cv=cv, scoring="accuracy")
    attack = loss_threshold(f, t)
    attack.name = "simple MIA (loss)"
    return SimpleMia("simple MIA (logistic regression on loss)", float(np.mean(accs)), np.asarray(accs), n, attack)
