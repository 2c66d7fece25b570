"""An audit as a plan of typed pieces: the one place that enumerates what an audit builds.

:func:`pieces` breaks an :class:`~engine.request.AuditRequest` into its pieces — per seed the original model (or the
uploaded model in its place), the Retrain replicas, the adversarial set D_A that AMUN-style methods share, every
unlearned model, and every model's signals; once, RMIA's K reference models — each with the pieces it depends on,
in the order an audit builds them. A piece's ``id`` is a hash of what it is (not of the data, so no data loads to
plan); its **store key** is :func:`store_key` (the data's fingerprint is part of every key), :func:`held` says
whether the store has it and :func:`build` builds (or finds) it.

Who reads the plan: :meth:`engine.run.Runner.compare` builds it piece by piece, :meth:`engine.run.Runner.plan`
(the overall ETA) keeps the pieces the store lacks, and :func:`engine.sweep.run_grid` merges the plans of a grid
(:func:`merge`) and maps them to Ray tasks. Nothing else lists the flow.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import Any

from . import artifacts, config
from .artifacts import Artifacts
from .attacks import NearestAdversarial
from .config import RunSpec
from .kinds import Role, needs_adversarial
from .reference_models import reference_keys, reference_mode, reference_set
from .request import HELDOUT, AuditRequest
from .unlearning import Unlearner


class PieceKind(StrEnum):
    ORIGINAL = "original"
    UPLOADED = "uploaded"
    RETRAIN = "retrain"
    REFERENCES = "references"  # RMIA's K reference models, one piece
    ADVERSARIAL = "adversarial"  # D_A of a seed's forget rows under its original model
    UNLEARNED = "unlearned"
    SIGNALS = "signals"


#: the pieces that are models of the audit, and their role in it
MODEL_ROLES = {PieceKind.ORIGINAL: Role.ORIGINAL, PieceKind.UPLOADED: Role.UPLOADED,
               PieceKind.RETRAIN: Role.RETRAIN, PieceKind.UNLEARNED: Role.UNLEARNED}


@dataclass(eq=False)
class AuditPiece:
    """One piece of an audit: what it is, for which spec and seed, and the pieces it needs first."""

    kind: PieceKind
    spec: RunSpec  # the seed's spec (references: the spec the reference models train with)
    seed: int | None = None  # the audit seed (None: the reference models, shared by all seeds)
    replica: int = 0  # Retrain replica
    run: int = 0  # unlearned: the unlearning run (its seed: artifacts.run_seed(spec.seed, run))
    method: Unlearner | None = None  # unlearned
    use_remain: bool = True  # unlearned
    k: int = 0  # references
    upload: str | None = None  # uploaded: the stored upload's key
    attack: NearestAdversarial | None = None  # adversarial
    deps: tuple[AuditPiece, ...] = ()
    id: str = field(default="", init=False)

    def __post_init__(self) -> None:
        s = self.spec
        parts: dict[str, Any] = {"piece": str(self.kind), "data": s.data, "model": s.model, "train": s.train}
        if self.kind == PieceKind.SIGNALS:
            parts = {"piece": "signals", "of": self.deps[0].id}
        elif self.kind == PieceKind.REFERENCES:
            parts["k"] = self.k
        else:
            parts["seed"] = s.seed
        if self.kind in (PieceKind.RETRAIN, PieceKind.UNLEARNED, PieceKind.ADVERSARIAL):
            parts.update(forget=s.forget, forget_seed=s.forget_seed)
        if self.kind == PieceKind.RETRAIN and self.replica:
            parts["replica"] = self.replica
        if self.run:
            parts["run"] = self.run
        if self.method is not None:
            parts.update(method=self.method.key, params=self.method.params(), use_remain=self.use_remain)
        if self.upload is not None:
            parts["upload"] = self.upload
        if self.attack is not None:
            parts["attack"] = self.attack.params()
        self.id = config.stable_hash(parts)

    @property
    def role(self) -> Role | None:
        """The model's role in the audit (None for references, adversarial sets and signals)."""
        return MODEL_ROLES.get(self.kind)

    @property
    def model(self) -> AuditPiece | None:
        """The model piece this one reads (signals, adversarial, unlearned: its starting model)."""
        return self.deps[0] if self.deps and self.kind != PieceKind.REFERENCES else None

    @property
    def label(self) -> str:
        s = self.spec
        if self.kind == PieceKind.REFERENCES:
            return f"references K={self.k}"
        if self.kind in (PieceKind.ORIGINAL, PieceKind.UPLOADED):
            return f"{self.kind} seed {s.seed}"
        if self.kind == PieceKind.SIGNALS:
            return f"signals of {self.deps[0].label}"
        what = {PieceKind.UNLEARNED: (self.method.key if self.method else "") + (f" run {self.run}" if self.run
                                                                                 else ""),
                PieceKind.ADVERSARIAL: "D_A", PieceKind.RETRAIN: "retrain" + (f" #{self.replica}" if self.replica
                                                                                 else "")}[self.kind]
        return f"{what} seed {s.seed} forget {s.forget}" + ("" if self.use_remain else " (D_F only)")


def seed_spec(req: AuditRequest, seed: int) -> RunSpec:
    """``req``'s spec for one seed: model seed ``seed``, forget draw ``seed`` (or the request's one ``forget_seed``
    for every seed); held out (tuning): both plus ``HELDOUT`` on tuning's own part of the data (``DataSpec.tuning``:
    other training rows, so its own originals and reference models, and forget sets disjoint from every audit's)."""
    fseed = seed if req.forget_seed is None else req.forget_seed
    if req.heldout:
        return replace(req.spec, seed=seed + HELDOUT, forget_seed=fseed + HELDOUT,
                       data=replace(req.spec.data, tuning=True))
    return replace(req.spec, seed=seed, forget_seed=fseed)


def shared_attack(method: Unlearner) -> NearestAdversarial | None:
    """The search whose D_A ``method`` reads from the store when it is known before the method runs (AMUN's
    settings at its ε_init); None for a method without D_A or one that calibrates ε_init on the model first (its
    search runs inside its own piece)."""
    if not needs_adversarial(method.requires) or getattr(method, "calibrate_eps", False) \
            or not hasattr(method, "attack"):
        return None
    return method.attack(float(method.eps_init))


def pieces(req: AuditRequest) -> list[AuditPiece]:
    """Every piece of ``req``'s audit, dependencies first, in the order :meth:`Runner.compare` builds them.

    Per seed s (the AMUN paper's protocol, §5.2): the original (seed s; or the uploaded model), R Retrain replicas
    on the remain set of forget draw s (replica 0 with seed s, the others with derived seeds), the reference set
    (once, shared by all seeds, after the first seed's retrains), then per method its D_A (the first method that
    reads it; AMUN-A's "current" model is the original in a one-shot audit) and its ``runs`` unlearned models (run
    r unlearns with :func:`~engine.artifacts.run_seed`, run 0 with the model seed); last the signals of every
    model.
    """
    out: list[AuditPiece] = []
    for i, seed in enumerate(req.seeds):
        spec = seed_spec(req, seed)
        original = AuditPiece(PieceKind.UPLOADED, spec, seed, upload=req.original) if req.original else \
            AuditPiece(PieceKind.ORIGINAL, spec, seed)
        retrains = [AuditPiece(PieceKind.RETRAIN, spec, seed, replica=r) for r in range(req.retrains)]
        out += [original, *retrains]
        if i == 0:
            out.append(AuditPiece(PieceKind.REFERENCES, req.reference_spec(spec), k=req.k))
        searched: dict[str, AuditPiece] = {}
        models = [original, *retrains]
        for method in req.methods:
            deps = [original]
            attack = shared_attack(method)
            if attack is not None:
                akey = config.stable_hash(attack.params())
                if akey not in searched:
                    searched[akey] = AuditPiece(PieceKind.ADVERSARIAL, spec, seed, attack=attack, deps=(original,))
                    out.append(searched[akey])
                deps.append(searched[akey])
            for run in range(req.runs):
                unlearned = AuditPiece(PieceKind.UNLEARNED, spec, seed, method=method, use_remain=req.use_remain,
                                       run=run, deps=tuple(deps))
                out.append(unlearned)
                models.append(unlearned)
        out += [AuditPiece(PieceKind.SIGNALS, spec, seed, deps=(m,)) for m in models]
    return out


# ------------------------------------------------------------------------------------------------ pieces and the store
def build(art: Artifacts, p: AuditPiece, built: dict[str, Any] | None = None) -> Any:
    """Build (or, with a store-only ``art``, find) one piece, its dependencies first (memoised in ``built``): a
    :class:`~engine.artifacts.TrainedModel`, a :class:`~engine.audit.rmia.ReferenceSet`, an
    :class:`~engine.attacks.AdversarialSet` or :class:`~engine.signals.Signals`."""
    built = {} if built is None else built
    if p.id in built:
        return built[p.id]
    dep = [build(art, d, built) for d in p.deps]
    if p.kind == PieceKind.REFERENCES:
        out = reference_set(art, p.spec, p.k)
    elif p.kind == PieceKind.ORIGINAL:
        out = art.original(p.spec)
    elif p.kind == PieceKind.UPLOADED:
        out = art.uploaded(p.upload, p.spec)
    elif p.kind == PieceKind.RETRAIN:
        out = art.retrain(art.prepare(p.spec), replica=p.replica)
    elif p.kind == PieceKind.ADVERSARIAL:
        out = art.forget_adversarial(dep[0], art.prepare(p.spec), p.attack)[0]
    elif p.kind == PieceKind.UNLEARNED:
        out = art.unlearned(p.method, art.prepare(p.spec), dep[0], use_remain=p.use_remain,
                            seed=artifacts.run_seed(p.spec.seed, p.run))
    else:
        out = art.signals(dep[0], art.prepare(p.spec))
    built[p.id] = out
    return out


def store_key(art: Artifacts, p: AuditPiece, keys: dict[str, Any] | None = None) -> Any:
    """The store key of a piece (the reference models: a tuple of K keys), found without building anything; the
    same key its builder in :mod:`engine.artifacts` / :mod:`engine.reference_models` stores it under."""
    keys = {} if keys is None else keys
    if p.id in keys:
        return keys[p.id]
    model = store_key(art, p.deps[0], keys) if p.model is not None else None
    if p.kind == PieceKind.REFERENCES:
        data = art.data(p.spec)
        mode = reference_mode(p.spec, data, art.reference_training, art.device)
        key: Any = tuple(reference_keys(p.spec, data, p.k, 0, mode))
    elif p.kind == PieceKind.UPLOADED:
        key = p.upload
    elif p.kind == PieceKind.ORIGINAL:
        key = artifacts.trained_key(Role.ORIGINAL, p.spec, art.data(p.spec), None)
    else:
        prep = art.prepare(p.spec)
        if p.kind == PieceKind.RETRAIN:
            spec = replace(p.spec, seed=artifacts.retrain_seed(p.spec.seed, p.replica))
            key = artifacts.trained_key(Role.RETRAIN, spec, prep.data, prep.forget)
        elif p.kind == PieceKind.ADVERSARIAL:
            key = artifacts.adversarial_key(model, prep.data, artifacts.rows_id("train", prep.forget), p.attack)
        elif p.kind == PieceKind.UNLEARNED:
            key = artifacts.unlearned_key(p.method, prep, model, seed=artifacts.run_seed(p.spec.seed, p.run),
                                          use_remain=p.use_remain)
        else:
            key = artifacts.signals_key(model, prep.data)
    keys[p.id] = key
    return key


def held(art: Artifacts, p: AuditPiece, keys: dict[str, Any] | None = None) -> bool:
    """``art``'s store holds ``p`` (a stored failure counts: nothing to build; D_A: its rows' or the whole set's)."""
    key, has = store_key(art, p, keys), art.store.exists
    if p.kind == PieceKind.REFERENCES:
        return all(has("reference", k) for k in key)
    if p.kind == PieceKind.ADVERSARIAL:
        whole = artifacts.adversarial_key(store_key(art, p.deps[0], keys), art.data(p.spec), "train", p.attack)
        return has("adversarial", key) or has("adversarial", whole)
    return has(str(p.kind), key) or (p.kind == PieceKind.UNLEARNED and has("failure", key))


def unread(art: Artifacts, plan: Sequence[AuditPiece], p: AuditPiece, keys: dict[str, Any] | None = None) -> bool:
    """``p`` is a D_A that no piece still to build reads (every method reading it is stored): an audit then needs
    neither to build nor to find it (a store kept from before D_A was stored stays readable)."""
    return p.kind == PieceKind.ADVERSARIAL and all(held(art, q, keys) for q in plan if p in q.deps)


def merge(plans: Sequence[Sequence[AuditPiece]]) -> list[AuditPiece]:
    """The pieces of several plans, equal pieces (same id) once, dependencies before dependants."""
    seen: dict[str, AuditPiece] = {}
    for plan in plans:
        for piece in plan:
            seen.setdefault(piece.id, piece)
    return list(seen.values())


__all__ = ["MODEL_ROLES", "AuditPiece", "PieceKind", "build", "held", "merge", "pieces", "seed_spec", "shared_attack",
           "store_key", "unread"]
