"""Sweeps on a real local Ray (two worker processes, each task on its own private store) — no mocks.

The two Ray tests in the default run take 45–130 s here depending on the load of the shared 2-core machine (Ray's
start ~10 s, a 15-task sweep and its rerun, the cancel ~4 s); the CLI round trip and the failure handling are
marked slow.
"""

import os
import time
from dataclasses import replace
from pathlib import Path

import pytest

from engine.errors import Cancelled
from engine.run import AuditRequest, Runner
from engine.store import Store
from engine.sweep import SweepStats, execute, plan, run_grid
from engine.training import CancelToken
from engine.unlearning import get_method


def _grid(spec, forgets=("random:0.1", "random:0.2"), seeds=(0, 1), k=2, methods=("ft", "ft", "ga")):
    """Per forget spec: FT at two learning rates and GA, one request each (tune-style: one setting per request)."""
    settings = [get_method("ft", lr=0.1), get_method("ft", lr=0.05), get_method("ga")][: len(methods)]
    return [AuditRequest(replace(spec, forget=forget), (method,), tuple(seeds), True, k)
            for forget in forgets for method in settings]


def test_plan_merges_shared_prerequisites(tiny_spec):
    nodes = plan(_grid(tiny_spec))
    kinds = [n.kind for n in nodes]
    # 1 reference set (independent of forget set and seed), 2 originals (per seed, not per forget spec),
    # 4 retrains (forget spec x seed), 12 unlearned (3 settings x 2 forget specs x 2 seeds)
    assert {k: kinds.count(k) for k in set(kinds)} == {"references": 1, "original": 2, "retrain": 4, "unlearned": 12}
    assert all(d.kind == "original" for n in nodes for d in n.deps)
    amun = [AuditRequest(tiny_spec, (get_method("amun", lr=lr),), (0,), True, 2) for lr in (0.1, 0.01, 0.001)]
    nodes = plan(amun)
    searches = [n for n in nodes if n.kind == "adversarial"]
    un = [n for n in nodes if n.kind == "unlearned"]
    assert len(searches) == 1 and [d.kind for d in searches[0].deps] == ["original"]  # D_A computed once
    assert all([d.kind for d in n.deps] == ["original", "adversarial"] and searches[0] in n.deps for n in un)
    # a tuning request: the forget sets from the held-out seeds, and every retrain replica planned
    held = plan([AuditRequest(tiny_spec, (get_method("ft"),), (0,), True, 2, retrains=3, heldout=True)])
    retrains = [n for n in held if n.kind == "retrain"]
    assert [n.piece.replica for n in retrains] == [0, 1, 2] and len({n.id for n in retrains}) == 3
    assert all(n.spec.forget_seed == n.spec.seed == 1000 and n.spec.data.tuning
               for n in held if n.kind in ("retrain", "unlearned"))
    assert all(n.spec.data.tuning for n in held if n.kind == "references")  # tuning's own reference models


def test_execute_runs_on_a_private_store_and_returns_bytes(tiny_spec, _isolated_home):
    node = next(n for n in plan(_grid(tiny_spec, forgets=("random:0.1",), seeds=(0,))) if n.kind == "original")
    out = execute(node, None, "auto")
    assert out["home"] != str(_isolated_home) and not Path(out["home"]).exists()  # private, removed after
    assert os.environ["UNLEARN_HOME"] == str(_isolated_home)  # restored
    driver = Store(_isolated_home / "store")
    kinds = sorted(driver.import_bytes(blob).manifest["kind"] for blob in out["artifacts"])
    assert kinds == ["original", "signals"]
    node.run(Runner(driver, build=False))  # the node is now held by the driver's store


@pytest.fixture(scope="module")
def local_ray():
    import ray

    from engine.sweep import start_local_ray

    start_local_ray(2)
    yield ray
    ray.shutdown()


def test_sweep_lands_everything_in_the_driver_store_and_reruns_nothing(local_ray, tiny_spec, _isolated_home):
    store = Store(_isolated_home / "store")
    reqs = _grid(tiny_spec, methods=("ft", "ft"))  # 2 forget specs x 2 FT settings x 2 seeds
    stats = SweepStats()
    calls = []
    cmps = run_grid(reqs, store, stats=stats, progress=lambda *a: calls.append(a))
    # 1 reference set + 2 originals + 4 retrains + 8 unlearned
    assert stats.tasks == 15 and stats.executed == 15 and stats.skipped == 0 and stats.cancelled == 0
    # two worker processes, every task on its own temporary store, none of them the driver's
    assert len({w["pid"] for w in stats.workers}) == 2
    homes = {w["home"] for w in stats.workers}
    assert len(homes) == 15 and str(_isolated_home) not in homes and not any(Path(h).exists() for h in homes)
    assert calls[-1][1] == calls[-1][2] == 15
    kinds = [a.manifest["kind"] for a in store.list()]
    assert {k: kinds.count(k) for k in ("original", "retrain", "unlearned", "reference", "comparison")} == \
        {"original": 2, "retrain": 4, "unlearned": 8, "reference": 2, "comparison": 4}
    assert list((store.root / ".tmp").iterdir()) == []
    for req, cmp in zip(reqs, cmps):
        assert list(cmp.rows["method"]) == ["original", "retrain", req.methods[0].key] * 2
        again = Runner(store, build=False).compare(req)  # served by the driver's store alone
        assert again.rows["ua"].tolist() == cmp.rows["ua"].tolist()
    # the same sweep again: every task is held, none runs
    stats2 = SweepStats()
    cmps2 = run_grid(reqs, store, stats=stats2)
    assert stats2.executed == 0 and stats2.skipped == 15 and stats2.imported == 0
    assert [c.rows["ft_auc"].tolist() for c in cmps2] == [c.rows["ft_auc"].tolist() for c in cmps]


def test_cancel_stops_the_tasks_and_leaves_no_partial_artifact(local_ray, tiny_spec, _isolated_home):
    store = Store(_isolated_home / "store")
    slow = replace(tiny_spec, train=replace(tiny_spec.train, epochs=150))  # a few seconds per task
    reqs = _grid(slow, forgets=("random:0.1",), seeds=(0, 1, 2))
    token, stats = CancelToken(), SweepStats()
    marks = {}

    def progress(stage, done, total, metrics):
        if metrics["executed"] >= 1 and "at" not in marks:  # the first result is in: cancel the rest
            marks["at"] = time.perf_counter()
            token.cancel()

    with pytest.raises(Cancelled):
        run_grid(reqs, store, stats=stats, cancel=token, progress=progress)
    stopped_in = time.perf_counter() - marks["at"]
    assert stats.executed >= 1 and stats.cancelled >= 1
    assert stats.executed + stats.cancelled + stats.skipped < stats.tasks  # queued ones never started either
    assert stopped_in < 30  # the force-cancel stops running tasks, it does not wait for them to finish
    before = sorted((a.manifest["kind"], a.key) for a in store.list())
    assert len(before) == stats.imported
    assert all(store.load(kind, key) is not None for kind, key in before)  # every artifact verifies
    assert list((store.root / ".tmp").iterdir()) == []
    time.sleep(2)
    assert sorted((a.manifest["kind"], a.key) for a in store.list()) == before  # nothing lands afterwards
    # a rerun resumes: what finished is held by the driver's store (and would be skipped), the rest is not
    finished = {w["label"] for w in stats.workers}
    reader = Runner(store, build=False)
    for node in plan(reqs):
        if node.label in finished:
            node.run(reader)


def _sweep_args(store, *extra):
    return ["sweep", "--dataset", "digits", "--set", "data.train_size=200", "--width", "32", "--set",
            "train.epochs=3", "--set", "train.batch_size=64", "--k", "2", "--store", str(store), *extra]


def test_cli_grid_is_methods_x_values_x_forget_specs(monkeypatch):
    import engine.__main__ as cli_mod

    parser_args = {}

    def capture(args) -> int:
        parser_args["reqs"] = cli_mod.sweep_requests(args)
        return 0

    monkeypatch.setattr(cli_mod, "cmd_sweep", capture)
    assert cli_mod.main(_sweep_args("/nonexistent", "--methods", "ft,ga,amun", "--grid", "ft.lr=0.1,0.05", "--grid",
                                    "ft.epochs=2,3", "--forgets", "random:0.1;class:3", "--seeds", "0,1")) == 0
    reqs = parser_args["reqs"]
    assert len(reqs) == 2 * (4 + 1 + 1)  # forget specs x (FT: 2 lr x 2 epochs, GA, AMUN)
    assert {r.spec.forget for r in reqs} == {"random:0.1", "class:3"}
    assert sorted((r.methods[0].lr, r.methods[0].epochs) for r in reqs if r.methods[0].key == "ft") == \
        sorted([(0.1, 2), (0.1, 3), (0.05, 2), (0.05, 3)] * 2)
    assert all(r.seeds == (0, 1) and r.k == 2 and r.spec.model.width == 32 for r in reqs)
    assert cli_mod.main(_sweep_args("/nonexistent", "--methods", "ft", "--grid", "ga.lr=0.1")) == 2  # not in methods


@pytest.mark.slow
def test_cli_sweep_on_ray_then_from_the_store(local_ray, tmp_path, capsys):
    from engine.__main__ import main
    from engine.presets import tuned_params

    # two learning rates, neither the data set's tuned default (a setting equal to it is printed as "default")
    tuned = tuned_params("digits", "ft").get("lr")
    a, b = [lr for lr in (0.1, 0.05, 0.02) if lr != tuned][:2]
    args = _sweep_args(tmp_path / "store", "--methods", "ft", "--grid", f"ft.lr={a},{b}", "--seeds", "0",
                       "--out", str(tmp_path / "out"))
    assert main(args) == 0
    first = capsys.readouterr().out
    # 1 original, digits' 3 retrain replicas, 1 reference set, 2 FT settings
    assert f"lr={a}" in first and f"lr={b}" in first
    assert "7 tasks, 7 run on Ray, 0 already in the store, 0 failed" in first
    assert (tmp_path / "out" / "metrics.csv").is_file() and (tmp_path / "out" / "summary.csv").is_file()
    assert main(args) == 0
    assert "7 tasks, 0 run on Ray, 7 already in the store, 0 failed" in capsys.readouterr().out


@pytest.mark.slow
def test_a_failed_setting_is_skipped_or_stops_the_sweep(local_ray, tiny_spec, _isolated_home):
    """A setting that diverges (l1-sparse at lr 10, α 1): with on_error="skip" the rest of the grid finishes."""
    from engine.errors import UnlearnError

    store = Store(_isolated_home / "store")
    reqs = [AuditRequest(tiny_spec, (method,), (0,), True, 2)
            for method in (get_method("ft"), get_method("l1_sparse", lr=10.0, alpha=1.0))]
    stats = SweepStats()
    good, bad = run_grid(reqs, store, stats=stats, on_error="skip")
    assert bad is None and list(good.rows["method"]) == ["original", "retrain", "ft"]
    assert list(stats.failed) == ["l1_sparse seed 0 forget random:0.1"]
    assert "Diverged" in stats.failed["l1_sparse seed 0 forget random:0.1"]
    with pytest.raises(UnlearnError, match="failed"):
        run_grid(reqs, store)  # the default: the failure stops the sweep


def test_forgetting_quality_models_come_from_the_sweep_and_the_flow_trains_nothing(local_ray, tiny_spec,
                                                                                    _isolated_home):
    """Issue 17 item 2: the quality flow's models are an audit plan (QualityRequest.audit_request), so Ray builds
    them like any audit's; the flow then reads every one from the store — the same keys, nothing trained."""
    from engine.quality import QualityRequest, run_quality

    store = Store(_isolated_home / "store")
    req = QualityRequest.build(tiny_spec, ["ft"], runs=4, bootstrap=0)
    stats = SweepStats()
    assert run_grid([req.audit_request()], store, stats=stats, compare=False) == [None]
    assert stats.executed == stats.tasks == 1 + 8 + 1 + 4  # original, 2N retrains, references, N runs
    result = run_quality(Runner(store, build=False), req)
    assert result.built == 0 and [r.key for r in result.rows] == ["retrain", "original", "ft"]
