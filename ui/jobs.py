"""Submitting background jobs from a page and polling them without freezing it."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import streamlit as st

from engine.jobs import CANCELLED, FAILED, Job

from . import cached


def job_for(key: str) -> Job | None:
    job_id = st.session_state.get(f"job_{key}")
    return cached.jobs().get(job_id) if job_id else None


def running(key: str) -> Job | None:
    """The session's last job for ``key``; while it is queued or running, its progress is shown and the page
    stops here (the job's end reruns it)."""
    job = job_for(key)
    if job is not None and job.active:
        watch(job)
        st.stop()
    return job


def submit(key: str, label: str, fn: Callable[..., Any]) -> Job:
    job = cached.jobs().submit(label, fn)
    st.session_state[f"job_{key}"] = job.id
    return job


def _fmt_eta(seconds: float | None) -> str:
    if seconds is None:
        return "estimating…"
    return f"about {seconds:.0f} s left" if seconds < 120 else f"about {seconds / 60:.1f} min left"


def watch(job: Job) -> None:
    """Live progress with ETA and a Cancel button; reruns the page once the job ends."""

    @st.fragment(run_every=0.5)
    def _poll() -> None:
        j = cached.jobs().get(job.id)
        if j is None or not j.active:
            st.rerun()
            return
        if j.state == "queued":
            st.info(f"{j.label}: waiting for the worker (another job is running)…")
        else:
            m = j.metrics
            shown = [f"{k} {v:.4g}" for k, v in m.items()
                     if k in ("epoch", "loss", "acc", "eps") and isinstance(v, (int, float))]
            detail = (" · " + " · ".join(shown)) if shown else ""
            st.progress(j.fraction,
                        text=f"{j.label} — {j.stage}: {j.done}/{j.total} steps{detail} · {_fmt_eta(j.eta_seconds)}")
        if st.button("Cancel", key=f"cancel_{j.id}", help="stops at the next batch; nothing half-done is stored"):
            j.cancel()
            st.toast("Cancelling…")

    _poll()


def show_outcome(job: Job | None) -> None:
    """A message for a job that ended without a result (failed or cancelled)."""
    if job is None:
        return
    if job.state == FAILED:
        st.error(f"{job.label} failed: {job.error}", icon=":material/error:")
    elif job.state == CANCELLED:
        st.warning(f"{job.label} was cancelled; nothing was stored.")
