"""Adversarial-example views: which samples to attack, the stored ε-to-flip sets and the models they came from.

The attacks run through :meth:`engine.run.Runner.adversarial` (stored under a hash of model, data, rows and
search settings); this module decides *which* rows (the forget set, and seeded subsamples of remain and test)
and runs the missing sets as one background job. Image tiles for ``st.image`` are :mod:`ui.tiles`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

import numpy as np
import torch

from engine.attacks import AdversarialSet
from engine.run import NotStored, Prepared, Runner, TrainedModel

from . import cached

GROUPS = ("forget", "remain", "test")
#: at most this many samples per group are attacked (seeded subsample), so a page visit stays quick
MAX_ROWS = {"forget": 500, "remain": 300, "test": 300}


# ------------------------------------------------------------------------------------------ what to attack
@dataclass(frozen=True)
class Rows:
    """The rows attacked per group: ``{group: (split, indices into that split)}``."""

    groups: dict[str, tuple[str, np.ndarray]]

    def xy(self, prep: Prepared, group: str) -> tuple[torch.Tensor, torch.Tensor]:
        split, idx = self.groups[group]
        x, y = prep.data.split(split)
        t = torch.as_tensor(idx, dtype=torch.long)
        return x[t], y[t]


def seed_prep(spec, seed: int) -> Prepared:
    """Data and forget set of one seed of a comparison (as :meth:`engine.run.Runner.compare` draws them)."""
    return Runner(cached.store()).prepare(replace(spec, seed=seed, forget_seed=seed))


def rows_for(prep: Prepared, seed: int) -> Rows:
    """The forget set (subsampled beyond :data:`MAX_ROWS`) and seeded subsamples of remain and test."""
    rng = np.random.default_rng(seed)

    def pick(idx: np.ndarray, cap: int) -> np.ndarray:
        idx = np.asarray(idx)
        return idx if len(idx) <= cap else np.sort(rng.choice(idx, cap, replace=False))

    return Rows({"forget": ("train", pick(prep.forget, MAX_ROWS["forget"])),
                 "remain": ("train", pick(prep.remain, MAX_ROWS["remain"])),
                 "test": ("test", pick(np.arange(len(prep.data.y_test)), MAX_ROWS["test"]))})


def stored(model: TrainedModel, prep: Prepared, rows: Rows, group: str) -> AdversarialSet:
    """The stored adversarial set of ``group``'s rows under ``model`` (raises NotStored when absent)."""
    split, idx = rows.groups[group]
    return cached.adversarial(model, prep.data, split, idx)


def missing(models: dict[str, TrainedModel], prep: Prepared, rows: Rows) -> list[tuple[str, str]]:
    """(model, group) pairs whose adversarial set is not in the store yet."""
    runner = Runner(cached.store())
    return [(m, g) for m, tm in models.items() for g in GROUPS
            if not runner.has_adversarial(tm, prep.data, split=rows.groups[g][0], rows=rows.groups[g][1])]


#: the one stage name of the search job's progress (see :func:`compute_missing`)
SEARCH_STAGE = "samples flipped, all sets"


def compute_missing(models: dict[str, TrainedModel], prep: Prepared, rows: Rows,
                    progress: Callable | None = None, cancel=None) -> int:
    """Run the nearest-adversarial search for every missing (model, group); returns how many were computed.

    Runs in the job worker (no Streamlit calls). Progress is reported as one stage over the whole job —
    ``progress(SEARCH_STAGE, done, total, metrics)`` with ``total`` the samples of every missing set — because a
    job's ETA extrapolates the rate of its current stage: with one stage per set (nine for three models) the ETA
    covered only the set at hand and restarted with each. ``done`` counts samples only from the end of the first
    set on (0 before, so the ETA says "estimating"): within a set, samples flip in bursts as the search radius
    doubles — a few in the first PGD steps, most at once later — so the first seconds' rate (2 of 240 after
    1 s) extrapolated to minutes for a 16 s job.
    """
    todo = missing(models, prep, rows)
    sizes = [len(rows.groups[g][1]) for _, g in todo]
    total = sum(sizes)
    finished = 0  # samples of the sets already searched
    for i, (m, g) in enumerate(todo):

        def report(_stage, done, _n, metrics, i=i, before=finished, m=m, g=g):
            if progress:
                shown = before + done if i > 0 else 0
                progress(SEARCH_STAGE, shown, total, {**metrics, "set": i + 1, "sets": len(todo), "model": m,
                                                      "group": g})

        split, idx = rows.groups[g]
        Runner(cached.store(), progress=report, cancel=cancel).adversarial(models[m], prep.data, split=split, rows=idx)
        finished += sizes[i]
        if progress:
            progress(SEARCH_STAGE, finished, total, {"set": i + 1, "sets": len(todo), "model": m, "group": g})
    return len(todo)


def flip_summary(values: dict[str, dict[str, np.ndarray]], sets: dict[str, dict[str, AdversarialSet]]):
    """Per model: the median distance to the boundary per group, the forget ÷ test ratio (≈ 1 under Retrain)
    and how many samples never flipped; ``values`` from :func:`flip_values`."""
    import pandas as pd

    rows = []
    for label, by_group in values.items():
        med = {g: float(np.nanmedian(v)) if np.isfinite(v).any() else np.nan for g, v in by_group.items()}
        rows.append({"model": label, **{f"median {g}": med[g] for g in GROUPS},
                     "forget ÷ test": med["forget"] / med["test"] if med["test"] else np.nan,
                     "not flipped": int(sum((~a.flipped).sum() for a in sets[label].values()))})
    return pd.DataFrame(rows).set_index("model")


def flip_values(adv: AdversarialSet, value: str = "delta_norm") -> np.ndarray:
    """Per sample ``delta_norm`` or ``eps`` as floats; NaN for samples never flipped (no distance to report)."""
    v = getattr(adv, value).numpy().astype(float)
    return np.where(adv.flipped.numpy(), v, np.nan)


def stored_panels(cmp, seed: int, value: str = "delta_norm") -> dict[str, tuple[str, dict[str, np.ndarray]]]:
    """ε-to-flip values of every model of ``cmp`` whose three sets for ``seed`` are already in the store
    (:func:`engine.figures.eps_to_flip`'s input); computes nothing."""
    prep = seed_prep(cmp.spec, seed)
    rows = rows_for(prep, seed)
    out = {}
    for m in cmp.methods:
        try:
            sets = {g: stored(cmp.models[(m, seed)], prep, rows, g) for g in GROUPS}
        except NotStored:
            continue
        out[m] = (cmp.labels[m], {g: flip_values(a, value) for g, a in sets.items()})
    return out
