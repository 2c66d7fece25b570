"""Continual unlearning, audited request by request (AMUN paper §6.3; research/amun.md §1.5) — pure functions.

After request j of a continual run, the forgotten set F_j is the union of requests 1..j and the remain set
R_j = train − F_j. A model after request j is audited on them:

* UA on F_j (and on request j's own rows), RA on R_j, TA on test, in %;
* RMIA membership scores (one reference set for every request: its pool is train ∪ test, independent of any
  forget set) and three ROC-AUCs over **all** samples of each group, ×100: FT (F_j vs test), RT (R_j vs test)
  and RF (R_j vs F_j, the AUC the AMUN paper's Table 3 calls "FR AUC");
* the paper's continual measure, AUC_FR − AUC_FT (``auc_gap`` = ``rf_auc`` − ``ft_auc``): the FR AUC of the
  paper's Table 3 — remain (label 1) vs forgotten (label 0), the same RMIA scores (research/amun.md §2.2: "FR AUC
  uses the same scores with D_R = 1 vs D_F = 0") — minus the FT AUC. Retrain's is positive (its remain samples are
  members, its forgotten ones are not: FR AUC ≈ its RT AUC, FT AUC ≈ 50); the original model's is negative (its
  forgotten samples are members like the remain ones: FR AUC ≈ 50, FT AUC > 50); higher is better up to
  Retrain's — above it the forgotten samples look less like members than unseen data do (over-unlearning).
  An earlier version plotted RT − FT (remain-vs-test minus forget-vs-test) under this name; that reading is kept
  as ``rt_gap`` ("AUC_RT − AUC_FT"), not the paper's.

AUCs use all samples, not the one-shot protocol's balanced subsample (``ft_auc_sub`` keeps that one for
reference): a request of a few samples would otherwise be compared with as few test samples, which only adds
noise — an AUC does not need balanced groups.

Avg Gap of a model after request j is taken against the Retrain of the same seed and request (retrained on R_j).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from ..kinds import Role
from ..signals import Signals
from .rmia import ReferenceSet, rmia
from .uncertainty import auc, t_halfwidth

#: per-request metrics: column → (label, what good looks like)
METRICS = {
    "auc_gap": ("AUC_FR − AUC_FT", "the AMUN paper's §6.3 measure: RMIA AUC of remain (1) vs forgotten (0) minus "
                                   "forgotten vs test; the original's is negative, Retrain's positive (higher is "
                                   "better up to Retrain's; above it is over-unlearning)"),
    "rt_gap": ("AUC_RT − AUC_FT", "remain-vs-test minus forgotten-vs-test RMIA AUC (not the paper's measure; shown "
                                  "for comparison): ≈ Retrain's"),
    "ft_auc": ("FT AUC", "RMIA AUC of everything forgotten so far vs test: ≈ Retrain's (≈ 50)"),
    "rt_auc": ("RT AUC", "RMIA AUC of the remain set vs test: ≈ Retrain's (utility of the membership kept)"),
    "rf_auc": ("RF AUC", "RMIA AUC of remain vs forgotten (the AMUN paper's Table 3 'FR AUC'): ≈ Retrain's"),
    "ua": ("UA", "accuracy on everything forgotten so far: ≈ Retrain's"),
    "ua_request": ("UA (this request)", "accuracy on this request's samples: ≈ Retrain's"),
    "ra": ("RA", "accuracy on the remain set: ≈ Retrain's"),
    "ta": ("TA", "test accuracy: ≈ Retrain's"),
    "avg_gap": ("Avg Gap", "mean |Δ| of UA, RA, TA, FT AUC to Retrain after the same request: small"),
    "seconds": ("time (s)", "wall time of this request's unlearning (Retrain: training from scratch)"),
}
COLUMNS = ["method", "label", "seed", "request", "n_request", "n_forgotten", "ua", "ua_request", "ra", "ta", "ft_auc",
           "rt_auc", "rf_auc", "auc_gap", "rt_gap", "ft_auc_sub", "avg_gap", "seconds", "one_time_seconds"]
GAP_KEYS = ("ua", "ra", "ta", "ft_auc")


def step_audit(sig: Signals, ref: ReferenceSet, request: np.ndarray) -> dict[str, float]:
    """The audit of one model after one request: ``sig`` grouped by everything forgotten so far (``sig.forget``)
    and the remain set; ``request``: this request's training indices (a subset of ``sig.forget``)."""
    rm = rmia(sig.pool_logits(), ref, sig.forget, remain=sig.remain)
    correct = sig.splits["train"]["correct"]
    return {
        "n_request": int(len(request)), "n_forgotten": int(len(sig.forget)),
        "ua": 100 * float(np.mean(correct[sig.forget])), "ua_request": 100 * float(np.mean(correct[request])),
        "ra": 100 * float(np.mean(correct[sig.remain])), "ta": 100 * float(np.mean(sig["test"]["correct"])),
        **auc_measures(rm.member_scores, rm.nonmember_scores, rm.remain_scores), "ft_auc_sub": 100 * rm.auc,
    }


def auc_measures(forget: np.ndarray, test: np.ndarray, remain: np.ndarray) -> dict[str, float]:
    """The AUCs of one model's membership scores, ×100: FT (forgotten = 1 vs test = 0), RT (remain vs test), RF
    (remain = 1 vs forgotten = 0: the paper's "FR AUC"), the paper's AUC_FR − AUC_FT (``auc_gap``, AMUN §6.3) and
    RT − FT (``rt_gap``, not the paper's measure)."""
    ft, rt, rf = auc(forget, test), auc(remain, test), auc(remain, forget)
    return {"ft_auc": 100 * ft, "rt_auc": 100 * rt, "rf_auc": 100 * rf, "auc_gap": 100 * (rf - ft),
            "rt_gap": 100 * (rt - ft)}


def with_gaps(rows: pd.DataFrame) -> pd.DataFrame:
    """``rows`` with ``avg_gap``: mean |Δ| of UA, RA, TA and FT AUC to the Retrain row of the same seed and request
    (Retrain's own is 0; NaN where that Retrain is missing)."""
    out = rows.copy()
    ref = out[out["method"] == Role.RETRAIN].set_index(["seed", "request"])[list(GAP_KEYS)]
    joined = out.join(ref, on=["seed", "request"], rsuffix="_rt")
    out["avg_gap"] = np.mean([np.abs(joined[k] - joined[f"{k}_rt"]) for k in GAP_KEYS], axis=0)
    return out


def summary(rows: pd.DataFrame, metric: str) -> pd.DataFrame:
    """Per method and request: the mean of ``metric`` over seeds, its 95 % Student-t half-width (NaN for one
    seed) and the number of seeds, in run order of the methods."""
    order = list(dict.fromkeys(rows["method"]))
    g = rows.groupby(["method", "request"], sort=False)[metric]
    out = g.agg(mean="mean", n="count").join(g.agg(t_halfwidth).rename("halfwidth")).reset_index()
    out["method"] = pd.Categorical(out["method"], order, ordered=True)
    return out.sort_values(["method", "request"]).reset_index(drop=True).assign(method=lambda d: d.method.astype(str))


def wide(rows: pd.DataFrame, metric: str, labels: dict[str, str], decimals: int = 2) -> pd.DataFrame:
    """One row per model, one column per request: ``mean ± half-width`` of ``metric`` (the CLI's tables)."""
    s = summary(rows, metric)

    def cell(r) -> str:
        hw = "" if not np.isfinite(r.halfwidth) else f" ± {r.halfwidth:.{decimals}f}"
        return f"{r['mean']:.{decimals}f}{hw}"

    s["cell"] = s.apply(cell, axis=1)
    table = s.pivot(index="method", columns="request", values="cell")
    table = table.loc[list(dict.fromkeys(s["method"]))]
    table.index = [labels.get(m, m) for m in table.index]
    table.columns = [f"request {c}" for c in table.columns]
    return table


def markdown(table: pd.DataFrame) -> str:
    """A Markdown table of ``table`` (index as the first column, cells as they are)."""
    head = ["| model | " + " | ".join(map(str, table.columns)) + " |", "|" + "---|" * (len(table.columns) + 1)]
    return "\n".join(head + [f"| {idx} | " + " | ".join(map(str, row)) + " |" for idx, row in table.iterrows()])


#: the two readings of the paper's claim: the paper's (higher AUC_FR − AUC_FT is better) and distance to Retrain
READINGS = {"higher": "higher is better (the paper's reading)",
            "retrain": "closer to Retrain's value is better (|value − Retrain's| of the same seed and request)"}


def claim(rows: pd.DataFrame, adaptive: str = "amun_a", plain: str = "amun",
          baselines: Sequence[str] | None = None, metric: str = "auc_gap", reading: str = "higher") -> pd.DataFrame:
    """The AMUN paper's claim, request by request: AMUN-A better than AMUN better than every baseline on ``metric``.

    ``reading`` (:data:`READINGS`): ``higher`` — the paper's, the larger value is better; ``retrain`` — the value's
    distance to the Retrain of the same seed and request, smaller is better (a method that overshoots Retrain,
    making forgotten samples look less like members than unseen ones, is not rewarded for it).

    Per request: the mean over seeds of AMUN-A, AMUN and the best baseline (the methods other than these two,
    the original model and Retrain, unless ``baselines`` names them) — values, or distances to Retrain —, Retrain's
    own value, the paired advantages of AMUN-A over AMUN and of AMUN over the best baseline (per seed, so the seeds'
    shared original models and draws cancel; positive = better) with 95 % t half-widths, and whether each is
    positive on the means.
    """
    if reading not in READINGS:
        raise ValueError(f"unknown reading {reading!r}; choose one of {', '.join(READINGS)}")
    present = set(rows["method"])
    if adaptive not in present or plain not in present:
        raise ValueError(f"the claim compares {adaptive} and {plain}; run both")
    base = [m for m in (baselines or sorted(present)) if m not in (adaptive, plain, Role.ORIGINAL, Role.RETRAIN)
            and m in present]
    if not base:
        raise ValueError("the claim needs at least one baseline method")
    table = rows.pivot_table(index=["request", "seed"], columns="method", values=metric)
    ref = table[Role.RETRAIN] if Role.RETRAIN in table else pd.Series(np.nan, index=table.index)
    if reading == "retrain":
        if Role.RETRAIN not in table:
            raise ValueError("the distance to Retrain needs Retrain's rows")
        table = table.sub(ref, axis=0).abs()
    sign = 1.0 if reading == "higher" else -1.0  # advantage = sign × (a − b)
    out = []
    for request, part in table.groupby(level="request"):
        means = part.mean()
        best = max(base, key=lambda m: sign * means[m])
        d1 = (sign * (part[adaptive] - part[plain])).dropna()
        d2 = (sign * (part[plain] - part[best])).dropna()
        d3 = (sign * (part[adaptive] - part[best])).dropna()
        out.append({"request": int(request), adaptive: means[adaptive], plain: means[plain], "best baseline": best,
                    "baseline": means[best], "retrain value": ref.loc[request].mean(),
                    f"{adaptive} over {plain}": d1.mean(), "hw1": t_halfwidth(d1.tolist()),
                    f"{plain} over baseline": d2.mean(), "hw2": t_halfwidth(d2.tolist()),
                    f"{adaptive} over baseline": d3.mean(), "hw3": t_halfwidth(d3.tolist()),
                    f"{adaptive} better": bool(d1.mean() > 0), f"{plain} better": bool(d2.mean() > 0),
                    f"{adaptive} better than baseline": bool(d3.mean() > 0),
                    # the same model (AMUN-A starts from θ_o, whose D_A AMUN uses too: the first request)
                    "identical": bool(len(d1) and (d1 == 0).all())})
    return pd.DataFrame(out)


def verdict(table: pd.DataFrame, adaptive: str = "amun_a", plain: str = "amun",
            labels: dict[str, str] | None = None) -> str:
    """One sentence on :func:`claim`'s table: does the ordering hold at every request, on the means and beyond
    the 95 % intervals of the paired advantages? ``labels``: display names of the two methods."""
    same = table["identical"] if "identical" in table else pd.Series(False, index=table.index)
    a = table[f"{adaptive} better"][~same]
    b = table[f"{plain} better"]
    c = table[f"{adaptive} better than baseline"]
    sure_a = (table[f"{adaptive} over {plain}"] - table["hw1"] > 0)[~same].sum()
    sure_b = (table[f"{plain} over baseline"] - table["hw2"] > 0).sum()
    sure_c = (table[f"{adaptive} over baseline"] - table["hw3"] > 0).sum()
    n, n_a = len(table), len(a)
    holds = bool(a.all() and b.all())
    na, npl = (labels or {}).get(adaptive, adaptive), (labels or {}).get(plain, plain)
    tie = (f" (at {int(same.sum())} request(s) the two are the same model — one D_A, as at the first request — and "
           "are left out of that count)") if same.any() else ""
    return (f"{'Holds' if holds else 'Does not hold'} on the means: {na} better than {npl} at {int(a.sum())} of "
            f"{n_a} requests{tie}, {npl} better than the best baseline at {int(b.sum())} of {n}, and {na} better than "
            f"the best baseline at {int(c.sum())} of {n}; beyond the 95 % interval of the paired advantage over "
            f"seeds: {int(sure_a)} of {n_a}, {int(sure_b)} of {n} and {int(sure_c)} of {n}.")


def claim_display(table: pd.DataFrame, labels: dict[str, str], adaptive: str = "amun_a",
                  plain: str = "amun") -> pd.DataFrame:
    """:func:`claim`'s table with display names (methods by label; ± for the half-widths) for the page and the
    report."""
    la, lp = labels.get(adaptive, adaptive), labels.get(plain, plain)
    out = table.assign(**{"best baseline": [labels.get(m, m) for m in table["best baseline"]]})
    return out.rename(columns={
        adaptive: la, plain: lp, "retrain value": labels.get(Role.RETRAIN, "Retrain"),
        f"{adaptive} over {plain}": f"{la} over {lp}", "hw1": "± (95 %)",
        f"{plain} over baseline": f"{lp} over baseline", "hw2": "± (95 %) ",
        f"{adaptive} over baseline": f"{la} over baseline", "hw3": "± (95 %)  ",
        f"{adaptive} better": f"{la} better", f"{plain} better": f"{lp} better",
        f"{adaptive} better than baseline": f"{la} better than baseline", "identical": f"{la} = {lp}"})
