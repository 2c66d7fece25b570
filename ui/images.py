"""Adversarial-example views: which samples to attack, the stored ε-to-flip sets and the models they came from.

The attacks themselves are :func:`engine.attacks.cached_nearest_adversarial` (stored in the run store under a
hash of model, data, rows and search settings); this module decides *which* rows (the forget set, and seeded
subsamples of remain and test) and runs the missing sets as one background job. Image tiles for ``st.image``
are :mod:`ui.tiles`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

import numpy as np
import torch

from engine.attacks import AdversarialSet, adversarial_key, cached_nearest_adversarial
from engine.forget import forget_fingerprint
from engine.pipeline import Prepared, load_model, prepare
from engine.store import Artifact, Store

from . import cached

GROUPS = ("forget", "remain", "test")
#: at most this many samples per group are attacked (seeded subsample), so a page visit stays quick
MAX_ROWS = {"forget": 500, "remain": 300, "test": 300}


# ------------------------------------------------------------------------------------------ what to attack
@dataclass(frozen=True)
class Rows:
    """The rows attacked per group: ``{group: (split, indices into that split)}``."""

    groups: dict[str, tuple[str, np.ndarray]]

    def split_name(self, group: str) -> str:
        """The store's name for exactly these rows (``split`` must identify the samples)."""
        split, idx = self.groups[group]
        return f"{split}-{forget_fingerprint(idx)}"

    def xy(self, prep: Prepared, group: str) -> tuple[torch.Tensor, torch.Tensor]:
        split, idx = self.groups[group]
        x, y = prep.data.split(split)
        t = torch.as_tensor(idx, dtype=torch.long)
        return x[t], y[t]


def seed_prep(spec, seed: int) -> Prepared:
    """Data and forget set of one seed of a comparison (as :func:`engine.audit.compare.compare` draws them)."""
    return prepare(replace(spec, seed=seed, forget_seed=seed))


def rows_for(prep: Prepared, seed: int) -> Rows:
    """The forget set (subsampled beyond :data:`MAX_ROWS`) and seeded subsamples of remain and test."""
    rng = np.random.default_rng(seed)

    def pick(idx: np.ndarray, cap: int) -> np.ndarray:
        idx = np.asarray(idx)
        return idx if len(idx) <= cap else np.sort(rng.choice(idx, cap, replace=False))

    return Rows({"forget": ("train", pick(prep.forget, MAX_ROWS["forget"])),
                 "remain": ("train", pick(prep.remain, MAX_ROWS["remain"])),
                 "test": ("test", pick(np.arange(len(prep.data.y_test)), MAX_ROWS["test"]))})


def set_key(model_key: str, prep: Prepared, rows: Rows, group: str) -> str:
    return adversarial_key(model_key, prep.data.fingerprint, rows.split_name(group))


def missing(store: Store, artifacts: dict[str, Artifact], prep: Prepared, rows: Rows) -> list[tuple[str, str]]:
    """(model, group) pairs whose adversarial set is not in the store yet."""
    return [(m, g) for m, art in artifacts.items() for g in GROUPS
            if not store.exists("adversarial", set_key(art.key, prep, rows, g))]


def compute_missing(store: Store, artifacts: dict[str, Artifact], prep: Prepared, rows: Rows,
                    progress: Callable | None = None, cancel=None) -> int:
    """Run the nearest-adversarial search for every missing (model, group); returns how many were computed.

    Runs in the job worker: it loads its own copies of the models (no Streamlit calls).
    """
    todo = missing(store, artifacts, prep, rows)
    for i, (m, g) in enumerate(todo):
        model = load_model(artifacts[m], prep.spec.model, prep.data)
        x, y = rows.xy(prep, g)
        stage = f"{m} · {g} ({i + 1}/{len(todo)})"

        def report(_stage, done, total, metrics, stage=stage):
            if progress:
                progress(stage, done, total, metrics)

        cached_nearest_adversarial(store, artifacts[m].key, prep.data.fingerprint, rows.split_name(g), model, x, y,
                                   progress=report, cancel=cancel)
    return len(todo)


def flip_values(adv: AdversarialSet, value: str = "delta_norm") -> np.ndarray:
    """Per sample ``delta_norm`` or ``eps`` as floats; NaN for samples never flipped (no distance to report)."""
    v = getattr(adv, value).numpy().astype(float)
    return np.where(adv.flipped.numpy(), v, np.nan)


def stored_panels(cmp, seed: int, value: str = "delta_norm") -> dict[str, tuple[str, dict[str, np.ndarray]]]:
    """ε-to-flip values of every model of ``cmp`` whose three sets for ``seed`` are already in the store
    (:func:`engine.figures.eps_to_flip`'s input); computes nothing."""
    store = cached.store()
    prep = seed_prep(cmp.spec, seed)
    rows = rows_for(prep, seed)
    out = {}
    for m in cmp.methods:
        keys = {g: set_key(cmp.artifacts[(m, seed)].key, prep, rows, g) for g in GROUPS}
        if all(store.exists("adversarial", k) for k in keys.values()):
            out[m] = (cmp.labels[m], {g: flip_values(cached.adversarial(k), value) for g, k in keys.items()})
    return out
