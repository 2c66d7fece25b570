"""One forget sample across every model of an audit: its signals and its membership scores (the drill-down panel of
the dashboard, ``engine sample`` on the command line) — a pure function of a comparison's signals and audits.

Nothing here trains or reads the store: the adversarial example of the panel comes from
:meth:`engine.run.Runner.adversarial` (stored), the rest from a :class:`~engine.audit.compare.Comparison`.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from ..errors import UnlearnError

#: columns of :func:`sample_table` → what they mean (the page's column help and the CLI's legend)
COLUMNS = {
    "predicted": "the model's predicted class",
    "p_y": "probability of the true class, p(y|x)",
    "phi": "φ = log(p_y / (1 − p_y)), the confidence the attacks read",
    "loss": "cross-entropy loss",
    "entropy": "entropy of the softmax (nats)",
    "rmia_score": "RMIA membership score: fraction of population points the sample dominates by likelihood ratio "
                  "(high: still treated as a member)",
    "rmia_rank": "share of the test samples (non-members) whose RMIA score is below this sample's, % (50: like an "
                 "unseen sample; near 100: exposed)",
    "rmia_rank_forget": "this sample's rank among the forget samples by RMIA score, % (100: the most exposed)",
    "mia_member": "MIA-efficacy's classifier calls it a member (trained on remain vs test p_y)",
    "loss_minus_retrain": "its loss minus Retrain's (mean of the retrains) on it; near 0 is what good looks like",
}


def forget_position(cmp: Any, seed: int, index: int) -> int:
    """The position of training sample ``index`` in the forget set of ``seed`` (:class:`UnlearnError` when it is not
    a forget sample of that seed)."""
    idx = np.asarray(cmp.signals[(cmp.methods[0], seed)].forget)
    hit = np.flatnonzero(idx == int(index))
    if not hit.size:
        near = idx[np.argsort(np.abs(idx - int(index)))[:5]]
        raise UnlearnError(f"training sample {index} is not in the forget set of seed {seed} ({len(idx)} samples; "
                           f"the nearest: {', '.join(map(str, sorted(near.tolist())))})")
    return int(hit[0])


def sample_table(cmp: Any, seed: int, index: int, classes: list[str] | None = None) -> pd.DataFrame:
    """One row per model (``cmp.methods`` order, index = the model's label): the forget sample ``index``'s
    predicted class, p_y, φ, loss, entropy, RMIA score and ranks, MIA-efficacy's call and its loss minus Retrain's
    (:data:`COLUMNS`)."""
    pos = forget_position(cmp, seed, index)
    rows = []
    for m in cmp.methods:
        f = cmp.signals[(m, seed)]["forget"]
        ps = cmp.audits[(m, seed)].per_sample
        score = float(ps["forget_rmia_score"][pos])
        test = np.asarray(ps["test_rmia_score"], dtype=float)
        forget = np.asarray(ps["forget_rmia_score"], dtype=float)
        pred = int(f["pred"][pos])
        gap = ps.get("forget_loss_minus_retrain")
        rows.append({
            "model": cmp.labels.get(m, m), "key": m,
            "predicted": classes[pred] if classes is not None else pred, "correct": bool(f["correct"][pos]),
            "p_y": float(f["p_y"][pos]), "phi": float(f["phi"][pos]), "loss": float(f["loss"][pos]),
            "entropy": float(f["entropy"][pos]), "rmia_score": score,
            "rmia_rank": 100 * float(np.mean(test < score) + 0.5 * np.mean(test == score)),
            "rmia_rank_forget": 100 * float(np.mean(forget < score) + 0.5 * np.mean(forget == score)),
            "mia_member": bool(ps["forget_mis_member"][pos]),
            "loss_minus_retrain": float(gap[pos]) if gap is not None else float("nan"),
        })
    return pd.DataFrame(rows).set_index("model")


def most_exposed(cmp: Any, seed: int, model: str, n: int = 12) -> np.ndarray:
    """The training indices of the ``n`` forget samples with the highest RMIA score under ``model``."""
    ps = cmp.audits[(model, seed)].per_sample
    order = np.argsort(-np.asarray(ps["forget_rmia_score"]), kind="stable")[:n]
    return np.asarray(ps["forget_index"])[order]
