"""The settings of the pages of AMUN's own analyses (Continual requests, AMUN's theorem) outside those pages: the
Report page adds their sections when their results for the session's settings are stored, and the Forget-set sizes
page starts from the theorem page's method."""

from __future__ import annotations

import streamlit as st

from engine.continual import DEFAULT_METHODS, REQUESTS, SIZE, ContinualRequest
from engine.errors import UnlearnError

from . import cached

#: the Continual page's defaults (its widgets and the address use the same)
DEFAULT_SEEDS = [0, 1, 2]


def _setting(name: str, default, convert=str):
    """A view setting of those pages: the session's (set by the page's widget), else the address's, else ``default``."""
    s = st.session_state
    if f"view_{name}" in s:
        return s[f"view_{name}"]
    raw = st.query_params.get(name)
    if raw is None:
        return default
    try:
        return convert(raw)
    except ValueError:
        return default


def continual_request(spec, audit: dict) -> ContinualRequest | None:
    """The Continual page's request for ``spec`` and the Run page's ``audit`` settings (None when invalid)."""
    def ints(raw: str) -> list[int]:
        return [int(x) for x in raw.split(",") if x.strip()]

    methods = _setting("cmethods", list(DEFAULT_METHODS), lambda r: [m for m in r.split(",") if m])
    try:
        return ContinualRequest.build(
            spec, methods, _setting("cseeds", DEFAULT_SEEDS, ints) or [0],
            requests=int(_setting("creq", REQUESTS, int)),
            size=float(_setting("csize", int(SIZE * 100), int)) / 100,
            overrides={m: v for m, v in audit["overrides"].items() if m in methods}, tuned=audit["tuned"],
            use_remain=audit["use_remain"], k=audit["k"])
    except UnlearnError:
        return None


def theorem_method(unlearned: list[str]) -> str:
    """The AMUN's-theorem page's unlearned method (its ``tmethod`` view setting) among ``unlearned``; AMUN by
    default, else the first."""
    default = "amun" if "amun" in unlearned else (unlearned or [""])[0]
    method = _setting("tmethod", default)
    return method if method in unlearned else default


def stored_sections(spec, audit: dict, cmp, cmp_key: str) -> tuple[list, list[str]]:
    """The report sections whose results are stored for the session's settings: the continual run of the Continual
    page, and the Theorem 4.1 view of the AMUN's-theorem page's method (AMUN by default). Returns (sections, keys)."""
    from engine import report_amun

    sections, keys = [], []
    req = continual_request(spec, audit)
    try:
        result = cached.continual(req) if req is not None else None
    except UnlearnError:
        result = None
    if result is not None:
        sections.append(report_amun.continual_section(result))
        keys.append(f"continual:{req.key()}")
    unlearned = [m for m in cmp.methods if m not in ("original", "retrain")]
    method = theorem_method(unlearned)
    if method in unlearned and cmp.has_retrain:  # the theorem's view needs Retrain (transfer, forgotten-ness)
        view = cached.theorem(cmp_key, cmp, method)
        if view is not None:
            sections.append(report_amun.theorem_section(view))
            keys.append(f"theorem:{method}")
    return sections, keys
