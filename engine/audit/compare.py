"""The comparison: every model's audit (a pure function of its signals) and the AMUN paper's table.

:meth:`engine.run.Runner.compare` runs the flow — per seed s an original model, a forget draw with forget-seed
s, its retrain (the gold standard of that run) and every method — and hands each model's
:class:`~engine.signals.Signals` to :func:`audit_model`:

* UA / RA / TA — accuracy on D_F, D_R, D_T (no augmentation), in %;
* FT AUC — RMIA, forget vs test (the AMUN paper's main MIA; 50 is ideal), ×100;
* MIA-efficacy (MIS) — % of D_F an SVC on p_y calls a non-member;
* simple MIA — SG-Unlearn's logistic regression on the loss, forget vs test, accuracy (0.5 is ideal);
* loss-threshold AUC, TPR at 1 % / 0.1 % FPR of RMIA;
* KS and W1 between forget and test losses, and between the method's and the retrained model's forget losses;
* Avg Gap — mean |Δ| of UA, RA, TA and the MIA to the retrain of the same seed (per run, then averaged);
* wall time of the method.

Nothing here trains or reads the store.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..config import RunSpec
from ..signals import Signals
from .mia import AttackResult, loss_threshold, mia_efficacy, simple_mia
from .rmia import ReferenceSet, RmiaResult, rmia
from .stats import distribution_stats

REFERENCE = "retrain"
BASELINE = "original"
#: columns of metrics.csv, in order
COLUMNS = ["method", "label", "seed", "setting", "ua", "ra", "ta", "ft_auc", "mia_efficacy", "simple_mia_acc",
           "simple_mia_auc", "loss_auc", "tpr_at_1pct", "tpr_at_01pct", "ks", "ks_p", "wasserstein", "ks_vs_retrain",
           "w1_vs_retrain", "avg_gap", "avg_gap_mis", "seconds"]
#: the paper's table: column → (label, how "best" is judged)
TABLE = {"ua": ("UA", "retrain"), "ra": ("RA", "retrain"), "ta": ("TA", "retrain"),
         "ft_auc": ("MIA (FT AUC)", "retrain"),
         "avg_gap": ("Avg Gap", "min"), "mia_efficacy": ("MIA-efficacy", "retrain"),
         "simple_mia_acc": ("simple MIA acc", "retrain"), "ks": ("KS", "retrain"), "wasserstein": ("W1", "retrain"),
         "tpr_at_1pct": ("TPR@1%FPR", "retrain"), "seconds": ("time (s)", "min")}

#: decimal places per table column (the one rule for the CLI, the pages and the report); default 2
DECIMALS = {"simple_mia_acc": 3, "ks": 3, "wasserstein": 3, "tpr_at_1pct": 3}

#: per table column label: what it measures and what good looks like (shown in the UI and the report)
GLOSSARY = {
    "UA": "accuracy on the forget set D_F — good: close to Retrain's (not 0: unseen data is still mostly "
          "classified right)",
    "RA": "accuracy on the remain set D_R — good: close to Retrain's",
    "TA": "test accuracy — good: close to Retrain's (utility kept)",
    "MIA (FT AUC)": "RMIA AUC forget vs test ×100 — good: ≈ 50 like Retrain (an attacker can't tell D_F from "
                    "unseen data)",
    "Avg Gap": "mean |Δ| of UA, RA, TA and MIA to Retrain of the same seed — good: small (AMUN paper's headline)",
    "MIA-efficacy": "% of D_F an SVC on p_y calls non-member — good: close to Retrain's",
    "simple MIA acc": "logistic regression on the loss, forget vs test — good: ≈ Retrain's, ideally 0.5",
    "KS": "KS statistic of forget vs test losses — good: close to Retrain's (0 = same distribution)",
    "W1": "Wasserstein-1 of forget vs test losses — good: close to Retrain's",
    "TPR@1%FPR": "RMIA true-positive rate at 1 % false positives — good: close to Retrain's (low)",
    "time (s)": "wall time of the unlearning method (Retrain: training from scratch)",
}

@dataclass
class ModelAudit:
    """Every audit of one model: the table row, the attacks (for ROC views) and per-sample values."""

    row: dict[str, Any]
    attacks: dict[str, AttackResult]
    rmia: RmiaResult
    per_sample: dict[str, np.ndarray]


def audit_model(sig: Signals, ref: ReferenceSet, *, labels: np.ndarray, seed: int,
                retrain: Signals | None = None) -> ModelAudit:
    """Every audit of one model from its signals: accuracies, RMIA, MIA-efficacy, simple MIA, loss attack, KS/W1.

    Args:
        sig: the model's signals (with the forget / remain split).
        ref: the RMIA reference set on the same pool.
        labels: the training split's labels (per-sample output).
        seed: seed of the attacks' subsampling and folds.
        retrain: the retrained model's signals (for the distances to Retrain's forget losses).
    """
    f, r, t = sig["forget"], sig["remain"], sig["test"]
    rm = rmia(sig.pool_logits(), ref, sig.forget, remain=sig.remain)
    mis = mia_efficacy(r["p_y"], t["p_y"], f["p_y"], seed=seed)
    sm = simple_mia(f["loss"], t["loss"], seed=seed)
    lt = loss_threshold(f["loss"], t["loss"])
    ds = distribution_stats(f["loss"], t["loss"], retrain["forget"]["loss"] if retrain is not None else None, seed)
    row = {
        "ua": 100 * float(np.mean(f["correct"])), "ra": 100 * float(np.mean(r["correct"])),
        "ta": 100 * float(np.mean(t["correct"])), "ft_auc": 100 * rm.auc, "mia_efficacy": mis.percent,
        "simple_mia_acc": sm.accuracy, "simple_mia_auc": sm.auc, "loss_auc": lt.auc,
        "tpr_at_1pct": rm.tpr_at_1pct, "tpr_at_01pct": rm.tpr_at_01pct, "ks": ds.ks_forget_test,
        "ks_p": ds.p_forget_test, "wasserstein": ds.w1_forget_test, "ks_vs_retrain": ds.ks_vs_retrain,
        "w1_vs_retrain": ds.w1_vs_retrain,
    }
    per_sample = {
        "forget_index": sig.forget, "forget_label": np.asarray(labels)[sig.forget],
        "forget_loss": f["loss"], "forget_p_y": f["p_y"], "forget_phi": f["phi"], "forget_correct": f["correct"],
        "forget_rmia_score": rm.member_scores, "forget_mis_member": mis.forget_pred,
        "test_loss": t["loss"], "test_rmia_score": rm.nonmember_scores,
    }
    if ds.loss_gap is not None:
        per_sample["forget_loss_minus_retrain"] = ds.loss_gap
    attacks = {"RMIA": rm, "loss threshold": lt, "simple MIA (LogReg on loss)": sm.attack}
    return ModelAudit(row, attacks, rm, per_sample)


def avg_gap(row: dict, ref: dict, mia: str = "ft_auc") -> float:
    """Mean |Δ| of UA, RA, TA and the chosen MIA column to the reference row (AMUN §5.2)."""
    return float(np.mean([abs(row[k] - ref[k]) for k in ("ua", "ra", "ta", mia)]))


def seed_rows(audits: dict[str, ModelAudit], labels: dict[str, str], seconds: dict[str, float], *, seed: int,
              setting: str) -> list[dict[str, Any]]:
    """The metrics rows of one seed (one per model, :data:`COLUMNS`), Avg Gap against that seed's Retrain."""
    rows = {name: {"method": name, "label": labels[name], "seed": seed, "setting": setting, **a.row,
                   "seconds": seconds[name]} for name, a in audits.items()}
    for row in rows.values():
        row["avg_gap"] = avg_gap(row, rows[REFERENCE], "ft_auc")
        row["avg_gap_mis"] = avg_gap(row, rows[REFERENCE], "mia_efficacy")
    return [{c: row[c] for c in COLUMNS} for row in rows.values()]


@dataclass
class Comparison:
    spec: RunSpec
    rows: pd.DataFrame  # one row per model × seed, COLUMNS
    audits: dict[tuple[str, int], ModelAudit] = field(default_factory=dict)
    seconds: float = 0.0
    signals: dict[tuple[str, int], Signals] = field(default_factory=dict)  # per model and seed
    models: dict[tuple[str, int], Any] = field(default_factory=dict)  # engine.run.TrainedModel per model, seed
    labels: dict[str, str] = field(default_factory=dict)  # method key -> display label

    @property
    def seeds(self) -> list[int]:
        return sorted({s for _, s in self.audits})

    @property
    def methods(self) -> list[str]:
        return list(dict.fromkeys(m for m, _ in self.audits))

    def table(self, mia: str = "ft_auc") -> pd.DataFrame:
        """Mean ± std over seeds per method (the paper's layout), Retrain first."""
        df = self.rows.copy()
        if mia != "ft_auc":
            df["avg_gap"] = df["avg_gap_mis"]
        order = [m for m in [BASELINE, REFERENCE] if m in set(df["method"])] + \
            [m for m in dict.fromkeys(df["method"]) if m not in (BASELINE, REFERENCE)]
        cols = list(TABLE)
        g = df.groupby("method", sort=False)[cols]
        mean, std = g.mean().loc[order], g.std(ddof=0).loc[order]
        out = pd.DataFrame(index=order)
        out.index.name = "method"
        labels = df.drop_duplicates("method").set_index("method")["label"]
        out.insert(0, "label", labels.loc[order])
        for c in cols:
            out[f"{c}_mean"], out[f"{c}_std"] = mean[c], std[c]
        out["n_seeds"] = g.size().loc[order]
        return out

    def best(self, mia: str = "ft_auc") -> dict[str, str]:
        """Per table column, the method closest to Retrain (or lowest, for Avg Gap and time); Retrain and the
        original model are never "best"."""
        t = self.table(mia)
        cand = t.drop(index=[m for m in (BASELINE, REFERENCE) if m in t.index])
        out = {}
        if cand.empty:
            return out
        for c, (_, rule) in TABLE.items():
            v = cand[f"{c}_mean"]
            if rule == "retrain" and REFERENCE in t.index:
                v = (v - t.loc[REFERENCE, f"{c}_mean"]).abs()
            if v.notna().any():
                out[c] = str(v.idxmin())
        return out

    def formatted(self, mia: str = "ft_auc") -> pd.DataFrame:
        """The paper's table as text cells, "mean ± std" with :data:`DECIMALS`, indexed by label, columns labelled
        (the CLI, the pages and the report all show this)."""
        t = self.table(mia)
        out = pd.DataFrame(index=pd.Index(t["label"].tolist(), name="method"))
        for c, (label, _) in TABLE.items():
            d = DECIMALS.get(c, 2)
            out[label] = [f"{m:.{d}f} ± {0 if pd.isna(sd) else sd:.{d}f}" if pd.notna(m) else "–"
                          for m, sd in zip(t[f"{c}_mean"], t[f"{c}_std"])]
        return out

    def best_cells(self, mia: str = "ft_auc") -> list[tuple[str, str]]:
        """(row label, column label) of every "closest to Retrain" cell of :meth:`formatted`."""
        t = self.table(mia)
        return [(t.loc[m, "label"], TABLE[c][0]) for c, m in self.best(mia).items()]

    def to_markdown(self, mia: str = "ft_auc") -> str:
        cells, best = self.formatted(mia), set(self.best_cells(mia))
        lines = ["| method | " + " | ".join(cells.columns) + " |", "|" + "---|" * (len(cells.columns) + 1)]
        for label, row in cells.iterrows():
            shown = [f"**{v}**" if (label, col) in best else v for col, v in row.items()]
            lines.append(f"| {label} | " + " | ".join(shown) + " |")
        n = int(self.table(mia)["n_seeds"].max()) if len(cells) else 0
        mia_name = "FT AUC (RMIA)" if mia == "ft_auc" else "MIA-efficacy"
        lines += ["", f"Mean ± std over {n} seed(s); Avg Gap uses {mia_name}; bold = closest to Retrain "
                      "(lowest for Avg Gap and time)."]
        return "\n".join(lines)

    def write(self, out: str | Path) -> Path:
        """metrics.csv (one row per model × seed), table.md, table.csv and per-sample values."""
        out = Path(out)
        (out / "per_sample").mkdir(parents=True, exist_ok=True)
        self.rows.to_csv(out / "metrics.csv", index=False)
        self.table().to_csv(out / "table.csv")
        (out / "table.md").write_text(self.to_markdown() + "\n")
        for (method, seed), audit in self.audits.items():
            np.savez(out / "per_sample" / f"{method}_seed{seed}.npz", **audit.per_sample)
        return out
