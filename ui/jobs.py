"""Submitting background jobs from a page and polling them without freezing it.

Jobs are shared by key across sessions (:class:`engine.jobs.JobManager`): a session that asks for work another
session has already queued, or opens a page whose work is running, waits for that one job. The progress poll is a
fragment rerun every :data:`POLL_S` seconds; each rerun holds the GIL for a moment, which the training thread
needs for its Python side, so the poll is no faster than a person reads (and Streamlit's forced garbage collection
after every run, ``runner.postScriptGC``, is off in ``.streamlit/config.toml``: with torch, pandas and plotly
loaded one full collection took 0.35 s).
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable
from typing import Any

import streamlit as st

from engine.jobs import CANCELLED, FAILED, QUEUED, Job
from engine.progress import overall_eta, stage_label
from engine.unlearning import METHODS

from . import cached
from .text import literal

#: seconds between progress updates of a watched job
POLL_S = 1.0


def session_id() -> str:
    """This browser session's id (the owner of the jobs it submits or joins): a random id in its session state."""
    if "job_owner" not in st.session_state:
        st.session_state["job_owner"] = uuid.uuid4().hex
    return st.session_state["job_owner"]


def job_for(key: str) -> Job | None:
    """The session's job for ``key``; else the job another session is running for the same key (joined)."""
    jm = cached.jobs()
    left = st.session_state.get("jobs_left", set())  # jobs this session walked away from (others still wait)
    job_id = st.session_state.get(f"job_{key}")
    job = jm.get(job_id) if job_id and job_id not in left else None
    if job is None or not job.active:
        shared = jm.find(key)
        if shared is not None and shared.id not in left:
            jm.join(shared, session_id())
            st.session_state[f"job_{key}"] = shared.id
            return shared
    return job


def running(key: str) -> Job | None:
    """The session's last job for ``key``; while it is queued or running, its progress is shown and the page
    stops here (the job's end reruns it)."""
    job = job_for(key)
    if job is not None and job.active:
        watch(job)
        st.stop()
    return job


def submit(key: str, label: str, fn: Callable[..., Any]) -> Job:
    """Queue ``fn`` under ``key``, or join the job already queued or running for it (from any session)."""
    job = cached.jobs().submit(label, fn, key=key, owner=session_id())
    st.session_state[f"job_{key}"] = job.id
    st.session_state.setdefault("jobs_left", set()).discard(job.id)
    return job


def _fmt_s(seconds: float) -> str:
    return f"{seconds:.0f} s" if seconds < 120 else f"{seconds / 60:.1f} min"


def _fmt_eta(seconds: float | None) -> str:
    return "estimating…" if seconds is None else f"about {_fmt_s(seconds)} left"


def progress_text(job: Job) -> str:
    """A running job's line: its stage in words with the stage's steps, a few metrics, where it is in the
    whole run (piece i of n) and the ETA of the whole run where the runner reports a plan."""
    m = job.metrics
    if not job.stage or not job.total:
        return f"{job.label}: starting…"
    shown = [f"{k} {v:.4g}" for k, v in m.items() if k in ("loss", "acc", "eps") and isinstance(v, (int, float))]
    detail = (" · " + " · ".join(shown)) if shown else ""
    if "epoch" in m and job.done and job.stage != "adversarial":  # a training reports steps and its epoch
        count = f"epoch {m['epoch']}/{round(job.total * m['epoch'] / job.done)}"
    else:
        unit = "samples" if job.stage == "adversarial" else "epochs" if job.stage in METHODS else "steps"
        count = f"{job.done}/{job.total} {unit}"
    where = f" · piece {m['piece']} of {m['pieces']}" if m.get("pieces") and m.get("piece") else ""
    overall = m.get("pieces") and overall_eta(m, time.time() - (job.started or time.time())) is not None
    eta = job.overall_eta_seconds if overall else job.eta_seconds
    if overall and m["work_done"] >= m["work_total"]:  # the plan's estimate of the training work is used up
        # audits come last; a model still training (the estimate fell short) says its own stage's time left
        left = _fmt_eta(job.eta_seconds) if "epoch" in m else "models done, auditing"
    else:
        left = _fmt_eta(eta) + (" in all" if overall and eta is not None else "")
    return f"{job.label} — {stage_label(job.stage, m)}: {count}{detail}{where} · {left}"


def queue_text(job: Job) -> str:
    """``job``'s place in the queue and when it should start, from the progress of the jobs ahead."""
    place = cached.jobs().place(job)
    if place.ahead == 0:
        return f"{job.label}: starting…"
    ahead = "1 job" if place.ahead == 1 else f"{place.ahead} jobs"
    if place.unknown == place.ahead:
        eta = "no estimate yet (the job ahead has not reported progress)"
    elif place.unknown:
        eta = f"starts in more than {_fmt_s(place.known_s)} ({place.unknown} of them not started yet)"
    else:
        eta = f"starts in about {_fmt_s(place.known_s)}"
    return f"{job.label}: waiting — number {place.ahead + 1} in the queue, {ahead} ahead; {eta}."


def watch(job: Job) -> None:
    """Live progress with ETA (or the place in the queue) and a Cancel button; reruns the page once the job ends."""

    @st.fragment(run_every=POLL_S)
    def _poll() -> None:
        j = cached.jobs().get(job.id)
        if j is None or not j.active:
            st.rerun()
            return
        if j.state == QUEUED:
            st.info(queue_text(j), icon=":material/hourglass_top:")
        else:
            st.progress(j.fraction, text=progress_text(j))
        if len(j.owners) > 1:
            st.caption(f"Shared: {len(j.owners)} sessions wait for this job; it runs once for all of them.")
        if st.button("Cancel", key=f"cancel_{j.id}", help="stops at the next batch; nothing half-done is stored"):
            if cached.jobs().cancel(j, owner=session_id()):
                st.toast("Cancelling…")
            else:  # another session still waits for it: this one leaves, the job goes on
                st.session_state.setdefault("jobs_left", set()).add(j.id)
                st.toast("Left the job; it goes on for the other session(s) waiting for it.")
                st.rerun(scope="app")

    _poll()


def show_outcome(job: Job | None) -> None:
    """A message for a job that ended without a result (failed or cancelled)."""
    if job is None:
        return
    if job.state == FAILED:
        error = str(job.error or "")
        if "\n" in error:  # an unexpected error (its traceback follows): what failed, never the stack or its paths
            logged = st.session_state.setdefault("_logged_jobs", set())
            if id(job) not in logged:
                logged.add(id(job))
                logging.getLogger("ui.jobs").error("%s failed: %s", job.label, error)
            kind = error.split(":", 1)[0].strip() or "an error"
            st.error(literal(f"{job.label} failed unexpectedly ({kind}); the details are in the server's log."),
                     icon=":material/error:")
        else:
            st.error(literal(f"{job.label} failed: {error}"), icon=":material/error:")
    elif job.state == CANCELLED:
        st.warning(f"{job.label} was cancelled; nothing was stored.")
