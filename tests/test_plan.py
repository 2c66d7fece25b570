"""An audit as a plan of typed pieces (issue 16 item 1): one function lists them, compare / plan / sweep use it, and
every piece's store key is the key its builder stores it under."""

import numpy as np
import torch

import engine.run
import engine.sweep
from engine import plan as plan_mod
from engine.kinds import Role
from engine.plan import PieceKind, held, merge, pieces, store_key
from engine.run import AuditRequest, Runner
from engine.store import Store
from engine.unlearning import get_method

CPU = torch.device("cpu")


def test_pieces_list_the_whole_audit_with_dependencies(tiny_spec):
    req = AuditRequest.build(tiny_spec, ["ft", "amun", "amun_salun"], [0, 1], k=2, retrains=2)
    plan = pieces(req)
    kinds = [str(p.kind) for p in plan]
    # per seed: original, 2 retrains, (references once), D_A once for both AMUN variants (same search), 3 methods,
    # and the signals of its 6 models
    assert {k: kinds.count(k) for k in set(kinds)} == {"original": 2, "retrain": 4, "references": 1,
                                                       "adversarial": 2, "unlearned": 6, "signals": 12}
    position = {p.id: i for i, p in enumerate(plan)}
    assert all(position[d.id] < position[p.id] for p in plan for d in p.deps)  # dependencies first
    assert len(position) == len(plan)  # ids are unique
    for p in plan:
        if p.kind == PieceKind.UNLEARNED:
            want = ["original", "adversarial"] if p.method.key.startswith("amun") else ["original"]
            assert [str(d.kind) for d in p.deps] == want and p.role == Role.UNLEARNED
        if p.kind == PieceKind.SIGNALS:
            assert p.deps[0].role is not None
    # held-out requests draw the forget sets from seed + 1000; an uploaded original replaces the trained one
    held_out = pieces(AuditRequest(tiny_spec, (get_method("ft"),), (3,), True, 2, heldout=True))
    assert {p.spec.forget_seed for p in held_out if p.kind != PieceKind.REFERENCES} == {1003}
    uploaded = pieces(AuditRequest.build(tiny_spec, ["ft"], [0], k=2, original="abc123"))
    assert [str(p.kind) for p in uploaded][:1] == ["uploaded"] and "original" not in {str(p.kind) for p in uploaded}


def test_a_calibrating_amun_searches_inside_its_own_piece(tiny_spec):
    req = AuditRequest(tiny_spec, (get_method("amun", calibrate_eps=True),), (0,), True, 2)
    assert PieceKind.ADVERSARIAL not in {p.kind for p in pieces(req)}  # its ε_init is known only on the model


def test_compare_plan_and_sweep_all_use_the_one_list(tiny_spec, tmp_path, monkeypatch):
    calls = []

    def spy(req):
        calls.append(req)
        return plan_mod.pieces(req)

    monkeypatch.setattr(engine.run, "pieces", spy)
    monkeypatch.setattr(engine.sweep, "pieces", spy)
    req = AuditRequest.build(tiny_spec, ["ft", "amun"], [0], k=2, retrains=2)
    runner = Runner(Store(tmp_path), device=CPU)
    eta = runner.plan(req)
    assert calls == [req]
    listed = [p for p in plan_mod.pieces(req) if p.kind not in (PieceKind.SIGNALS, PieceKind.UPLOADED)]
    assert [p.id for p in eta] == [p.id for p in listed]  # an empty store: every model, D_A and the references
    nodes = engine.sweep.plan([req, req])
    assert calls == [req, req, req] and [n.id for n in nodes] == [p.id for p in listed]  # merged: once each
    assert all(n.signals is not None for n in nodes if n.piece.role is not None)
    runner.compare(req)
    assert calls[-1] == req and len(calls) == 4


def test_store_keys_are_the_builders_keys_and_say_what_is_held(tiny_spec, tmp_path):
    req = AuditRequest.build(tiny_spec, ["ft", "amun"], [0, 1], k=2, retrains=2)
    runner = Runner(Store(tmp_path), device=CPU)
    plan = pieces(req)
    keys = {}
    assert not any(held(runner, p, keys) for p in plan)
    built = {}
    for p in plan:
        plan_mod.build(runner, p, built)
    for p in plan:
        key, value = store_key(runner, p, keys), built[p.id]
        assert held(runner, p, keys), p.label
        if p.role is not None:
            assert key == value.key
        elif p.kind == PieceKind.REFERENCES:
            assert key == value.keys
        else:
            kind = "adversarial" if p.kind == PieceKind.ADVERSARIAL else "signals"
            assert runner.store.load(kind, key) is not None
    # built again by compare: nothing new is trained, and compare's models are the plan's
    cmp = Runner(Store(tmp_path), device=CPU, build=False).compare(req)
    originals = [built[p.id].key for p in plan if p.kind == PieceKind.ORIGINAL]
    assert [cmp.models[("original", s)].key for s in (0, 1)] == originals
    assert np.isfinite(cmp.rows["ua"]).all()


def test_merge_keeps_one_of_each_piece(tiny_spec):
    a = AuditRequest(tiny_spec, (get_method("ft"),), (0,), True, 2)
    b = AuditRequest(tiny_spec, (get_method("ft", lr=0.05),), (0,), True, 2)
    merged = merge([pieces(a), pieces(b)])
    kinds = [str(p.kind) for p in merged]
    assert {k: kinds.count(k) for k in set(kinds)} == {"original": 1, "retrain": 1, "references": 1,
                                                       "unlearned": 2, "signals": 4}


def test_pieces_have_labels_a_person_reads(tiny_spec):
    req = AuditRequest.build(tiny_spec, ["ft", "amun"], [0], k=2, retrains=2)
    labels = [p.label for p in pieces(req)]
    assert labels[:4] == ["original seed 0", "retrain seed 0 forget random:0.1", "retrain #1 seed 0 forget random:0.1",
                          "references K=2"]
    assert "D_A seed 0 forget random:0.1" in labels and "signals of ft seed 0 forget random:0.1" in labels


def test_an_audit_whose_methods_are_stored_needs_no_stored_search(tiny_spec, tmp_path):
    """A store kept from before D_A was stored (or one whose D_A was removed) still serves its audit."""
    import shutil

    store = Store(tmp_path)
    req = AuditRequest.build(tiny_spec, ["amun"], [0], k=2, retrains=1)
    first = Runner(store, device=CPU).compare(req)
    search = next(p for p in pieces(req) if p.kind == PieceKind.ADVERSARIAL)
    shutil.rmtree(store.root / "adversarial" / store_key(Runner(store, device=CPU), search))
    again = Runner(store, device=CPU, build=False).compare(req)
    assert again.rows["ua"].tolist() == first.rows["ua"].tolist()
    assert Runner(store, device=CPU).plan(req) == []  # nothing to build either
