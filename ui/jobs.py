"""Submitting background jobs from a page and polling them without freezing it.

Jobs are shared by key across sessions (:class:`engine.jobs.JobManager`): a session that asks for work another
session has already queued, or opens a page whose work is running, waits for that one job. The progress poll is a
fragment rerun every :data:`POLL_S` seconds; each rerun holds the GIL for a moment, which the training thread
needs for its Python side, so the poll is no faster than a person reads (and Streamlit's forced garbage collection
after every run, ``runner.postScriptGC``, is off in ``.streamlit/config.toml``: with torch, pandas and plotly
loaded one full collection took 0.35 s).
"""

from __future__ import annotations

import enum
import logging
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import streamlit as st

from engine import config
from engine.config import RunSpec
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


# ------------------------------------------------------------------------------------------ the pages' jobs
class Kind(enum.Enum):
    """The background jobs a page starts; the value is the job's label (what its progress line says)."""

    BASELINE = "Training original and retrain"
    HARDEST = "Finding the hardest samples"
    AUDIT = "Audit"
    YOUR_AUDIT = "Audit of your model"  # the audit of an upload: the same key as AUDIT (the same work)
    ADVERSARIAL = "Nearest adversarial examples"
    CONTINUAL = "Continual requests"
    THEOREM = "Theorem 4.1 view"
    FORGET_SIZES = "Forget-set sizes"
    QUALITY = "Forgetting quality"


@dataclass(frozen=True)
class Hardest:
    """Kind.HARDEST's request: the ``n`` hardest training samples of ``spec``'s original model by ``by``."""

    spec: RunSpec
    n: int
    by: str


@dataclass(frozen=True)
class Adversarial:
    """Kind.ADVERSARIAL's request: the nearest adversarial examples of ``rows`` (:class:`ui.images.Rows`) against
    each of ``trained`` (model key → TrainedModel), for the seed's ``prep``."""

    trained: dict
    prep: Any
    rows: Any


@dataclass(frozen=True)
class Theorem:
    """Kind.THEOREM's request: the Theorem 4.1 view of ``method`` in the comparison ``cmp`` of the audit ``req``."""

    req: Any  # AuditRequest
    cmp: Any  # Comparison
    method: str


@dataclass(frozen=True)
class ForgetSizes:
    """Kind.FORGET_SIZES's request: the audit ``req`` at every forget size of ``sizes``."""

    req: Any  # AuditRequest
    sizes: Sequence[str]


def key(kind: Kind, request: Any) -> str:
    """The job key of ``kind`` for ``request``: equal requests share one job across sessions (and the formulas are
    the ones the pages used, so a job queued before an upgrade is still found)."""
    if kind is Kind.BASELINE:
        return cached.spec_key(request)
    if kind is Kind.HARDEST:
        return f"hardest-{cached.spec_key(request.spec)}-{request.by}-{request.n}"
    if kind in (Kind.AUDIT, Kind.YOUR_AUDIT, Kind.CONTINUAL, Kind.QUALITY):
        return request.key()
    if kind is Kind.ADVERSARIAL:
        from . import images

        return config.stable_hash({"kind": "adversarial-page", "models": [tm.key for tm in request.trained.values()],
                                   "rows": [request.rows.groups[g][1].tolist() for g in images.GROUPS]})
    if kind is Kind.THEOREM:
        return config.stable_hash({"kind": "theorem-page", "audit": request.req.key(), "method": request.method})
    if kind is Kind.FORGET_SIZES:
        return config.stable_hash({"kind": "forget-sizes", "audit": request.req.key(), "sizes": list(request.sizes)})
    raise ValueError(f"unknown job kind {kind!r}")


def work(kind: Kind, request: Any, *, on_ray: bool = False) -> Callable[..., Any]:
    """The job's function ``(progress, cancel) -> result``: the store's runner with the job's callbacks, the flow of
    ``kind`` on ``request``. ``on_ray``: an audit's models as Ray tasks (:func:`engine.sweep.run_grid`)."""
    from engine.run import Runner

    store = cached.store()

    def run(progress, cancel):
        if kind is Kind.ADVERSARIAL:
            from . import images

            return images.compute_missing(request.trained, request.prep, request.rows, progress, cancel)
        if on_ray:
            from engine.sweep import run_grid

            return run_grid([request], store, progress=progress, cancel=cancel)[0]
        runner = Runner(store, progress=progress, cancel=cancel)
        if kind is Kind.BASELINE:
            return runner.baseline(request)
        if kind is Kind.HARDEST:
            return runner.hardest(request.spec, int(request.n), request.by)
        if kind in (Kind.AUDIT, Kind.YOUR_AUDIT):
            return runner.compare(request)
        if kind is Kind.CONTINUAL:
            return runner.continual(request)
        if kind is Kind.THEOREM:
            return runner.theorem(request.cmp, request.method)
        if kind is Kind.FORGET_SIZES:
            return runner.forget_sizes(request.req, list(request.sizes))
        if kind is Kind.QUALITY:
            from engine.quality import run_quality

            return run_quality(runner, request)
        raise ValueError(f"unknown job kind {kind!r}")

    if on_ray and kind not in (Kind.AUDIT, Kind.YOUR_AUDIT):
        raise ValueError(f"{kind.name} does not run on Ray")
    return run


def start(kind: Kind, request: Any, *, on_ray: bool = False, watch_it: bool = True) -> Job:
    """Queue the job of ``kind`` for ``request`` (or join the one already queued or running for it, from any
    session) and show its progress (``watch_it``); returns the job."""
    job = submit(key(kind, request), kind.value, work(kind, request, on_ray=on_ray))
    if watch_it:
        watch(job)
    return job


def find(kind: Kind, request: Any) -> Job | None:
    """The session's (or a joined) job of ``kind`` for ``request``, whatever its state; None if there is none."""
    return job_for(key(kind, request))


def running_for(kind: Kind, request: Any) -> Job | None:
    """:func:`running` for the job of ``kind`` for ``request``: while it is active the page shows its progress and
    stops here."""
    return running(key(kind, request))


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
