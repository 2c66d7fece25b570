"""The only Streamlit cache wrappers over engine calls; every page shares these entries."""

from __future__ import annotations

import streamlit as st

from engine import config
from engine.config import RunSpec
from engine.jobs import JobManager
from engine.pipeline import BaselineResult, model_key, prepare, run_baseline
from engine.store import Store


@st.cache_resource
def store() -> Store:
    return Store()


@st.cache_resource
def jobs() -> JobManager:
    return JobManager()


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


# ------------------------------------------------------------------------------------------ image tiles
@st.cache_data(max_entries=8, show_spinner=False)
def data_uris(key: str, _images, size: int = 48) -> list[str]:
    """:func:`ui.tiles.data_uris` of (N, C, H, W) images, cached per ``key`` (e.g. the data fingerprint)."""
    from . import tiles

    return tiles.data_uris(_images, size)
