"""The verdict: every method judged against Retrain — never against the other methods it happened to run with.

For each method and each measure the question is the one a reader asks: is the method's value inside Retrain's own
interval, above it, or below it? Retrain's interval is its mean ± the 95 % half-width

    h = sqrt(ci_R² + floor_R²)

where ``ci_R`` is Retrain's 95 % interval (Student t over seeds; one seed: the paired bootstrap where the measure has
one) and ``floor_R`` Retrain's own leave-one-out spread over its replicas (how far one retrained model lands from the
others — a method is one model per seed, so it is judged with that spread). Both come from
:meth:`engine.audit.compare.Comparison.table`; a measure with neither (one seed, one replica, no bootstrap) is
``unknown`` and never coloured.

Each measure has a *direction*: which side of Retrain's interval is bad. ``forgetting`` measures (UA, FT AUC,
MIA-efficacy, simple MIA) are bad on both sides — above: the forget set is still remembered; below: over-forgetting,
which an attacker can read too (the AMUN paper's Avg Gap counts both); ``utility`` measures (RA, TA) are bad below
only; ``leak`` measures (KS, W1 forget vs test, TPR at 1 % FPR) and ``distance`` measures (Avg Gap, Δφ — already
distances to Retrain, whose own row is its replica spread) are one-sided: anything up to the top of Retrain's interval
is within, above it is bad. Wall time is not judged against
Retrain's interval (being faster is the point of unlearning); it is reported as a ratio.

A cell is green when ``within``, red when outside on the bad side; outside on the harmless side is plain. The
judgement of a method depends on its rows and Retrain's only, so a two-method and a six-method audit of the same
seeds mark the same cells alike. One method is only called better than another where their intervals separate
(:func:`separated`).

Nothing here trains, reads the store or imports streamlit.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from ..kinds import Role
from .compare import Comparison
from .uncertainty import half_text


@dataclass(frozen=True)
class Measure:
    """One judged column: ``key`` in :data:`engine.audit.compare.COLUMNS`, a short ``label``, its ``unit``,
    ``scale`` (the stored value × scale is shown in ``unit``), the ``direction`` (which side of Retrain is bad),
    decimals and a plain-language ``help`` (the symbols second)."""

    key: str
    label: str
    unit: str
    scale: float
    direction: str  # "forgetting" | "utility" | "leak" | "distance" | "cost"
    decimals: int
    help: str
    remembered: str = ""  # the side of Retrain's interval that means "still remembered" (forgetting measures)

    @property
    def marker(self) -> str:
        """↓ (lower is better: good up to the top of Retrain's interval), or ≈ Retrain (good: inside it)."""
        return "↓" if self.direction in ("distance", "leak", "cost") else "≈ Retrain"

    @property
    def header(self) -> str:
        """The column header: label, unit and direction, e.g. ``UA % ≈ Retrain``, ``Avg Gap pts ↓``."""
        return f"{self.label} ({self.unit}) {self.marker}"


#: every measure of the verdict table, in order; percentages everywhere a quantity is a rate or an AUC
MEASURES: tuple[Measure, ...] = (
    Measure("ua", "UA", "%", 1, "forgetting", 1,
            "How many forget samples the model still classifies right (accuracy on D_F). Good: like Retrain's — "
            "Retrain never saw them but still gets most right; above: still remembered; below: over-forgotten.",
            "above"),
    Measure("ra", "RA", "%", 1, "utility", 1,
            "Accuracy on the samples the model keeps (D_R). Good: like Retrain's; below: utility lost."),
    Measure("ta", "TA", "%", 1, "utility", 1,
            "Accuracy on unseen test samples (D_T). Good: like Retrain's; below: utility lost."),
    Measure("ft_auc", "FT AUC", "%", 1, "forgetting", 1,
            "How well an attacker (RMIA) tells forget samples from unseen ones, as an AUC in % (50: a coin flip). "
            "Good: like Retrain's ≈ 50; above: the forget set is still recognisable; below: over-forgotten.",
            "above"),
    Measure("mia_efficacy", "MIA-efficacy", "%", 1, "forgetting", 1,
            "Share of forget samples an SVC on the confidence p_y calls non-members. Good: like Retrain's; below: "
            "still remembered; above: over-forgotten.", "below"),
    Measure("simple_mia_acc", "simple MIA", "%", 100, "forgetting", 1,
            "Accuracy of a logistic regression on the loss telling forget from test samples (50 %: chance). "
            "Good: like Retrain's.", "above"),
    Measure("ks", "KS", "%", 100, "leak", 1,
            "Largest gap between the loss distributions of forget and test samples (Kolmogorov–Smirnov statistic, "
            "in % of samples). Good: no larger than Retrain's."),
    Measure("wasserstein", "W1", "nats", 1, "leak", 3,
            "Average distance between the forget and test loss distributions (Wasserstein-1 of the cross-entropy "
            "loss, in nats). Good: no larger than Retrain's."),
    Measure("tpr_at_1pct", "TPR @ 1 % FPR", "%", 1, "leak", 1,
            "Share of forget samples the attacker (RMIA) catches while wrongly flagging 1 % of unseen ones. Good: no "
            "higher than Retrain's.", "above"),
    Measure("avg_gap", "Avg Gap", "pts", 1, "distance", 2,
            "Average distance to Retrain in percentage points over UA, RA, TA and the MIA (the AMUN paper's "
            "headline). Good: no larger than Retrain's own retrain-to-retrain spread (its row)."),
    Measure("phi_shift", "Δφ", "logit", 1, "distance", 3,
            "How far the model's confidence on unseen and kept samples moved from Retrain's (Wasserstein-1 of "
            "φ = log(p_y/(1−p_y)), in logit units). Good: no larger than Retrain's own spread; large: the model "
            "flattened or sharpened its confidence everywhere, unlike Retrain."),
    Measure("seconds", "time", "s", 1, "cost", 2,
            "Wall time of the method's own work (Retrain and Original: training from scratch). Lower is better; "
            "AMUN's one-time search for its adversarial set is the next column."),
    Measure("one_time_seconds", "one-time", "s", 1, "cost", 2,
            "Work done once per original model and shared by every method that uses it (AMUN's search for its "
            "adversarial set), charged to each such method."),
)
BY_KEY = {m.key: m for m in MEASURES}
#: the judged table in three parts, so that none runs past the right edge of a laptop screen (the pages and the report)
GROUPS = {
    "Forgetting": ("ua", "ft_auc", "mia_efficacy", "simple_mia_acc", "tpr_at_1pct"),
    "Utility and distance to Retrain": ("ra", "ta", "avg_gap", "phi_shift", "ks", "wasserstein"),
    "Cost": ("seconds", "one_time_seconds"),
}
#: measures that say whether the forget set was forgotten (used for the verdict's first clause)
FORGETTING = ("ft_auc", "ua", "mia_efficacy", "simple_mia_acc", "ks", "wasserstein", "tpr_at_1pct")


@dataclass(frozen=True)
class Cell:
    """One method × measure: the value and its interval (shown units), Retrain's, and the judgement."""

    measure: Measure
    value: float
    ci: float
    retrain: float
    retrain_half: float  # NaN: Retrain's interval unknown
    status: str  # "within" | "above" | "below" | "unknown" | "reference"
    bad: bool  # outside Retrain's interval on the bad side

    @property
    def colour(self) -> str:
        """``green`` (indistinguishable from Retrain), ``red`` (outside it, on the bad side) or ``""``."""
        if self.status == "within":
            return "green"
        return "red" if self.bad else ""

    def text(self, with_ci: bool = True) -> str:
        d = self.measure.decimals
        if not np.isfinite(self.value):
            return "–"
        out = f"{self.value:.{d}f}"
        return out + (f" ± {half_text(self.ci, d)}" if with_ci and np.isfinite(self.ci) else "")

    def retrain_text(self) -> str:
        d = self.measure.decimals
        return f"{self.retrain:.{d}f}" + (f" ± {half_text(self.retrain_half, d)}" if np.isfinite(self.retrain_half)
                                          and self.retrain_half > 0 else "")



def judge(value: float, retrain: float, half: float, direction: str) -> tuple[str, bool]:
    """(status, bad) of a value against Retrain's interval ``retrain ± half``: ``within`` / ``above`` / ``below``
    (``unknown`` when the value or the interval is not finite); ``bad`` when outside on the side ``direction``
    calls bad. ``distance`` and ``leak`` measures are one-sided: anything up to the interval's top is within."""
    if not (np.isfinite(value) and np.isfinite(retrain) and np.isfinite(half)):
        return "unknown", False
    if direction in ("distance", "leak"):
        return ("within", False) if value <= retrain + half + 1e-9 else ("above", True)
    if abs(value - retrain) <= half + 1e-9:
        return "within", False
    status = "above" if value > retrain else "below"
    bad = {"forgetting": True, "utility": status == "below", "leak": status == "above"}.get(direction, False)
    return status, bad


def _finite(x) -> float:
    x = float(x)
    return x if np.isfinite(x) else 0.0


@dataclass
class Verdict:
    """Per method: the judged cells, and the verdict in words (``sentence``), with the key of the chart or view
    that shows its evidence (``evidence``: ``membership``, ``confidence``, ``table`` or ``statistics``)."""

    method: str
    label: str
    cells: dict[str, Cell]
    sentence: str = ""
    evidence: str = "table"
    like_retrain: bool = False
    phi_direction: float | None = None  # mean φ of the method minus Retrain's on test and remain (logit units)
    clauses: list[str] = field(default_factory=list)


def retrain_interval(t: pd.DataFrame, key: str) -> float:
    """Retrain's 95 % half-width for column ``key`` of :meth:`Comparison.table`: its interval and its replica
    spread combined (NaN when neither is known)."""
    ci, floor = float(t.loc[Role.RETRAIN, f"{key}_ci"]), float(t.loc[Role.RETRAIN, f"{key}_noise"])
    if not (np.isfinite(ci) or np.isfinite(floor)):
        return float("nan")
    return float(np.hypot(_finite(ci), _finite(floor)))


def cells(cmp: Comparison, mia: str = "ft_auc") -> dict[str, dict[str, Cell]]:
    """Every model × measure judged against Retrain (model key → measure key → :class:`Cell`), values in shown
    units. Retrain's own cells are ``reference``; without a retrain every cell is ``unknown``."""
    t = cmp.table(mia)
    out: dict[str, dict[str, Cell]] = {}
    has_r = Role.RETRAIN in t.index
    for m in t.index:
        row = {}
        for ms in MEASURES:
            v, ci = ms.scale * float(t.loc[m, f"{ms.key}_mean"]), ms.scale * float(t.loc[m, f"{ms.key}_ci"])
            if not has_r or ms.direction == "cost":
                row[ms.key] = Cell(ms, v, ci, float("nan"), float("nan"), "unknown", False)
                continue
            r = ms.scale * float(t.loc[Role.RETRAIN, f"{ms.key}_mean"])
            h = ms.scale * retrain_interval(t, ms.key)
            if ms.direction == "distance":
                # Retrain's own value is already its replica spread (a floor of a floor is no interval): its
                # interval over seeds on top where there is one; with one retrain there is no floor to judge by
                ci_r = ms.scale * float(t.loc[Role.RETRAIN, f"{ms.key}_ci"])
                several = int(t.loc[Role.RETRAIN, "n_replicas"]) >= 2
                h = (ci_r if np.isfinite(ci_r) else 0.0) if several else float("nan")
            if m == Role.RETRAIN:  # its row shows the interval the others are judged by (seeds and replicas combined)
                row[ms.key] = Cell(ms, v, h if np.isfinite(h) and h > 0 else ci, r, h, "reference", False)
                continue
            status, bad = judge(v, r, h, ms.direction)
            row[ms.key] = Cell(ms, v, ci, r, h, status, bad)
        out[str(m)] = row
    return out


def phi_direction(cmp: Comparison, method: str) -> float | None:
    """Signed shift of confidence: the method's median φ minus Retrain's on test and remain (mean of the two, then
    over seeds), in logit units; negative = flattened, positive = sharpened. None without the signals."""
    shifts = []
    for s in cmp.seeds:
        a, b = cmp.signals.get((method, s)), cmp.signals.get((Role.RETRAIN, s))
        if a is None or b is None:
            return None
        shifts.append(np.mean([float(np.median(a[g]["phi"]) - np.median(b[g]["phi"])) for g in ("test", "remain")]))
    return float(np.mean(shifts)) if shifts else None


def _vs(c: Cell) -> str:
    return f"{c.measure.label} {c.text(False)} vs Retrain {c.retrain_text()}"


def sentence_of(cells_m: dict[str, Cell], phi_dir: float | None = None) -> tuple[str, str, list[str]]:
    """The verdict in words for one method's cells: (sentence, evidence key, clauses). Clauses, in order: forgetting
    (did not forget / over-forgets — FT AUC first), confidence (Δφ, flattened or sharpened), the loss distributions
    (KS, W1), the cost in accuracy (TA, RA). No clause: "behaves like Retrain on every measure"."""
    judged = [c for c in cells_m.values() if c.status not in ("unknown", "reference")]
    if not judged:
        return ("cannot be judged: Retrain's interval is unknown (one seed and one retrain: add seeds or retrains)",
                "table", [])
    forget = [cells_m[k] for k in FORGETTING if k in cells_m and cells_m[k].measure.remembered]
    kept = [c for c in forget if c.bad and c.status == c.measure.remembered]
    over = [c for c in forget if c.bad and c.status != c.measure.remembered]
    clauses, evidence = [], "table"
    if kept:
        clauses.append(f"did not forget ({_vs(kept[0])})")
        evidence = "membership"
    elif over:
        c = over[0]
        clauses.append(f"over-forgets ({c.measure.label} {c.text(False)} {'<' if c.status == 'below' else '>'} "
                       f"Retrain's interval {c.retrain_text()})")
        evidence = "membership"
    phi = cells_m.get("phi_shift")
    if phi is not None and phi.bad:
        how = ("flattens confidence" if phi_dir is not None and phi_dir < 0 else
               "sharpens confidence" if phi_dir is not None and phi_dir > 0 else "shifts confidence")
        clause = f"{how} (Δφ {phi.text(False)} vs Retrain's {phi.retrain_text()} logit)"
        clauses.append(clause if clauses else f"forgets, but {clause}")
        if evidence == "table":
            evidence = "confidence"
    dist = [cells_m[k] for k in ("ks", "wasserstein") if k in cells_m and cells_m[k].bad]
    if dist:
        clauses.append("its forget-set losses differ from the test set's more than Retrain's ("
                       + ", ".join(_vs(c) for c in dist) + ")")
        if evidence == "table":
            evidence = "statistics"
    for k, what in (("ta", "test accuracy"), ("ra", "accuracy on the kept samples")):
        c = cells_m.get(k)
        if c is not None and c.bad:
            clauses.append(f"costs {c.retrain - c.value:.1f} points of {what} ({_vs(c)})")
    if not clauses and any(c.bad for c in judged):  # only Avg Gap outside: say so
        c = next(c for c in judged if c.bad)
        clauses.append(f"is outside Retrain's interval on {_vs(c)}")
    if not clauses:
        unknown = [c.measure.label for c in cells_m.values() if c.status == "unknown" and c.measure.direction != "cost"]
        tail = f" (not judged: {', '.join(unknown)})" if unknown else ""
        return "behaves like Retrain on every measure" + tail, "table", []
    text = clauses[0] if len(clauses) == 1 else "; ".join(clauses[:-1]) + "; and " + clauses[-1]
    return text, evidence, clauses


def verdicts(cmp: Comparison, mia: str = "ft_auc") -> list[Verdict]:
    """The verdict of every unlearning method (Original and Retrain left out), in the audit's order."""
    allc = cells(cmp, mia)
    out = []
    for m in cmp.table(mia).index:
        if m in (Role.ORIGINAL, Role.RETRAIN):
            continue
        phi_dir = phi_direction(cmp, m)
        text, evidence, clauses = sentence_of(allc[m], phi_dir)
        out.append(Verdict(m, cmp.labels.get(m, str(cmp.table(mia).loc[m, "label"])), allc[m], text, evidence,
                           not clauses and text.startswith("behaves"), phi_dir, clauses))
    return out


def separated(cmp: Comparison, a: str, b: str, key: str, mia: str = "ft_auc") -> bool:
    """Whether methods ``a`` and ``b`` can be told apart on column ``key``: their 95 % intervals do not overlap
    (an unknown interval never separates)."""
    t = cmp.table(mia)
    ma, mb = float(t.loc[a, f"{key}_mean"]), float(t.loc[b, f"{key}_mean"])
    ca, cb = float(t.loc[a, f"{key}_ci"]), float(t.loc[b, f"{key}_ci"])
    if not all(np.isfinite([ma, mb, ca, cb])):
        return False
    return ma + ca < mb - cb or mb + cb < ma - ca


def lowest(cmp: Comparison, key: str, methods: list[str] | None = None, mia: str = "ft_auc") -> list[str]:
    """The methods that cannot be told apart from the lowest on ``key`` (intervals overlapping the lowest one's): a
    single name only when it separates from every other."""
    t = cmp.table(mia)
    cand = [m for m in (methods or t.index) if m not in (Role.ORIGINAL, Role.RETRAIN)
            and np.isfinite(float(t.loc[m, f"{key}_mean"]))]
    if not cand:
        return []
    top = min(cand, key=lambda m: float(t.loc[m, f"{key}_mean"]))
    return [m for m in cand if m == top or not separated(cmp, top, m, key, mia)]


@dataclass(frozen=True)
class Sentence:
    """One headline sentence and the key of the view that shows its evidence."""

    text: str
    evidence: str


def _names(labels: list[str]) -> str:
    return labels[0] if len(labels) == 1 else ", ".join(labels[:-1]) + " and " + labels[-1]


def headline(cmp: Comparison, mia: str = "ft_auc") -> list[Sentence]:
    """Two or three sentences a manager reads in ten seconds: does the original model leak (the membership guard),
    which methods behave like Retrain (or, when none does, which at least hide the forget set from the attack), and
    the first problem of up to three of the others. No method is named better than another here."""
    check = cmp.membership_check()
    against = "Retrain's" if cmp.has_retrain else "chance,"
    if check.ok:
        first = (f"The original model leaks: an attacker tells forget samples from unseen ones with AUC "
                 f"{check.original:.0f} % vs {against} {check.retrain:.0f} %, so there is something to unlearn.")
    elif not check.fits:
        first = (f"Caution: the original model fits only {100 * check.train_accuracy:.0f} % of its training set, so "
                 f"it leaks little (attack AUC {check.original:.0f} % vs {against} {check.retrain:.0f} %): "
                 "differences between methods are mostly noise.")
    else:
        first = (f"Caution: the original model barely leaks (attack AUC {check.original:.0f} % vs {against} "
                 f"{check.retrain:.0f} %, within noise): there is little to unlearn and differences between methods "
                 "are mostly noise.")
    out = [Sentence(first, "membership")]
    if not cmp.has_retrain:
        out.append(Sentence("No retrain in this audit, so no method can be judged against Retrain.", "table"))
        return out
    vs = verdicts(cmp, mia)
    if not vs:
        return out
    like = [v.label for v in vs if v.like_retrain]
    n = len(vs)
    if like and len(like) == n:
        out.append(Sentence(f"All {n} methods behave like Retrain on every measure." if n > 1 else
                            f"{like[0]} behaves like Retrain on every measure.", "table"))
    elif like:
        verb = "behaves" if len(like) == 1 else "behave"
        out.append(Sentence(f"{_names(like)} {verb} like Retrain on every measure (of {n} methods).", "table"))
    else:
        hidden = [v.label for v in vs if v.cells["ft_auc"].status == "within"]
        c = vs[0].cells["ft_auc"]
        tail = (f"; the attack cannot tell the forget set from unseen data for {_names(hidden)} (FT AUC within "
                f"Retrain's {c.retrain_text()} %)" if hidden else "")
        out.append(Sentence(f"None of the {n} methods behaves like Retrain on every measure{tail}.",
                            "membership" if hidden else "table"))
    rest = [v for v in vs if not v.like_retrain and v.clauses]
    if rest:
        parts = [f"{v.label} {v.clauses[0]}" for v in rest[:3]]
        more = f" ({len(rest) - 3} more below)" if len(rest) > 3 else ""
        out.append(Sentence("; ".join(parts) + more + ".", rest[0].evidence))
    return out


def headline_text(cmp: Comparison, mia: str = "ft_auc") -> str:
    """The headline as one paragraph (CLI, plain text)."""
    return " ".join(s.text for s in headline(cmp, mia))


# the presentation's and the Membership page's per-sample helpers live beside it; importable from here too
from .exposure import membership_ranks, still_remembered, tpr_cell  # noqa: E402, F401
