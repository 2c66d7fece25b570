"""The comparison: every model's audit (a pure function of its signals) and the AMUN paper's table.

:meth:`engine.run.Runner.compare` runs the flow — per seed s an original model, a forget draw with forget-seed
s (or one forget seed for every s), its retrains (the gold standard of that run) and every method, N unlearning
runs each — and hands each model's :class:`~engine.signals.Signals` to :func:`audit_model`; its rows per seed come
from :func:`engine.audit.rows.seed_rows`:

* UA / RA / TA — accuracy on D_F, D_R, D_T (no augmentation), in %;
* FT AUC — RMIA, forget vs test (the AMUN paper's main MIA; 50 is ideal), ×100;
* MIA-efficacy (MIS) — % of D_F an SVC on p_y calls a non-member;
* simple MIA — SG-Unlearn's logistic regression on the loss, forget vs test, accuracy (0.5 is ideal);
* loss-threshold AUC, TPR at 1 % / 0.1 % FPR of RMIA;
* KS and W1 between forget and test losses, and between the method's and the retrained model's forget losses;
* Δφ — how far the model's confidence on test and remain moved from Retrain's (W1 of φ): it catches a method
  that hides membership by flattening its confidence everywhere, which FT AUC and Avg Gap reward;
* Avg Gap — mean |Δ| of UA, RA, TA and the MIA to the mean of that seed's R retrains (per run, then averaged);
* wall time of the method.

Every seed retrains R times (replicas with their own training seeds): the table's Retrain row is their mean, and
its Avg Gap and Δφ are Retrain's own leave-one-out spread — the noise floor below which a difference means
nothing. Cells carry 95 % intervals: over seeds, or a paired bootstrap over samples for one seed
(:mod:`engine.audit.uncertainty`); the "closest to Retrain" mark goes to every method within noise of the best.

Nothing here trains or reads the store.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..config import RunSpec
from ..kinds import Role
from ..signals import Signals
from .guard import SignalCheck, membership_check
from .mia import AttackResult, loss_threshold, mia_efficacy, simple_mia
from .rmia import ReferenceSet, RmiaResult, rmia
from .stats import distribution_stats, wasserstein1
from .uncertainty import BOOTSTRAP_METRICS, Z95, loo_factor, noise_floor, t_factor, t_halfwidth

#: columns of metrics.csv, in order
#: ``seed`` is the model seed, ``forget_seed`` the forget draw's, ``replica`` Retrain's replica or a method's
#: unlearning run (run r unlearns with :func:`engine.artifacts.run_seed`)
COLUMNS = ["method", "label", "seed", "forget_seed", "replica", "setting", "ua", "ra", "ta", "train_acc", "ft_auc",
           "mia_efficacy", "simple_mia_acc", "simple_mia_auc", "loss_auc", "tpr_at_1pct", "tpr_at_01pct", "ks", "ks_p",
           "wasserstein", "ks_vs_retrain", "w1_vs_retrain", "phi_shift", "avg_gap", "avg_gap_mis", "seconds",
           "one_time_seconds",
           *(f"{m}_se" for m in BOOTSTRAP_METRICS)]
#: the paper's table: column → (label, how "best" is judged)
TABLE = {"ua": ("UA", "retrain"), "ra": ("RA", "retrain"), "ta": ("TA", "retrain"),
         "ft_auc": ("MIA (FT AUC)", "retrain"),
         "avg_gap": ("Avg Gap", "min"), "phi_shift": ("Δφ vs Retrain", "min"),
         "mia_efficacy": ("MIA-efficacy", "retrain"),
         "simple_mia_acc": ("simple MIA acc", "retrain"), "ks": ("KS", "retrain"), "wasserstein": ("W1", "retrain"),
         "tpr_at_1pct": ("TPR@1%FPR (%)", "retrain"), "seconds": ("time (s)", "min"),
         "one_time_seconds": ("one-time (s)", "none")}

#: the columns whose run-to-run spread :meth:`Comparison.run_spread` shows
SPREAD = {"ua": "UA", "ft_auc": "FT AUC", "avg_gap": "Avg Gap"}

#: decimal places per table column (the one rule for the CLI, the pages and the report); default 2
DECIMALS = {"simple_mia_acc": 3, "ks": 3, "wasserstein": 3, "phi_shift": 3}

@dataclass
class ModelAudit:
    """Every audit of one model: the table row, the attacks (for ROC views) and per-sample values."""

    row: dict[str, Any]
    attacks: dict[str, AttackResult]
    rmia: RmiaResult
    per_sample: dict[str, np.ndarray]


def audit_model(sig: Signals, ref: ReferenceSet, *, labels: np.ndarray, seed: int,
                retrains: Sequence[Signals] = ()) -> ModelAudit:
    """Every audit of one model from its signals: accuracies, RMIA, MIA-efficacy, simple MIA, loss attack, KS/W1,
    and the distances to Retrain.

    Args:
        sig: the model's signals (with the forget / remain split).
        ref: the RMIA reference set on the same pool.
        labels: the training split's labels (per-sample output).
        seed: seed of the attacks' subsampling and folds.
        retrains: the signals of the retrains to compare with (a retrain replica: the other replicas). KS / W1
            to Retrain use the mean forget loss over them per sample; Δφ the W1 to their pooled φ on test and
            on remain. None given: those columns are NaN.
    """
    f, r, t = sig["forget"], sig["remain"], sig["test"]
    rm = rmia(sig.pool_logits(), ref, sig.forget, remain=sig.remain)
    mis = mia_efficacy(r["p_y"], t["p_y"], f["p_y"], seed=seed)
    sm = simple_mia(f["loss"], t["loss"], seed=seed)
    lt = loss_threshold(f["loss"], t["loss"])
    rt_loss = np.mean([s["forget"]["loss"] for s in retrains], axis=0) if retrains else None
    ds = distribution_stats(f["loss"], t["loss"], rt_loss, seed)
    phi_shift = float(np.mean([wasserstein1(sig[g]["phi"], np.concatenate([s[g]["phi"] for s in retrains]))
                               for g in ("test", "remain")])) if retrains else float("nan")
    row = {
        "ua": 100 * float(np.mean(f["correct"])), "ra": 100 * float(np.mean(r["correct"])),
        "ta": 100 * float(np.mean(t["correct"])), "train_acc": 100 * float(np.mean(sig.splits["train"]["correct"])),
        "ft_auc": 100 * rm.auc, "mia_efficacy": mis.percent,
        "simple_mia_acc": sm.accuracy, "simple_mia_auc": sm.auc, "loss_auc": lt.auc,
        "tpr_at_1pct": 100 * rm.tpr_at_1pct, "tpr_at_01pct": 100 * rm.tpr_at_01pct, "ks": ds.ks_forget_test,
        "ks_p": ds.p_forget_test, "wasserstein": ds.w1_forget_test, "ks_vs_retrain": ds.ks_vs_retrain,
        "w1_vs_retrain": ds.w1_vs_retrain, "phi_shift": phi_shift,
    }
    per_sample = {
        "forget_index": sig.forget, "forget_label": np.asarray(labels)[sig.forget],
        "forget_loss": f["loss"], "forget_p_y": f["p_y"], "forget_phi": f["phi"], "forget_correct": f["correct"],
        "forget_rmia_score": rm.member_scores, "forget_mis_member": mis.forget_pred,
        "test_loss": t["loss"], "test_rmia_score": rm.nonmember_scores,
        "remain_correct": r["correct"], "test_correct": t["correct"],
    }
    if ds.loss_gap is not None:
        per_sample["forget_loss_minus_retrain"] = ds.loss_gap
    # SG-Unlearn's simple MIA is a 1-D logistic regression on the loss: monotone in it, so its ROC is the loss
    # threshold's by construction — its accuracy is a table column, its curve would repeat the loss attack's
    attacks = {"RMIA": rm, "loss threshold": lt}
    return ModelAudit(row, attacks, rm, per_sample)


def _finite_mean(values: Sequence[float]) -> float:
    v = [x for x in values if np.isfinite(x)]
    return float(np.mean(v)) if v else float("nan")


def retrain_replicas(table: pd.DataFrame) -> int:
    """Retrain replicas per seed in :meth:`Comparison.table` (0 without a Retrain)."""
    return int(table.loc[Role.RETRAIN, "n_replicas"]) if Role.RETRAIN in table.index else 0


@dataclass
class Comparison:
    spec: RunSpec
    rows: pd.DataFrame  # one row per model × seed, COLUMNS
    audits: dict[tuple[str, int], ModelAudit] = field(default_factory=dict)
    seconds: float = 0.0
    signals: dict[tuple[str, int], Signals] = field(default_factory=dict)  # per model and seed
    models: dict[tuple[str, int], Any] = field(default_factory=dict)  # engine.run.TrainedModel per model, seed
    labels: dict[str, str] = field(default_factory=dict)  # method key -> display label
    failures: dict[tuple[str, int], str] = field(default_factory=dict)  # (method, seed) -> why it has no row

    @property
    def seeds(self) -> list[int]:
        return sorted({s for _, s in self.audits})

    @property
    def methods(self) -> list[str]:
        return list(dict.fromkeys(m for m, _ in self.audits))

    def table(self, mia: str = "ft_auc") -> pd.DataFrame:
        """The paper's table: per model the mean of every :data:`TABLE` column, Original and Retrain first.

        Per column ``c``: ``c_mean`` (over seeds, and over replicas for Retrain), ``c_std`` (population std of the
        per-seed values), ``c_ci`` (half-width of a 95 % interval: Student-t over seeds when there are two or
        more, else 1.96 × the bootstrap standard error of the one seed where the metric has one, else NaN) and
        ``c_noise`` (Retrain's leave-one-out spread over its replicas, averaged over seeds; NaN with one
        replica). With one seed and N ≥ 2 unlearning runs a method's interval combines the bootstrap's with the
        runs' t-interval; ``c_runsd`` is a method's run-to-run standard deviation (mean over seeds; NaN with one run).
        ``ci_kind`` says which interval the cells carry; ``n_seeds``, ``n_replicas`` (Retrain: its replicas; a
        method: its runs) and ``n_runs`` the counts.
        """
        df = self.rows.copy()
        if mia != "ft_auc":
            df["avg_gap"], df["avg_gap_se"] = df["avg_gap_mis"], np.nan
        order = [m for m in [Role.ORIGINAL, Role.RETRAIN] if m in set(df["method"])] + \
            [m for m in dict.fromkeys(df["method"]) if m not in (Role.ORIGINAL, Role.RETRAIN)]
        cols = list(TABLE)
        per_seed = df.groupby(["method", "seed"], sort=False)[cols].mean()
        n_seeds = df.groupby("method", sort=False)["seed"].nunique()
        runs = df[~df["method"].isin([Role.ORIGINAL, Role.RETRAIN])]
        n_runs = pd.Series({m: 1 if m in (Role.ORIGINAL, Role.RETRAIN) else runs.loc[runs.method == m, "replica"]
                            .nunique() for m in order})
        out = pd.DataFrame(index=pd.Index(order, name="method"))
        labels = df.drop_duplicates("method").set_index("method")["label"]
        out.insert(0, "label", labels.loc[order])
        retrain = df[df["method"] == Role.RETRAIN]
        for c in cols:
            seeds_c = per_seed[c]
            out[f"{c}_mean"] = [float(seeds_c.loc[m].mean()) for m in order]
            out[f"{c}_std"] = [float(seeds_c.loc[m].std(ddof=0)) for m in order]
            if c in BOOTSTRAP_METRICS:
                boot = df.groupby("method", sort=False)[f"{c}_se"].mean()
                ci1 = [Z95 * float(boot.loc[m]) for m in order]
            else:
                ci1 = [float("nan")] * len(order)
            # one seed, several unlearning runs: the bootstrap's sample noise (shared by the runs, which see the
            # same samples) and the runs' own spread of their mean, combined as if independent
            one_seed_runs = {m: t_halfwidth(g[c].tolist()) for m, g in runs.groupby("method", sort=False)
                             if g["replica"].nunique() >= 2}
            out[f"{c}_ci"] = [t_halfwidth(seeds_c.loc[m].tolist()) if n_seeds.loc[m] >= 2 else
                              (float(np.hypot(np.nan_to_num(ci1[k]), one_seed_runs[m])) if m in one_seed_runs else
                               ci1[k]) for k, m in enumerate(order)]
            out[f"{c}_runsd"] = [_finite_mean([g[c].std(ddof=1) for _, g in runs[runs.method == m].groupby("seed")
                                               if len(g) >= 2]) for m in order]
            floors = [noise_floor(g[c].tolist()) for _, g in retrain.groupby("seed")] if len(retrain) else []
            out[f"{c}_noise"] = float(np.nanmean(floors)) if floors and np.isfinite(floors).any() else float("nan")
        out["n_seeds"] = n_seeds.loc[order].astype(int)
        out["n_replicas"] = df.groupby("method", sort=False)["replica"].nunique().loc[order].astype(int)
        out["n_runs"] = n_runs.loc[order].astype(int)
        out["ci_kind"] = ["seeds" if n >= 2 else "bootstrap+runs" if r >= 2 else "bootstrap"
                          for n, r in zip(out["n_seeds"], out["n_runs"])]
        return out

    def interval_words(self, mia: str = "ft_auc") -> str:
        """What a judged cell's interval is (the pages' legend and the report's note say it alike)."""
        t = self.table(mia)
        n, runs = int(t["n_seeds"].max()), int(t["n_runs"].max())
        if n >= 2:
            return f"mean ± 95 % interval over {n} seeds" + (
                f" (each seed's value the mean of its {runs} unlearning runs)" if runs >= 2 else "")
        return ("mean ± 95 % interval from a bootstrap over the samples of the one seed (UA, RA, TA, FT AUC, Avg Gap)"
                + (f", combined with the spread of the mean of {runs} unlearning runs" if runs >= 2 else ""))

    def axes_words(self) -> str:
        """The audit's three seed axes in one sentence: model seeds, forget draws, unlearning runs."""
        seeds = self.seeds
        pairs = self.rows.drop_duplicates("seed")[["seed", "forget_seed"]]
        fseeds = sorted(set(pairs["forget_seed"]))
        if (pairs["seed"] == pairs["forget_seed"]).all():
            forget = "each model seed draws its own forget set with that seed"
        elif len(fseeds) == 1:
            forget = f"one forget set, drawn with seed {fseeds[0]}, for every model seed"
        else:
            forget = "forget seeds " + ", ".join(map(str, fseeds))
        runs = int(self.table()["n_runs"].max()) if len(self.rows) else 1
        ran = (f"{runs} unlearning runs of each method per model seed, from the same original, differing only in the "
               "method's own randomness" if runs >= 2 else "one unlearning run of each method per model seed")
        return f"Model seeds {', '.join(map(str, seeds))}; {forget}; {ran}."

    def run_spread(self) -> pd.DataFrame:
        """Per method with several unlearning runs: how far one run moves from another from the same original
        (run-to-run SD, mean over seeds) beside how far the seeds' means move (SD over seeds; NaN with one seed), for
        UA, FT AUC and Avg Gap. Empty when every method ran once."""
        t = self.table()
        keep = [m for m in t.index if t.loc[m, "n_runs"] >= 2]
        per_seed = self.rows.groupby(["method", "seed"], sort=False)[list(SPREAD)].mean()
        out = pd.DataFrame(index=pd.Index([t.loc[m, "label"] for m in keep], name="method"))
        out["runs"] = [int(t.loc[m, "n_runs"]) for m in keep]
        out["seeds"] = [int(t.loc[m, "n_seeds"]) for m in keep]
        for c, label in SPREAD.items():
            out[f"{label} SD between runs"] = [float(t.loc[m, f"{c}_runsd"]) for m in keep]
            out[f"{label} SD between seeds"] = [float(per_seed.loc[m, c].std(ddof=1)) if t.loc[m, "n_seeds"] >= 2
                                                else float("nan") for m in keep]
        return out

    def best(self, mia: str = "ft_auc") -> dict[str, list[str]]:
        """Per table column, every method that is "closest to Retrain" (or lowest, for Avg Gap, Δφ and time)
        within noise: the best one, every method whose distance exceeds the best's by less than their combined
        95 % interval, and every method within Retrain's own spread of Retrain. Exact ties are all marked.
        Retrain and the original model are never "best"."""
        t = self.table(mia)
        cand = t.drop(index=[m for m in (Role.ORIGINAL, Role.RETRAIN) if m in t.index])
        out: dict[str, list[str]] = {}
        if cand.empty:
            return out
        for c, (_, rule) in TABLE.items():
            if rule == "none":
                continue
            v = cand[f"{c}_mean"]
            if rule == "retrain":
                if Role.RETRAIN not in t.index:  # no retrain in this audit: "closest to Retrain" is not defined
                    continue
                v = (v - t.loc[Role.RETRAIN, f"{c}_mean"]).abs()
            if not v.notna().any():
                continue
            ci = cand[f"{c}_ci"].fillna(0.0)
            top = v.idxmin()
            noise = t[f"{c}_noise"].iloc[0] if rule == "retrain" else float("nan")
            tol = np.sqrt(ci ** 2 + ci.loc[top] ** 2)
            tied = (v - v.loc[top] <= tol + 1e-9) | (v <= (noise if np.isfinite(noise) else -1.0))
            out[c] = [m for m in cand.index if bool(tied.loc[m]) and pd.notna(v.loc[m])]
        return out

    def formatted(self, mia: str = "ft_auc") -> pd.DataFrame:
        """The paper's table as text cells, "mean ± 95 % interval" with :data:`DECIMALS` (the mean alone where no
        interval exists), indexed by label, columns labelled (the CLI, the pages and the report all show this)."""
        t = self.table(mia)
        out = pd.DataFrame(index=pd.Index(t["label"].tolist(), name="method"))
        for c, (label, _) in TABLE.items():
            d = DECIMALS.get(c, 2)
            out[label] = ["–" if pd.isna(m) else f"{m:.{d}f}" + (f" ± {ci:.{d}f}" if pd.notna(ci) else "")
                          for m, ci in zip(t[f"{c}_mean"], t[f"{c}_ci"])]
        return out

    def interval_cells(self, columns: dict[str, str], decimals: int = 4, bare: tuple[str, ...] = ()) -> pd.DataFrame:
        """Any :data:`COLUMNS` as text cells "mean ± 95 % interval over seeds" (Student t; Retrain's replicas
        averaged per seed first; one seed: the mean alone), indexed by label, columns renamed by ``columns``.
        Columns in ``bare`` show the mean alone (a p-value is its own statement of noise; an interval of
        averaged p-values would leave [0, 1])."""
        per_seed = self.rows.groupby(["method", "label", "seed"], sort=False)[list(columns)].mean().reset_index()
        cells = {}
        for (_, label), g in per_seed.groupby(["method", "label"], sort=False):
            row = []
            for c in columns:
                v = g[c].dropna().to_numpy(dtype=float)
                row.append("–" if not len(v) else f"{v.mean():.{decimals}f}" +
                           (f" ± {t_halfwidth(v):.{decimals}f}" if len(v) >= 2 and c not in bare else ""))
            cells[label] = row
        out = pd.DataFrame.from_dict(cells, orient="index", columns=list(columns.values()))
        out.index.name = "model"
        return out

    def best_cells(self, mia: str = "ft_auc") -> list[tuple[str, str]]:
        """(row label, column label) of every "closest to Retrain" cell of :meth:`formatted` (ties within noise)."""
        t = self.table(mia)
        return [(t.loc[m, "label"], TABLE[c][0]) for c, ms in self.best(mia).items() for m in ms]

    @property
    def has_retrain(self) -> bool:
        """Whether the audit has a Retrain (without one: the reference models alone, no Avg Gap)."""
        return bool((self.rows["method"] == Role.RETRAIN).any())

    def membership_check(self) -> SignalCheck:
        """The guard (:mod:`engine.audit.guard`) on this audit: the original model's train accuracy and FT AUC
        against Retrain's, with their 95 % uncertainty and Retrain's noise floor (without a Retrain: against chance,
        50, with the original's own interval)."""
        t = self.table()
        o = self.rows[self.rows.method == Role.ORIGINAL].set_index("seed")
        if not self.has_retrain:
            return membership_check(float(o["train_acc"].mean()) / 100, float(o["ft_auc"].mean()), 50.0,
                                    halfwidth=float(t.loc[Role.ORIGINAL, "ft_auc_ci"]), against="chance")
        r = self.rows[self.rows.method == Role.RETRAIN].groupby("seed")["ft_auc"].mean()
        diff = (o["ft_auc"] - r.loc[o.index]).tolist()
        if len(diff) >= 2:  # paired over seeds
            half = t_halfwidth(diff)
        else:  # one seed: the two bootstrap errors, combined as if independent (conservative)
            half = float(np.hypot(*(t.loc[m, "ft_auc_ci"] for m in (Role.ORIGINAL, Role.RETRAIN))))
        return membership_check(float(o["train_acc"].mean()) / 100, float(o["ft_auc"].mean()), float(r.mean()),
                                halfwidth=half, noise=float(t.loc[Role.RETRAIN, "ft_auc_noise"]))

    def failure_note(self) -> str:
        """Which runs have no row and why (a method that diverged on a seed), or an empty string."""
        if not self.failures:
            return ""
        parts = [f"{self.labels.get(m, m)} on seed {s}: {msg}" for (m, s), msg in sorted(self.failures.items())]
        return "Not in the table (the run failed): " + "; ".join(parts) + "."

    def note(self, mia: str = "ft_auc") -> str:
        """One sentence on what the table's numbers and marks mean (under every rendering of it)."""
        t = self.table(mia)
        n, r = int(t["n_seeds"].max()) if len(t) else 0, retrain_replicas(t)
        interval = (f"± 95 % interval over {n} seeds (Student t)" if n >= 2 else
                    "± 95 % interval from a paired bootstrap over the samples of the one seed for UA, RA, TA, FT AUC "
                    "and Avg Gap; every other column: one seed — no interval")
        mia_name = "FT AUC (RMIA)" if mia == "ft_auc" else "MIA-efficacy"
        if not self.has_retrain:
            return (f"Mean {interval}. No retrain in this audit (it was not allowed): no Retrain row, and Avg Gap, Δφ "
                    "and the distances to Retrain are not defined (–); FT AUC, MIA-efficacy, the simple MIA and KS / "
                    "W1 forget vs test are measured against the reference models alone — FT AUC's ideal is ≈ 50.")
        floor = (f"Retrain is the mean of {r} retrains per seed; its Avg Gap is its own leave-one-out spread, "
                 f"corrected to what one more retrain would score against the mean of all {r} (×{loo_factor(r):.3f}), "
                 "and its Δφ each replica against the others (uncorrected): the noise floor" if r >= 2 else
                 "one retrain per seed: no noise floor (set retrains ≥ 2)")
        few = (f" With {n} seeds the interval is {t_factor(n):.1f} standard errors on each side, so few methods "
               "can be told apart: add seeds to separate them." if n == 2 else "")
        from ..unlearning.sg_unlearn import blind_note  # SG-Unlearn's auditor blind: its row says nothing of a game

        blind = blind_note(self.models)
        return (f"Mean {interval}; Avg Gap uses {mia_name}; {floor}. Marked: closest to Retrain (lowest for Avg "
                f"Gap, Δφ and time), every method within noise of the best marked alike.{few}"
                + (f" {blind}" if blind else ""))

    def to_markdown(self, mia: str = "ft_auc") -> str:
        cells, best = self.formatted(mia), set(self.best_cells(mia))
        lines = ["| method | " + " | ".join(cells.columns) + " |", "|" + "---|" * (len(cells.columns) + 1)]
        for label, row in cells.iterrows():
            shown = [f"**{v}**" if (label, col) in best else v for col, v in row.items()]
            lines.append(f"| {label} | " + " | ".join(shown) + " |")
        lines += ["", self.note(mia).replace("Marked:", "Bold:")]
        if self.failures:
            lines += ["", self.failure_note()]
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
