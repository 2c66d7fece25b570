"""Forgetting quality of methods the way the NeurIPS 2023 unlearning challenge judges it (issue 17): N retrains and
N unlearning runs per method, every one stored, scored per forget example.

    spec → original (one model) → 2N retrains (N the reference, N "Retrain as a method")
         → per method: N unlearning runs of that original (run r's seed: :func:`engine.artifacts.run_seed`, the
           same runs an audit with ``runs=N`` makes: run 0 unlearns with the model seed)
         → φ of every forget example under every model → :func:`engine.audit.quality.forgetting_quality` (score ±
           interval), :func:`engine.audit.ulira.ulira` (per-example LR test), RMIA on the same pairs (optional)

Two rows frame the table: **Retrain** (N *other* retrains scored as if they were a method: the best any method can
score with this N, the metric's own noise floor) and **Original** (the original model as the "method" that
unlearns nothing: one model, so every example is separated and it scores 0).

Every model comes from one plan: :meth:`QualityRequest.audit_request` is the audit (one model seed, its forget
draw, 2N retrain replicas, N unlearning runs per method) whose :func:`engine.plan.pieces` list them, built here by
:func:`build_models` or beforehand as Ray tasks (``engine quality --ray``: :func:`engine.sweep.run_grid` with
``compare=False``). So every model is a store artifact shared with the audits (retrain replica 0 is the audit's
Retrain of that seed; run r is the audit's run r) and a rerun trains nothing. Retrains train one by one: stacking
them (:func:`engine.ensemble.train_ensemble`) measured 0.98× of single trainings on digits on this CPU
(bench/results/quality.md), so it does not pay here.

``memorized:0.1`` / ``memorized:K`` forget specs are resolved here (reference models' memorization scores,
:func:`engine.forget.memorized_forget`) into an ``indices:`` spec before anything else runs.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import dataclass, field, replace

import numpy as np
import pandas as pd

from .artifacts import run_seed
from .audit.lowfpr import low_fpr_figures
from .audit.quality import DELTA, MIN_MODELS, ForgettingQuality, epsilon_ceiling, forgetting_quality
from .audit.quality_words import headline, separated_pairs
from .audit.rmia import rmia
from .audit.ulira import UliraResult, ulira
from .audit.uncertainty import auc
from .config import RunSpec
from .errors import Diverged, UnlearnError
from .estimate import describe_seconds, seconds_per_step, training_steps
from .forget import indices_spec, is_memorized_spec, memorized_forget
from .plan import AuditPiece, PieceKind, build, pieces
from .request import AuditRequest
from .run import NotStored, Prepared, Runner, TrainedModel
from .signals import Signals
from .training import check_cancel
from .unlearning import Unlearner, chosen_methods

RETRAIN_ROW, ORIGINAL_ROW = "retrain", "original"
#: reference models for a ``memorized:`` forget spec
MEMORIZED_K = 16


@dataclass(frozen=True)
class QualityRequest:
    """What :func:`run_quality` computes.

    Attributes:
        spec: the run (data, model, recipe, forget spec, seed of the original model).
        methods: the unlearning methods (instances with their hyperparameters).
        runs: N, models per side (retrains and unlearning runs per method); ≥ 4.
        use_remain: the methods' setting (False: D_F only).
        bootstrap: bootstrap replicates of the score's interval.
        k: reference models for RMIA beside U-LiRA (0: no RMIA).
    """

    spec: RunSpec
    methods: tuple[Unlearner, ...]
    runs: int = 16
    use_remain: bool = True
    bootstrap: int = 200
    k: int = 0

    @classmethod
    def build(cls, spec: RunSpec, methods: Sequence[str], *, overrides: dict | None = None, tuned: bool = True,
              **kw) -> QualityRequest:
        chosen = chosen_methods(spec.data.dataset if tuned else None, list(methods), overrides,
                                use_remain=kw.get("use_remain", True))
        req = cls(spec, chosen, **kw)
        req.validate()
        return req

    def key(self) -> str:
        """A stable key of everything the result depends on (the dashboard's job and cache key)."""
        from .config import stable_hash

        methods = [[m.key, m.params()] for m in self.methods]
        return stable_hash({"kind": "quality", "spec": self.spec, "methods": methods, "runs": self.runs,
                            "use_remain": self.use_remain, "bootstrap": self.bootstrap, "k": self.k})

    def audit_request(self, spec: RunSpec | None = None) -> AuditRequest:
        """The audit whose plan (:func:`engine.plan.pieces`) lists every model of this flow: one model seed and its
        forget draw, 2N retrain replicas, N unlearning runs per method, K reference models (``spec``: the request's
        with a memorized set resolved). The Ray sweep builds it as it builds any audit's plan."""
        spec = spec or self.spec
        return AuditRequest(spec, self.methods, (spec.seed,), use_remain=self.use_remain, k=max(self.k, 2),
                            retrains=2 * self.runs, bootstrap=0, forget_seed=spec.forget_seed, runs=self.runs)

    def validate(self) -> None:
        if self.runs < max(MIN_MODELS, 4):
            raise UnlearnError(f"--runs {self.runs}: forgetting quality needs at least 4 models per side (ε's ceiling "
                               "is ln(N − 1); U-LiRA needs two shadows per fold)")


@dataclass
class MethodQuality:
    """One row's models and results."""

    key: str
    label: str
    quality: ForgettingQuality
    ulira: UliraResult
    rmia: dict | None
    ua: float
    ra: float
    ta: float
    seconds: float  # mean seconds per model (training or unlearning), as stored


@dataclass
class QualityResult:
    request: QualityRequest
    spec: RunSpec  # with a memorized spec resolved to its indices
    forget: np.ndarray
    rows: list[MethodQuality]
    failures: dict[str, str] = field(default_factory=dict)
    seconds: float = 0.0
    built: int = 0  # models trained or unlearned by this call

    def table(self) -> pd.DataFrame:
        """One row per method, best score first: score ± interval, F, the ratios, ε (with the ceiling N allows),
        U-LiRA and RMIA figures, accuracies."""
        out = []
        for r in self.rows:
            q, u = r.quality, r.ulira
            row = {"method": r.key, "label": r.label, **q.summary(), **u.summary(), "ua": r.ua, "ra": r.ra,
                   "ta": r.ta, "seconds_per_model": r.seconds}
            if r.rmia is not None:
                row.update(r.rmia)
            out.append(row)
        df = pd.DataFrame(out).assign(_last=lambda d: d["method"] == ORIGINAL_ROW)  # the original last among ties
        return df.sort_values(["score", "_last"], ascending=[False, True], kind="stable").drop(
            columns="_last").reset_index(drop=True)


# ------------------------------------------------------------------------------------------------ the cost
@dataclass(frozen=True)
class QualityCost:
    """Models still to build and their estimated seconds (models × measured seconds per model).

    Attributes:
        original_seconds: the original model's training, if it is not stored (else 0).
        retrains: retrains still to train; ``seconds_per_retrain`` each.
        runs: per method, unlearning runs still to do; ``seconds_per_run`` each.
    """

    original_seconds: float
    retrains: int
    seconds_per_retrain: float
    runs: dict[str, int]
    seconds_per_run: dict[str, float]
    references: int = 0  # a memorized: spec's reference models still to train (they choose the forget set)
    seconds_per_reference: float = 0.0

    @property
    def models(self) -> int:
        return int(self.original_seconds > 0) + self.references + self.retrains + sum(self.runs.values())

    @property
    def seconds(self) -> float:
        return self.original_seconds + self.references * self.seconds_per_reference + \
            self.retrains * self.seconds_per_retrain + sum(self.seconds_per_run[k] * n for k, n in self.runs.items())

    def describe(self) -> str:
        parts = [f"the original ({self.original_seconds:.1f} s)"] if self.original_seconds else []
        if self.references:
            parts.append(f"{self.references} reference models × {self.seconds_per_reference:.2f} s (they choose the "
                         "memorized forget set)")
        if self.retrains:
            parts.append(f"{self.retrains} retrains × {self.seconds_per_retrain:.2f} s")
        parts += [f"{n} {k} runs × {self.seconds_per_run[k]:.2f} s" for k, n in self.runs.items() if n]
        if not parts:
            return "everything is in the store: nothing to train"
        return (f"to build: {', '.join(parts)} ≈ {describe_seconds(self.seconds)} (models × seconds per model, "
                "from SGD steps × seconds per step measured now)")


def estimate(runner: Runner, req: QualityRequest) -> QualityCost:
    """What :func:`run_quality` still has to build and about how long: a training is its SGD steps × the seconds of
    one step measured now on this machine (:func:`engine.estimate.seconds_per_step`); an unlearning run is its
    epochs × samples passes at the same per-sample speed (the runner's plan measure). Models already in the store cost
    nothing. Nothing is trained."""
    spec = req.spec
    data = runner.data(spec)
    probe = Runner(runner.store, data_dir=runner.data_dir, device=runner.device, build=False)
    unknown = False  # a memorized: set whose reference models are not trained yet: every model of it is to build
    if is_memorized_spec(spec.forget):
        try:
            spec = resolve_memorized(probe, spec)
        except NotStored:  # sized like a random set of that size; its retrains and runs are all still to do
            spec, unknown = replace(spec, forget="random:" + spec.forget.partition(":")[2]), True
    prep = runner.prepare(spec)
    per_step = seconds_per_step(spec.model, spec.train, data, runner.device)
    missing = 2 * req.runs if unknown else sum(not _retrain_stored(probe, prep, r) for r in range(2 * req.runs))
    per_sample = per_step / spec.train.batch_size
    original_missing = _missing(probe.original, spec)
    runs, per_run = {}, {}
    for m in req.methods:
        n = len(prep.forget) + (len(prep.remain) if req.use_remain else 0)
        per_run[m.key] = getattr(m, "epochs", 10) * n * per_sample
        runs[m.key] = req.runs if original_missing or unknown else sum(
            _missing(probe.unlearned, m, prep, probe.original(spec), use_remain=req.use_remain,
                     seed=run_seed(spec.seed, s))
            for s in range(req.runs))
    original_s = training_steps(spec.train, len(data.y_train)) * per_step if original_missing else 0.0
    # a reference model trains on a random half of the pool (engine.reference_models)
    pool = len(data.y_train) + len(data.y_test)  # P = train ∪ test
    refs = (MEMORIZED_K, training_steps(spec.train, pool // 2) * per_step) if unknown else (0, 0.0)
    return QualityCost(original_s, missing, training_steps(spec.train, len(prep.remain)) * per_step, runs, per_run,
                       *refs)


def _missing(fn, *args, **kw) -> bool:
    try:
        fn(*args, **kw)
    except NotStored:
        return True
    except Diverged:
        return False
    return False


# ------------------------------------------------------------------------------------------------ retrains
def _retrain_stored(probe: Runner, prep: Prepared, r: int) -> bool:
    return not _missing(probe.retrain, prep, replica=r)


def retrains(runner: Runner, prep: Prepared, n: int) -> tuple[list[TrainedModel], int]:
    """Retrain replicas 0…n−1 of ``prep`` (``Runner.retrain``), from the store or trained; and how many were trained."""
    out, built = [], 0
    for r in range(n):
        check_cancel(runner.cancel)
        tm = runner.retrain(prep, replica=r)
        built += not tm.artifact.from_cache
        out.append(tm)
    return out, built


# ------------------------------------------------------------------------------------------------ memorized
def resolve_memorized(runner: Runner, spec: RunSpec, k: int = MEMORIZED_K) -> RunSpec:
    """``spec`` with a ``memorized:`` forget spec replaced by the indices it names (highest memorization under
    ``k`` reference models, :func:`engine.forget.memorized_forget`); any other spec comes back unchanged."""
    if not is_memorized_spec(spec.forget):
        return spec
    ref = runner.references(spec, k)
    n = ref.n_train
    correct = ref.logits[:, :n].argmax(-1) == ref.labels[None, :n]
    data = runner.data(spec)
    idx = memorized_forget(spec.forget, ref.keep[:, :n], correct, data.y_train.numpy(), data.num_classes)
    return replace(spec, forget=indices_spec(idx))


# ------------------------------------------------------------------------------------------------ the flow
def _phi(sigs: list[Signals]) -> np.ndarray:
    return np.stack([s["forget"]["phi"] for s in sigs])


def _acc(sigs: list[Signals], group: str) -> np.ndarray:
    return np.array([s.accuracy(group) for s in sigs])


def _rmia_scores(ref, sigs: list[Signals], forget: np.ndarray, remain: np.ndarray) -> tuple[np.ndarray, float]:
    """Each model's RMIA scores of the forget examples (concatenated over models), and the mean over models of the
    retained examples' RMIA AUC (remain vs test: how exposed the examples that stay in are)."""
    done: dict[int, object] = {}
    for s in sigs:  # the original's row repeats one model: score it once
        if id(s) not in done:
            done[id(s)] = rmia(s.pool_logits(), ref, forget, remain=remain)
    res = [done[id(s)] for s in sigs]
    return (np.concatenate([r.member_scores for r in res]),
            float(np.mean([auc(r.remain_scores, r.nonmember_scores) for r in res])))


def _rmia_row(pos: tuple[np.ndarray, float], neg: np.ndarray) -> dict:
    """RMIA (the population attack the audit uses) on the same game as U-LiRA: unlearned-model (forget example)
    pairs are members, retrained-model pairs non-members; beside it the retained examples' exposure."""
    low = low_fpr_figures(pos[0], neg)
    return {"rmia_auc": auc(pos[0], neg), "rmia_tpr_1pct": low[0.01].short, "rmia_tpr_01pct": low[0.001].short,
            "retained_rmia_auc": pos[1]}


def build_models(runner: Runner, areq: AuditRequest, *, with_references: bool = True
                 ) -> tuple[list[AuditPiece], dict[str, object], dict[str, str], int]:
    """Every model of ``areq``'s plan (:func:`engine.plan.pieces`; RMIA's references only ``with_references``), from
    the store or built, in the plan's order; signals are left to the caller. Returns the plan, what was built by piece
    id, the methods that diverged (a run of a method that diverged drops the method) and how many models this call
    trained or unlearned."""
    plan, got, failures, built = pieces(areq), {}, {}, 0
    for p in plan:
        if p.kind == PieceKind.SIGNALS or (p.kind == PieceKind.REFERENCES and not with_references) or \
                (p.method is not None and p.method.key in failures):
            continue
        check_cancel(runner.cancel)
        try:
            out = build(runner, p, got)
        except Diverged as exc:
            if p.kind != PieceKind.UNLEARNED:
                raise
            failures[p.method.key] = (f"run {p.run}: " if areq.runs > 1 else "") + str(exc)
            continue
        built += p.role is not None and not out.artifact.from_cache
    return plan, got, failures, built


def run_quality(runner: Runner, req: QualityRequest) -> QualityResult:
    """The flow of the module docstring. Every model is a store artifact (a rerun trains nothing). A method run that
    diverges drops that method (listed in ``failures``)."""
    t0 = time.perf_counter()
    req.validate()
    spec = resolve_memorized(runner, req.spec)
    prep = runner.prepare(spec)
    plan, got, failures, built = build_models(runner, req.audit_request(spec), with_references=bool(req.k))
    original = got[next(p.id for p in plan if p.kind == PieceKind.ORIGINAL)]
    reps = [got[p.id] for p in plan if p.kind == PieceKind.RETRAIN]  # replicas 0…2N−1 in order
    ref_sigs = [runner.signals(tm, prep) for tm in reps[: req.runs]]
    fresh_sigs = [runner.signals(tm, prep) for tm in reps[req.runs:]]
    ref = runner.references(spec, req.k) if req.k else None
    phi_r = _phi(ref_sigs)
    rmia_neg = _rmia_scores(ref, ref_sigs, prep.forget, prep.remain)[0] if ref is not None else None
    base = {"ra_retrained": _acc(ref_sigs, "remain"), "ta_retrained": _acc(ref_sigs, "test")}

    def row(key: str, label: str, sigs: list[Signals], seconds: float) -> MethodQuality:
        phi = _phi(sigs)
        qual = forgetting_quality(phi, phi_r, ra_unlearned=_acc(sigs, "remain"), ta_unlearned=_acc(sigs, "test"),
                                  n_boot=req.bootstrap, seed=spec.seed, **base)
        rm = _rmia_row(_rmia_scores(ref, sigs, prep.forget, prep.remain), rmia_neg) if ref is not None else None
        return MethodQuality(key, label, qual, ulira(phi, phi_r, seed=spec.seed), rm,
                             float(_acc(sigs, "forget").mean()), float(_acc(sigs, "remain").mean()),
                             float(_acc(sigs, "test").mean()), seconds)

    rows = [row(RETRAIN_ROW, "Retrain (N other retrains)", fresh_sigs,
                float(np.mean([tm.seconds for tm in reps[req.runs:]])))]
    orig_sig = runner.signals(original, prep)
    rows.append(row(ORIGINAL_ROW, "Original (no unlearning)", [orig_sig] * req.runs, 0.0))
    for i, method in enumerate(req.methods):
        if method.key in failures:
            continue
        runs = [got[p.id] for p in plan if p.kind == PieceKind.UNLEARNED and p.method.key == method.key]
        sigs = [runner.signals(tm, prep) for tm in runs]
        rows.append(row(method.key, method.label, sigs, float(np.mean([tm.seconds for tm in runs]))))
        if runner.progress:
            runner.progress("quality", i + 1, len(req.methods), {})
    return QualityResult(req, spec, prep.forget, rows, failures, time.perf_counter() - t0, built)


def format_table(result: QualityResult) -> str:
    """The table the CLI prints: each method's score ± interval, with ε's ceiling and U-LiRA / RMIA beside it."""
    t = result.table()
    n = result.request.runs
    lines = [f"forgetting quality (NeurIPS 2023 challenge metric), N = {n} models per side, δ = {DELTA:g}; "
             f"ε ≤ ln(N−1) = {epsilon_ceiling(n):.2f} can be shown, ε past ⌈ln(N−1)⌉ scores 0; "
             f"{len(result.forget)} forget examples",
             f"{'method':<28} {'score':>7} {'95% interval':>15} {'F':>6} {'RA/RA_R':>7} {'TA/TA_R':>7} "
             f"{'med ε':>6} {'sep.':>5} {'UA':>6} {'s/model':>7}"]
    for _, r in t.iterrows():
        iv = f"[{r['low']:.3f}, {r['high']:.3f}]" if math.isfinite(r["low"]) else "—"
        lines.append(f"{r['label'][:28]:<28} {r['score']:>7.3f} {iv:>15} {r['forget_score']:>6.3f} "
                     f"{r['ra_ratio']:>7.3f} {r['ta_ratio']:>7.3f} {r['eps_median']:>6.2f} {r['separated']:>5.2f} "
                     f"{100 * r['ua']:>6.1f} {r['seconds_per_model']:>7.2f}")
    lines.append("U-LiRA (per-example likelihood ratio; unlearned vs retrained models' forget examples; TPR with exact "
                 "95 % intervals):")
    lines += [f"  {r['label'][:28]:<28} AUC {r['ulira_auc']:.3f}  TPR@1% FPR {r['ulira_tpr_1pct']}  "
              f"TPR@0.1% FPR {r['ulira_tpr_01pct']}" for _, r in t.iterrows()]
    if "rmia_auc" in t:
        lines.append("RMIA on the same pairs (unlearned vs retrained models' forget examples; its scores are ranks "
                     "within each model's own population, so pooled across models they are not on one scale — read "
                     "U-LiRA for this test):")
        lines += [f"  {r['label'][:28]:<28} AUC {r['rmia_auc']:.3f}  TPR@1% FPR {r['rmia_tpr_1pct']}  "
                  f"TPR@0.1% FPR {r['rmia_tpr_01pct']}  retained examples' RMIA AUC (remain vs test) "
                  f"{r['retained_rmia_auc']:.3f}" for _, r in t.iterrows()]
    lines.append("score = F × RA/RA_R × TA/TA_R; F = mean over forget examples of 2^−(bucket of ε); 'sep.' = share "
                 "of examples the N models separate completely; UA = forget accuracy; s/model = mean seconds per "
                 "training or unlearning run as stored; the interval is score ± 1.96 bootstrap SE over models. The "
                 "Retrain row is N other retrains: the best score this N allows.")
    pairs = separated_pairs(result.rows)
    lines.append("Separated beyond their intervals: " + ("; ".join(f"{a} > {b}" for a, b in pairs) if pairs else
                                                          "no two methods (no winner is named)") + ".")
    lines += ["In words: " + " ".join(headline(result.rows, n, epsilon_ceiling(n)))]
    for k, msg in result.failures.items():
        lines.append(f"{k}: failed — {msg}")
    return "\n".join(lines)


__all__ = ["ORIGINAL_ROW", "RETRAIN_ROW", "MethodQuality", "QualityCost", "QualityRequest",
           "QualityResult", "estimate", "format_table", "resolve_memorized", "retrains", "run_quality"]
