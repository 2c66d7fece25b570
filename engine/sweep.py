"""Grids of audits as Ray tasks; the driver owns the store (issue 10 item 4).

:func:`run_grid` takes audit requests (:class:`engine.run.AuditRequest`: a spec, methods with their
hyperparameters, seeds, setting, K) — a user's sweep, ``engine tune``'s grid, ``engine reproduce``'s protocol —
and returns one :class:`~engine.audit.compare.Comparison` per request, as :meth:`Runner.compare` would, with the
training spread over Ray workers.

**Plan.** Every request is broken into its audit's pieces (:func:`engine.plan.pieces`, the one place the flow is
listed); equal pieces of different requests are one piece (:func:`engine.plan.merge`), and each piece but a
signals piece is one task (a model's signals run in its task):

* ``original`` of a seed's spec — the model and its signals (shared by every forget spec);
* ``retrain`` of a seed's spec, forget draw and replica — the model and its signals;
* ``references`` of a spec's data / model / recipe and K — all K models in one task (an ensemble trains them
  together, :mod:`engine.ensemble`);
* ``adversarial`` — D_A of a seed's forget rows under its original, for the methods that read it (AMUN and its
  variants, at their settings): searched once and shipped to them;
* ``unlearned`` of (seed's spec, method with its hyperparameters, setting) — the model and its signals; it waits
  for its ``original`` and its D_A.

**Execution.** A node is *held* when the driver's store has its artifacts (:func:`engine.plan.held`, by store
key): it is skipped, so a repeated sweep runs no task. Otherwise, once its dependencies are held,
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

**Loopback.** A Ray started here listens on 127.0.0.1 only (``_node_ip_address`` and, read when ``ray`` is
imported, ``RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0``, without which Ray swaps 127.0.0.1 for the host's network address);
:func:`start_local_ray` refuses a Ray that bound elsewhere. A head started with ``ray start --head
--node-ip-address 127.0.0.1`` (same variable) is reached with ``address="127.0.0.1:PORT"``. A cluster of several
machines needs the network: set ``RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=1`` there.

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
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from . import config
from .audit.compare import Comparison
from .errors import Cancelled, UnlearnError
from .kinds import Stage, needs_adversarial
from .plan import AuditPiece, PieceKind, build, held, merge, pieces, store_key
from .run import AuditRequest, Runner
from .store import Store
from .training import CancelToken, Progress

#: GPU share of one task where the cluster has GPUs (four small tasks per GPU).
GPUS_PER_TASK = 0.25
#: Worker homes left behind by force-cancelled tasks are removed by later tasks after this many seconds.
STALE_HOME_S = 24 * 3600


# ------------------------------------------------------------------------------------------------ the plan
@dataclass(eq=False)
class Node:
    """One task of the grid: a piece of the audits' plan (:mod:`engine.plan`) — with its signals, for a model — and
    the tasks it waits for."""

    piece: AuditPiece
    signals: AuditPiece | None = None  # the model's signals, computed in the same task (no model shipped back)
    deps: list[Node] = field(default_factory=list)

    @property
    def id(self) -> str:
        return self.piece.id

    @property
    def kind(self) -> PieceKind:
        return self.piece.kind

    @property
    def spec(self) -> config.RunSpec:
        return self.piece.spec

    @property
    def label(self) -> str:
        return self.piece.label

    def run(self, runner: Runner) -> None:
        """Build (or, on a store-only runner, find) every artifact of this node; raises NotStored if absent."""
        built: dict[str, Any] = {}
        build(runner, self.piece, built)
        if self.signals is not None:
            build(runner, self.signals, built)

    def held(self, reader: Runner, keys: dict[str, Any]) -> bool:
        """The store of ``reader`` holds the piece and its signals (by store key; nothing is loaded)."""
        return held(reader, self.piece, keys) and (self.signals is None or held(reader, self.signals, keys))


def plan(requests: Sequence[AuditRequest]) -> list[Node]:
    """The tasks of ``requests``: their plans (:func:`engine.plan.pieces`) merged where equal, every model piece one
    task with its signals, dependencies before dependants. D_A is a task of its own that the methods reading it
    wait for, so it is searched once per original model and shipped to them."""
    for req in requests:
        if req.original:  # the grid trains every original; an uploaded one lives in the driver's store only
            raise UnlearnError("a sweep trains its original models; audit an uploaded model with Runner.compare "
                               "(the Run page without Ray, or `engine audit --weights`)")
    merged = merge([pieces(req) for req in requests])
    signals = {p.deps[0].id: p for p in merged if p.kind == PieceKind.SIGNALS}
    nodes: dict[str, Node] = {}
    for p in merged:
        if p.kind != PieceKind.SIGNALS:
            nodes[p.id] = Node(p, signals.get(p.id), [nodes[d.id] for d in p.deps])
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


#: the address a Ray started here listens on
LOOPBACK = "127.0.0.1"
# Ray reads this when it is imported: without it, 127.0.0.1 is replaced by the host's network address
os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")


def start_local_ray(num_cpus: int | None = None, runtime_env: dict | None = None):
    """``ray.init`` of a Ray on this machine bound to :data:`LOOPBACK`; refuses (and shuts it down) if its node
    came up on another address. Returns the context (its ``address_info`` names the session's logs)."""
    import ray

    ctx = ray.init(num_cpus=num_cpus, include_dashboard=False, log_to_driver=False, _node_ip_address=LOOPBACK,
                   runtime_env=runtime_env if runtime_env is not None else _runtime_env(None))
    bound = ctx.address_info.get("node_ip_address")
    if bound != LOOPBACK:
        ray.shutdown()
        raise UnlearnError(f"Ray bound {bound}, not {LOOPBACK}: it must talk over loopback only here (was ray "
                           "imported before engine.sweep with RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER unset?)")
    return ctx


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
             on_error: str = "raise", compare: bool = True) -> list[Comparison | None]:
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
        compare: False — only build the plans' pieces into ``store`` (every comparison ``None``): for a flow that
            reads the models itself, such as forgetting quality (:meth:`engine.quality.QualityRequest.audit_request`).
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
        if _local(address):
            start_local_ray(num_cpus)
        else:
            ray.init(address=None if address in (None, "", "local") else address, runtime_env=_runtime_env(address),
                     include_dashboard=False, log_to_driver=False)
    try:
        failed = _drive(ray, nodes, store, stats, progress=progress, cancel=cancel, data_dir=data_dir,
                        reference_training=reference_training, gpus_per_task=gpus_per_task, address=address,
                        on_error=on_error)
        if not compare:
            return [None] * len(requests)
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
    # a cluster gets the engine package at ray.init (Ray ships modules per job, never per task)
    local_env = {"runtime_env": _runtime_env(address)} if _local(address) else {}
    task = ray.remote(execute).options(num_cpus=1, num_gpus=gpus, max_retries=0, **local_env)
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
            progress(Stage.SWEEP, len(done) + len(failed), len(nodes), {"executed": stats.executed,
                                                                    "skipped": stats.skipped,
                                                                    "running": len(pending), "failed": len(failed)})

    def fail(node: Node, why: str) -> None:
        """Record a failed node and drop everything waiting on it (transitively)."""
        failed.add(node.id)
        stats.failed[node.label] = why
        for other in [n for n in waiting if any(d.id == node.id for d in n.deps)]:
            waiting.remove(other)
            fail(other, f"needs '{node.label}', which failed")

    keys: dict[str, Any] = {}

    def held(node: Node) -> bool:
        return node.held(reader, keys)

    def inputs(node: Node) -> list:
        """ObjectRefs of the driver-side artifacts the node's worker needs (its original; the D_A sets stored for
        that original, for a method that reads one)."""
        if node.kind not in (PieceKind.UNLEARNED, PieceKind.ADVERSARIAL):
            return []
        original = store_key(reader, node.piece.deps[0], keys)
        wanted = [("original", original)]
        if node.kind == PieceKind.UNLEARNED and needs_adversarial(node.piece.method.requires):
            wanted += [("adversarial", a.key) for a in store.list("adversarial") if a.manifest.get("model") ==
                       original]
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
