"""Widgets built from a method's dataclass fields (defaults, help text and limits from the field metadata)."""

from __future__ import annotations

from typing import Any

import streamlit as st

from engine.unlearning import METHODS, get_method, hyperparameters


def method_form(key: str, dataset: str, current: dict[str, Any], tuned: bool = True) -> dict[str, Any]:
    """Inputs for every hyperparameter of ``key``; returns the typed values that differ from the defaults.

    ``current`` holds the values chosen so far (typed, or strings from a shared address); the method's dataclass
    converts them, so a value that does not fit its field is an error here, before anything trains.
    """
    base = get_method(key, dataset=dataset if tuned else None)
    start = get_method(key, dataset=dataset if tuned else None, **current)
    start.validate()
    overrides: dict[str, Any] = {}
    cols = st.columns(3)
    for i, f in enumerate(hyperparameters(key)):
        name, default, value = f["name"], getattr(base, f["name"]), getattr(start, f["name"])
        wkey = f"hp_{key}_{name}"
        col = cols[i % 3]
        if isinstance(default, bool):
            got = col.checkbox(name, value=bool(value), help=f["help"], key=wkey)
        elif "choices" in f:
            got = col.selectbox(name, f["choices"], index=list(f["choices"]).index(value), help=f["help"], key=wkey)
        elif isinstance(default, int):
            got = col.number_input(name, value=int(value), min_value=int(f.get("min", 0)),
                                   max_value=int(f.get("max", 10**6)), step=1, help=f["help"], key=wkey)
        else:
            got = col.number_input(name, value=float(value), min_value=float(f.get("min", 0.0)),
                                   max_value=float(f.get("max", 1e6)), format="%.6g", help=f["help"], key=wkey)
        if got != default:
            overrides[name] = got
    return overrides


def reset_forms() -> None:
    """Forget every hyperparameter widget's value and the chosen overrides (the defaults changed under them)."""
    for k in [k for k in st.session_state if str(k).startswith("hp_")]:
        del st.session_state[k]
    st.session_state["audit_overrides"] = {}


def method_label(key: str) -> str:
    cls = METHODS[key]
    return f"{cls.label}" + (" (needs D_R)" if cls.needs_remain else "")
