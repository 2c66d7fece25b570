"""AMUN's Theorem 4.1 made visible (AMUN paper §4.1, App. A; research/amun.md §6) — pure functions.

The theorem bounds the distance of AMUN's model θ′ to the retrained θ_u after one step on D ∪ {(x_adv, y_adv)},
with ‖x − x_adv‖₂ = δ:

    ‖θ′ − θ_u‖² ≤ ‖θ_o − θ_u‖² + (2/β)(Lδ − C),
    C = ℓ(f_θo(x_adv), y) + ℓ(f_θ′(x_adv), y_adv) − ℓ(f_θu(x), y) − ℓ(f_θu(x_adv), y_adv).

What tightens it, per forget sample: a small δ (the nearest adversarial example), a strong one (high loss of y at
x_adv under θ_o), one that **transfers** to θ_u (low loss of y_adv at x_adv under Retrain — Retrain predicts y_adv
there too), no overfitting to it (the unlearned model's loss of y_adv at x_adv stays up), and a retrained model that
generalises to x (low loss of y). :func:`per_sample` puts each of those beside how forgotten the sample is: its own
RMIA membership score after unlearning, Retrain's, and its confidence φ = log(p_y/(1 − p_y)) before, after and under
Retrain. :func:`aggregate` answers "do closer, transferable adversarial examples forget better?" with group means
and intervals, and rank correlations with their p-values. :func:`size_effect` is the last factor the paper names:
smaller forget sets unlearn better (the retrained model generalises to fewer unseen samples).

Nothing here trains or reads the store: :meth:`engine.run.Runner.theorem` gathers the inputs.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

from ..kinds import Role
from .uncertainty import t_halfwidth

#: how forgotten a sample is: column → (label, which direction is "more forgotten", help)
MEASURES = {
    "score_after": ("RMIA score after unlearning", "lower",
                    "the sample's own RMIA membership score under the unlearned model (lower: looks less like a "
                    "member); compare with Retrain's"),
    "excess": ("score after − Retrain's", "lower",
               "the unlearned model's membership score minus Retrain's for the same sample (≈ 0: forgotten like "
               "Retrain; > 0: still more of a member than under Retrain)"),
    "drop": ("score drop from the original", "higher",
             "the original model's membership score minus the unlearned model's (how much unlearning lowered it)"),
    "phi_gap": ("|φ after − φ Retrain|", "lower",
                "distance of the sample's confidence after unlearning from Retrain's (0: as confident as Retrain)"),
}
#: the Theorem 4.1 factors of each sample: column → label
FACTORS = {"delta_norm": "‖δ‖₂", "eps": "ε", "strength": "ℓ(θ_o; x_adv, y)", "transfer_loss": "ℓ(θ_u; x_adv, y_adv)",
           "overfit_loss": "ℓ(θ′; x_adv, y_adv)", "retrain_loss": "ℓ(θ_u; x, y)", "c_term": "C"}


def cross_entropy(logits: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """Per-row cross-entropy of ``labels`` under ``logits`` (float64, log-sum-exp stable)."""
    z = np.asarray(logits, dtype=np.float64)
    top = z.max(1, keepdims=True)
    lse = top[:, 0] + np.log(np.exp(z - top).sum(1))
    return lse - z[np.arange(len(z)), np.asarray(labels, dtype=np.int64)]


def per_sample(*, index: np.ndarray, labels: np.ndarray, eps: np.ndarray, delta_norm: np.ndarray,
               y_adv: np.ndarray, flipped: np.ndarray, logits_adv: Mapping[str, np.ndarray],
               phi: Mapping[str, np.ndarray], loss: Mapping[str, np.ndarray],
               scores: Mapping[str, np.ndarray]) -> pd.DataFrame:
    """One row per forget sample: its adversarial example (from the original model), the theorem's factors and how
    forgotten it is.

    Args:
        index: training indices of the forget samples; ``labels`` their classes.
        eps, delta_norm, y_adv, flipped: the original model's nearest adversarial examples of those samples
            (:class:`engine.attacks.AdversarialSet`; ε = 0 and δ = 0 for samples it already misclassifies).
        logits_adv: logits at x_adv of ``original``, ``retrain`` and ``after`` (the unlearned model), (N, C).
        phi, loss: the forget samples' φ and loss at the clean x, per ``original`` / ``retrain`` / ``after``.
        scores: the forget samples' RMIA membership scores per ``original`` / ``retrain`` / ``after``.

    Returns:
        Columns ``index, label, y_adv, eps, delta_norm, attacked`` (a real adversarial example: flipped and not
        already misclassified), ``transfers`` (Retrain predicts y_adv at x_adv), the losses of :data:`FACTORS` and
        their ``c_term``, ``phi_*``, ``score_*`` and the :data:`MEASURES`.
    """
    y, ya = np.asarray(labels, dtype=np.int64), np.asarray(y_adv, dtype=np.int64)
    eps, delta_norm = np.asarray(eps, dtype=float), np.asarray(delta_norm, dtype=float)
    strength = cross_entropy(logits_adv["original"], y)
    transfer_loss = cross_entropy(logits_adv["retrain"], ya)
    overfit_loss = cross_entropy(logits_adv["after"], ya)
    retrain_loss = np.asarray(loss["retrain"], dtype=float)
    out = pd.DataFrame({
        "index": np.asarray(index, dtype=np.int64), "label": y, "y_adv": ya, "eps": eps, "delta_norm": delta_norm,
        "attacked": np.asarray(flipped, dtype=bool) & (eps > 0),
        "transfers": np.asarray(logits_adv["retrain"]).argmax(1) == ya,
        "after_predicts_y_adv": np.asarray(logits_adv["after"]).argmax(1) == ya,
        "strength": strength, "transfer_loss": transfer_loss, "overfit_loss": overfit_loss,
        "retrain_loss": retrain_loss, "c_term": strength + overfit_loss - retrain_loss - transfer_loss,
        **{f"phi_{m}": np.asarray(phi[m], dtype=float) for m in ("original", "after", "retrain")},
        **{f"score_{m}": np.asarray(scores[m], dtype=float) for m in ("original", "after", "retrain")},
    })
    out["excess"] = out["score_after"] - out["score_retrain"]
    out["drop"] = out["score_original"] - out["score_after"]
    out["phi_gap"] = (out["phi_after"] - out["phi_retrain"]).abs()
    return out


def _group(values: pd.Series) -> dict[str, float]:
    v = values.dropna().to_numpy(dtype=float)
    return {"n": int(len(v)), "mean": float(v.mean()) if len(v) else float("nan"),
            "halfwidth": t_halfwidth(v.tolist())}


@dataclass
class TheoremSummary:
    """:func:`aggregate`'s answer for one measure.

    Attributes:
        measure: the :data:`MEASURES` column.
        by_transfer: rows ``transfers`` (True / False) with ``n``, ``mean``, ``halfwidth`` (95 % t) of the measure.
        transfer_p: two-sided Mann–Whitney p-value of transferring vs not (NaN when a group is empty).
        by_distance: rows per ‖δ‖₂ quartile (``lo``–``hi``) with ``n``, ``mean``, ``halfwidth``.
        spearman: rank correlation ρ and p-value of the measure with each factor (‖δ‖₂, ε, C, …), samples of every
            seed pooled.
        per_seed: per seed, ρ(‖δ‖₂, measure) and the transfer difference (mean of transferring − not); with two
            or more seeds their mean over seeds and 95 % t half-width (``seed`` = "mean ± 95 %") is the noise across
            independent originals, forget draws and retrains — the within-seed p-values do not see it.
        n_attacked: samples with a real adversarial example (every analysis uses only these).
        n_skipped: samples without one (already misclassified by the original model — x_adv = x, nothing to
            transfer — or never flipped).
    """

    measure: str
    by_transfer: pd.DataFrame
    transfer_p: float
    by_distance: pd.DataFrame
    spearman: pd.DataFrame
    n_attacked: int
    n_skipped: int
    per_seed: pd.DataFrame | None = None

    def sentence(self) -> str:
        """What the numbers say, in one paragraph (direction of "more forgotten" from :data:`MEASURES`)."""
        label, better, _ = MEASURES[self.measure]
        sign = -1 if better == "lower" else 1
        t = self.by_transfer.set_index("transfers")
        parts = []
        if True in t.index and False in t.index and t.loc[True, "n"] and t.loc[False, "n"]:
            diff = sign * (t.loc[True, "mean"] - t.loc[False, "mean"])
            parts.append(f"samples whose adversarial example transfers to Retrain (n = {t.loc[True, 'n']}) forget "
                         f"{'better' if diff > 0 else 'worse'} than the others (n = {t.loc[False, 'n']}) on "
                         f"{label}: {t.loc[True, 'mean']:.3f} vs {t.loc[False, 'mean']:.3f} (Mann–Whitney p = "
                         f"{self.transfer_p:.3g}{_ns(self.transfer_p)})")
        d = self.spearman.set_index("factor")
        if "delta_norm" in d.index and np.isfinite(d.loc["delta_norm", "rho"]):
            rho, p = d.loc["delta_norm", "rho"], d.loc["delta_norm", "p"]
            closer = sign * rho < 0  # smaller δ ↔ more forgotten
            parts.append(f"closer adversarial examples forget {'better' if closer else 'worse'}: Spearman ρ(‖δ‖₂, "
                         f"{label}) = {rho:+.3f} (p = {p:.3g}{_ns(p)}, n = {self.n_attacked})")
        if self.per_seed is not None and len(self.per_seed) > 2:  # per-seed rows + the mean row
            m = self.per_seed.iloc[-1]
            parts.append(f"over {len(self.per_seed) - 1} seeds ρ(‖δ‖₂) = {m.rho_delta:+.3f} ± {m.rho_delta_hw:.3f} "
                         f"({_zero(m.rho_delta, m.rho_delta_hw)}) and the transfer difference "
                         f"{m.transfer_diff:+.4f} ± {m.transfer_diff_hw:.4f} "
                         f"({_zero(m.transfer_diff, m.transfer_diff_hw)}; 95 % t)")
        text = "; ".join(parts)
        return text[:1].upper() + text[1:] + "." if parts else "Not enough samples to say."

    def to_markdown(self) -> str:
        """The three tables and the sentence (the CLI's output)."""
        label = MEASURES[self.measure][0]
        out = [f"How forgotten: {label} (more forgotten = {MEASURES[self.measure][1]})", "",
               "| adversarial example transfers to Retrain | n | mean | 95 % ± |", "|---|---|---|---|"]
        out += [f"| {'yes' if r.transfers else 'no'} | {r.n} | {r['mean']:.4f} | {r.halfwidth:.4f} |"
                for _, r in self.by_transfer.iterrows()]
        out += [f"Mann–Whitney p = {self.transfer_p:.3g}", "",
                f"| ‖δ‖₂ quartile ({self.n_attacked} attacked samples) | ‖δ‖₂ range | n | mean | 95 % ± |",
                "|---|---|---|---|---|"]
        out += [f"| {r.quartile} | {r.lo:.3f}–{r.hi:.3f} | {r.n} | {r['mean']:.4f} | {r.halfwidth:.4f} |"
                for _, r in self.by_distance.iterrows()]
        out += ["", "| factor | Spearman ρ | p | n |", "|---|---|---|---|"]
        out += [f"| {r.label} | {r.rho:+.3f} | {r.p:.3g} | {r.n} |" for _, r in self.spearman.iterrows()]
        if self.per_seed is not None and len(self.per_seed):
            out += ["", "| seed | ρ(‖δ‖₂, measure) | transfer difference (yes − no) |", "|---|---|---|"]
            out += [f"| {r.seed} | {_pm(r.rho_delta, r.rho_delta_hw)} | {_pm(r.transfer_diff, r.transfer_diff_hw, 4)} |"
                    for _, r in self.per_seed.iterrows()]
        return "\n".join(out + ["", self.sentence()])


def _ns(p: float) -> str:
    return ", not significant at 5 %" if not p < 0.05 else ""


def _zero(mean: float, hw: float) -> str:
    """Whether the 95 % interval ``mean ± hw`` excludes zero (the effect holds across seeds) or not."""
    if not np.isfinite(hw):
        return "one seed"
    return "excludes 0" if abs(mean) > hw else "includes 0: within the noise between seeds"


def _pm(value: float, hw: float, decimals: int = 3) -> str:
    return "–" if not np.isfinite(value) else f"{value:+.{decimals}f}" + (
        f" ± {hw:.{decimals}f}" if np.isfinite(hw) else "")


def _spearman(x: pd.Series, y: pd.Series) -> tuple[float, float, int]:
    ok = pd.concat([x, y], axis=1).replace([np.inf, -np.inf], np.nan).dropna()
    if len(ok) >= 3 and ok.iloc[:, 0].nunique() > 1 and ok.iloc[:, 1].nunique() > 1:
        res = stats.spearmanr(ok.iloc[:, 0], ok.iloc[:, 1])
        return float(res.statistic), float(res.pvalue), int(len(ok))
    return float("nan"), float("nan"), int(len(ok))


def _transfer_diff(frame: pd.DataFrame, measure: str) -> float:
    yes = frame.loc[frame["transfers"], measure].dropna()
    no = frame.loc[~frame["transfers"], measure].dropna()
    return float(yes.mean() - no.mean()) if len(yes) and len(no) else float("nan")


def aggregate(frame: pd.DataFrame, measure: str = "score_after") -> TheoremSummary:
    """Do closer, transferable adversarial examples forget better? ``frame``: :func:`per_sample` rows (any seeds
    pooled). Every analysis uses only the samples with a real adversarial example (``attacked``): for a sample the
    original model already misclassifies x_adv = x, so neither its distance nor its transfer says anything."""
    if measure not in MEASURES:
        raise ValueError(f"unknown measure {measure!r}; choose one of {', '.join(MEASURES)}")
    att = frame[frame["attacked"]]
    by_transfer = pd.DataFrame([{"transfers": flag, **_group(att.loc[att["transfers"] == flag, measure])}
                                for flag in (True, False)])
    yes = att.loc[att["transfers"], measure].dropna()
    no = att.loc[~att["transfers"], measure].dropna()
    p = float(stats.mannwhitneyu(yes, no).pvalue) if len(yes) and len(no) else float("nan")
    rows = []
    if len(att) >= 4:
        quart = pd.qcut(att["delta_norm"].rank(method="first"), 4, labels=False)
        for q in range(4):
            part = att[quart == q]
            rows.append({"quartile": f"Q{q + 1}", "lo": float(part["delta_norm"].min()),
                         "hi": float(part["delta_norm"].max()), **_group(part[measure])})
    by_distance = pd.DataFrame(rows, columns=["quartile", "lo", "hi", "n", "mean", "halfwidth"])
    corr = []
    for factor in FACTORS:
        rho, pv, n = _spearman(att[factor], att[measure])
        corr.append({"factor": factor, "label": FACTORS[factor], "rho": rho, "p": pv, "n": n})
    per_seed = None
    if "seed" in att:
        seeds = [{"seed": str(s), "rho_delta": _spearman(part["delta_norm"], part[measure])[0],
                  "transfer_diff": _transfer_diff(part, measure), "rho_delta_hw": float("nan"),
                  "transfer_diff_hw": float("nan")} for s, part in att.groupby("seed", sort=True)]
        per_seed = pd.DataFrame(seeds, columns=["seed", "rho_delta", "rho_delta_hw", "transfer_diff",
                                                "transfer_diff_hw"])
        if len(per_seed) >= 2:
            per_seed.loc[len(per_seed)] = {
                "seed": "mean ± 95 %", "rho_delta": per_seed["rho_delta"].mean(),
                "rho_delta_hw": t_halfwidth(per_seed["rho_delta"].tolist()),
                "transfer_diff": per_seed["transfer_diff"].mean(),
                "transfer_diff_hw": t_halfwidth(per_seed["transfer_diff"].tolist())}
    return TheoremSummary(measure, by_transfer, p, by_distance, pd.DataFrame(corr), int(len(att)),
                          int(len(frame) - len(att)), per_seed)


def forget_fraction(spec: str, n_train: int) -> float:
    """The fraction of the training set a ``random:`` forget spec takes (a count divided by ``n_train``)."""
    arg = spec.partition(":")[2]
    value = float(arg)
    return value if "." in arg or "e" in arg.lower() else value / n_train


def size_effect(rows: Mapping[str, pd.DataFrame], n_train: int, methods: list[str] | None = None) -> pd.DataFrame:
    """The forget-set-size effect: per forget spec (``random:f``) and method, Avg Gap and the FT AUC gap to Retrain,
    each as its mean over seeds with a 95 % t half-width.

    Args:
        rows: forget spec → the metrics rows of that audit (:attr:`engine.audit.compare.Comparison.rows`).
        n_train: training-set size (to turn a count into a fraction).
        methods: which methods (default: every one but the original model; Retrain's own Avg Gap is its
            replicas' spread, the noise floor, and its FT AUC gap is 0).

    Returns:
        Columns ``forget, fraction, method, label, n, avg_gap, avg_gap_hw, ft_gap, ft_gap_hw, ft_auc, ft_auc_hw``,
        sorted by fraction.
    """
    out = []
    for spec, r in rows.items():
        main = r[r["replica"] == 0]
        ref = r[r["method"] == Role.RETRAIN].groupby("seed")["ft_auc"].mean()
        for method in methods or [m for m in dict.fromkeys(main["method"]) if m != "original"]:
            part = main[main["method"] == method].set_index("seed")
            if part.empty:
                continue
            ft_gap = (part["ft_auc"] - ref.reindex(part.index)).abs()
            out.append({"forget": spec, "fraction": forget_fraction(spec, n_train), "method": method,
                        "label": part["label"].iloc[0], "n": int(len(part)),
                        "avg_gap": float(part["avg_gap"].mean()), "avg_gap_hw": t_halfwidth(part["avg_gap"].tolist()),
                        "ft_gap": float(ft_gap.mean()), "ft_gap_hw": t_halfwidth(ft_gap.tolist()),
                        "ft_auc": float(part["ft_auc"].mean()), "ft_auc_hw": t_halfwidth(part["ft_auc"].tolist())})
    return pd.DataFrame(out).sort_values(["fraction", "method"], kind="stable").reset_index(drop=True)


def size_markdown(table: pd.DataFrame) -> str:
    """:func:`size_effect`'s table as Markdown: one row per forget size and method."""
    out = ["| forget | method | seeds | Avg Gap | FT AUC gap to Retrain | FT AUC |", "|---|---|---|---|---|---|"]
    for _, r in table.iterrows():
        cells = [f"{r[c]:.2f}" + ("" if not np.isfinite(r[f"{c}_hw"]) else f" ± {r[f'{c}_hw']:.2f}")
                 for c in ("avg_gap", "ft_gap", "ft_auc")]
        out.append(f"| {r.fraction:.0%} ({r.forget}) | {r.label} | {r.n} | " + " | ".join(cells) + " |")
    return "\n".join(out)


@dataclass
class TheoremView:
    """The per-sample view of one unlearned method in an audit (:meth:`engine.run.Runner.theorem`).

    Attributes:
        method: the method's key; ``label`` its label.
        frame: :func:`per_sample` rows of every seed, with a ``seed`` column.
        adversarial: per seed, the original model's nearest adversarial examples of the forget samples, in the
            rows' order (``AdversarialSet``: the images for the click-through).
    """

    method: str
    label: str
    frame: pd.DataFrame
    adversarial: dict

    def aggregate(self, measure: str = "score_after", seed: int | None = None) -> TheoremSummary:
        return aggregate(self.frame if seed is None else self.frame[self.frame["seed"] == seed], measure)


def spearman_display(table: pd.DataFrame) -> pd.DataFrame:
    """:attr:`TheoremSummary.spearman` for a page or a report: factor labels, ρ to 3 decimals, p to 3 digits."""
    return pd.DataFrame({"factor": table["label"], "Spearman ρ": [_pm(v, float("nan")) for v in table["rho"]],
                         "p": [f"{v:.3g}" if np.isfinite(v) else "–" for v in table["p"]], "n": table["n"]})


def per_seed_display(table: pd.DataFrame) -> pd.DataFrame:
    """:attr:`TheoremSummary.per_seed` for a page or a report: value ± 95 % half-width as text (the half-width only
    on the row of the mean over seeds)."""
    return pd.DataFrame({"seed": table["seed"],
                         "ρ(‖δ‖₂, measure)": [_pm(v, h) for v, h in zip(table.rho_delta, table.rho_delta_hw)],
                         "transfer difference": [_pm(v, h) for v, h in zip(table.transfer_diff,
                                                                             table.transfer_diff_hw)]})
