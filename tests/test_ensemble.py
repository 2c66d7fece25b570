"""The batched ensemble computes what K separate ``train_model`` runs compute (issue 10 item 2)."""

from dataclasses import replace

import numpy as np
import pytest
import torch

from engine.config import DataSpec, ModelSpec, RunSpec, TrainConfig
from engine.data import load_dataset
from engine.ensemble import MaskedSGD, StackedModels, choose_training, supports_ensemble, train_ensemble
from engine.errors import Cancelled, UnlearnError
from engine.models import build_model
from engine.run import Runner
from engine.store import Store
from engine.training import CancelToken, seed_everything, train_model

CPU = torch.device("cpu")
#: float32 tolerance after a few epochs: the stacked matmuls and the weighted-sum loss round differently from
#: the single ones (measured ~1e-7 after 3 epochs of the digits MLP); anything structural (a wrong batch, step,
#: momentum or learning rate) moves the weights by 1e-3 or more.
ATOL = 2e-5


def _fresh(spec, shape, classes, seed):
    seed_everything(seed)
    return spec(shape, classes) if callable(spec) else build_model(spec, shape, classes)


def _plain_cnn(shape, classes):
    """A buffer-free conv net (the built-in SmallCNN has BatchNorm and trains singly): the ``vmap`` path."""
    c, h, _ = shape
    return torch.nn.Sequential(
        torch.nn.Conv2d(c, 4, 3, padding=1), torch.nn.ReLU(), torch.nn.MaxPool2d(2),
        torch.nn.Conv2d(4, 8, 3, padding=1), torch.nn.ReLU(), torch.nn.MaxPool2d(2),
        torch.nn.Flatten(), torch.nn.Linear(8 * (h // 4) ** 2, classes))


def _compare(spec, x, y, subsets, cfg, seeds):
    shape, classes = tuple(x.shape[1:]), int(y.max()) + 1
    singles, single_hists = [], []
    for sub, seed in zip(subsets, seeds):
        m = _fresh(spec, shape, classes, seed)
        single_hists.append(train_model(m, x[sub], y[sub], cfg, seed=seed, device=CPU))
        singles.append(m)
    members = [_fresh(spec, shape, classes, seed) for seed in seeds]
    hists = train_ensemble(members, x, y, subsets, cfg, seeds, device=CPU)
    for single, member, sh, h in zip(singles, members, single_hists, hists):
        for (name, a), b in zip(single.state_dict().items(), member.state_dict().values()):
            assert torch.allclose(a, b, atol=ATOL, rtol=0), (name, (a - b).abs().max().item())
        assert [e["lr"] for e in sh.epochs] == [e["lr"] for e in h.epochs]
        assert np.allclose([e["loss"] for e in sh.epochs], [e["loss"] for e in h.epochs], atol=1e-5)
        assert [e["acc"] for e in sh.epochs] == pytest.approx([e["acc"] for e in h.epochs])
    return singles, members


def test_mlp_ensemble_of_three_matches_three_single_trainings():
    """Subsets of 70, 45 and 100 rows at batch 16: different step counts per epoch (5, 3, 7), partial last
    batches of 6, 13 and 4 rows, members idle while others step — momentum, weight decay and StepLR."""
    data = load_dataset(DataSpec("digits", train_size=200))
    x, y = data.x_train, data.y_train
    rng = np.random.default_rng(0)
    subsets = [np.sort(rng.choice(len(y), n, replace=False)) for n in (70, 45, 100)]
    cfg = TrainConfig(epochs=3, batch_size=16, lr=0.1, momentum=0.9, weight_decay=5e-4, lr_step=2, augment=False)
    singles, members = _compare(ModelSpec("mlp", 32), x, y, subsets, cfg, seeds=[11, 12, 13])
    # the members really differ from each other (own data, init and order)
    assert not torch.allclose(members[0].net[1].weight, members[1].net[1].weight)


def test_cnn_ensemble_with_augmentation_matches_single_trainings():
    """The vmap path (a buffer-free CNN) with crop+flip: each member draws its own augmentation in the same order."""
    gen = torch.Generator().manual_seed(0)
    x = torch.rand(60, 1, 16, 16, generator=gen)
    y = torch.arange(60) % 3
    subsets = [np.arange(0, 60, 2), np.arange(5, 47)]
    cfg = TrainConfig(epochs=2, batch_size=8, lr=0.05, momentum=0.9, weight_decay=5e-4, lr_step=1, augment=True)
    _compare(_plain_cnn, x, y, subsets, cfg, seeds=[3, 4])


def test_masked_sgd_leaves_idle_members_untouched():
    p = torch.nn.Parameter(torch.ones(3, 2))
    opt = MaskedSGD([p], lr=0.1, momentum=0.9, weight_decay=0.0)
    p.grad = torch.ones(3, 2)
    opt.active = torch.tensor([True, False, True])
    opt.step()
    assert torch.allclose(p[0], torch.full((2,), 0.9)) and torch.equal(p[1], torch.ones(2))
    assert torch.equal(opt.state[p]["momentum_buffer"][1], torch.zeros(2))
    p.grad = torch.ones(3, 2)
    opt.active = torch.tensor([True, True, True])
    opt.step()  # member 1's first real step: buffer 0.9·0 + 1 = 1, as a fresh single optimiser
    assert torch.allclose(p[1], torch.full((2,), 0.9))
    assert torch.allclose(p[0], torch.full((2,), 0.9 - 0.1 * 1.9))


def test_only_buffer_free_models_stack():
    mlp = build_model(ModelSpec("mlp", 8), (1, 8, 8), 10)
    resnet = build_model(ModelSpec("resnet18", 4), (3, 32, 32), 10)
    assert supports_ensemble(mlp) and choose_training(mlp) == "ensemble"
    assert not supports_ensemble(resnet) and choose_training(resnet) == "single"
    with pytest.raises(ValueError, match="batch norm"):
        StackedModels([resnet, resnet])
    assert StackedModels([mlp, mlp]).grouped
    small_cnn = build_model(ModelSpec("cnn", 4), (1, 8, 8), 10)  # BatchNorm: trains singly everywhere
    assert choose_training(small_cnn, torch.device("cuda")) == "single"
    cnn = _plain_cnn((1, 8, 8), 10)
    assert not StackedModels([cnn, cnn]).grouped
    # vmapped models stack on CUDA only (on the CPU they measured no faster than single trainings)
    assert choose_training(cnn, CPU) == "single" and choose_training(cnn, torch.device("cuda")) == "ensemble"
    assert choose_training(mlp, CPU) == "ensemble"


@pytest.fixture
def ref_spec(tiny_spec) -> RunSpec:
    return replace(tiny_spec, train=replace(tiny_spec.train, epochs=2))


def test_runner_references_as_ensemble_match_single_and_never_mix(ref_spec, tmp_path):
    store = Store(tmp_path)
    single = Runner(store, device=CPU, reference_training="single").references(ref_spec, 3)
    ens = Runner(store, device=CPU).references(ref_spec, 3)  # auto: the MLP trains as an ensemble
    assert single.built == 3 and ens.built == 3  # the singly trained set is not served for the ensemble
    assert not set(single.keys) & set(ens.keys)
    assert np.array_equal(single.keep, ens.keep)
    assert np.allclose(single.logits, ens.logits, atol=1e-4)
    manifests = [store.load("reference", key).manifest for key in ens.keys]
    assert {m["training"] for m in manifests} == {"ensemble"} and manifests[0]["ensemble_size"] == 3
    again = Runner(store, device=CPU, reference_training="ensemble").references(ref_spec, 3)
    assert again.built == 0 and again.keys == ens.keys
    assert Runner(store, device=CPU, reference_training="single").references(ref_spec, 3).built == 0


def test_ensemble_completes_a_partly_stored_set_and_cancel_stores_nothing(ref_spec, tmp_path):
    store = Store(tmp_path)
    first = Runner(store, device=CPU).references(ref_spec, 2)
    grown = Runner(store, device=CPU).references(ref_spec, 4)  # another K: other keys, all four built together
    assert first.built == 2 and grown.built == 4
    token = CancelToken()
    token.cancel()
    other = replace(ref_spec, seed=1, train=replace(ref_spec.train, lr=0.05))
    with pytest.raises(Cancelled):
        Runner(store, device=CPU, cancel=token).references(other, 2)
    assert len(store.list("reference")) == 6


def test_ensemble_is_refused_for_batch_norm_models(ref_spec, tmp_path):
    spec = replace(ref_spec, model=ModelSpec("resnet18", 4))
    with pytest.raises(UnlearnError, match="batch norm"):
        Runner(Store(tmp_path), device=CPU, reference_training="ensemble").references(spec, 2)
    with pytest.raises(UnlearnError, match="choose"):
        Runner(Store(tmp_path), reference_training="fast")
