"""Training loop: determinism, augmentation, cancellation, divergence, signals."""

import math

import numpy as np
import pytest
import torch

from engine.config import TrainConfig
from engine.data import load_dataset
from engine.errors import Cancelled, Diverged
from engine.models import build_model
from engine.signals import signals_from_logits
from engine.training import CancelToken, augment_batch, predict, train_model


def _train(spec, seed=0, cancel=None, cfg=None):
    ds = load_dataset(spec.data)
    torch.manual_seed(seed)
    model = build_model(spec.model, ds.shape, ds.num_classes)
    hist = train_model(model, ds.x_train, ds.y_train, cfg or spec.train, seed=seed, device=torch.device("cpu"),
                       cancel=cancel)
    return model, hist


def test_same_seed_same_weights(tiny_spec):
    a, _ = _train(tiny_spec, seed=3)
    b, _ = _train(tiny_spec, seed=3)
    c, _ = _train(tiny_spec, seed=4)
    for (_, pa), (_, pb) in zip(a.state_dict().items(), b.state_dict().items()):
        assert torch.equal(pa, pb)
    assert not all(torch.equal(pa, pc) for pa, pc in zip(a.state_dict().values(), c.state_dict().values()))


def test_training_reduces_loss_and_reports_history(tiny_spec):
    _, hist = _train(tiny_spec)
    assert len(hist.epochs) == tiny_spec.train.epochs
    assert hist.epochs[-1]["loss"] < hist.epochs[0]["loss"]
    assert hist.epochs[-1]["lr"] == pytest.approx(0.1 * 0.1)  # StepLR(2, 0.1) after 2 steps


def test_cancel_stops_within_a_batch(tiny_spec):
    token = CancelToken()
    token.cancel()
    with pytest.raises(Cancelled):
        _train(tiny_spec, cancel=token)


def test_divergence_is_detected(tiny_spec):
    cfg = TrainConfig(epochs=3, batch_size=64, lr=1e6, momentum=0.9, augment=False)
    with pytest.raises(Diverged, match="learning rate"):
        _train(tiny_spec, cfg=cfg)


def test_augment_crop_and_flip_by_hand():
    x = torch.arange(16.0).reshape(1, 1, 4, 4)
    gen = torch.Generator().manual_seed(0)
    outs = [augment_batch(x, gen, pad=1) for _ in range(30)]
    for out in outs:
        assert out.shape == x.shape
        vals = set(out.flatten().tolist())
        assert vals <= set(range(16)) | {0.0}
    # an unshifted, unflipped copy and a flipped copy both occur
    assert any(torch.equal(o, x) for o in outs)
    assert any(torch.equal(o, x.flip(-1)) for o in outs)


def test_signals_math():
    logits = torch.tensor([[2.0, 0.0, 0.0], [0.0, 0.0, 5.0]])
    y = torch.tensor([0, 0])
    s = signals_from_logits(logits, y)
    p = math.exp(2) / (math.exp(2) + 2)
    assert s["p_y"][0] == pytest.approx(p)
    assert s["phi"][0] == pytest.approx(math.log(p / (1 - p)))
    assert s["loss"][0] == pytest.approx(-math.log(p))
    assert s["correct"].tolist() == [True, False] and s["pred"].tolist() == [0, 2]
    q = np.array([p, 1 - 2 * (1 - p) / 2, (1 - p) / 2])
    q = np.exp(logits[0].numpy()) / np.exp(logits[0].numpy()).sum()
    assert s["entropy"][0] == pytest.approx(-(q * np.log(q)).sum())
    # φ stays finite where p_y rounds to 1 in float32
    big = signals_from_logits(torch.tensor([[60.0, 0.0]]), torch.tensor([0]))
    assert big["phi"][0] == pytest.approx(60.0)


def test_predict_restores_mode(tiny_spec):
    model, _ = _train(tiny_spec)
    model.train()
    out = predict(model, torch.rand(5, 1, 8, 8))
    assert out.shape == (5, 10) and model.training
