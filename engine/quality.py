"""Forgetting quality of methods the way the NeurIPS 2023 unlearning challenge judges it (issue 17): N retrains and
N unlearning runs per method, every one stored, scored per forget example.

    spec → original (one model) → 2N retrains (N the reference, N "Retrain as a method")
         → per method: N unlearning runs of that original (unlearning seeds 0…N−1)
         → φ of every forget example under every model → :func:`engine.audit.quality.forgetting_quality` (score ±
           interval), :func:`engine.audit.ulira.ulira` (per-example LR test), RMIA on the same pairs (optional)

Two rows frame the table: **Retrain** (N *other* retrains scored as if they were a method: the best any method can
score with this N, the metric's own noise floor) and **Original** (the original model as the "method" that
unlearns nothing: one model, so every example is separated and it scores 0).

Everything goes through the :class:`~engine.run.Runner`'s public methods (prepare, original, retrain, unlearned,
references, signals), so every model is a store artifact and a rerun trains nothing. The one exception is how the
retrains are trained: where the model can be stacked (:func:`engine.ensemble.choose_training`: plain MLPs on the
CPU, buffer-free models on CUDA) the missing ones train at once with :func:`engine.ensemble.train_ensemble` and are
stored as kind ``retrain`` under keys that name ``training: ensemble`` (as the reference models do), so they never
mix with the runner's single-trained retrains; elsewhere ``Runner.retrain(prep, replica=r)``. The unlearning runs
go one by one (stacking them needs each method's update written for stacked models: not done, see the README).

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
import torch

from . import config
from .audit.lowfpr import low_fpr_figures
from .audit.quality import DELTA, MIN_MODELS, ForgettingQuality, epsilon_ceiling, forgetting_quality
from .audit.rmia import rmia
from .audit.ulira import UliraResult, ulira
from .audit.uncertainty import auc
from .config import RunSpec
from .ensemble import ENSEMBLE_GROUP, choose_training, train_ensemble
from .errors import Diverged, UnlearnError
from .estimate import describe_seconds, seconds_per_step, training_steps
from .forget import forget_fingerprint, indices_spec, is_memorized_spec, memorized_forget
from .models import build_model
from .run import NotStored, Prepared, Runner, TrainedModel
from .signals import Signals
from .training import check_cancel, seed_everything
from .unlearning import Unlearner, chosen_methods

RETRAIN_ROW, ORIGINAL_ROW = "retrain", "original"
#: how the retrains train: ``auto`` (stacked where it pays), ``ensemble`` or ``single``
TRAINING = ("auto", "ensemble", "single")
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
        training: how the retrains train (:data:`TRAINING`).
    """

    spec: RunSpec
    methods: tuple[Unlearner, ...]
    runs: int = 16
    use_remain: bool = True
    bootstrap: int = 200
    k: int = 0
    training: str = "auto"

    @classmethod
    def build(cls, spec: RunSpec, methods: Sequence[str], *, overrides: dict | None = None, tuned: bool = True,
              **kw) -> QualityRequest:
        chosen = chosen_methods(spec.data.dataset if tuned else None, list(methods), overrides,
                                use_remain=kw.get("use_remain", True))
        req = cls(spec, chosen, **kw)
        req.validate()
        return req

    def validate(self) -> None:
        if self.runs < max(MIN_MODELS, 4):
            raise UnlearnError(f"--runs {self.runs}: forgetting quality needs at least 4 models per side (ε's ceiling "
                               "is ln(N − 1); U-LiRA needs two shadows per fold)")
        if self.training not in TRAINING:
            raise UnlearnError(f"retrain training {self.training!r}: choose {', '.join(TRAINING)}")


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
        return pd.DataFrame(out).sort_values("score", ascending=False, kind="stable").reset_index(drop=True)


# ------------------------------------------------------------------------------------------------ the cost
@dataclass(frozen=True)
class QualityCost:
    """Models still to build and their estimated seconds (models × measured seconds per model).

    Attributes:
        original_seconds: the original model's training, if it is not stored (else 0).
        retrains: retrains still to train; ``seconds_per_retrain`` each.
        runs: per method, unlearning runs still to do; ``seconds_per_run`` each.
        training: how the retrains train (``ensemble`` or ``single``).
    """

    original_seconds: float
    retrains: int
    seconds_per_retrain: float
    runs: dict[str, int]
    seconds_per_run: dict[str, float]
    training: str

    @property
    def models(self) -> int:
        return int(self.original_seconds > 0) + self.retrains + sum(self.runs.values())

    @property
    def seconds(self) -> float:
        return self.original_seconds + self.retrains * self.seconds_per_retrain + sum(
            self.seconds_per_run[k] * n for k, n in self.runs.items())

    def describe(self) -> str:
        parts = [f"the original ({self.original_seconds:.1f} s)"] if self.original_seconds else []
        if self.retrains:
            parts.append(f"{self.retrains} retrains × {self.seconds_per_retrain:.2f} s ({self.training})")
        parts += [f"{n} {k} runs × {self.seconds_per_run[k]:.2f} s" for k, n in self.runs.items() if n]
        if not parts:
            return "everything is in the store: nothing to train"
        return (f"to build: {', '.join(parts)} ≈ {describe_seconds(self.seconds)} (models × seconds per model "
                "measured now; retrains at single-training speed, which a stacked ensemble beats)")


def estimate(runner: Runner, req: QualityRequest) -> QualityCost:
    """What :func:`run_quality` still has to build and about how long: a training is its SGD steps × the seconds of
    one step measured now on this machine (:func:`engine.estimate.seconds_per_step`; a stacked ensemble is faster,
    so this is an upper bound there); an unlearning run is its epochs × samples passes at the same per-sample speed
    (the runner's plan measure). Models already in the store cost nothing. Nothing is trained."""
    spec = req.spec
    data = runner.data(spec)
    probe = Runner(runner.store, data_dir=runner.data_dir, device=runner.device, build=False)
    if is_memorized_spec(spec.forget):
        try:
            spec = resolve_memorized(probe, spec)
        except NotStored:  # the reference models are missing too: size the forget set like a random one
            spec = replace(spec, forget="random:" + spec.forget.partition(":")[2])
    prep = runner.prepare(spec)
    per_step = seconds_per_step(spec.model, spec.train, data, runner.device)
    training = _training(runner, req)
    missing = sum(not _retrain_stored(probe, prep, r, training) for r in range(2 * req.runs))
    per_sample = per_step / spec.train.batch_size
    original_missing = _missing(probe.original, spec)
    runs, per_run = {}, {}
    for m in req.methods:
        n = len(prep.forget) + (len(prep.remain) if req.use_remain else 0)
        per_run[m.key] = getattr(m, "epochs", 10) * n * per_sample
        runs[m.key] = req.runs if original_missing else sum(
            _missing(probe.unlearned, m, prep, probe.original(spec), use_remain=req.use_remain, seed=s)
            for s in range(req.runs))
    original_s = training_steps(spec.train, len(data.y_train)) * per_step if original_missing else 0.0
    return QualityCost(original_s, missing, training_steps(spec.train, len(prep.remain)) * per_step, runs, per_run,
                       training)


def _missing(fn, *args, **kw) -> bool:
    try:
        fn(*args, **kw)
    except NotStored:
        return True
    except Diverged:
        return False
    return False


# ------------------------------------------------------------------------------------------------ retrains
def _training(runner: Runner, req: QualityRequest) -> str:
    if req.training == "single":
        return "single"
    data = runner.data(req.spec)
    with torch.device("meta"):
        model = build_model(req.spec.model, data.shape, data.num_classes)
    auto = choose_training(model, runner.device)
    if req.training == "ensemble" and auto != "ensemble":
        from .ensemble import supports_ensemble

        if not supports_ensemble(model):
            raise UnlearnError(f"{req.spec.model.arch} has batch norm (or dropout) and cannot train as a stacked "
                               "ensemble; use --training single or auto")
        return "ensemble"
    return auto if req.training == "auto" else req.training


def _replica_seed(seed: int, r: int) -> int:
    """Replica r's training seed: the run's seed for 0, a derived one else (what ``Runner.retrain`` does)."""
    return seed if r == 0 else int(config.stable_hash({"retrain-replica": seed, "r": r}), 16) % (2**31 - 1)


def _ensemble_key(prep: Prepared, r: int) -> tuple[str, RunSpec]:
    spec = replace(prep.spec, seed=_replica_seed(prep.spec.seed, r))
    key = config.stable_hash({"kind": "retrain", "data": prep.data.fingerprint, "model": spec.model,
                              "train": spec.train, "seed": spec.seed, "forget": forget_fingerprint(prep.forget),
                              "training": "ensemble"})
    return key, spec


def _retrain_stored(probe: Runner, prep: Prepared, r: int, training: str) -> bool:
    if training == "ensemble":
        return probe.store.exists("retrain", _ensemble_key(prep, r)[0])
    return not _missing(probe.retrain, prep, replica=r)


def retrains(runner: Runner, prep: Prepared, n: int, training: str = "single") -> tuple[list[TrainedModel], int]:
    """``n`` retrains of ``prep`` (replicas 0…n−1), from the store or trained (stacked where ``training`` is
    ``ensemble``, in groups of :data:`~engine.ensemble.ENSEMBLE_GROUP`). Returns them and how many were trained."""
    if training != "ensemble":
        out, built = [], 0
        for r in range(n):
            check_cancel(runner.cancel)
            tm = runner.retrain(prep, replica=r)
            built += not tm.artifact.from_cache
            out.append(tm)
        return out, built
    keyed = [_ensemble_key(prep, r) for r in range(n)]
    store, data = runner.store, prep.data
    missing = [r for r in range(n) if not store.exists("retrain", keyed[r][0])]
    if missing and not runner.build:
        raise NotStored(f"{len(missing)} ensemble-trained retrains are not in the store {store.root}")
    for g in range(0, len(missing), ENSEMBLE_GROUP):
        check_cancel(runner.cancel)
        group = missing[g: g + ENSEMBLE_GROUP]
        models = []
        for r in group:
            seed_everything(keyed[r][1].seed)  # the initialisation a single training of that seed would get
            models.append(build_model(prep.spec.model, data.shape, data.num_classes).to(runner.device))
        subsets = [prep.remain] * len(group)
        hists = train_ensemble(models, data.x_train, data.y_train, subsets, prep.spec.train,
                               [keyed[r][1].seed for r in group], device=runner.device, progress=runner.progress,
                               cancel=runner.cancel, stage=f"retrain ensemble of {len(group)}")
        check_cancel(runner.cancel)
        for r, model, hist in zip(group, models, hists):
            key, spec = keyed[r]
            manifest = {"spec": spec, "model_kind": "retrain", "data_fingerprint": data.fingerprint,
                        "forget_fingerprint": forget_fingerprint(prep.forget), "n_train": int(len(prep.remain)),
                        "device": str(runner.device), "seconds": hist.seconds, "history": hist.epochs,
                        "training": "ensemble", "ensemble_size": len(group), "replica": r}
            store.save("retrain", key, manifest, tensors=model.state_dict(), arrays={"forget": prep.forget})
    out = []
    for key, spec in keyed:
        art = store.load("retrain", key)
        if art is None:
            raise NotStored(f"retrain {key} is not in the store {store.root}")
        out.append(TrainedModel("retrain", art, spec, data, runner.device))
    return out, len(missing)


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


def _rmia_pairs(ref, unlearned: list[Signals], retrained: list[Signals], forget: np.ndarray) -> dict:
    """RMIA (the population attack the audit uses) on the same game as U-LiRA: each model's RMIA score of each
    forget example; unlearned-model pairs are members, retrained-model pairs non-members."""
    pos = np.concatenate([rmia(s.pool_logits(), ref, forget).member_scores for s in unlearned])
    neg = np.concatenate([rmia(s.pool_logits(), ref, forget).member_scores for s in retrained])
    low = low_fpr_figures(pos, neg)
    return {"rmia_auc": auc(pos, neg), "rmia_tpr_1pct": low[0.01].text, "rmia_tpr_01pct": low[0.001].text}


def run_quality(runner: Runner, req: QualityRequest) -> QualityResult:
    """The flow of the module docstring. Every model is a store artifact (a rerun trains nothing). A method run that
    diverges drops that method (listed in ``failures``)."""
    t0 = time.perf_counter()
    req.validate()
    spec = resolve_memorized(runner, req.spec)
    prep = runner.prepare(spec)
    original = runner.original(spec)
    built = int(not original.artifact.from_cache)
    training = _training(runner, req)
    reps, b = retrains(runner, prep, 2 * req.runs, training)
    built += b
    ref_sigs = [runner.signals(tm, prep) for tm in reps[: req.runs]]
    fresh_sigs = [runner.signals(tm, prep) for tm in reps[req.runs:]]
    ref = runner.references(spec, req.k) if req.k else None
    phi_r = _phi(ref_sigs)
    base = {"ra_retrained": _acc(ref_sigs, "remain"), "ta_retrained": _acc(ref_sigs, "test")}

    def row(key: str, label: str, sigs: list[Signals], seconds: float) -> MethodQuality:
        phi = _phi(sigs)
        qual = forgetting_quality(phi, phi_r, ra_unlearned=_acc(sigs, "remain"), ta_unlearned=_acc(sigs, "test"),
                                  n_boot=req.bootstrap, seed=spec.seed, **base)
        rm = _rmia_pairs(ref, sigs, ref_sigs, prep.forget) if ref is not None else None
        return MethodQuality(key, label, qual, ulira(phi, phi_r, seed=spec.seed), rm,
                             float(_acc(sigs, "forget").mean()), float(_acc(sigs, "remain").mean()),
                             float(_acc(sigs, "test").mean()), seconds)

    rows = [row(RETRAIN_ROW, "Retrain (N other retrains)", fresh_sigs,
                float(np.mean([tm.seconds for tm in reps[req.runs:]])))]
    orig_sig = runner.signals(original, prep)
    rows.append(row(ORIGINAL_ROW, "Original (no unlearning)", [orig_sig] * req.runs, 0.0))
    failures = {}
    for i, method in enumerate(req.methods):
        runs = []
        try:
            for s in range(req.runs):
                check_cancel(runner.cancel)
                tm = runner.unlearned(method, prep, original, use_remain=req.use_remain, seed=s)
                built += not tm.artifact.from_cache
                runs.append(tm)
        except Diverged as exc:
            failures[method.key] = str(exc)
            continue
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
             f"{'med ε':>6} {'sep.':>5} {'U-LiRA AUC':>10}  U-LiRA TPR@1% FPR"]
    for _, r in t.iterrows():
        iv = f"[{r['low']:.3f}, {r['high']:.3f}]" if math.isfinite(r["low"]) else "—"
        lines.append(f"{r['label'][:28]:<28} {r['score']:>7.3f} {iv:>15} {r['forget_score']:>6.3f} "
                     f"{r['ra_ratio']:>7.3f} {r['ta_ratio']:>7.3f} {r['eps_median']:>6.2f} {r['separated']:>5.2f} "
                     f"{r['ulira_auc']:>10.3f}  {r['ulira_tpr_1pct']}")
    if "rmia_auc" in t:
        lines.append("RMIA on the same pairs (unlearned vs retrained models' forget examples):")
        lines += [f"  {r['label'][:28]:<28} AUC {r['rmia_auc']:.3f}  TPR@1% FPR {r['rmia_tpr_1pct']}  "
                  f"TPR@0.1% FPR {r['rmia_tpr_01pct']}" for _, r in t.iterrows()]
    lines.append("score = F × RA/RA_R × TA/TA_R; F = mean over forget examples of 2^−(bucket of ε); 'sep.' = share "
                 "of examples the N models separate completely; the interval is score ± 1.96 bootstrap SE over "
                 "models. The Retrain row is N other retrains: the best score this N allows.")
    for k, msg in result.failures.items():
        lines.append(f"{k}: failed — {msg}")
    return "\n".join(lines)


__all__ = ["ORIGINAL_ROW", "RETRAIN_ROW", "TRAINING", "MethodQuality", "QualityCost", "QualityRequest",
           "QualityResult", "estimate", "format_table", "resolve_memorized", "retrains", "run_quality"]
