"""The forgetting-quality result in words (issue 17, item 7): which methods are separated beyond their intervals,
how many forget examples each leaves indistinguishable from Retrain, which examples each fails to forget, and the
headline a page, the report and the CLI show.

Pure functions of a :class:`engine.quality.QualityResult`-like object (``rows`` of ``key``, ``label``,
``quality``: :class:`~engine.audit.quality.ForgettingQuality`, ``ulira``: :class:`~engine.audit.ulira.UliraResult`);
no model, no store. A method is only ever called better than another when their score intervals do not overlap;
the Retrain row (N other retrains) is the best score this N allows, the original (no unlearning) the worst.
"""

from __future__ import annotations

import numpy as np

from .quality import EPSILON_CAP

#: ε of an example "indistinguishable from Retrain" when the result has no Retrain row (the metric's third bucket
#: starts at 1: at most a factor e in odds)
EPS_LIKE_RETRAIN = 1.0
#: with a Retrain row, the threshold is this percentile of the ε that N other retrains show: ε is a maximum over
#: decision rules, so even two sets of retrains show ε > 0 (at N = 16 about 1.4–2.1, measured in
#: tests/test_quality_words.py); an example counts as indistinguishable when it is within that noise floor
NOISE_PERCENTILE = 90
#: the rows that frame the table (engine.quality.RETRAIN_ROW / ORIGINAL_ROW)
FRAME = ("retrain", "original")


def _interval(q) -> str:
    return f"95 % [{q.low:.3f}, {q.high:.3f}]" if np.isfinite(q.low) else "no interval"


def like_retrain_eps(rows: list) -> float:
    """The ε up to which a forget example counts as indistinguishable from Retrain: the
    :data:`NOISE_PERCENTILE` percentile of the Retrain row's ε (N other retrains), or :data:`EPS_LIKE_RETRAIN`."""
    ret = next((r for r in rows if r.key == "retrain"), None)
    if ret is None or not len(ret.quality.epsilons):
        return EPS_LIKE_RETRAIN
    e = np.asarray(ret.quality.epsilons, dtype=float)
    return float(np.percentile(np.minimum(e, EPSILON_CAP), NOISE_PERCENTILE))


def share_like_retrain(q, eps: float = EPS_LIKE_RETRAIN) -> float:
    """Share of forget examples whose ε is at most ``eps`` (0–1); NaN where ``eps`` is the cap (N too small for even
    retrains to look alike: every share would read 100 %)."""
    e = np.asarray(q.epsilons, dtype=float)
    return float(np.mean(e <= eps)) if len(e) and eps < EPSILON_CAP else float("nan")


def separated(a, b) -> bool:
    """True when the score intervals of rows ``a`` and ``b`` do not overlap (both intervals known)."""
    qa, qb = a.quality, b.quality
    if not all(np.isfinite([qa.low, qa.high, qb.low, qb.high])):
        return False
    return qa.low > qb.high or qb.low > qa.high


def separated_pairs(rows: list) -> list[tuple[str, str]]:
    """The method pairs (better label, worse label) whose intervals separate, best pairs first; the framing rows
    (Retrain, the original) left out."""
    methods = sorted((r for r in rows if r.key not in FRAME), key=lambda r: -r.quality.score)
    return [(a.label, b.label) for i, a in enumerate(methods) for b in methods[i + 1:] if separated(a, b)]


def not_forgotten(row, n: int = 12, eps_like: float = EPS_LIKE_RETRAIN) -> list[int]:
    """Positions in the forget set of the examples ``row``'s models fail most to forget: the largest ε (ties: the
    largest U-LiRA per-example accuracy), at most ``n``, only those with ε above ``eps_like``
    (:func:`like_retrain_eps`)."""
    eps = np.asarray(row.quality.epsilons, dtype=float)
    acc = np.asarray(row.ulira.example_accuracy, dtype=float)
    order = np.lexsort((-acc, -eps))  # last key first: ε descending, then U-LiRA accuracy descending
    return [int(i) for i in order[:n] if eps[i] > eps_like]


def _names(labels: list[str]) -> str:
    return labels[0] if len(labels) == 1 else ", ".join(labels[:-1]) + " and " + labels[-1]


def headline(rows: list, n: int, ceiling: float) -> list[str]:
    """Two to four sentences: the best this N allows, each method's share of forget examples like Retrain with its
    score and interval, which methods separate (no winner named while intervals overlap), and the original."""
    by_key = {r.key: r for r in rows}
    out = []
    like = like_retrain_eps(rows)
    ret = by_key.get("retrain")
    resolved = like < EPSILON_CAP  # else even two groups of N retrains are told apart completely too often
    if ret is not None:
        floor = (f"even between retrains {NOISE_PERCENTILE} % of forget examples show ε up to {like:.2f}, the noise "
                 "floor used below" if resolved else
                 f"even two groups of retrains are told apart completely on more than {100 - NOISE_PERCENTILE} % of "
                 f"forget examples, so N = {n} is too small to say which examples a method forgets like Retrain "
                 "(no share is given; the scores still rank the methods) — use N ≥ 16")
        out.append(f"With N = {n} models per side, N other retrains score {ret.quality.score:.3f} "
                   f"({_interval(ret.quality)}): the best any method can score here (ε can show at most "
                   f"ln(N − 1) = {ceiling:.2f}); {floor}.")
    methods = sorted((r for r in rows if r.key not in FRAME), key=lambda r: -r.quality.score)
    if methods:
        out.append("; ".join(
            (f"{r.label}: {100 * share_like_retrain(r.quality, like):.0f} % of forget examples indistinguishable from "
             f"Retrain at ε ≤ {like:.2f} (score " if resolved else f"{r.label}: score (")
            + f"{r.quality.score:.3f}, {_interval(r.quality)})" for r in methods) + ".")
        best = methods[0]
        beaten = [r.label for r in methods[1:] if separated(best, r)]
        close = [r.label for r in methods[1:] if not separated(best, r)]
        if len(methods) == 1:
            pass
        elif not close:
            out.append(f"{best.label} scores highest, separated from every other method beyond their intervals.")
        elif beaten:
            out.append(f"No single best: {best.label}'s interval overlaps {_names(close)}'s; it is separated from "
                       f"{_names(beaten)}.")
        else:
            out.append(f"No method is separated from {best.label} beyond the intervals: no winner.")
    orig = by_key.get("original")
    if orig is not None:
        sep = float(np.mean(np.asarray(orig.quality.epsilons) >= EPSILON_CAP))
        out.append(f"The original model (no unlearning) scores {orig.quality.score:.3f}: "
                   f"{100 * sep:.0f} % of its forget examples are told apart from Retrain's completely.")
    return out


__all__ = ["EPS_LIKE_RETRAIN", "NOISE_PERCENTILE", "headline", "like_retrain_eps", "not_forgotten", "separated",
           "separated_pairs", "share_like_retrain"]
