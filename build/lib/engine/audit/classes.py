"""Class-level detail: per-class accuracy of every model, the prediction (confusion) matrix, and the forget classes'
confidence — pure functions of per-sample signals and labels.

What the Machine Unlearning Comparator shows for two models (class-wise accuracy, its prediction matrix, forget-class
histograms), here for every model of an audit and any forget spec; class-wise forgetting (``class:K``) is where a
method can look fine on average while the forgotten class is still recognised (Retrain's test accuracy on class K
is 0: it never saw the class), and where SG-Unlearn is known to struggle.

Nothing here trains or reads the store: :func:`class_tables` reads a :class:`~engine.audit.compare.Comparison`'s
signals and its models' labels (``model.data.y_train`` / ``y_test``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from ..signals import Signals

GROUPS = ("forget", "remain", "test")
#: confidence signals for the forget-class histograms → their labels
CONFIDENCE = {"p_y": "p(y|x)", "phi": "φ = log(p_y / (1 − p_y))", "entropy": "entropy of the softmax (nats)"}


def group_labels(sig: Signals, y_train: np.ndarray, y_test: np.ndarray, group: str) -> np.ndarray:
    """The true classes of ``group``'s samples, in the order of ``sig[group]``."""
    if group == "test":
        return np.asarray(y_test)
    idx = sig.forget if group == "forget" else sig.remain
    return np.asarray(y_train)[idx]


def class_accuracy(sig: Signals, y_train: np.ndarray, y_test: np.ndarray, num_classes: int,
                   groups: Sequence[str] = GROUPS) -> pd.DataFrame:
    """One model's accuracy per class and group: rows ``(group, class)`` with ``n`` samples, ``correct`` and
    ``accuracy`` in % (NaN where the group has no sample of the class)."""
    rows = []
    for g in groups:
        y = group_labels(sig, y_train, y_test, g)
        correct = np.asarray(sig[g]["correct"], dtype=bool)
        n = np.bincount(y, minlength=num_classes)
        hit = np.bincount(y, weights=correct.astype(float), minlength=num_classes)
        for c in range(num_classes):
            rows.append({"group": g, "class": c, "n": int(n[c]), "correct": int(hit[c]),
                         "accuracy": 100 * hit[c] / n[c] if n[c] else float("nan")})
    return pd.DataFrame(rows)


def confusion(y: np.ndarray, pred: np.ndarray, num_classes: int) -> np.ndarray:
    """Counts (C, C): row = true class, column = predicted class."""
    m = np.zeros((num_classes, num_classes), dtype=np.int64)
    np.add.at(m, (np.asarray(y, dtype=np.int64), np.asarray(pred, dtype=np.int64)), 1)
    return m


def row_normalised(counts: np.ndarray) -> np.ndarray:
    """Each row as fractions of its true class (NaN rows for classes the group does not hold)."""
    n = counts.sum(1, keepdims=True).astype(float)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(n > 0, counts / np.where(n > 0, n, 1), np.nan)


def prediction_matrix(sig: Signals, y_train: np.ndarray, y_test: np.ndarray, num_classes: int,
                      group: str = "test") -> np.ndarray:
    """The model's confusion counts on ``group`` (row = true class, column = predicted)."""
    return confusion(group_labels(sig, y_train, y_test, group), sig[group]["pred"], num_classes)


def class_confidence(sig: Signals, y_train: np.ndarray, y_test: np.ndarray, classes: Sequence[int],
                     signal: str = "p_y") -> dict[str, np.ndarray]:
    """The confidence ``signal`` of the samples of ``classes``: ``forget`` (those in the forget set — for a
    ``class:K`` spec, all of class K's training samples) and ``test`` (the test samples of those classes)."""
    f = np.isin(group_labels(sig, y_train, y_test, "forget"), list(classes))
    t = np.isin(np.asarray(y_test), list(classes))
    return {"forget": np.asarray(sig["forget"][signal])[f], "test": np.asarray(sig["test"][signal])[t]}


def accuracy_by_class(per_model: Mapping[str, pd.DataFrame], group: str) -> pd.DataFrame:
    """The per-class accuracies (%) of one group side by side: index = class, one column per model."""
    cols = {m: t[t["group"] == group].set_index("class")["accuracy"] for m, t in per_model.items()}
    out = pd.DataFrame(cols)
    first = next(iter(per_model.values()))
    out.insert(0, "n", first[first["group"] == group].set_index("class")["n"])
    out.index.name = "class"
    return out


def class_tables(cmp: Any) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Every model and seed of a comparison: per-class accuracy rows (``seed, method, label, group, class,
    class_name, n, correct, accuracy``) and confusion counts (``seed, method, label, group, true, predicted,
    count``, non-zero cells only) — what ``engine audit --classes`` writes."""
    acc, conf = [], []
    for (m, seed), sig in cmp.signals.items():
        data = cmp.models[(m, seed)].data
        y_train, y_test = data.y_train.numpy(), data.y_test.numpy()
        t = class_accuracy(sig, y_train, y_test, data.num_classes)
        t.insert(0, "label", cmp.labels.get(m, m))
        t.insert(0, "method", m)
        t.insert(0, "seed", seed)
        t.insert(5, "class_name", [data.classes[c] for c in t["class"]])
        acc.append(t)
        for g in GROUPS:
            counts = prediction_matrix(sig, y_train, y_test, data.num_classes, g)
            true, pred = np.nonzero(counts)
            conf.append(pd.DataFrame({"seed": seed, "method": m, "label": cmp.labels.get(m, m), "group": g,
                                      "true": true, "predicted": pred, "count": counts[true, pred]}))
    return pd.concat(acc, ignore_index=True), pd.concat(conf, ignore_index=True)
