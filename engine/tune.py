"""Tuning as a product feature: each method's hyperparameters chosen on held-out data, models and forget sets,
scored by the audit's own Avg Gap (RMIA FT AUC), the winners stored as the preset's tuned defaults with their
provenance.

Protocol (AMUN §5.2 / App. C: "tuned on a separate random subset of the same size"):

* tuning is held out from every audit of the data set by construction (issue 19): it trains on its own part of
  the data (``DataSpec.tuning``: training rows outside the audit's training subset, and test rows outside the
  audit's where the test split has room — on digits the test split is shared), with its own seeds (model and forget
  seeds ``seed + engine.request.HELDOUT``, which audits refuse), so its original models, retrains, RMIA reference
  models and forget sets are its own, and no tuning forget set meets an audit forget set;
* the winners are stored per setting (:func:`setting_key`: with D_R or D_F only × random or class forgetting),
  with the seeds and the data part they were tuned on;
* every candidate of a method's grid (:data:`GRIDS`, the papers' grids) runs as an :class:`engine.run.AuditRequest`
  of that one method — the same requests a sweep distributes — and is scored by its mean Avg Gap over the seeds
  against the mean of the seed's retrains (ties broken by Δφ vs Retrain, then by the grid's order);
* the paper's default configuration is scored as well and reported beside the winner.

``python -m engine tune --dataset … --methods …`` prints and writes the grid table; ``--write`` stores the winners
in ``engine/tuned/<dataset>.json``, which :mod:`engine.presets` reads as that data set's tuned defaults.
"""

from __future__ import annotations

import itertools
import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from . import config
from .config import RunSpec
from .errors import UnlearnError
from .kinds import Role
from .presets import TUNED_DIR
from .run import HELDOUT, AuditRequest, Runner
from .training import check_cancel
from .unlearning import METHODS, get_method

#: the AMUN code's grid (``hyperparam_tune.py``) for every SGD method: lr × StepLR step
LRS = (0.1, 0.05, 0.01, 0.005, 1e-3, 1e-4, 1e-5)
STEPS = (1, 5, 10)
_LR_GRID: dict[str, Sequence[Any]] = {"lr": LRS, "lr_step": STEPS}

#: per method, the values searched (every combination is a candidate). AMUN adds the paper's set switch (§4:
#: D_R ∪ D_F ∪ D_A or, "advonly", D_R ∪ D_A); SalUn and AMUN + SalUn the mask ratio (AMUN searched [0.1, 0.9]);
#: SG-Unlearn the auditor weight α over the paper's sweep (0.05–5), the defender lr, and the pooled auditor.
GRIDS: dict[str, dict[str, Sequence[Any]]] = {
    "ft": _LR_GRID, "rl": _LR_GRID, "ga": _LR_GRID, "bs": _LR_GRID, "l1_sparse": _LR_GRID,
    "salun": {**_LR_GRID, "mask_ratio": (0.3, 0.5, 0.7)},
    "amun": {**_LR_GRID, "adv_only": (False, True)},
    "amun_salun": {**_LR_GRID, "adv_only": (False, True), "mask_ratio": (0.5,)},
    # the pooled auditor (one per fold, not per class): on the CPU presets' small forget sets the code's per-class
    # auditors see ~35 samples each and find no membership signal (bench/results/sg.md); the code's default
    # (per_class=True) is scored too, as the paper's configuration
    "sg_unlearn": {"lr": (0.1, 0.01, 0.001), "alpha": (0.05, 0.5, 1.0, 5.0), "per_class": (False,)},
}
#: a small grid for tests and quick looks (``--grid small``)
SMALL_GRIDS: dict[str, dict[str, Sequence[Any]]] = {
    key: {name: values[:2] for name, values in grid.items()} for key, grid in GRIDS.items()
}

#: how the setting of a tuned record is named
SETTING_LABELS = {"with_dr": "with D_R", "df_only": "D_F only", "random": "random forgetting",
                  "class": "class forgetting"}


def setting_key(forget: str, use_remain: bool) -> str:
    """The setting winners are stored under: ``with_dr`` / ``df_only`` and ``random`` / ``class`` (a class
    forget spec), e.g. ``with_dr/random``; other forget specs tune as random. (The same key
    :func:`engine.unlearning.chosen_methods` looks up for a run.)"""
    return f"{'with_dr' if use_remain else 'df_only'}/{'class' if str(forget).startswith('class') else 'random'}"


def setting_label(key: str) -> str:
    """``with_dr/random`` → "with D_R, random forgetting"."""
    return ", ".join(SETTING_LABELS.get(p, p) for p in key.split("/"))


def candidates(key: str, grid: dict[str, Sequence[Any]]) -> list[dict[str, Any]]:
    """Every combination of ``grid`` for method ``key`` (values the method's dataclass accepts), in grid order."""
    if key not in METHODS:
        raise UnlearnError(f"unknown method {key!r}; choose one of: {', '.join(METHODS)}")
    fields = {f for f in get_method(key).params()}
    unknown = sorted(set(grid) - fields)
    if unknown:
        raise UnlearnError(f"{key}: the grid names unknown hyperparameter(s) {', '.join(unknown)}")
    names = list(grid)
    return [dict(zip(names, values)) for values in itertools.product(*(grid[n] for n in names))]


@dataclass
class TuneResult:
    """The grid of one tuning run: one row per candidate (its values, mean Avg Gap, Δφ, per-seed gaps)."""

    dataset: str
    spec: RunSpec
    seeds: tuple[int, ...]
    k: int
    retrains: int
    grid: pd.DataFrame
    seconds: float
    command: str = ""
    winners: dict[str, dict[str, Any]] = field(default_factory=dict)
    use_remain: bool = True

    @property
    def setting(self) -> str:
        return setting_key(self.spec.forget, self.use_remain)

    @property
    def tuning_seeds(self) -> list[int]:
        """The model and forget seeds tuning trained with (``seed + HELDOUT``)."""
        return [s + HELDOUT for s in self.seeds]

    def table_markdown(self) -> str:
        """Per method: the winner, the paper's default, and the whole grid sorted by score."""
        seeds = ", ".join(map(str, self.tuning_seeds))
        lines = [f"# Tuning on {self.dataset} ({setting_label(self.setting)})", "",
                 f"Held out by construction: tuning's own part of the data (training rows outside the audit's "
                 f"training subset; test rows likewise where the test split has room), its own model and forget "
                 f"seeds ({seeds}; audits refuse seeds ≥ {HELDOUT}), its own original models, retrains and K = "
                 f"{self.k} reference models; R = {self.retrains} retrains per seed; setting: "
                 f"{setting_label(self.setting)}, forget {self.spec.forget}; score = mean Avg Gap (UA, RA, TA, RMIA "
                 f"FT AUC) against the mean of the retrains, lower is better. {len(self.grid)} candidates, "
                 f"{self.seconds:.0f} s.", ""]
        if self.command:
            lines += [f"Command: `{self.command}`", ""]
        for key, g in self.grid.groupby("method", sort=False):
            w = self.winners.get(key, {})
            paper = g[g["is_paper_default"]]
            lines += [f"## {METHODS[key].label}", "",
                      f"Winner: `{json.dumps(w.get('params', {}), sort_keys=True)}` — Avg Gap "
                      f"{w.get('score', float('nan')):.2f}"
                      + (f"; the paper's default scores {paper['avg_gap'].iloc[0]:.2f}" if len(paper) else ""), ""]
            cols = [c for c in g.columns if c.startswith("p.") and g[c].notna().any()]
            lines += ["| " + " | ".join(c[2:] for c in cols) + " | Avg Gap | Δφ | UA | RA | TA | FT AUC | seconds |",
                      "|" + "---|" * (len(cols) + 7)]
            for _, r in g.sort_values(["avg_gap", "phi_shift"]).iterrows():
                lines.append("| " + " | ".join(f"{r[c]:g}" if isinstance(r[c], float) else str(r[c]) for c in cols) +
                             f" | {r.avg_gap:.2f} | {r.phi_shift:.3f} | {r.ua:.1f} | {r.ra:.1f} | {r.ta:.1f} | "
                             f"{r.ft_auc:.1f} | {r.seconds:.2f} |")
            lines.append("")
        return "\n".join(lines)

    def record(self) -> dict[str, Any]:
        """What ``engine/tuned/<dataset>.json`` keeps: the winners and where they come from."""
        return {"dataset": self.dataset, "created": time.strftime("%Y-%m-%d"), "engine": config.ENGINE_VERSION,
                "command": self.command, "spec": config.to_dict(self.spec), "seeds": self.tuning_seeds,
                "heldout_forget_seeds": self.tuning_seeds, "model_seeds": self.tuning_seeds,
                "data_part": "tuning: training rows outside the audit's training subset (DataSpec.tuning)",
                "setting": self.setting, "use_remain": self.use_remain, "forget": self.spec.forget,
                "k": self.k, "retrains": self.retrains,
                "criterion": "mean Avg Gap (UA, RA, TA, RMIA FT AUC) on tuning's own held-out data, models and "
                             "forget sets; ties: Δφ",
                "methods": self.winners}


def tune(spec: RunSpec, methods: Sequence[str], runner: Runner, *, seeds: Sequence[int] = (0, 1), k: int = 8,
         retrains: int = 2, grids: dict[str, dict[str, Sequence[Any]]] | None = None,
         progress: Callable[[str, int, int, dict], None] | None = None,
         run_requests: Callable[[list[AuditRequest]], list] | None = None, command: str = "",
         use_remain: bool = True) -> TuneResult:
    """Score every candidate of every method's grid on the held-out split and pick the winners.

    Args:
        spec: the preset (data, model, recipe, forget spec) to tune for.
        methods: method keys (Retrain is the reference, never tuned).
        runner: the runner (its store keeps every model; a repeated tune is served from it).
        seeds: tuning's seeds: model and forget seeds ``seed + HELDOUT`` on tuning's own data part.
        k: RMIA reference models.
        retrains: retrain replicas per seed (Avg Gap against their mean).
        grids: per method the values searched (default :data:`GRIDS`).
        progress: ``progress("tune", done, total, {"method": …})`` after each candidate.
        run_requests: runs a list of requests and returns their comparisons (default: one after another on
            ``runner``; :func:`engine.sweep.run_grid` distributes them on Ray).
        command: the command line, for the provenance record.
        use_remain: the setting (with D_R, or D_F only: methods that need D_R are not tuned); with ``spec.forget``
            it names the setting the winners are stored under (:func:`setting_key`).
    """
    grids = GRIDS if grids is None else grids
    t0 = time.perf_counter()
    plan: list[tuple[str, dict[str, Any], bool]] = []
    for key in methods:
        if key == Role.RETRAIN or (not use_remain and METHODS.get(key) is not None and METHODS[key].needs_remain):
            continue
        if key not in grids:
            raise UnlearnError(f"no tuning grid for {key!r}; grids exist for: {', '.join(grids)}")
        paper = get_method(key).params()
        cands = candidates(key, grids[key])
        paper_cand = {n: paper[n] for n in grids[key]}
        if paper_cand not in cands:
            cands.append(paper_cand)  # the paper's default is always scored
        plan += [(key, c, c == paper_cand) for c in cands]
    if not plan:
        raise UnlearnError("nothing to tune: give at least one method other than retrain")
    requests = [AuditRequest(spec, (get_method(key, **values),), tuple(seeds), use_remain, k, retrains,
                             heldout=True, bootstrap=0) for key, values, _ in plan]
    for r in requests:
        r.methods[0].validate()
    if run_requests is None:
        def run_requests(reqs: list[AuditRequest]) -> list:
            out = []
            for i, req in enumerate(reqs):
                check_cancel(runner.cancel)
                out.append(runner.compare(req))
                if progress:
                    progress("tune", i + 1, len(reqs), {"method": req.methods[0].key})
            return out
    comparisons = run_requests(requests)
    rows = []
    for (key, values, is_paper), cmp in zip(plan, comparisons):
        m = cmp.rows[cmp.rows.method == key]
        rows.append({"method": key, **{f"p.{n}": v for n, v in values.items()}, "is_paper_default": is_paper,
                     "avg_gap": float(m["avg_gap"].mean()), "phi_shift": float(m["phi_shift"].mean()),
                     "ua": float(m["ua"].mean()), "ra": float(m["ra"].mean()), "ta": float(m["ta"].mean()),
                     "ft_auc": float(m["ft_auc"].mean()), "seconds": float(m["seconds"].mean()),
                     "gaps": ",".join(f"{g:.3f}" for g in m["avg_gap"])})
    grid = pd.DataFrame(rows)
    winners = {}
    for key, g in grid.groupby("method", sort=False):
        best = g.sort_values(["avg_gap", "phi_shift"], kind="stable").index[0]
        params = dict(plan[best][1])  # the candidate's own values (the table's columns are float where mixed)
        paper = g[g["is_paper_default"]]
        winners[key] = {"params": params, "score": float(grid.loc[best, "avg_gap"]),
                        "phi_shift": float(grid.loc[best, "phi_shift"]),
                        "paper_score": float(paper["avg_gap"].iloc[0]) if len(paper) else None,
                        "candidates": int(len(g))}
    return TuneResult(spec.data.dataset, spec, tuple(seeds), k, retrains, grid, time.perf_counter() - t0, command,
                      winners, use_remain)


def write_tuned(result: TuneResult, folder: Path = TUNED_DIR) -> Path:
    """Store the winners in ``<folder>/<dataset>.json`` under ``settings[<setting>]`` (merged into what is there:
    other methods and settings are kept). The file's top level mirrors the ``with_dr/random`` setting, the one
    :mod:`engine.presets` serves as the data set's tuned defaults."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{result.dataset}.json"
    record = result.record()
    old = json.loads(path.read_text()) if path.is_file() else {}
    settings = dict(old.get("settings", {}))
    prior = settings.get(result.setting, {})
    record["methods"] = {**prior.get("methods", {}), **record["methods"]}
    settings[result.setting] = record
    top = dict(settings.get("with_dr/random", {}))
    out = {**top, "dataset": result.dataset, "settings": settings}
    path.write_text(json.dumps(out, indent=1, sort_keys=True) + "\n")
    return path
