"""The runner: every step stored and served from the store the second time; the flow of an audit."""

from dataclasses import replace

import numpy as np
import pytest
import torch

from engine.audit.mia import loss_threshold
from engine.errors import Cancelled, UnlearnError
from engine.presets import PRESETS
from engine.run import AuditRequest, NotStored, Runner
from engine.store import Store
from engine.training import CancelToken


def test_second_request_is_served_from_store(tiny_spec, tmp_path):
    runner = Runner(Store(tmp_path))
    a = runner.original(tiny_spec)
    b = runner.original(tiny_spec)
    assert not a.artifact.from_cache and b.artifact.from_cache
    assert a.key == b.key
    for pa, pb in zip(a.model.state_dict().values(), b.model.state_dict().values()):
        assert np.array_equal(pa.cpu().numpy(), pb.cpu().numpy())


def test_retrain_key_depends_on_forget_set_and_never_sees_it(tiny_spec, tmp_path):
    runner = Runner(Store(tmp_path))
    p1 = runner.prepare(tiny_spec)
    p2 = runner.prepare(replace(tiny_spec, forget_seed=1))
    r1, r2 = runner.retrain(p1), runner.retrain(p2)
    assert r1.key != r2.key
    assert r1.artifact.manifest["n_train"] == len(p1.remain)
    assert np.array_equal(r1.artifact.arrays()["forget"], p1.forget)
    # the original model needs no forget set: any forget spec gives the same one
    assert runner.original(tiny_spec).key == runner.original(replace(tiny_spec, forget="class:3")).key


def test_signals_are_cached_and_grouped(tiny_spec, tmp_path):
    store = Store(tmp_path)
    res = Runner(store).baseline(tiny_spec)
    g = res.signals["original"]
    assert len(g["forget"]["loss"]) == len(res.prep.forget)
    assert len(g["remain"]["p_y"]) == len(res.prep.remain)
    assert len(g["test"]["phi"]) == len(res.prep.data.y_test)
    assert np.array_equal(g["forget"]["loss"], g.splits["train"]["loss"][res.prep.forget])
    assert g.pool_logits().shape == (len(res.prep.data.y_train) + len(res.prep.data.y_test), 10)
    assert len(store.list("signals")) == 2
    again = Runner(store).baseline(tiny_spec)
    assert again.original.artifact.from_cache and again.retrain.artifact.from_cache
    assert np.array_equal(again.signals["retrain"]["forget"]["loss"], res.signals["retrain"]["forget"]["loss"])


def test_store_only_runner_reads_or_says_not_stored(tiny_spec, tmp_path):
    store = Store(tmp_path)
    with pytest.raises(NotStored):
        Runner(store, build=False).baseline(tiny_spec)
    assert store.list() == []
    built = Runner(store).baseline(tiny_spec)
    loaded = Runner(store, build=False).baseline(tiny_spec)
    assert loaded.original.key == built.original.key
    assert np.array_equal(loaded.signals["original"]["test"]["loss"], built.signals["original"]["test"]["loss"])


def test_cancelled_run_stores_nothing(tiny_spec, tmp_path):
    store = Store(tmp_path)
    token = CancelToken()
    calls = []

    def progress(stage, done, total, metrics):
        calls.append(stage)
        if len(calls) == 2:
            token.cancel()

    with pytest.raises(Cancelled):
        Runner(store, progress=progress, cancel=token).baseline(tiny_spec)
    assert store.list() == []


def test_default_digits_recipe_shows_membership_signal(tmp_path):
    """The product's phenomenon: the original model leaks membership of its training samples, retrain not."""
    res = Runner(Store(tmp_path)).baseline(PRESETS["digits"])
    auc = {m: loss_threshold(g["forget"]["loss"], g["test"]["loss"]).auc for m, g in res.signals.items()}
    acc = res.accuracies()
    assert auc["original"] > 0.55
    assert auc["original"] - auc["retrain"] > 0.03
    assert acc["original"]["forget"] == 1.0 and acc["original"]["test"] > 0.9
    assert acc["retrain"]["test"] > 0.9


@pytest.mark.parametrize("by", ["confidence", "eps"])
def test_hardest_forget(tiny_spec, tmp_path, by):
    runner = Runner(Store(tmp_path))
    idx = runner.hardest(tiny_spec, 15, by)
    assert len(idx) == 15 and np.all(np.diff(idx) > 0)
    assert np.array_equal(idx, runner.hardest(tiny_spec, 15, by))  # deterministic, from the store
    assert len(runner.store.list("original")) == 1 and not runner.store.list("retrain")  # no forget set needed
    if by == "confidence":
        phi = runner.baseline(tiny_spec).signals["original"].splits["train"]["phi"]
        assert phi[idx].min() >= np.sort(phi)[-15]
    with pytest.raises(UnlearnError):
        runner.hardest(tiny_spec, 0, by)


# ------------------------------------------------------------------------------------------ reference models
def test_reference_models_are_stored_and_reused(tiny_spec, tmp_path):
    """One model after the other (the ensemble's equivalent is in test_ensemble.py)."""
    store = Store(tmp_path)
    calls = []
    first = Runner(store, progress=lambda *a: calls.append(a), reference_training="single").references(tiny_spec, k=2)
    data = Runner(store).data(tiny_spec)
    n_pool = len(data.y_train) + len(data.y_test)
    assert first.built == 2 and first.logits.shape == (2, n_pool, 10)
    assert np.all(first.keep.sum(0) == 1)
    assert calls and all(c[0] == "reference" for c in calls) and calls[-1][1] == calls[-1][2]
    assert {c[3]["model"] for c in calls} == {1, 2} and all(c[3]["of"] == 2 for c in calls)
    second = Runner(store, reference_training="single").references(tiny_spec, k=2)
    assert second.built == 0  # served from the store: nothing trained
    assert second.keys == first.keys and np.array_equal(second.logits, first.logits)
    assert len(store.list("reference")) == 2
    # the set does not depend on the forget set or the target's seed
    assert Runner(store, reference_training="single").references(replace(tiny_spec, forget_seed=5, seed=3),
                                                                  k=2).built == 0


def test_cancelled_reference_training_stores_no_partial_model(tiny_spec, tmp_path):
    store = Store(tmp_path)
    token = CancelToken()

    def progress(stage, done, total, metrics):
        if metrics["model"] == 2:
            token.cancel()

    with pytest.raises(Cancelled):
        Runner(store, progress=progress, cancel=token, reference_training="single").references(tiny_spec, k=2)
    assert len(store.list("reference")) == 1  # the finished first model is kept, the second is not stored
    assert Runner(store, reference_training="single").references(tiny_spec, k=2).built == 1


# ------------------------------------------------------------------------------------------ requests and the flow
def test_request_validates_before_anything_trains(tiny_spec, tmp_path):
    for kwargs, words in ((dict(methods=["nope"]), "unknown method"),
                          (dict(methods=["ft"], overrides={"ft": {"lr": "-1"}}), "lr=-1"),
                          (dict(methods=["ft"], overrides={"ft": {"lr": "fast"}}), "cannot read"),
                          (dict(methods=["ft"], overrides={"amun": {"lr": "0.1"}}), "not in the run"),
                          (dict(methods=["ft"], seeds=[]), "at least one seed"),
                          (dict(methods=["ft"], k=1), "at least 2")):
        with pytest.raises(UnlearnError, match=words):
            AuditRequest.build(tiny_spec, **kwargs)
    req = AuditRequest.build(tiny_spec, ["retrain", "ft", "amun"], [0, 0, 1], overrides={"amun": {"lr": "0.05"}},
                             use_remain=False)
    assert [m.key for m in req.methods] == ["amun"]  # retrain is the reference; FT needs D_R
    assert req.seeds == (0, 1) and req.method("amun").lr == 0.05
    assert req.overrides() == {"amun": {"lr": 0.05}}
    assert req.key() != AuditRequest.build(tiny_spec, ["amun"], [0, 1], use_remain=False).key()


def test_compare_flow_and_store_only_reload(tiny_spec, tmp_path):
    store = Store(tmp_path)
    req = AuditRequest.build(tiny_spec, ["ft", "amun"], [0, 1], k=2, retrains=2)
    with pytest.raises(NotStored):
        Runner(store, build=False).compare(req)
    cmp = Runner(store).compare(req)
    assert list(cmp.rows["method"]) == ["original", "retrain", "ft", "amun", "retrain"] * 2
    assert list(cmp.rows["replica"]) == [0, 0, 0, 0, 1] * 2
    assert len(store.list("retrain")) == 4  # two replicas per seed, each with its own training seed
    gaps = cmp.rows[cmp.rows.method == "retrain"].groupby("seed")["avg_gap"]
    assert (gaps.nunique() == 1).all() and (gaps.first() > 0).all()  # two replicas: the same gap to each other
    assert cmp.seeds == [0, 1] and cmp.labels["amun"] == "AMUN"
    assert store.exists("comparison", req.key())
    # AMUN's D_A came from the original model's whole-train set, stored once per original
    assert len(store.list("adversarial")) == 2
    again = Runner(store, build=False).compare(req)  # a restart or a shared link: nothing trains
    cols = [c for c in cmp.rows.columns if c != "seconds"]
    assert again.rows[cols].equals(cmp.rows[cols])
    assert again.models[("amun", 1)].key == cmp.models[("amun", 1)].key


def test_adversarial_sets_are_stored_once_per_model_rows_and_settings(tiny_spec, tmp_path, monkeypatch):
    from engine.attacks import NearestAdversarial

    runs = []
    real = NearestAdversarial.__call__
    monkeypatch.setattr(NearestAdversarial, "__call__", lambda self, *a, **k: runs.append(self) or real(self, *a, **k))
    store = Store(tmp_path)
    runner = Runner(store)
    original = runner.original(tiny_spec)
    data = runner.data(tiny_spec)
    rows = np.array([3, 1, 4, 15, 9])
    first = runner.adversarial(original, data, rows=rows, attack=NearestAdversarial(steps=5))
    second = runner.adversarial(original, data, rows=rows, attack=NearestAdversarial(steps=5, batch_size=2))
    assert len(runs) == 1 and len(first) == 5  # batch size is not part of the key
    assert torch.equal(first.eps, second.eps) and torch.equal(first.x_adv, second.x_adv)
    (art,) = store.list("adversarial")
    assert art.manifest["params"]["steps"] == 5 and art.manifest["n"] == 5 and art.manifest["seconds"] >= 0
    runner.adversarial(original, data, rows=rows[:3], attack=NearestAdversarial(steps=5))
    runner.adversarial(original, data, rows=rows, attack=NearestAdversarial(steps=6))
    assert len(runs) == 3 and len(store.list("adversarial")) == 3
    assert runner.has_adversarial(original, data, rows=rows, attack=NearestAdversarial(steps=5))
    assert not runner.has_adversarial(original, data, split="test", rows=rows, attack=NearestAdversarial(steps=5))
    # the stored rows are the same search run on those samples alone
    x, y = data.x_train[rows], data.y_train[rows]
    assert torch.equal(NearestAdversarial(steps=5)(original.model, x, y).eps, first.eps)


def test_a_stored_comparison_record_gives_back_its_request(tiny_spec, tmp_path):
    store = Store(tmp_path)
    req = AuditRequest.build(tiny_spec, ["ft", "rl"], [0], overrides={"ft": {"lr": "0.2"}}, k=2)
    Runner(store).compare(req)
    (record,) = store.list("comparison")
    back = AuditRequest.from_record(record.manifest)
    assert back.key() == req.key() == record.key
    assert back.method("ft").lr == 0.2 and back.k == 2 and back.seeds == (0,)


def test_one_time_work_is_charged_alike_to_every_method_that_uses_it(tiny_spec, tmp_path):
    """AMUN and AMUN + SalUn share the original model's D_A: whichever runs first searches it, both are charged the
    same stored search time as 'one-time', and neither's own time includes it."""
    req = AuditRequest.build(tiny_spec, ["amun", "amun_salun", "ft"], [0], k=2, retrains=1,
                             overrides={"amun": {"pgd_steps": "10"}, "amun_salun": {"pgd_steps": "10"}})
    cmp = Runner(Store(tmp_path)).compare(req)
    rows = cmp.rows.set_index("method")
    (search,) = Store(tmp_path).list("adversarial")
    assert rows.loc["amun", "one_time_seconds"] == rows.loc["amun_salun", "one_time_seconds"] > 0
    assert rows.loc["amun", "one_time_seconds"] == pytest.approx(search.manifest["seconds"])
    assert rows.loc["ft", "one_time_seconds"] == 0.0 and rows.loc["original", "one_time_seconds"] == 0.0
    assert "one-time (s)" in cmp.formatted().columns


def test_a_diverging_method_is_reported_and_the_audit_goes_on(tiny_spec, tmp_path):
    store = Store(tmp_path)
    req = AuditRequest.build(tiny_spec, ["ft", "ga"], [0], k=2, retrains=1, overrides={"ga": {"lr": "10"}},
                             use_remain=False)
    cmp = Runner(store).compare(req)
    assert list(cmp.rows["method"]) == ["original", "retrain"]  # D_F only: no FT; GA diverged
    ((method, seed), message), = cmp.failures.items()
    assert (method, seed) == ("ga", 0) and "lower the learning rate" in message
    assert "Not in the table" in cmp.to_markdown() and "Gradient Ascent on seed 0" in cmp.failure_note()
    (failure,) = store.list("failure")
    assert not store.list("unlearned")
    # stored: a store-only reader (a shared link) reports the same failure instead of "not stored"
    again = Runner(store, build=False).compare(req)
    assert again.failures == cmp.failures


def test_short_reference_recipe_trains_shorter_references_under_their_own_keys(tiny_spec, tmp_path):
    from engine.run import short_recipe

    long = PRESETS["cifar10"].train
    assert (short_recipe(long).epochs, short_recipe(long).lr_step) == (50, 10)  # 200/40 → 50/10
    assert short_recipe(long).lr == long.lr and short_recipe(long).batch_size == long.batch_size
    spec = replace(tiny_spec, train=replace(tiny_spec.train, epochs=8, lr_step=4))
    full = AuditRequest.build(spec, ["ft"], [0], k=2)
    short = AuditRequest.build(spec, ["ft"], [0], k=2, short_references=True)
    from engine import config

    assert full.key() != short.key() and AuditRequest.from_record({
        "spec": config.to_dict(spec), "methods": [["ft", full.methods[0].params()]], "seeds": [0],
        "use_remain": True, "k": 2, "short_references": True}).short_references
    store = Store(tmp_path)
    a = Runner(store, device=torch.device("cpu")).compare(full)
    b = Runner(store, device=torch.device("cpu")).compare(short)
    refs = store.list("reference")
    assert sorted(r.manifest["train"]["epochs"] for r in refs) == [2, 2, 8, 8]  # both sets stored, apart
    assert Runner(store, device=torch.device("cpu")).plan(short) == []
    # the same original and retrain serve both audits; only the reference models differ
    assert a.models[("original", 0)].key == b.models[("original", 0)].key
