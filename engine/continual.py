"""Continual unlearning requests (AMUN paper §6.3, App. H; research/amun.md §1.5): the protocol as data.

The forget set arrives in k disjoint requests (the paper: 5 × 2 % of the training data), drawn with the seed. Each
method unlearns request after request on its own previous output: request j starts from the model after request
j − 1, forgets the request's rows D_F^j, and sees the remain set train − (D_F^1 ∪ … ∪ D_F^j). AMUN keeps the D_A
searched on the original model (indexed by each request's rows); AMUN-A (``amun_a``) searches it again on the
current model at each request. Retrain after request j is the recipe trained on that remain set: the reference
curve.

:class:`ContinualRequest` says what runs, :func:`run` runs it (:meth:`engine.run.Runner.continual`; every
intermediate model stored under a key chaining its predecessor's, so a rerun trains nothing), :class:`ContinualResult`
holds the per-request rows; the audits are :mod:`engine.audit.continual`.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import pandas as pd

from . import config
from .artifacts import Artifacts
from .audit import continual as audit
from .audit.rmia import DEFAULT_K, ReferenceSet
from .config import RunSpec
from .errors import Diverged, UnlearnError
from .forget import remain_indices
from .kinds import Role, Stage
from .reference_models import reference_set
from .request import refuse_tuning_seeds
from .trained import Prepared, TrainedModel
from .training import check_cancel
from .unlearning import Unlearner, chosen_methods

#: the paper's protocol: 5 requests of 2 % of the training data each (CIFAR-10: 1,000 samples), 10 % in all
REQUESTS, SIZE = 5, 0.02
#: the methods a continual run compares by default: AMUN, AMUN-A and the baselines of the paper's Fig. 2
DEFAULT_METHODS = ("ft", "rl", "ga", "bs", "l1_sparse", "salun", "amun", "amun_a")


def request_count(n_train: int, size: float) -> int:
    """Samples per request: a fraction of the training set (``0 < size < 1``) or a count (``size ≥ 1``)."""
    count = int(round(size * n_train)) if size < 1 else int(size)
    if count < 1:
        raise UnlearnError(f"a request of {size:g} of {n_train} training samples holds no sample; choose a larger "
                           "size")
    return count


def request_rows(n_train: int, requests: int, size: float, seed: int) -> list[np.ndarray]:
    """The k requests' training indices: disjoint, each sorted, drawn with ``seed`` (a seeded permutation of the
    training set, cut into consecutive blocks of :func:`request_count` samples)."""
    count = request_count(n_train, size)
    if requests * count >= n_train:
        raise UnlearnError(f"{requests} requests of {count} samples would forget all {n_train} training samples; "
                           "choose fewer or smaller requests")
    order = np.random.default_rng(seed).permutation(n_train)
    return [np.sort(order[j * count:(j + 1) * count]) for j in range(requests)]


@dataclass(frozen=True)
class ContinualRequest:
    """What a continual run runs: the spec (its forget field is not used: the requests are), methods with their
    hyperparameters (validated instances), the number of requests and their size, seeds, setting and K."""

    spec: RunSpec
    methods: tuple[Unlearner, ...]
    requests: int = REQUESTS
    size: float = SIZE  # a fraction of the training set per request, or a count when ≥ 1
    seeds: tuple[int, ...] = (0,)
    use_remain: bool = True
    k: int = DEFAULT_K

    @classmethod
    def build(cls, spec: RunSpec, methods: Sequence[str] = DEFAULT_METHODS, seeds: Sequence[int] = (0,), *,
              requests: int = REQUESTS, size: float = SIZE, overrides: dict[str, dict[str, Any]] | None = None,
              tuned: bool = True, use_remain: bool = True, k: int = DEFAULT_K) -> ContinualRequest:
        """Methods by key with the tuned (or the papers') defaults and ``overrides``; everything a user can get wrong
        is an :class:`UnlearnError` here, before anything trains. Retrain is always the reference; in the D_F-only
        setting methods that need D_R are left out."""
        chosen = list(chosen_methods(spec.data.dataset if tuned else None, methods, overrides,
                                     use_remain=use_remain))
        if not seeds:
            raise UnlearnError("give at least one seed")
        refuse_tuning_seeds(seeds, spec)
        if not 1 <= int(requests) <= 50:
            raise UnlearnError(f"the number of requests must be between 1 and 50, got {requests}")
        if not size > 0 or (size >= 1 and size != int(size)):
            raise UnlearnError(f"request size {size}: a fraction in (0, 1) or a whole number of samples")
        if k < 2:
            raise UnlearnError(f"RMIA needs at least 2 reference models, got K = {k}")
        if not chosen:
            raise UnlearnError("choose at least one unlearning method (Retrain is always the reference)")
        return cls(spec, tuple(chosen), int(requests), float(size), tuple(dict.fromkeys(int(s) for s in seeds)),
                   use_remain, int(k))

    def key(self) -> str:
        return config.stable_hash({"kind": "continual", "spec": self.spec, "requests": self.requests,
                                   "size": self.size, "seeds": list(self.seeds), "use_remain": self.use_remain,
                                   "methods": [[m.key, m.params()] for m in self.methods], "k": self.k})

    def rows(self, n_train: int, seed: int) -> list[np.ndarray]:
        """The requests of ``seed`` (:func:`request_rows`; the forget draw's seed is the run's seed)."""
        return request_rows(n_train, self.requests, self.size, seed)

    def labels(self) -> dict[str, str]:
        return {Role.ORIGINAL: "Original (no unlearning)", Role.RETRAIN: "Retrain",
                **{m.key: m.label for m in self.methods}}


@dataclass
class ContinualResult:
    """Per-request audit rows (:data:`engine.audit.continual.COLUMNS`) of every model after every request, per seed.

    ``failures``: (method, seed) → why its chain stopped (a diverged request; the requests before it are kept).
    """

    request: ContinualRequest
    rows: pd.DataFrame
    seconds: float
    failures: dict[tuple[str, int], str] = field(default_factory=dict)

    @property
    def labels(self) -> dict[str, str]:
        return self.request.labels()

    @property
    def methods(self) -> list[str]:
        return list(dict.fromkeys(self.rows["method"]))

    def summary(self, metric: str) -> pd.DataFrame:
        return audit.summary(self.rows, metric)

    def wide(self, metric: str) -> pd.DataFrame:
        return audit.wide(self.rows, metric, self.labels)

    def claim(self, reading: str = "higher") -> pd.DataFrame | None:
        """The paper's claim per request (:func:`engine.audit.continual.claim`, in ``reading``), or None without
        AMUN, AMUN-A and a baseline in the run."""
        try:
            return audit.claim(self.rows, reading=reading)
        except ValueError:
            return None

    def to_markdown(self, metrics: Sequence[str] = ("auc_gap", "ft_auc", "ua", "ta", "avg_gap")) -> str:
        """The CLI's tables: per metric, mean ± 95 % half-width over seeds per model and request."""
        r = self.request
        out = [f"Continual unlearning: {r.requests} requests of {r.size:g} "
               f"{'of the training set' if r.size < 1 else 'samples'} each, seeds {list(r.seeds)}, K = {r.k}"]
        for metric in metrics:
            label, good = audit.METRICS[metric]
            out += ["", f"{label} — {good}", "", audit.markdown(self.wide(metric))]
        for reading, how in audit.READINGS.items():
            table = self.claim(reading)
            if table is not None:
                out += ["", f"The AMUN paper's claim (AMUN-A better than AMUN better than the baselines on AUC_FR − "
                        f"AUC_FT at every request), {how}: " + audit.verdict(table, labels=self.labels)]
        for (method, seed), why in self.failures.items():
            out.append(f"failed: {self.labels.get(method, method)}, seed {seed}: {why}")
        return "\n".join(out)


def run(art: Artifacts, req: ContinualRequest) -> ContinualResult:
    """Continual unlearning (AMUN §6.3): every method unlearns ``req``'s requests one after the other.

    Per seed s: the original model (seed s), the k disjoint requests (drawn with s), the reference set (shared
    with every audit of the spec), and per request j the Retrain on train − (D_F^1 ∪ … ∪ D_F^j) and each
    method's model after request j — started from its model after request j − 1 (:meth:`Artifacts.unlearned` with
    ``origin`` θ_o, whose D_A AMUN keeps; AMUN-A's is searched on the model it starts from). Each model is
    audited on everything forgotten so far (:func:`engine.audit.continual.step_audit`); the original model,
    audited the same way, is the "no unlearning" curve. A method that diverges at request j keeps its rows
    before j and is listed in ``failures``. Every model, D_A and signal is stored; a rerun trains nothing.
    """
    t0 = time.perf_counter()
    labels = req.labels()
    rows, failures = [], {}
    total, done = len(req.seeds) * req.requests * (len(req.methods) + 1), 0
    for seed in req.seeds:
        spec = replace(req.spec, seed=seed, forget_seed=seed)
        data = art.data(spec)
        original = art.original(spec)
        ref = reference_set(art, spec, req.k)
        chunks = req.rows(len(data.y_train), seed)
        steps = []  # per request: (its rows, everything forgotten so far with the remain set)
        for j in range(req.requests):
            forgotten = np.sort(np.concatenate(chunks[: j + 1]))
            steps.append((chunks[j], Prepared(spec, data, forgotten, remain_indices(forgotten, len(data.y_train)))))

        def row(name: str, j: int, tm: TrainedModel, seconds: float, one_time: float = 0.0, *, steps: list = steps,
                ref: ReferenceSet = ref, seed: int = seed) -> dict:
            request, cum = steps[j]
            audited = audit.step_audit(art.signals(tm, cum), ref, request)
            return {"method": name, "label": labels[name], "seed": seed, "request": j + 1, **audited,
                    "seconds": seconds, "one_time_seconds": one_time}

        for j, (_, cum) in enumerate(steps):
            check_cancel(art.cancel)
            retrain = art.retrain(cum)
            rows += [row(Role.RETRAIN, j, retrain, retrain.seconds), row(Role.ORIGINAL, j, original, 0.0)]
            done += 1
            art._report(Stage.CONTINUAL, done, total, {"seed": seed, "request": j + 1})
        for method in req.methods:
            current = original
            for j, (request, cum) in enumerate(steps):
                check_cancel(art.cancel)
                step = Prepared(spec, data, request, cum.remain)
                try:
                    current = art.unlearned(method, step, current, use_remain=req.use_remain, origin=original)
                except Diverged as exc:  # its chain stops; the requests before are kept
                    failures[(method.key, seed)] = f"request {j + 1}: {exc}"
                    done += req.requests - j
                    break
                rows.append(row(method.key, j, current, current.seconds, current.one_time_seconds))
                done += 1
                art._report(Stage.CONTINUAL, done, total, {"seed": seed, "request": j + 1})
    frame = audit.with_gaps(pd.DataFrame(rows, columns=[c for c in audit.COLUMNS if c != "avg_gap"]))
    return ContinualResult(req, frame[audit.COLUMNS], time.perf_counter() - t0, failures)
