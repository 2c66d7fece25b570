"""The only Streamlit cache wrappers over engine calls; every page shares these entries.

The per-view wrappers (models, adversarial sets, probabilities, attributions, thumbnails, the report) are bounded
(``max_entries``) and keyed by the store root as well (:func:`root`), so two stores in one process never share an
entry.
"""

from __future__ import annotations

import numpy as np
import streamlit as st
import torch

from engine import config
from engine.attacks import AdversarialSet
from engine.config import RunSpec
from engine.jobs import JobManager
from engine.pipeline import BaselineResult, Prepared, load_model, model_key, prepare, run_baseline
from engine.store import Artifact, Store


@st.cache_resource(max_entries=1)
def store() -> Store:
    return Store()


@st.cache_resource(max_entries=1)
def jobs() -> JobManager:
    return JobManager()


def root() -> str:
    """The store's root: part of the key of every per-view entry (not of baseline()), so stores never share one."""
    return str(store().root)


def spec_key(spec: RunSpec) -> str:
    return config.stable_hash(spec)


def baseline_is_stored(spec: RunSpec) -> bool:
    """True when both models of ``spec`` are in the store (so loading them takes well under a second)."""
    prep = prepare(spec)
    return all(store().exists(kind, model_key(kind, prep)) for kind in ("original", "retrain"))


@st.cache_resource(max_entries=8, show_spinner="Loading models and signals from the store…")
def baseline(key: str, _spec: RunSpec) -> BaselineResult:
    """The stored baseline for a spec (call only when :func:`baseline_is_stored`); never mutate it."""
    return run_baseline(_spec, store())


# ------------------------------------------------------------------------------------------ comparisons
@st.cache_resource
def _comparisons() -> dict:
    """Finished comparisons of this server process, by key (results also live in the store)."""
    return {}


def comparison_key(spec: RunSpec, audit: dict) -> str:
    return config.stable_hash({"spec": spec, "audit": audit})


def put_comparison(key: str, result) -> None:
    _comparisons()[key] = result


def get_comparison(key: str):
    return _comparisons().get(key)


# ------------------------------------------------------------------------------------------ adversarial views
# Each public function passes the store root to a private cached one (st.cache_* keys on the arguments it hashes;
# arguments named with a leading underscore are not hashed, the string key stands for them).
def model(key: str, art: Artifact, prep: Prepared) -> torch.nn.Module:
    """A stored model by its artifact key (shared read-only; never train it)."""
    return _model(root(), key, art, prep)


@st.cache_resource(max_entries=8, show_spinner=False)
def _model(root: str, key: str, _art: Artifact, _prep: Prepared) -> torch.nn.Module:
    return load_model(_art, _prep.spec.model, _prep.data)


def adversarial(key: str) -> AdversarialSet:
    """A stored adversarial set by its store key (call only when it exists)."""
    return _adversarial(root(), key)


@st.cache_resource(max_entries=48, show_spinner=False)
def _adversarial(root: str, key: str) -> AdversarialSet:
    art = Store(root).load("adversarial", key)
    if art is None:
        raise KeyError(key)
    return AdversarialSet.from_arrays(art.arrays())


def probabilities(key: str, net: torch.nn.Module, x: np.ndarray) -> np.ndarray:
    """Softmax outputs of the model with artifact ``key`` on ``x`` (N, C, H, W)."""
    return _probabilities(root(), key, net, x)


@st.cache_data(max_entries=64, show_spinner=False)
def _probabilities(root: str, key: str, _net: torch.nn.Module, x: np.ndarray) -> np.ndarray:
    dev = next(_net.parameters()).device
    with torch.no_grad():
        return torch.softmax(_net(torch.as_tensor(x, device=dev).float()), 1).cpu().numpy()


def attributions(key: str, net: torch.nn.Module, x: np.ndarray, target: np.ndarray, method: str) -> np.ndarray:
    """:func:`engine.explain.attribution_maps` for the model with artifact ``key`` (cached per inputs)."""
    return _attributions(root(), key, net, x, target, method)


@st.cache_data(max_entries=64, show_spinner=False)
def _attributions(root: str, key: str, _net: torch.nn.Module, x: np.ndarray, target: np.ndarray,
                  method: str) -> np.ndarray:
    from engine.explain import attribution_maps

    return attribution_maps(_net, torch.as_tensor(x), torch.as_tensor(target), method)


# ------------------------------------------------------------------------------------------ image tiles
def data_uris(key: str, images, size: int = 48) -> list[str]:
    """:func:`ui.tiles.data_uris` of (N, C, H, W) images, cached per ``key`` (e.g. the data fingerprint)."""
    return _data_uris(root(), key, images, size)


@st.cache_data(max_entries=8, show_spinner=False)
def _data_uris(root: str, key: str, _images, size: int) -> list[str]:
    from . import tiles

    return tiles.data_uris(_images, size)


# ------------------------------------------------------------------------------------------ report
def built_report(key: str, extra_key: tuple[str, ...], png: bool, cmp, extra: list) -> tuple[list, str, bytes, list]:
    """Figures, HTML and zip of one comparison (``key``), with ``extra`` figures (named by ``extra_key``) and
    PNGs or not; see :func:`engine.report.html_report` and :func:`engine.report.bundle`."""
    return _built_report(root(), key, tuple(extra_key), png, cmp, extra)


@st.cache_resource(max_entries=4, show_spinner="Building the report…")
def _built_report(root: str, key: str, extra_key: tuple[str, ...], png: bool, _cmp, _extra) -> tuple:
    from engine import report

    from .tables import EXPLAIN

    figs = report.report_figures(_cmp) + list(_extra)
    html = report.html_report(_cmp, figs, explain=EXPLAIN)
    data, notes = report.bundle(_cmp, html, figs, png=png)
    return figs, html, data, notes
