"""Background execution: a single-worker queue of jobs with progress, ETA and cancellation.

A page submits a job and polls :class:`Job` snapshots; the work runs in a ``concurrent.futures`` thread
pool of one worker (PyTorch releases the GIL in its kernels, so the page stays responsive). One worker at a
time keeps a 2-core machine from oversubscribing; queued jobs wait their turn, and
:meth:`JobManager.place` says how many are ahead of one and how long they still need (from their progress).
Cancelling sets the job's :class:`CancelToken`, which every training loop checks each batch; a cancelled job
stores nothing.

Jobs with a ``key`` (what they compute, e.g. a request's hash) are shared: submitting a key that is already
queued or running returns that job, so two sessions that ask for the same work wait for one job. Each session
is an *owner*; :meth:`JobManager.cancel` with an owner only stops the job when no other owner is left.
"""

from __future__ import annotations

import itertools
import threading
import time
import traceback
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from .errors import Cancelled, UnlearnError
from .progress import overall_eta
from .training import CancelToken

QUEUED, RUNNING, DONE, FAILED, CANCELLED = "queued", "running", "done", "failed", "cancelled"


@dataclass
class Job:
    id: int
    label: str
    fn: Callable[..., Any]
    state: str = QUEUED
    stage: str = ""
    done: int = 0
    total: int = 0
    metrics: dict = field(default_factory=dict)
    result: Any = None
    error: str | None = None
    submitted: float = field(default_factory=time.time)
    started: float | None = None
    finished: float | None = None
    cancel_token: CancelToken = field(default_factory=CancelToken)
    key: str | None = None
    owners: set[str] = field(default_factory=set)
    _stage_started: float = 0.0

    # called from the worker thread
    def progress(self, stage: str, done: int, total: int, metrics: dict) -> None:
        if stage != self.stage:
            self._stage_started = time.time()
        self.stage, self.done, self.total, self.metrics = stage, done, total, dict(metrics)

    @property
    def fraction(self) -> float:
        return min(1.0, self.done / self.total) if self.total else 0.0

    @property
    def eta_seconds(self) -> float | None:
        """Remaining seconds of the current stage, extrapolated from its rate so far."""
        if self.state != RUNNING or not self.total or not self.done:
            return None
        elapsed = time.time() - self._stage_started
        return elapsed / self.done * (self.total - self.done)

    @property
    def overall_eta_seconds(self) -> float | None:
        """Remaining seconds of the whole job where its runner reports a plan (:mod:`engine.progress`): the work
        still to do at the rate of the work done since the job started; else the current stage's ETA."""
        if self.state != RUNNING or self.started is None:
            return None
        eta = overall_eta(self.metrics, time.time() - self.started)
        return self.eta_seconds if eta is None else eta

    @property
    def finished_ok(self) -> bool:
        return self.state == DONE

    @property
    def active(self) -> bool:
        return self.state in (QUEUED, RUNNING)

    def cancel(self) -> None:
        self.cancel_token.cancel()


class Place(NamedTuple):
    """Where a job stands in the queue: ``ahead`` active jobs before it (the running one included), ``known_s``
    seconds they still need by their progress so far, and ``unknown`` of them that have not reported any yet
    (so ``known_s`` is then a lower bound)."""

    ahead: int
    known_s: float
    unknown: int


class JobManager:
    """Runs submitted callables one at a time in a worker thread (a one-worker ``ThreadPoolExecutor``)."""

    def __init__(self) -> None:
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="unlearn-jobs")
        self._jobs: dict[int, Job] = {}
        self._ids = itertools.count(1)
        self._lock = threading.Lock()

    def submit(self, label: str, fn: Callable[..., Any], *, key: str | None = None, owner: str | None = None) -> Job:
        """``fn(progress=…, cancel=…)`` runs in the worker; its return value becomes ``job.result``.

        With a ``key``, an active job of the same key is returned instead of queuing the work twice (``owner``
        joins it).
        """
        with self._lock:
            job = self._active(key) if key is not None else None
            if job is None:
                job = Job(next(self._ids), label, fn, key=key)
                self._jobs[job.id] = job
                self._pool.submit(self._run, job)  # under the lock: the queue's order is the order of the ids
            if owner is not None:
                job.owners.add(owner)
            return job

    def get(self, job_id: int) -> Job | None:
        return self._jobs.get(job_id)

    def jobs(self) -> list[Job]:
        """Every job submitted so far, oldest first."""
        with self._lock:
            return list(self._jobs.values())

    def find(self, key: str) -> Job | None:
        """The queued or running job of ``key`` (whoever submitted it), else None."""
        with self._lock:
            return self._active(key)

    def _active(self, key: str | None) -> Job | None:
        return next((j for j in self._jobs.values() if j.key == key and j.active and not j.cancel_token.cancelled),
                    None)

    def join(self, job: Job, owner: str) -> None:
        with self._lock:
            job.owners.add(owner)

    def cancel(self, job: Job, owner: str | None = None) -> bool:
        """Stop ``job`` (at its next batch; a queued one never starts). With ``owner``, that owner leaves the job
        and it stops only when no other owner is waiting for it. Returns whether the job was told to stop."""
        with self._lock:
            if owner is not None:
                job.owners.discard(owner)
                if job.owners:
                    return False
            job.cancel()
            return True

    def place(self, job: Job) -> Place:
        """How many active jobs are ahead of ``job`` and how long they still need, from their progress."""
        with self._lock:
            ahead = [j for j in self._jobs.values()
                     if j.id < job.id and j.active and not (j.state == QUEUED and j.cancel_token.cancelled)]
        left = [j.overall_eta_seconds for j in ahead]  # None: queued, or no progress yet
        return Place(len(ahead), float(sum(s for s in left if s is not None)), sum(s is None for s in left))

    def wait(self, job: Job, timeout: float | None = None) -> Job:
        deadline = None if timeout is None else time.time() + timeout
        while job.active and (deadline is None or time.time() < deadline):
            time.sleep(0.02)
        return job

    @staticmethod
    def _run(job: Job) -> None:
        if job.cancel_token.cancelled:
            job.state, job.finished = CANCELLED, time.time()
            return
        job.state, job.started = RUNNING, time.time()
        job._stage_started = job.started
        try:
            job.result = job.fn(progress=job.progress, cancel=job.cancel_token)
            job.state = DONE
        except Cancelled:
            job.state, job.error = CANCELLED, "cancelled; nothing was stored"
        except UnlearnError as exc:
            job.state, job.error = FAILED, str(exc)
        except Exception as exc:  # noqa: BLE001 - reported on the page, the worker lives on
            job.state = FAILED
            job.error = f"{type(exc).__name__}: {exc}\n{traceback.format_exc(limit=5)}"
        finally:
            job.finished = time.time()
