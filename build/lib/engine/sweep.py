"""Grids of audits as Ray tasks; the driver owns the store (issue 10 item 4).

:func:`run_grid` takes audit requests (:class:`engine.run.AuditRequest`: a spec, methods with their
hyperparameters, seeds, setting, K) — a user's sweep, ``engine tune``'s grid, ``engine reproduce``'s protocol —
and returns one :class:`~engine.audit.compare.Comparison` per request, as :meth:`Runner.compare` would, with the
training spread over Ray workers.

**Plan.** Every request is broken into the artifacts its comparison needs, as nodes of a small graph; equal
nodes of different requests are one node:

* ``original`` of a seed's spec — the model and its signals;
* ``retrain`` of a seed's spec and forget draw — the model and its signals;
* ``references`` of a spec's data / model / recipe and K — all K models in one task (an ensemble trains them
  together, :mod:`engine.ensemble`);
* ``unlearned`` of (seed's spec, method with its hyperparameters, setting) — the model, its signals and what
  the method computed on the way (AMUN's D_A). Depends on its ``original``; a method that uses the stored
  adversarial set (``requires`` ``"adversarial"``) also on the first such node of the same original, so D_A is
  computed once per original and shipped to the others.

**Execution.** A node is *held* when a store-only runner (``Runner(build=False)``) finds all its artifacts in
the driver's store: it is skipped, so a repeated sweep runs no task. Otherwise, once its dependencies are held,
it becomes a Ray task (``num_cpus=1``; ``num_gpus=gpus_per_task`` where the cluster has GPUs) whose arguments
are the bytes of the artifacts it needs (:meth:`Store.export`; ``ray.put`` once each). The worker runs the
ordinary runner on a private temporary store (its own ``UNLEARN_HOME``), and returns every artifact it created
as bytes; the driver imports them (:meth:`Store.import_bytes`: names and checksums verified, atomic). No
worker reads or writes the driver's store, so a cluster needs no shared file system (data files excepted:
torchvision sets must exist at ``data_dir`` on every node; digits ships with scikit-learn). Finally the driver
runs :meth:`Runner.compare` per request on its own store: everything is held, so that only loads, audits
(pure functions of the signals) and records the comparison.

**Cancel.** The ``cancel`` token (or Ctrl-C) calls ``ray.cancel(ref, force=True)`` on every task still queued
or running and waits until Ray reports each one cancelled; results that arrived before are kept (each imported
artifact is complete), nothing is imported afterwards, so the driver's store never holds a partial artifact
and a rerun resumes where the sweep stopped.

Progress: a tqdm bar over tasks with an ETA in a terminal (silent otherwise), and
``progress("sweep", done, total, {"executed", "skipped", "running"})`` for callers such as a dashboard job.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import torch

from . import config
from .audit.compare import Comparison
from .errors import Cancelled, UnlearnError
from .run import HELDOUT, AuditRequest, NotStored, Runner
from .store import Store
from .training import CancelToken, Progress
from .unlearning import Unlearner

#: GPU share of one task where the cluster has GPUs (four small tasks per GPU).
GPUS_PER_TASK = 0.25
#: Worker homes left behind by force-cancelled tasks are removed by later tasks after this many seconds.
STALE_HOME_S = 24 * 3600


# ------------------------------------------------------------------------------------------------ the plan
@dataclass(eq=False)
class Node:
    """One task of the grid: what to build (``kind``) for which spec, and what it waits for."""

    kind: str  # original | retrain | references | unlearned
    spec: config.RunSpec
    k: int = 0
    method: Unlearner | None = None
    use_remain: bool = True
    replica: int = 0  # retrain replica (Runner.retrain)
    deps: list[Node] = field(default_factory=list)
    id: str = ""

    def __post_init__(self) -> None:
        parts: dict[str, Any] = {"node": self.kind, "data": self.spec.data, "model": self.spec.model,
                                 "train": self.spec.train}
        if self.kind != "references":
            parts["seed"] = self.spec.seed
        if self.kind in ("retrain", "unlearned"):
            parts.update(forget=self.spec.forget, forget_seed=self.spec.forget_seed)
        if self.kind == "retrain" and self.replica:
            parts["replica"] = self.replica
        if self.kind == "references":
            parts["k"] = self.k
        if self.method is not None:
            parts.update(method=self.method.key, params=self.method.params(), use_remain=self.use_remain)
        self.id = config.stable_hash(parts)

    @property
    def label(self) -> str:
        s = self.spec
        if self.kind == "references":
            return f"references K={self.k}"
        if self.kind == "original":
            return f"original seed {s.seed}"
        what = self.method.key if self.method is not None else \
            ("retrain" + (f" #{self.replica}" if self.replica else ""))
        return f"{what} seed {s.seed} forget {s.forget}" + ("" if self.use_remain else " (D_F only)")

    def run(self, runner: Runner) -> None:
        """Build (or, on a store-only runner, find) every artifact of this node; raises NotStored if absent."""
        if self.kind == "references":
            runner.references(self.spec, self.k)
            return
        prep = runner.prepare(self.spec)
        if self.kind == "original":
            runner.signals(runner.original(self.spec), prep)
        elif self.kind == "retrain":
            runner.signals(runner.retrain(prep, replica=self.replica), prep)
        else:
            original = runner.original(self.spec)
            runner.signals(runner.unlearned(self.method, prep, original, use_remain=self.use_remain), prep)


def _uses_adversarial(method) -> bool:
    """The method trains on a stored D_A: of the original model ("adversarial"), or of the model it is given
    ("current_adversarial", AMUN-A) — in an audit that is the original model too, so both share its sets."""
    return bool({"adversarial", "current_adversarial"} & set(method.requires))


def plan(requests: Sequence[AuditRequest]) -> list[Node]:
    """The nodes of ``requests`` (merged where equal), dependencies before dependants."""
    nodes: dict[str, Node] = {}

    def add(node: Node) -> Node:
        return nodes.setdefault(node.id, node)

    adversarial_lead: dict[str, Node] = {}
    for req in requests:
        if req.original:  # the grid trains every original; an uploaded one lives in the driver's store only
            raise UnlearnError("a sweep trains its original models; audit an uploaded model with Runner.compare "
                               "(the Run page without Ray, or `engine audit --weights`)")
        add(Node("references", req.reference_spec(req.spec), k=req.k))
        for seed in req.seeds:
            # as Runner.compare draws each seed (a held-out request: its forget draws from seed + HELDOUT)
            spec = replace(req.spec, seed=seed, forget_seed=seed + (HELDOUT if req.heldout else 0))
            original = add(Node("original", spec))
            for r in range(req.retrains):
                add(Node("retrain", spec, replica=r))
            for method in req.methods:
                node = add(Node("unlearned", spec, method=method, use_remain=req.use_remain, deps=[original]))
                if _uses_adversarial(method):
                    lead = adversarial_lead.setdefault(original.id, node)
                    if lead is not node and lead not in node.deps:
                        node.deps.append(lead)
    return list(nodes.values())


# ------------------------------------------------------------------------------------------------ the worker
def execute(node: Node, data_dir: str | None, reference_training: str, *inputs: bytes) -> dict:
    """Run one node on a private temporary store (a Ray task body; plain Python, testable without Ray).

    Imports ``inputs`` (exported artifacts), runs the runner, and returns the artifacts it created as bytes
    with where and how it ran (``pid``, ``home``, ``seconds``).
    """
    base = Path(tempfile.gettempdir()) / "unlearn-sweep-workers"
    base.mkdir(exist_ok=True)
    _sweep_stale(base)
    home = base / f"{os.getpid()}-{uuid.uuid4().hex[:12]}"
    home.mkdir()
    previous = os.environ.get("UNLEARN_HOME")
    os.environ["UNLEARN_HOME"] = str(home)  # anything that looks at UNLEARN_HOME sees the private home
    try:
        store = Store(home / "store")
        for blob in inputs:
            store.import_bytes(blob)
        given = {(a.manifest["kind"], a.key) for a in store.list()}
        t0 = time.perf_counter()
        node.run(Runner(store, data_dir=data_dir, reference_training=reference_training))
        seconds = time.perf_counter() - t0
        new = [(a.manifest["kind"], a.key) for a in store.list() if (a.manifest["kind"], a.key) not in given]
        return {"artifacts": [store.export(kind, key) for kind, key in new], "pid": os.getpid(), "home": str(home),
                "seconds": seconds, "device": "cuda" if torch.cuda.is_available() else "cpu"}
    finally:
        if previous is None:
            os.environ.pop("UNLEARN_HOME", None)
        else:
            os.environ["UNLEARN_HOME"] = previous
        shutil.rmtree(home, ignore_errors=True)


def _sweep_stale(base: Path) -> None:
    now = time.time()
    for d in base.iterdir():
        try:
            if now - d.stat().st_mtime > STALE_HOME_S:
                shutil.rmtree(d, ignore_errors=True)
        except OSError:
            continue


# ------------------------------------------------------------------------------------------------ the driver
@dataclass
class SweepStats:
    """What a :func:`run_grid` call did (filled in as it goes)."""

    tasks: int = 0  # nodes in the plan
    executed: int = 0  # ran as Ray tasks and imported
    skipped: int = 0  # already held by the driver's store
    cancelled: int = 0  # stopped by a cancel (Ray reported them cancelled)
    imported: int = 0  # artifacts written into the driver's store
    failed: dict[str, str] = field(default_factory=dict)  # on_error="skip": node label -> error (and dependants)
    workers: list[dict] = field(default_factory=list)  # per executed task: label, pid, home, seconds, device
    seconds: float = 0.0


def _local(address: str | None) -> bool:
    """A Ray started on this machine: no address given (and none in ``RAY_ADDRESS``, which ray.init honours)."""
    return address in (None, "", "local") and not os.environ.get("RAY_ADDRESS")


def _runtime_env(address: str | None) -> dict:
    """Make ``engine`` importable in the workers: the checkout on PYTHONPATH locally, shipped to a cluster."""
    pkg = Path(__file__).resolve().parent
    if _local(address):
        path = os.pathsep.join(p for p in (str(pkg.parent), os.environ.get("PYTHONPATH", "")) if p)
        return {"env_vars": {"PYTHONPATH": path}}
    return {"py_modules": [str(pkg)]}


def run_grid(requests: Sequence[AuditRequest], store: Store | None = None, *, address: str | None = None,
             progress: Progress | None = None, cancel: CancelToken | None = None, data_dir: str | None = None,
             reference_training: str = "auto", gpus_per_task: float = GPUS_PER_TASK,
             stats: SweepStats | None = None, num_cpus: int | None = None,
             on_error: str = "raise") -> list[Comparison | None]:
    """Every request's comparison, the training done as Ray tasks; the driver's ``store`` receives every artifact.

    Args:
        requests: the grid (build each with :meth:`AuditRequest.build`; they may share seeds, specs, methods).
        store: the driver's store (default ``$UNLEARN_HOME/store``).
        address: a Ray cluster (``ray://host:10001`` or ``auto``; default ``$RAY_ADDRESS``, else a local Ray
            started here and shut down at the end) unless Ray is already initialised in this process.
        progress: ``progress("sweep", done, total, metrics)`` per finished or skipped task.
        cancel: set it to stop the sweep: running and queued tasks are force-cancelled; raises :class:`Cancelled`.
        data_dir: where the workers find data files (the same path on every node).
        reference_training: ``auto`` | ``ensemble`` | ``single`` (see :class:`Runner`).
        gpus_per_task: GPU share per task where the cluster has GPUs.
        stats: filled with what ran, what was skipped and where (tests, the CLI's summary).
        num_cpus: CPUs of a local Ray started here (default: all).
        on_error: ``raise`` — a failed task (e.g. a diverged learning rate) cancels the sweep and raises
            :class:`UnlearnError`; ``skip`` — the failure and everything that depends on it are recorded in
            ``stats.failed``, the rest runs, and the requests that needed it get ``None`` (a tuning grid).
    """
    if on_error not in ("raise", "skip"):
        raise UnlearnError(f"on_error must be 'raise' or 'skip', got {on_error!r}")
    import ray

    store = store or Store()
    stats = stats if stats is not None else SweepStats()
    t0 = time.perf_counter()
    nodes = plan(requests)
    stats.tasks = len(nodes)
    owns = not ray.is_initialized()
    if owns:
        kw: dict[str, Any] = {"include_dashboard": False, "log_to_driver": False}
        if _local(address):
            kw["num_cpus"] = num_cpus
        ray.init(address=None if address in (None, "", "local") else address, runtime_env=_runtime_env(address),
                 **kw)
    try:
        failed = _drive(ray, nodes, store, stats, progress=progress, cancel=cancel, data_dir=data_dir,
                        reference_training=reference_training, gpus_per_task=gpus_per_task, address=address,
                        on_error=on_error)
        runner = Runner(store, data_dir=data_dir, device=torch.device("cpu"), reference_training=reference_training,
                        cancel=cancel)
        out = [None if {n.id for n in plan([req])} & failed else runner.compare(req) for req in requests]
    finally:
        if owns:
            ray.shutdown()
        stats.seconds = time.perf_counter() - t0
    return out


def _drive(ray, nodes: list[Node], store: Store, stats: SweepStats, *, progress: Progress | None,
           cancel: CancelToken | None, data_dir: str | None, reference_training: str, gpus_per_task: float,
           address: str | None, on_error: str) -> set[str]:
    """Run the plan; returns the ids of the nodes that failed (``on_error="skip"``) or depend on one."""
    from tqdm import tqdm

    gpus = gpus_per_task if ray.cluster_resources().get("GPU", 0) > 0 else 0
    task = ray.remote(execute).options(num_cpus=1, num_gpus=gpus, max_retries=0,
                                       runtime_env=_runtime_env(address))
    reader = Runner(store, data_dir=data_dir, device=torch.device("cpu"), build=False,
                    reference_training=reference_training)
    done: set[str] = set()
    failed: set[str] = set()
    waiting = list(nodes)
    pending: dict[Any, Node] = {}
    shipped: dict[tuple[str, str], Any] = {}
    bar = tqdm(total=len(nodes), desc="sweep", unit="task", disable=None, file=sys.stderr, dynamic_ncols=True)

    def report() -> None:
        bar.set_postfix(running=len(pending), skipped=stats.skipped, failed=len(failed), refresh=False)
        bar.update(len(done) + len(failed) - bar.n)
        if progress:
            progress("sweep", len(done) + len(failed), len(nodes), {"executed": stats.executed,
                                                                    "skipped": stats.skipped,
                                                                    "running": len(pending), "failed": len(failed)})

    def fail(node: Node, why: str) -> None:
        """Record a failed node and drop everything waiting on it (transitively)."""
        failed.add(node.id)
        stats.failed[node.label] = why
        for other in [n for n in waiting if any(d.id == node.id for d in n.deps)]:
            waiting.remove(other)
            fail(other, f"needs '{node.label}', which failed")

    def held(node: Node) -> bool:
        try:
            node.run(reader)
        except NotStored:
            return False
        return True

    def inputs(node: Node) -> list:
        """ObjectRefs of the driver-side artifacts the node's worker needs (its original, stored D_A sets)."""
        if node.kind != "unlearned":
            return []
        original = reader.original(node.spec)
        wanted = [("original", original.key)]
        if _uses_adversarial(node.method):
            wanted += [("adversarial", a.key) for a in store.list("adversarial") if a.manifest.get("model") ==
                       original.key]
        for item in wanted:
            if item not in shipped:
                shipped[item] = ray.put(store.export(*item))
        return [shipped[item] for item in wanted]

    def stop_all() -> None:
        refs = list(pending)
        for ref in refs:
            ray.cancel(ref, force=True)
        for ref in refs:
            try:
                ray.get(ref, timeout=60)
            except (ray.exceptions.TaskCancelledError, ray.exceptions.WorkerCrashedError):
                stats.cancelled += 1
            except Exception:  # noqa: BLE001 - finished or failed meanwhile: not imported either way
                pass
        pending.clear()

    try:
        while waiting or pending:
            ready_nodes = [n for n in waiting if all(d.id in done for d in n.deps)]
            while ready_nodes:  # a held node frees its dependants at once: repeat until nothing new is ready
                for node in ready_nodes:
                    waiting.remove(node)
                    if held(node):
                        done.add(node.id)
                        stats.skipped += 1
                    else:
                        pending[task.remote(node, data_dir, reference_training, *inputs(node))] = node
                ready_nodes = [n for n in waiting if all(d.id in done for d in n.deps)]
            report()
            if not pending:
                if waiting:
                    raise UnlearnError("sweep: tasks wait for dependencies that never finish (a bug in the plan)")
                break
            if cancel is not None and cancel.cancelled:
                raise Cancelled("the sweep was cancelled; finished tasks are in the store")
            ready, _ = ray.wait(list(pending), num_returns=1, timeout=0.2)
            for ref in ready:
                node = pending.pop(ref)
                try:
                    result = ray.get(ref)
                except ray.exceptions.RayTaskError as exc:
                    cause = exc.cause if getattr(exc, "cause", None) is not None else exc
                    if on_error == "raise":
                        raise UnlearnError(f"sweep task '{node.label}' failed: {cause}") from None
                    fail(node, f"{type(cause).__name__}: {cause}")
                    continue
                for blob in result["artifacts"]:
                    store.import_bytes(blob)
                    stats.imported += 1
                stats.executed += 1
                stats.workers.append({"label": node.label, "kind": node.kind, "pid": result["pid"],
                                      "home": result["home"], "seconds": result["seconds"],
                                      "device": result["device"]})
                if not held(node):
                    raise UnlearnError(f"sweep task '{node.label}' returned without its artifacts")
                done.add(node.id)
            report()
    except BaseException:  # a cancel, Ctrl-C or a failed task: stop everything still queued or running
        stop_all()
        raise
    finally:
        bar.close()
    return failed


__all__ = ["GPUS_PER_TASK", "Node", "SweepStats", "execute", "plan", "run_grid"]
