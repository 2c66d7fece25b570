"""One conformance suite over the whole method registry, then tests of each update rule."""

from dataclasses import replace

import numpy as np
import pytest
import torch

from engine.errors import Cancelled, UnlearnError
from engine.run import Runner
from engine.signals import signals_from_logits
from engine.store import Store
from engine.training import CancelToken, predict
from engine.unlearning import METHODS, Resources, get_method, hyperparameters
from engine.unlearning.l1_sparse import alpha_schedule

FAST = {"epochs": "2", "pgd_steps": "10", "rounds": "2"}


def fast_method(key: str):
    names = {f["name"] for f in hyperparameters(key)}
    return get_method(key, **{k: v for k, v in FAST.items() if k in names})


@pytest.fixture
def setup(tiny_spec, tmp_path):
    spec = replace(tiny_spec, train=replace(tiny_spec.train, epochs=30, lr_step=100))
    store = Store(tmp_path)
    runner = Runner(store, device=torch.device("cpu"))
    return runner.prepare(spec), store, runner.original(spec)


def _weights(model):
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


@pytest.mark.parametrize("key", list(METHODS))
def test_conformance(key, setup):
    prep, store, original = setup
    before = _weights(original.model)
    method = fast_method(key)
    kw = dict(seed=1, device=torch.device("cpu"), resources=Resources(recipe=prep.spec))
    a = method.unlearn(original.model, prep.data, prep.forget, prep.remain, **kw)
    b = method.unlearn(original.model, prep.data, prep.forget, prep.remain, **kw)
    # the input model is never mutated
    for name, value in _weights(original.model).items():
        assert torch.equal(value, before[name]), f"{key} mutated {name}"
    # same seed, same weights (CPU)
    for (name, va), vb in zip(a.model.state_dict().items(), b.model.state_dict().values()):
        assert torch.equal(va, vb), f"{key}: {name} differs between two runs with the same seed"
    # shapes, mode, history, time
    out = predict(a.model, prep.data.x_test[:5])
    assert out.shape == (5, prep.data.num_classes) and not a.model.training
    assert a.history and a.seconds > 0
    # the result actually differs from the input
    assert any(not torch.equal(v, before[n]) for n, v in a.model.state_dict().items())


@pytest.mark.parametrize("key", list(METHODS))
def test_remain_requirement(key, setup):
    prep, _, original = setup
    method = fast_method(key)
    if METHODS[key].needs_remain:
        with pytest.raises(UnlearnError, match="needs the remain set"):
            method.unlearn(original.model, prep.data, prep.forget, None, resources=Resources(recipe=prep.spec))
    else:  # the D_F-only setting runs
        res = method.unlearn(original.model, prep.data, prep.forget, None, resources=Resources(recipe=prep.spec))
        assert res.history


@pytest.mark.parametrize("key", ["ft", "amun"])
def test_cancelled_run_leaves_nothing_in_store(key, setup):
    prep, store, original = setup
    token = CancelToken()
    token.cancel()
    with pytest.raises(Cancelled):
        Runner(store, cancel=token).unlearned(fast_method(key), prep, original)
    assert store.list("unlearned") == []


def test_unlearned_model_is_cached(setup):
    prep, store, original = setup
    first = Runner(store).unlearned(fast_method("ft"), prep, original)
    second = Runner(store).unlearned(fast_method("ft"), prep, original)
    assert not first.artifact.from_cache and second.artifact.from_cache
    assert first.seconds == second.seconds


def test_bad_hyperparameters_are_clear_errors(setup):
    prep, _, original = setup
    with pytest.raises(UnlearnError, match="unknown method"):
        get_method("nope")
    with pytest.raises(UnlearnError, match="no setting"):
        get_method("ft", learning_rate="0.1")
    with pytest.raises(UnlearnError, match="outside"):
        get_method("salun", mask_ratio="1.5").unlearn(original.model, prep.data, prep.forget, prep.remain)
    with pytest.raises(UnlearnError, match="choose one of"):
        get_method("l1_sparse", schedule="cubic").unlearn(original.model, prep.data, prep.forget, prep.remain)


def test_empty_or_overlapping_sets_are_refused(setup):
    prep, _, original = setup
    with pytest.raises(UnlearnError, match="empty"):
        get_method("ft").unlearn(original.model, prep.data, np.array([], dtype=int), prep.remain)
    with pytest.raises(UnlearnError, match="overlap"):
        get_method("ft").unlearn(original.model, prep.data, prep.forget, np.r_[prep.remain, prep.forget[:1]])


def test_diverging_method_is_reported(setup):
    """A non-finite loss stops the run with Diverged (here forced by a NaN weight in the input model)."""
    import copy

    from engine.errors import Diverged

    prep, _, original = setup
    broken = copy.deepcopy(original.model)
    with torch.no_grad():
        next(broken.parameters()).view(-1)[0] = float("nan")
    with pytest.raises(Diverged, match="non-finite"):
        get_method("ft", epochs="1").unlearn(broken, prep.data, prep.forget, prep.remain)


# ------------------------------------------------------------------------------------------ the rules
def _forget_loss(model, prep):
    x, y = prep.data.x_train[prep.forget], prep.data.y_train[prep.forget]
    return float(signals_from_logits(predict(model, x), y)["loss"].mean())


def test_gradient_ascent_raises_forget_loss(setup):
    prep, _, original = setup
    res = get_method("ga", lr="0.05", epochs="5").unlearn(original.model, prep.data, prep.forget, None)
    assert _forget_loss(res.model, prep) > 1.5 * _forget_loss(original.model, prep)


def test_random_labels_are_always_wrong(setup):
    prep, _, original = setup
    from engine.unlearning.base import UnlearnContext

    ctx = UnlearnContext(prep.data, prep.forget, prep.remain, torch.device("cpu"), 0,
                         torch.Generator().manual_seed(0), False, None, None)
    for _ in range(20):
        y = ctx.random_other_labels(ctx.y_forget)
        assert (y != ctx.y_forget).all() and y.min() >= 0 and y.max() < 10


def test_retrain_method_matches_the_runners_retrain(setup):
    prep, store, _ = setup
    stored = Runner(store, device=torch.device("cpu")).retrain(prep)
    res = get_method("retrain").unlearn(stored.model, prep.data, prep.forget, prep.remain, seed=prep.spec.seed,
                                        resources=Resources(recipe=prep.spec), device=torch.device("cpu"))
    for va, vb in zip(res.model.state_dict().values(), stored.model.state_dict().values()):
        assert torch.equal(va, vb)


@pytest.mark.parametrize("key", ["salun", "amun_salun"])
def test_saliency_mask_freezes_unselected_weights_bit_identically(key, setup):
    prep, _, original = setup
    extra = {"pgd_steps": "10"} if key == "amun_salun" else {}
    method = get_method(key, mask_ratio="0.3", epochs="3", lr="0.05", **extra)
    res = method.unlearn(original.model, prep.data, prep.forget, prep.remain)
    assert res.extras["mask_fraction"] == pytest.approx(0.3, abs=1e-3)
    before = original.model.state_dict()
    changed = total = 0
    for name, after in res.model.state_dict().items():
        same = after == before[name]
        changed += int((~same).sum())
        total += same.numel()
    # exactly the selected 30 % may move (some of them may, by chance, not)
    assert 0 < changed <= round(0.3 * total)


def test_gradient_only_mask_lets_weight_decay_move_unselected_weights(setup):
    prep, _, original = setup
    res = get_method("salun", mask_ratio="0.3", epochs="3", mask_mode="grad", lr="0.05").unlearn(
        original.model, prep.data, prep.forget, prep.remain)
    before = original.model.state_dict()
    changed = sum(int((after != before[n]).sum()) for n, after in res.model.state_dict().items())
    total = sum(v.numel() for v in before.values())
    assert changed > 0.9 * total  # weight decay and momentum move (almost) everything: the paper's behaviour


def test_amun_adversarial_set(setup):
    prep, _, original = setup
    res = get_method("amun", pgd_steps="20", epochs="2").unlearn(original.model, prep.data, prep.forget, prep.remain)
    adv = res.extras["adversarial"]
    y = prep.data.y_train[prep.forget]
    x = prep.data.x_train[prep.forget]
    assert (adv.y_adv[adv.flipped] != y[adv.flipped]).all()
    assert adv.flipped.all()
    delta = (adv.x_adv - x).flatten(1).norm(dim=1)
    assert torch.all(delta <= adv.eps + 1e-5)
    assert adv.x_adv.min() >= 0 and adv.x_adv.max() <= 1
    # the adversarial labels are the original model's predictions at x_adv
    assert torch.equal(predict(original.model, adv.x_adv).argmax(1), adv.y_adv)


def test_amun_training_set_composition(setup):
    prep, _, original = setup
    from engine.unlearning.base import UnlearnContext

    amun = get_method("amun", pgd_steps="10")
    for remain, adv_only, expected in [(prep.remain, False, len(prep.remain) + 2 * len(prep.forget)),
                                       (None, False, 2 * len(prep.forget)),
                                       (prep.remain, True, len(prep.remain) + len(prep.forget)),
                                       (None, True, len(prep.forget))]:
        ctx = UnlearnContext(prep.data, prep.forget, remain, torch.device("cpu"), 0,
                             torch.Generator().manual_seed(0), True, None, None)
        amun = replace(amun, adv_only=adv_only)
        adv = amun.adversarial_set(original.model, ctx)
        x, y, aug = amun.training_set(ctx, adv)
        assert len(x) == expected
        assert int((~aug).sum()) == len(prep.forget)  # exactly the adversarial images are not augmented


def test_l1_schedules():
    lin = alpha_schedule(5e-4, 10, "linear")
    assert lin[0] == 5e-4 and lin[5] == pytest.approx(2.5e-4)
    amun = alpha_schedule(5e-4, 10, "amun")
    assert amun[1] == pytest.approx(1e-3) and amun[5] == pytest.approx(4.8384e-3)  # grows, then decays
    assert amun[9] < amun[5]


def test_amun_searches_the_forget_rows_or_reuses_a_stored_whole_train_search(setup):
    """D_A: the forget rows only, unless the original model's whole-train set is stored (AMUN's code precomputes it
    once per original model); then every forget set indexes it. Both give the same per-sample search."""
    from engine.attacks import NearestAdversarial

    prep, store, original = setup
    method = get_method("amun", pgd_steps="10", epochs="1")
    runner = Runner(store)
    first = runner.unlearned(method, prep, original)
    (art,) = store.list("adversarial")
    assert art.manifest["n"] == len(prep.forget)  # the forget rows, not all of train
    fresh = NearestAdversarial(steps=10)(original.model, prep.data.x_train[prep.forget], prep.data.y_train[prep.forget])
    stored = first.artifact.arrays()
    assert np.allclose(stored["adversarial.eps"], fresh.eps.numpy())
    assert np.array_equal(stored["adversarial.y_adv"], fresh.y_adv.numpy())
    # with the whole-train set stored, other forget sets index it: no new search
    whole = runner.adversarial(original, prep.data, attack=method.attack(method.eps_init))
    assert len(whole) == len(prep.data.y_train) and len(store.list("adversarial")) == 2
    moved = prep.remain[:7]
    other = replace(prep, forget=moved, remain=np.setdiff1d(np.arange(len(prep.data.y_train)), moved))
    second = runner.unlearned(method, other, original)
    assert len(store.list("adversarial")) == 2
    assert np.array_equal(second.artifact.arrays()["adversarial.eps"], whole.eps.numpy()[moved])
