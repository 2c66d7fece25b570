"""Shared AppTest helpers: open a page of the dashboard the way a browser does (``app.py``'s navigation, an address's
query parameters, then the page), read its address back, wait for a background job, read a plotly figure.

    from apptest import open_page, param, poll

    at = open_page("pages/3_Confidence.py", methods="ft", seeds="0")
    at = poll(at, lambda a: a.get("plotly_chart"), "the histograms")
"""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
from streamlit.testing.v1 import AppTest

ROOT = Path(__file__).resolve().parents[1]
#: the entry point: page configuration and st.navigation; pages switched to are paths relative to it
APP = str(ROOT / "app.py")


def open_app(timeout: float = 120, **params: str) -> AppTest:
    """A fresh session (a new browser tab) on ``app.py`` with ``params`` in its address; run once (the overview)."""
    at = AppTest.from_file(APP, default_timeout=timeout)
    for key, value in params.items():
        at.query_params[key] = value
    at.run()
    assert not at.exception, at.exception
    return at


def open_page(page: str, timeout: float = 120, **params: str) -> AppTest:
    """A fresh session opening ``page`` (``"pages/3_Confidence.py"``) by an address carrying ``params``."""
    at = open_app(timeout, **params)
    at.switch_page(page).run()
    assert not at.exception, at.exception
    return at


def param(at: AppTest, key: str) -> str | None:
    """The value of ``key`` in the session's address, or None."""
    if key not in at.query_params:
        return None
    value = at.query_params[key]
    return value if isinstance(value, str) else value[0]


def poll(at: AppTest, done: Callable[[AppTest], object], what: str = "the page's result",
         seconds: float = 240) -> AppTest:
    """Rerun ``at`` (as the page's own polling does) until ``done(at)``; no exception on the way. The first rerun
    comes before the first check, so a widget value set without ``.run()`` takes effect before anything is judged."""
    deadline = time.time() + seconds
    while time.time() < deadline:
        at.run()
        assert not at.exception, at.exception
        if done(at):
            return at
        time.sleep(0.3)
    raise AssertionError(f"{what} never appeared")


def figure(at: AppTest, i: int = 0) -> dict:
    """The i-th plotly chart of the page as its JSON spec."""
    return json.loads(at.get("plotly_chart")[i].proto.spec)


def array(v) -> np.ndarray:
    """A plotly JSON array: a list, or plotly's typed array ``{"dtype": "f4", "bdata": base64}``."""
    if isinstance(v, dict) and "bdata" in v:
        return np.frombuffer(base64.b64decode(v["bdata"]), dtype=np.dtype(v["dtype"]))
    return np.asarray(v)
