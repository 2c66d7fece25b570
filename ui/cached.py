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
from engine.audit.compare import Comparison
from engine.config import RunSpec
from engine.jobs import JobManager
from engine.run import AuditRequest, Baseline, NotStored, Runner, TrainedModel
from engine.store import Store


def store() -> Store:
    """The run store under ``$UNLEARN_HOME`` (one per root: a changed home gets its own store and entries)."""
    from engine.paths import unlearn_home

    return _store(str(unlearn_home() / "store"))


@st.cache_resource(max_entries=4)
def _store(root: str) -> Store:
    return Store(root)


@st.cache_resource(max_entries=1)
def jobs() -> JobManager:
    return JobManager()


def root() -> str:
    """The store's root: part of the key of every entry, so two stores in one process never share one."""
    return str(store().root)


def spec_key(spec: RunSpec) -> str:
    return config.stable_hash(spec)


# ------------------------------------------------------------------------------------------ results from the store
def baseline(spec: RunSpec) -> Baseline | None:
    """Original and retrain of ``spec`` with their signals, from the store; None while either is missing."""
    try:
        return _baseline(root(), spec_key(spec), spec)
    except NotStored:  # not cached: the next call looks again
        return None


@st.cache_resource(max_entries=8, show_spinner="Loading models and signals from the store…")
def _baseline(root: str, key: str, _spec: RunSpec) -> Baseline:
    return Runner(Store(root), build=False).baseline(_spec)


def comparison(req: AuditRequest) -> Comparison | None:
    """The finished audit ``req``, from the store (after a restart or from a shared link as well); None while any
    model, signal or reference model of it is missing. Nothing trains here."""
    try:
        return _comparison(root(), req.key(), req)
    except NotStored:
        return None


@st.cache_resource(max_entries=8, show_spinner="Loading the audit from the store…")
def _comparison(root: str, key: str, _req: AuditRequest) -> Comparison:
    return Runner(Store(root), build=False).compare(_req)


def quality(req) -> object | None:
    """The finished forgetting-quality audit ``req`` (:class:`engine.quality.QualityRequest`) from the store, or
    None while any of its models is missing. Nothing trains here."""
    try:
        return _quality(root(), req.key(), req)
    except NotStored:
        return None


@st.cache_resource(max_entries=4, show_spinner="Scoring the stored models…")
def _quality(root: str, key: str, _req):
    from engine.quality import run_quality

    return run_quality(Runner(Store(root), build=False), _req)


@st.cache_data(max_entries=16, ttl=600, show_spinner="Estimating the cost (timing a few SGD steps)…")
def quality_cost(root: str, key: str, _req) -> tuple[int, float, str]:
    """What the quality audit ``_req`` still has to build: (models, seconds, the sentence), measured now."""
    from engine.quality import estimate

    cost = estimate(Runner(Store(root), build=False), _req)
    return cost.models, cost.seconds, cost.describe()


# ------------------------------------------------------------------------------------------ adversarial views
# Each public function passes the store root to a private cached one (st.cache_* keys on the arguments it hashes;
# arguments named with a leading underscore are not hashed, the string key stands for them).
def adversarial(model: TrainedModel, data, split: str, rows: np.ndarray) -> AdversarialSet:
    """A stored adversarial set of ``rows`` of ``split`` under ``model`` (raises NotStored when absent)."""
    from engine.forget import forget_fingerprint

    return _adversarial(root(), model.key, data.fingerprint, split, forget_fingerprint(rows), model, data, rows)


@st.cache_resource(max_entries=48, show_spinner=False)
def _adversarial(root: str, model_key: str, data_key: str, split: str, rows_key: str, _model: TrainedModel, _data,
                 _rows: np.ndarray) -> AdversarialSet:
    return Runner(Store(root), build=False).adversarial(_model, _data, split=split, rows=_rows)


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


# ------------------------------------------------------------------------------------------ AMUN's own analyses
def continual(req):
    """The finished continual run ``req`` (:class:`engine.continual.ContinualRequest`) from the store, or None while
    any of its models or signals is missing. Nothing trains here."""
    try:
        return _continual(root(), req.key(), req)
    except NotStored:
        return None


@st.cache_resource(max_entries=4, show_spinner="Loading the continual run from the store…")
def _continual(root: str, key: str, _req):
    return Runner(Store(root), build=False).continual(_req)


def theorem(cmp_key: str, cmp: Comparison, method: str):
    """AMUN's Theorem 4.1 view of ``method`` in the audit ``cmp`` (key ``cmp_key``) from the store, or None while its
    adversarial set or logits are missing."""
    try:
        return _theorem(root(), cmp_key, method, cmp)
    except NotStored:
        return None


@st.cache_resource(max_entries=8, show_spinner="Loading the per-sample view from the store…")
def _theorem(root: str, cmp_key: str, method: str, _cmp: Comparison):
    return Runner(Store(root), build=False).theorem(_cmp, method)


def forget_sizes(req: AuditRequest, sizes: tuple[str, ...]) -> dict[str, Comparison] | None:
    """The audits of ``req`` at each forget spec of ``sizes`` from the store, or None while any is missing."""
    try:
        return _forget_sizes(root(), req.key(), tuple(sizes), req)
    except NotStored:
        return None


@st.cache_resource(max_entries=4, show_spinner="Loading the audits of every forget-set size…")
def _forget_sizes(root: str, key: str, sizes: tuple[str, ...], _req: AuditRequest) -> dict[str, Comparison]:
    return Runner(Store(root), build=False).forget_sizes(_req, sizes)


# ------------------------------------------------------------------------------------------ image tiles
def data_uris(key: str, images, size: int = 48) -> list[str]:
    """:func:`ui.tiles.data_uris` of (N, C, H, W) images, cached per ``key`` (e.g. the data fingerprint)."""
    return _data_uris(root(), key, images, size)


@st.cache_data(max_entries=8, show_spinner=False)
def _data_uris(root: str, key: str, _images, size: int) -> list[str]:
    from . import tiles

    return tiles.data_uris(_images, size)


# ------------------------------------------------------------------------------------------ report
def built_report(key: str, extra_key: tuple[str, ...], png: bool, cmp, extra: list,
                 sections: list | None = None) -> tuple[list, str, bytes, list]:
    """Figures, HTML and zip of one comparison (``key``), with ``extra`` figures and ``sections`` (both named by
    ``extra_key``) and PNGs or not; see :func:`engine.report.html_report` and :func:`engine.report.bundle`."""
    return _built_report(root(), key, tuple(extra_key), png, cmp, extra, sections or [])


@st.cache_resource(max_entries=4, show_spinner="Building the report…")
def _built_report(root: str, key: str, extra_key: tuple[str, ...], png: bool, _cmp, _extra, _sections) -> tuple:
    from engine import report

    figs = report.report_figures(_cmp) + list(_extra)
    html = report.html_report(_cmp, figs, sections=_sections)
    data, notes = report.bundle(_cmp, html, figs, png=png, sections=_sections)
    return figs, html, data, notes


# ------------------------------------------------------------------------------------------ cost estimate
def step_seconds(spec: RunSpec, data) -> float:
    """Measured seconds of one training step of ``spec``'s model and recipe on ``data`` (this machine; cached per
    model, batch size, augmentation and data, so a page rerun does not measure again)."""
    key = config.stable_hash({"model": spec.model, "batch": spec.train.batch_size, "augment": spec.train.augment})
    return _step_seconds(key, data.fingerprint, spec, data)


@st.cache_data(max_entries=16, show_spinner="Measuring this model's training speed on this machine…")
def _step_seconds(key: str, data_key: str, _spec: RunSpec, _data) -> float:
    from engine.estimate import seconds_per_step

    return seconds_per_step(_spec.model, _spec.train, _data)


# ------------------------------------------------------------------------------------------ attack intervals
@st.cache_data(max_entries=256, show_spinner=False)
def attack_halfwidths(member: np.ndarray, nonmember: np.ndarray) -> dict[str, float]:
    """:func:`engine.audit.uncertainty.attack_halfwidths` (a pure function of the scores: keyed by their values)."""
    from engine.audit.uncertainty import attack_halfwidths as halfwidths

    return halfwidths(member, nonmember)
