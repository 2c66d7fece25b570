"""The one runner: the engine's flows, top to bottom.

    plan (:mod:`engine.plan`) → pieces (:mod:`engine.artifacts`, :mod:`engine.reference_models`) → audits → table

:meth:`Runner.compare` is the audit of an :class:`AuditRequest` (methods × seeds): it builds the request's plan
piece by piece and audits every seed; :meth:`Runner.plan` is the part of that plan the store lacks (the overall
ETA); :meth:`Runner.baseline` is its first half (Setup page, ``engine train`` / ``signals``); :meth:`Runner.hardest`
picks a forget set from the original model; continual requests (:mod:`engine.continual`), AMUN's Theorem 4.1 view
(:mod:`engine.theorem`) and the forget-set-size effect are flows of their own. Every expensive piece is a store
artifact keyed by a hash of everything it depends on, so a repeated request, from the CLI, a page or another
process, is served from the store. With ``build=False`` the runner only reads the store and raises
:class:`NotStored` where something is missing: that is how a page shows a finished audit after a restart or from a
shared link without training anything.

The CLI, the dashboard's jobs, tune, sweep and reproduce call this module; audits stay pure functions of
signals (:mod:`engine.audit`), attacks know nothing of the store (:mod:`engine.attacks`).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import pandas as pd

from .artifacts import REFERENCE_TRAINING, Artifacts, NotStored
from .audit.compare import Comparison, ModelAudit, audit_model
from .audit.guard import SignalCheck, membership_check
from .audit.rmia import DEFAULT_K, ReferenceSet
from .audit.rows import seed_rows
from .audit.theorem import TheoremView
from .audit.uncertainty import Z95, auc, auc_difference_se
from .config import RunSpec
from .continual import ContinualRequest, ContinualResult
from .errors import Diverged, UnlearnError
from .forget import validate_forget
from .kinds import Role, Stage, needs_adversarial
from .plan import AuditPiece, PieceKind, build, held, pieces, seed_spec, shared_attack, unread
from .progress import ADVERSARIAL_PASSES_PER_SAMPLE, Piece, PlanTracker
from .reference_models import reference_set
from .request import HELDOUT, AuditRequest, short_recipe
from .settings import check_forget_size
from .signals import Signals
from .trained import Prepared, TrainedModel, load_model
from .training import check_cancel


@dataclass
class Baseline:
    """Original and retrained models of one spec with their signals (the Setup page, ``engine train``)."""

    prep: Prepared
    original: TrainedModel
    retrain: TrainedModel
    signals: dict[str, Signals]

    def accuracies(self) -> dict[str, dict[str, float]]:
        return {m: {g: s.accuracy(g) for g in s} for m, s in self.signals.items()}

    def membership_check(self) -> SignalCheck:
        """The guard on one seed without reference models: the loss attack's AUC (forget vs test) of the
        original against Retrain's, each with a bootstrap standard error, and the original's train accuracy."""
        scores = {name: (-s["forget"]["loss"], -s["test"]["loss"]) for name, s in self.signals.items()}
        se = 100 * auc_difference_se(scores[Role.ORIGINAL], scores[Role.RETRAIN], seed=self.prep.spec.seed)
        train_acc = float(np.mean(self.signals[Role.ORIGINAL].splits["train"]["correct"]))
        return membership_check(train_acc, 100 * auc(*scores[Role.ORIGINAL]), 100 * auc(*scores[Role.RETRAIN]),
                                halfwidth=Z95 * se, metric="loss-attack AUC")


#: the table's label of an uploaded model audited in place of the original (:meth:`Runner.upload`)
UPLOADED_LABEL = "Your model"

HARDEST_CRITERIA = {
    "confidence": "highest φ under the original model (the most confidently memorised samples)",
    "eps": "smallest ε-to-flip under the original model (AMUN's L2 search: samples closest to the boundary)",
}


class Runner(Artifacts):
    """The flows over the artifact builders (:class:`~engine.artifacts.Artifacts`, whose arguments it takes)."""

    def __init__(self, *args: Any, **kw: Any):
        super().__init__(*args, **kw)
        self._audits: dict[tuple, ModelAudit] = {}

    def references(self, spec: RunSpec, k: int = DEFAULT_K, seed: int = 0, *,
                   training: str | None = None) -> ReferenceSet:
        """RMIA's K reference models (not Retrain): :func:`engine.reference_models.reference_set`."""
        return reference_set(self, spec, k, seed, training=training)

    # -------------------------------------------------------------------------------------------- the audit
    def compare(self, req: AuditRequest) -> Comparison:
        """Every model of every seed, audited and tabulated (the AMUN paper's protocol, §5.2): the request's
        :func:`~engine.plan.pieces` built in order, then per seed every model's audit and the seed's rows, with
        Avg Gap against the mean of that seed's retrains (a replica: against the others — the noise floor)."""
        for seed in req.seeds:  # every seed's forget draw fits every audit before anything trains (issue 18)
            prep = self.prepare(seed_spec(req, seed))
            check_forget_size(len(prep.forget), len(prep.data.y_train))
        outer, t0 = self.progress, time.perf_counter()
        track = PlanTracker(self.plan(req) if self.build and outer is not None else [], outer)
        self.progress = track if outer is not None else None
        try:
            plan, built, failures, keys = pieces(req), {}, {}, {}
            for p in plan:
                if any(d.id not in built for d in p.deps):
                    continue  # needs a model that diverged
                if unread(self, plan, p, keys):
                    built[p.id] = None  # D_A whose readers are all stored: not needed
                    continue
                check_cancel(self.cancel)
                track.enter(p.id)
                try:
                    build(self, p, built)
                except Diverged as exc:  # a method's: the rest of the audit goes on; the table says which failed
                    if p.kind != PieceKind.UNLEARNED:
                        raise
                    failures[(p.method.key, p.seed)] = (f"run {p.run}: " if req.runs > 1 else "") + str(exc)
            return self._tabulate(req, plan, built, failures, t0)
        finally:
            self.progress = outer

    def _tabulate(self, req: AuditRequest, plan: list[AuditPiece], built: dict[str, Any], failures: dict,
                  t0: float) -> Comparison:
        setting = "with D_R" if req.use_remain else "D_F only"
        labels = {Role.ORIGINAL: UPLOADED_LABEL if req.original else "Original",
                  **({Role.RETRAIN: "Retrain"} if req.retrains else {}), **{m.key: m.label for m in req.methods}}
        ref = next(built[p.id] for p in plan if p.kind == PieceKind.REFERENCES)
        rows, audits, signals, trained = [], {}, {}, {}
        for i, seed in enumerate(req.seeds):
            mine = [p for p in plan if p.seed == seed and p.id in built]
            sig_of = {p.deps[0].id: built[p.id] for p in mine if p.kind == PieceKind.SIGNALS}
            retrains = [p for p in mine if p.role == Role.RETRAIN]
            named = [(Role.ORIGINAL, p) for p in mine if p.role in (Role.ORIGINAL, Role.UPLOADED)] + \
                [(Role.RETRAIN, p) for p in retrains[:1]] + \
                [(p.method.key, p) for p in mine if p.role == Role.UNLEARNED and p.run == 0]
            extra = [p for p in mine if p.role == Role.UNLEARNED and p.run > 0]  # unlearning runs 1…N−1
            models, sigs = {n: built[p.id] for n, p in named}, {n: sig_of[p.id] for n, p in named}
            replica_models, replica_sigs = [built[p.id] for p in retrains], [sig_of[p.id] for p in retrains]
            y = self.data(seed_spec(req, seed)).y_train.numpy()
            seed_audits = {name: self._audit(sig, models[name], ref, y, seed, replica_sigs, replica_models,
                                             skip=0 if name == Role.RETRAIN else None) for name, sig in sigs.items()}
            replicas = [seed_audits[Role.RETRAIN] if r == 0 else
                        self._audit(s, replica_models[r], ref, y, seed, replica_sigs, replica_models, skip=r)
                        for r, s in enumerate(replica_sigs)]
            runs = {(p.method.key, p.run): self._audit(sig_of[p.id], built[p.id], ref, y, seed, replica_sigs,
                                                       replica_models, skip=None) for p in extra}
            seconds = {n: tm.seconds for n, tm in models.items()}
            seconds.update({f"{Role.RETRAIN}#{r}": tm.seconds for r, tm in enumerate(replica_models) if r > 0})
            seconds.update({f"{p.method.key}#{p.run}": built[p.id].seconds for p in extra})
            one_time = {n: tm.one_time_seconds for n, tm in models.items()}
            rows += seed_rows(seed_audits, replicas, labels, seconds, seed=seed, setting=setting, n_boot=req.bootstrap,
                              one_time=one_time, runs=runs, forget_seed=seed_spec(req, seed).forget_seed)
            for name in models:
                audits[(name, seed)], signals[(name, seed)] = seed_audits[name], sigs[name]
                trained[(name, seed)] = models[name]
            self._report(Stage.AUDIT, i + 1, len(req.seeds), {})
        cmp = Comparison(req.spec, pd.DataFrame(rows), audits, time.perf_counter() - t0, signals, trained, labels,
                         failures)
        if self.build:
            self._record(req, cmp)
        return cmp

    def plan(self, req: AuditRequest) -> list[Piece]:
        """The pieces of :meth:`compare` the store does not hold yet, in the order it builds them, each with its
        work in sample passes (:mod:`engine.progress`; the overall ETA). Nothing is trained; signals and audits
        (seconds) are not counted, nor an uploaded model (a missing one fails in compare)."""
        keys, out, plan = {}, [], pieces(req)
        for p in plan:
            if p.kind in (PieceKind.SIGNALS, PieceKind.UPLOADED) or held(self, p, keys) or unread(self, plan, p, keys):
                continue
            prep = self.prepare(p.spec)
            n_train, n_forget, n_remain = len(prep.data.y_train), len(prep.forget), len(prep.remain)
            if p.kind == PieceKind.REFERENCES:
                work = p.k * p.spec.train.epochs * (n_train + len(prep.data.y_test)) / 2
            elif p.kind == PieceKind.ADVERSARIAL:
                work = ADVERSARIAL_PASSES_PER_SAMPLE * n_forget
            elif p.kind == PieceKind.UNLEARNED:
                work = getattr(p.method, "epochs", 10) * (n_forget + (n_remain if p.use_remain else 0))
                if needs_adversarial(p.method.requires) and shared_attack(p.method) is None:  # it searches D_A
                    work += ADVERSARIAL_PASSES_PER_SAMPLE * n_forget
            else:
                work = p.spec.train.epochs * (n_train if p.kind == PieceKind.ORIGINAL else n_remain)
            out.append(Piece(p.id, p.label, float(work)))
        return out

    def _audit(self, sig: Signals, model: TrainedModel, ref: ReferenceSet, labels: np.ndarray, seed: int,
               replica_sigs: list[Signals], replica_models: list[TrainedModel], skip: int | None) -> ModelAudit:
        """:func:`audit_model` against the retrain replicas (without replica ``skip``), memoised per runner: a
        tune or a sweep audits the same original and retrains once, however many candidates it scores."""
        others = [i for i in range(len(replica_sigs)) if i != skip]
        key = (model.key, sig.forget.tobytes(), ref.keys, tuple(replica_models[i].key for i in others), seed)
        if key not in self._audits:
            if len(self._audits) >= 256:
                self._audits.pop(next(iter(self._audits)))
            self._audits[key] = audit_model(sig, ref, labels=labels, seed=seed,
                                            retrains=[replica_sigs[i] for i in others])
        return self._audits[key]

    def _record(self, req: AuditRequest, cmp: Comparison) -> None:
        """A small record of a finished audit (kind ``comparison``): what ran, when, and its rows."""
        key = req.key()
        if self.store.exists("comparison", key):
            return
        self.store.save("comparison", key, {**req.record(), "seconds": cmp.seconds,
                                            "rows": cmp.rows.to_dict(orient="records")})

    # -------------------------------------------------------------------------------------------- other flows
    def baseline(self, spec: RunSpec) -> Baseline:
        """The original and the retrained model of ``spec`` and their signals."""
        prep = self.prepare(spec)
        original = self.original(spec)
        retrain = self.retrain(prep)
        signals = {}
        for i, (name, tm) in enumerate(((Role.ORIGINAL, original), (Role.RETRAIN, retrain))):
            signals[name] = self.signals(tm, prep)
            self._report(Stage.SIGNALS, i + 1, 2, {})
        return Baseline(prep, original, retrain, signals)

    def hardest(self, spec: RunSpec, n: int, by: str = "confidence") -> np.ndarray:
        """The ``n`` training samples that are "hardest" by ``by`` (:data:`HARDEST_CRITERIA`), sorted.

        Uses (or trains) the original model of ``spec``, which does not depend on any forget set.
        """
        if by not in HARDEST_CRITERIA:
            raise UnlearnError(f"unknown criterion {by!r}; choose one of: {', '.join(HARDEST_CRITERIA)}")
        data = self.data(spec)
        if not 0 < n < len(data.y_train):
            raise UnlearnError(f"hardest: choose between 1 and {len(data.y_train) - 1} samples, got {n}")
        original = self.original(spec)
        if by == "confidence":
            everything = np.arange(len(data.y_train))
            score = -self.signals(original, Prepared(spec, data, everything[:0], everything)).splits["train"]["phi"]
        else:
            adv = self.adversarial(original, data)
            score = adv.eps.numpy().astype(float) + 1e-9 * adv.delta_norm.numpy()  # ties broken by ‖δ‖₂
        chosen = np.sort(np.argsort(score, kind="stable")[:n])
        return validate_forget(chosen, data.y_train.numpy(), data.num_classes)

    def continual(self, req: ContinualRequest) -> ContinualResult:
        """Continual unlearning (AMUN §6.3): :func:`engine.continual.run`."""
        from .continual import run

        return run(self, req)

    def theorem(self, cmp: Comparison, method: str) -> TheoremView:
        """AMUN's Theorem 4.1 per forget sample of ``cmp`` after ``method``: :func:`engine.theorem.view`."""
        from .theorem import view

        return view(self, cmp, method)

    def forget_sizes(self, req: AuditRequest, sizes: Sequence[str]) -> dict[str, Comparison]:
        """``req`` once per forget spec in ``sizes`` (e.g. ``random:0.05``…``random:0.4``): the forget-set-size
        effect AMUN's Theorem 4.1 names (:func:`engine.audit.theorem.size_effect`). Each is an ordinary audit
        (stored, listed in the History); originals and reference models are shared by all sizes."""
        out = {}
        for i, size in enumerate(sizes):
            check_cancel(self.cancel)
            out[size] = self.compare(replace(req, spec=replace(req.spec, forget=size)))
            self._report(Stage.FORGET_SIZES, i + 1, len(sizes), {})
        return out


def audit(spec: RunSpec, methods: Sequence[str], seeds: Sequence[int] = (0,), store: Any = None,
          **kw: Any) -> Comparison:
    """One call: :meth:`AuditRequest.build` then :meth:`Runner.compare` (tests, notebooks)."""
    runner_kw = {k: kw.pop(k) for k in ("data_dir", "device", "progress", "cancel") if k in kw}
    return Runner(store, **runner_kw).compare(AuditRequest.build(spec, methods, seeds, **kw))


__all__ = ["HARDEST_CRITERIA", "HELDOUT", "REFERENCE_TRAINING", "UPLOADED_LABEL", "AuditRequest", "Baseline",
           "NotStored", "Prepared", "Runner", "TrainedModel", "audit", "load_model", "short_recipe"]
