"""GPU benchmark (issue 10 item 5): the figures the papers' scale needs, measured on the machine it runs on.

1. **Training throughput**: images/s of ResNet-18 (AMUN's ``resnet18_amun``) training on CIFAR-shaped inputs —
   the engine's loop (``train_model``, fp32) and, for comparison, the same loop with bf16 autocast and with
   channels_last (the engine does not switch those on yet; these rows say what they would give).
2. **D_A for the whole training set** (60,000 Fashion-MNIST images): AMUN's nearest-adversarial search
   (``Runner.adversarial``, L2 PGD-50, ε doubling) under the trained original model. Target < 2 min on one H100.
3. **Each method as a ratio of Retrain**: the methods' wall time from the protocol run (5) over Retrain's.
4. **K reference models**: the protocol's reference set (ResNet-18 has batch norm: trained one by one), and
   the small CNN's K models one by one vs as a stacked ensemble (``engine.ensemble``) on this device.
5. **One seed of the protocol** on Fashion-MNIST / ResNet-18 (the stand-in for CIFAR-10): original, retrain,
   D_A, K references, every method of the AMUN paper's Table 1 with D_R, audits — each stage timed, the table
   printed. Target: the one-seed 10 % table < 30 min.

Run on a GPU machine (carry the Fashion-MNIST idx files; nothing downloads there):
    python bench/bench_gpu.py --data-dir DIR [--epochs 30] [--k 8] [--out bench/results/gpu.md]
``--epochs`` sets the recipe of the original / retrain / reference models (the paper's is 200 with StepLR 40;
the default 30 with StepLR 10 keeps the one-seed run near the target). ``--paper`` uses 200 / 40.
Smoke run on the CPU (tiny settings; every figure is labelled a CPU smoke figure, not a GPU measurement):
    python bench/bench_gpu.py --quick
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import torch
from torch.nn import functional as F

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from engine.config import DataSpec, ModelSpec, RunSpec, TrainConfig
from engine.models import build_model
from engine.run import AuditRequest, Runner
from engine.store import Store
from engine.training import batches, default_device, make_sgd, sgd_epoch, train_model

RESULTS = ROOT / "bench" / "results"
PAPER_METHODS = "ft,rl,ga,bs,l1_sparse,salun,amun,amun_salun"


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def timed(device: torch.device, fn):
    sync(device)
    t0 = time.perf_counter()
    out = fn()
    sync(device)
    return time.perf_counter() - t0, out


# ------------------------------------------------------------------------------------------------ 1. throughput
def throughput(device: torch.device, width: int, n: int, batch: int, epochs: int) -> dict[str, float]:
    """Training images/s of resnet18_amun on (n, 3, 32, 32) random inputs: fp32, bf16 autocast, channels_last."""
    torch.manual_seed(0)
    x, y = torch.rand(n, 3, 32, 32, device=device), torch.randint(0, 10, (n,), device=device)
    cfg = TrainConfig(epochs=epochs, batch_size=batch, lr=0.05, augment=True)
    out = {}

    def engine_loop() -> None:
        model = build_model(ModelSpec("resnet18_amun", width), (3, 32, 32), 10).to(device)
        train_model(model, x[: batch * 2], y[: batch * 2], replace(cfg, epochs=1), seed=0, device=device)  # warm-up
        sec, _ = timed(device, lambda: train_model(model, x, y, cfg, seed=0, device=device))
        out["fp32, engine (train_model)"] = n * epochs / sec

    def variant(name: str, dtype, channels_last: bool) -> None:
        model = build_model(ModelSpec("resnet18_amun", width), (3, 32, 32), 10).to(device)
        if channels_last:
            model = model.to(memory_format=torch.channels_last)
        opt, sched = make_sgd(model.parameters(), lr=cfg.lr, momentum=cfg.momentum, weight_decay=cfg.weight_decay,
                              lr_step=cfg.lr_step, lr_gamma=cfg.lr_gamma)
        gen = torch.Generator(device=device).manual_seed(0)

        def loss_fn(m, xb, yb):
            if channels_last:
                xb = xb.contiguous(memory_format=torch.channels_last)
            with torch.autocast(device.type, dtype=dtype or torch.float32, enabled=dtype is not None):
                return F.cross_entropy(m(xb), yb)

        def run(k: int) -> None:
            for _ in range(k):
                sgd_epoch(model, opt, batches(x, y, batch, gen, augment=True), loss_fn)
                sched.step()

        sgd_epoch(model, opt, batches(x[: batch * 2], y[: batch * 2], batch, gen, augment=True), loss_fn)  # warm-up
        sec, _ = timed(device, lambda: run(epochs))
        out[name] = n * epochs / sec

    engine_loop()
    variant("bf16 autocast", torch.bfloat16, False)
    variant("bf16 autocast + channels_last", torch.bfloat16, True)
    if device.type == "cuda":
        variant("fp32 + channels_last", None, True)
    return out


# ------------------------------------------------------------------------------------------------ 4b. ensemble
def reference_modes(device: torch.device, spec: RunSpec, k: int, root: Path) -> dict[str, float]:
    """The same K references of ``spec`` (a buffer-free model) one by one and as a stacked ensemble."""
    out = {}
    for mode in ("single", "ensemble"):
        sec, ref = timed(device, lambda mode=mode: Runner(Store(root / mode), device=device,
                                                          reference_training=mode).references(spec, k))
        assert ref.built == k
        out[mode] = sec
    return out


# ------------------------------------------------------------------------------------------------ main
def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="tiny settings for a CPU smoke run")
    ap.add_argument("--data-dir", default=None, help="where FashionMNIST/raw/ lives (full run)")
    ap.add_argument("--epochs", type=int, default=30, help="recipe epochs of original / retrain / references")
    ap.add_argument("--paper", action="store_true", help="the paper's recipe: 200 epochs, StepLR 40")
    ap.add_argument("--k", type=int, default=8, help="RMIA reference models")
    ap.add_argument("--methods", default=PAPER_METHODS)
    ap.add_argument("--out", default=None, help="markdown output (default bench/results/gpu.md; --quick: stdout)")
    args = ap.parse_args()
    device = default_device()
    smoke = device.type != "cuda"
    if args.quick:
        spec = RunSpec(data=DataSpec("digits", train_size=300), model=ModelSpec("resnet18_amun", 8),
                       train=TrainConfig(epochs=8, batch_size=64, lr=0.05, lr_step=4, augment=False),
                       forget="random:0.1", seed=1, forget_seed=1)
        tp = dict(width=8, n=256, batch=64, epochs=1)
        k, methods = 2, "ft,ga,amun"
        cnn_spec = replace(spec, model=ModelSpec("cnn", 8))
    else:
        epochs, step = (200, 40) if args.paper else (args.epochs, max(1, args.epochs // 3))
        spec = RunSpec(data=DataSpec("fashion-mnist"), model=ModelSpec("resnet18_amun", 64),
                       train=TrainConfig(epochs=epochs, batch_size=128, lr=0.1, lr_step=step, augment=False),
                       forget="random:0.1", seed=1, forget_seed=1)
        tp = dict(width=64, n=50_000, batch=128, epochs=2)
        k, methods = args.k, args.methods
        cnn_spec = replace(spec, model=ModelSpec("cnn", 32), train=replace(spec.train, epochs=min(epochs, 30)))
    label = "CPU smoke figures (--quick on a CPU: NOT GPU measurements)" if smoke else "GPU measurements"
    name = torch.cuda.get_device_name(0) if device.type == "cuda" else platform.processor() or platform.machine()
    lines = [f"# GPU benchmark — {label}", "", f"- date: {time.strftime('%Y-%m-%d %H:%M')}",
             f"- device: {device} ({name}); torch {torch.__version__}; load average "
             + ", ".join(f"{v:.1f}" for v in os.getloadavg()),
             f"- protocol spec: {spec.data.dataset} (train_size {spec.data.train_size}), {spec.model.arch} width "
             f"{spec.model.width}, {spec.train.epochs} epochs (StepLR {spec.train.lr_step}), batch "
             f"{spec.train.batch_size}, forget {spec.forget}, seed {spec.seed}, K = {k}, methods {methods}", ""]

    def emit(*new: str) -> None:
        lines.extend(new)
        print("\n".join(new), flush=True)

    emit("## 1. Training throughput (resnet18_amun, 3×32×32, crop+flip, batch "
         f"{tp['batch']}, {tp['n']} images × {tp['epochs']} epoch(s))", "", "| variant | images/s |", "|---|---|")
    for variant, ips in throughput(device, **tp).items():
        emit(f"| {variant} | {ips:,.0f} |")

    with tempfile.TemporaryDirectory() as tmp:
        runner = Runner(Store(Path(tmp) / "store"), data_dir=args.data_dir, device=device)
        req = AuditRequest.build(spec, methods.split(","), seeds=(spec.seed,), k=k)
        stages = {}
        prep = runner.prepare(spec)
        stages["original"], original = timed(device, lambda: runner.original(spec))
        stages["retrain"], _ = timed(device, lambda: runner.retrain(prep))
        stages["D_A (whole train set)"], adv = timed(device, lambda: runner.adversarial(original, prep.data))
        stages["K references"], ref = timed(device, lambda: runner.references(spec, k))
        stages["methods + signals + audits"], cmp = timed(device, lambda: runner.compare(req))
        n_train = len(prep.data.y_train)

        s = adv.summary()
        emit("", f"## 2. D_A for the whole training set ({n_train:,} images)", "",
             f"{stages['D_A (whole train set)']:.1f} s ({n_train / stages['D_A (whole train set)']:,.0f} images/s); "
             f"flipped {s['flipped']:,}, not flipped {s['not_flipped']}, already wrong {s['already_wrong']:,}, "
             f"median ε {s['median_eps']:.3f}, median ‖δ‖ {s['median_delta_norm']:.3f}. Target (60k, H100): < 120 s.")

        secs = cmp.rows.groupby("method")["seconds"].mean()
        emit("", "## 3. Each method as a ratio of Retrain (wall time of the update rule; AMUN's D_A is precomputed "
                 "in 2)", "", "| method | seconds | / Retrain |", "|---|---|---|")
        for m in ["retrain", *[x.key for x in req.methods]]:
            emit(f"| {cmp.labels.get(m, m)} | {secs[m]:.1f} | {secs[m] / secs['retrain']:.3f} |")

        emit("", f"## 4. K = {k} reference models", "",
             f"Protocol set ({spec.model.arch}, batch norm: trained one by one): {stages['K references']:.1f} s "
             f"({stages['K references'] / k:.1f} s per model; stored training time {ref.seconds:.1f} s).")
        modes = reference_modes(device, cnn_spec, k, Path(tmp) / "modes")
        emit(f"Small CNN (width {cnn_spec.model.width}, {cnn_spec.train.epochs} epochs), the same K models: "
             f"one by one {modes['single']:.1f} s, stacked ensemble {modes['ensemble']:.1f} s "
             f"(ratio {modes['ensemble'] / modes['single']:.2f}).")

        total = sum(stages.values())
        emit("", f"## 5. One seed of the protocol ({spec.data.dataset}, {spec.model.arch}, {spec.forget}, with D_R)",
             "", "| stage | seconds |", "|---|---|", *[f"| {st} | {sec:.1f} |" for st, sec in stages.items()],
             f"| **total** | **{total:.1f}** ({total / 60:.1f} min; target < 30 min) |", "", cmp.to_markdown())
    if args.out or not args.quick:
        out = Path(args.out) if args.out else RESULTS / "gpu.md"
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text("\n".join(lines) + "\n")
        print(f"written to {out}")


if __name__ == "__main__":
    main()
