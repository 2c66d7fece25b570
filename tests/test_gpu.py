"""CPU and GPU agree, and bf16 autocast keeps the numbers (issue 10 item 5). Skipped without CUDA.

Tolerances, stated once:

* the same weights and inputs: logits within 1e-4 (fp32 on both; TF32 switched off for the comparison), one SGD
  step from the same weights on the same batch within 1e-5;
* a whole training: the CUDA generator draws other permutations than the CPU one, so a GPU run is another
  sample of the same recipe, like another seed — test accuracy within 3 points, FT AUC within 0.06;
* the stacked ensemble on the GPU against single GPU trainings: weights within 1e-4 after 3 epochs;
* bf16 autocast against fp32 on the GPU (same seed and batch order): test accuracy within 3 points and FT AUC
  within 0.05 after training; evaluation alone under autocast within 1 point and 0.02.
"""

from dataclasses import replace

import numpy as np
import pytest
import torch
from torch.nn import functional as F

from engine.audit.rmia import rmia
from engine.config import DataSpec, ModelSpec, TrainConfig
from engine.data import load_dataset
from engine.ensemble import train_ensemble
from engine.models import build_model
from engine.run import Runner
from engine.store import Store
from engine.training import batches, make_sgd, predict, seed_everything, sgd_epoch, train_model

pytestmark = [pytest.mark.gpu, pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")]

CPU, CUDA = torch.device("cpu"), torch.device("cuda")


@pytest.fixture(autouse=True)
def _no_tf32():
    before = torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32
    torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = False
    yield
    torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32 = before


@pytest.mark.parametrize("arch, width, shape", [("mlp", 32, (1, 8, 8)), ("cnn", 8, (3, 32, 32)),
                                                ("resnet18_amun", 8, (3, 32, 32))])
def test_same_weights_same_logits_and_one_step_on_cpu_and_gpu(arch, width, shape):
    torch.manual_seed(0)
    cpu = build_model(ModelSpec(arch, width), shape, 10)
    gpu = build_model(ModelSpec(arch, width), shape, 10)
    gpu.load_state_dict(cpu.state_dict())
    gpu.to(CUDA)
    x, y = torch.rand(16, *shape), torch.randint(0, 10, (16,))
    assert torch.allclose(predict(cpu, x), predict(gpu, x), atol=1e-4)
    for model, dev in ((cpu, CPU), (gpu, CUDA)):
        opt, _ = make_sgd(model.parameters(), lr=0.1, momentum=0.9, weight_decay=5e-4, lr_step=1, lr_gamma=0.1)
        sgd_epoch(model, opt, iter([(x.to(dev), y.to(dev), None)]))
    for (name, a), b in zip(cpu.state_dict().items(), gpu.state_dict().values()):
        assert torch.allclose(a.float(), b.float().cpu(), atol=1e-5), name


def test_a_training_on_the_gpu_is_another_sample_of_the_same_recipe(tiny_spec, tmp_path):
    spec = replace(tiny_spec, train=replace(tiny_spec.train, epochs=30))
    out = {}
    for dev in (CPU, CUDA):
        runner = Runner(Store(tmp_path / dev.type), device=dev)
        base = runner.baseline(spec)
        ref = runner.references(spec, 4)
        sig = base.signals["original"]
        out[dev.type] = (sig.accuracy("test"), rmia(sig.pool_logits(), ref, sig.forget, remain=sig.remain).auc)
        assert base.original.artifact.manifest["device"].startswith(dev.type)
    assert abs(out["cpu"][0] - out["cuda"][0]) <= 0.03
    assert abs(out["cpu"][1] - out["cuda"][1]) <= 0.06


def test_ensemble_on_the_gpu_matches_single_gpu_trainings():
    ds = load_dataset(DataSpec("digits", train_size=200))
    rng = np.random.default_rng(0)
    subsets = [np.sort(rng.choice(200, n, replace=False)) for n in (70, 45, 100)]
    cfg = TrainConfig(epochs=3, batch_size=16, lr=0.1, lr_step=2, augment=False)
    seeds = [1, 2, 3]
    singles = []
    for sub, seed in zip(subsets, seeds):
        seed_everything(seed)
        m = build_model(ModelSpec("mlp", 32), ds.shape, 10)
        train_model(m, ds.x_train[sub], ds.y_train[sub], cfg, seed=seed, device=CUDA)
        singles.append(m)
    members = []
    for seed in seeds:
        seed_everything(seed)
        members.append(build_model(ModelSpec("mlp", 32), ds.shape, 10))
    train_ensemble(members, ds.x_train, ds.y_train, subsets, cfg, seeds, device=CUDA)
    for a, b in zip(singles, members):
        for pa, pb in zip(a.state_dict().values(), b.state_dict().values()):
            assert torch.allclose(pa, pb, atol=1e-4)


def _train(model, x, y, cfg: TrainConfig, seed: int, dtype) -> None:
    """The engine's loop (make_sgd, batches, sgd_epoch) with the forward pass under autocast when ``dtype``."""
    gen = torch.Generator(device=CUDA).manual_seed(seed)
    opt, sched = make_sgd(model.parameters(), lr=cfg.lr, momentum=cfg.momentum, weight_decay=cfg.weight_decay,
                          lr_step=cfg.lr_step, lr_gamma=cfg.lr_gamma)

    def loss_fn(m, xb, yb):
        with torch.autocast("cuda", dtype=dtype or torch.float32, enabled=dtype is not None):
            return F.cross_entropy(m(xb), yb)

    x, y = x.to(CUDA), y.to(CUDA)
    for _ in range(cfg.epochs):
        sgd_epoch(model, opt, batches(x, y, cfg.batch_size, gen, augment=cfg.augment), loss_fn)
        sched.step()


@pytest.mark.parametrize("arch, width", [("mlp", 128), ("cnn", 16)])
def test_bf16_autocast_keeps_accuracy_and_ft_auc(arch, width, tiny_spec, tmp_path):
    spec = replace(tiny_spec, model=ModelSpec(arch, width), train=replace(tiny_spec.train, epochs=40))
    runner = Runner(Store(tmp_path), device=CUDA)
    prep = runner.prepare(spec)
    ref = runner.references(spec, 4)
    data, n_train = prep.data, len(prep.data.y_train)
    pool = torch.cat([data.x_train, data.x_test])
    results = {}
    for name, dtype in (("fp32", None), ("bf16", torch.bfloat16)):
        seed_everything(spec.seed)
        model = build_model(spec.model, data.shape, data.num_classes).to(CUDA)
        _train(model, data.x_train, data.y_train, spec.train, spec.seed, dtype)
        logits = predict(model, pool).numpy()
        acc = float((logits[n_train:].argmax(1) == data.y_test.numpy()).mean())
        results[name] = (acc, rmia(logits, ref, prep.forget, remain=prep.remain).auc, model)
    (acc32, auc32, m32), (acc16, auc16, _) = results["fp32"], results["bf16"]
    assert abs(acc32 - acc16) <= 0.03 and abs(auc32 - auc16) <= 0.05
    with torch.autocast("cuda", dtype=torch.bfloat16):  # evaluation alone under autocast
        logits = predict(m32, pool).numpy()
    acc = float((logits[n_train:].argmax(1) == data.y_test.numpy()).mean())
    assert abs(acc - acc32) <= 0.01
    assert abs(rmia(logits, ref, prep.forget, remain=prep.remain).auc - auc32) <= 0.02
