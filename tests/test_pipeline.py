"""The cached pipeline: original / retrain / signals, served from the store the second time."""

import numpy as np
import pytest

from engine.audit.mia import loss_threshold
from engine.errors import Cancelled
from engine.pipeline import PRESETS, prepare, run_baseline, signals, train_or_load
from engine.store import Store
from engine.training import CancelToken


def test_second_request_is_served_from_store(tiny_spec, tmp_path):
    store = Store(tmp_path)
    prep = prepare(tiny_spec)
    a = train_or_load("original", prep, store)
    b = train_or_load("original", prep, store)
    assert not a.artifact.from_cache and b.artifact.from_cache
    assert a.key == b.key
    for pa, pb in zip(a.model.state_dict().values(), b.model.state_dict().values()):
        assert np.array_equal(pa.cpu().numpy(), pb.cpu().numpy())


def test_retrain_key_depends_on_forget_set_and_never_sees_it(tiny_spec, tmp_path):
    from dataclasses import replace

    store = Store(tmp_path)
    p1 = prepare(tiny_spec)
    p2 = prepare(replace(tiny_spec, forget_seed=1))
    r1 = train_or_load("retrain", p1, store)
    r2 = train_or_load("retrain", p2, store)
    assert r1.key != r2.key
    assert r1.artifact.manifest["n_train"] == len(p1.remain)
    assert np.array_equal(r1.artifact.arrays()["forget"], p1.forget)
    # originals do not depend on the forget set
    assert train_or_load("original", p1, store).key == train_or_load("original", p2, store).key


def test_signals_are_cached_and_grouped(tiny_spec, tmp_path):
    store = Store(tmp_path)
    res = run_baseline(tiny_spec, store)
    g = res.groups["original"]
    assert len(g["forget"]["loss"]) == len(res.prep.forget)
    assert len(g["remain"]["p_y"]) == len(res.prep.remain)
    assert len(g["test"]["phi"]) == len(res.prep.data.y_test)
    assert len(store.list("signals")) == 2
    again = run_baseline(tiny_spec, store)
    assert again.original.artifact.from_cache and again.retrain.artifact.from_cache
    assert np.array_equal(again.groups["retrain"]["forget"]["loss"], res.groups["retrain"]["forget"]["loss"])


def test_cancelled_run_stores_nothing(tiny_spec, tmp_path):
    store = Store(tmp_path)
    token = CancelToken()
    calls = []

    def progress(stage, done, total, metrics):
        calls.append(stage)
        if len(calls) == 2:
            token.cancel()

    with pytest.raises(Cancelled):
        run_baseline(tiny_spec, store, progress=progress, cancel=token)
    assert store.list() == []


def test_default_digits_recipe_shows_membership_signal(tmp_path):
    """The product's phenomenon: the original model leaks membership of its training samples, retrain not."""
    res = run_baseline(PRESETS["digits"], Store(tmp_path))
    auc = {m: loss_threshold(g["forget"]["loss"], g["test"]["loss"]).auc for m, g in res.groups.items()}
    acc = res.accuracies()
    assert auc["original"] > 0.55
    assert auc["original"] - auc["retrain"] > 0.03
    assert acc["original"]["forget"] == 1.0 and acc["original"]["test"] > 0.9
    assert acc["retrain"]["test"] > 0.9


@pytest.mark.parametrize("by", ["confidence", "eps"])
def test_hardest_forget(tiny_spec, tmp_path, by):
    from engine.pipeline import hardest_forget

    store = Store(tmp_path)
    idx = hardest_forget(tiny_spec, 15, by, store)
    assert len(idx) == 15 and np.all(np.diff(idx) > 0)
    assert np.array_equal(idx, hardest_forget(tiny_spec, 15, by, store))  # deterministic, from the store
    if by == "confidence":
        prep = prepare(tiny_spec)
        phi = signals(train_or_load("original", prep, store), prep, store)["train"]["phi"]
        assert phi[idx].min() >= np.sort(phi)[-15]
