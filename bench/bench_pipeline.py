"""Benchmark: training throughput and the default pipeline's wall time (``Runner.baseline``: original + retrain +
signals).

Prints figures and writes them to bench/results/pipeline.md (cited by the README). Not part of the tests.
Run: .venv/bin/python bench/bench_pipeline.py [--repeats 3] [--out FILE]
     .venv/bin/python bench/bench_pipeline.py --quick   (smoke test: a fraction of the work, into a temporary file)
"""

from __future__ import annotations

import argparse
import platform
import statistics
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from engine.config import ModelSpec, TrainConfig
from engine.models import build_model, prefers_channels_last
from engine.presets import PRESETS
from engine.run import Runner
from engine.store import Store
from engine.training import default_device, train_model

RESULT = ROOT / "bench" / "results" / "pipeline.md"


def throughput(arch: str, width: int, shape: tuple[int, int, int], n: int, batch: int, epochs: int) -> float:
    device = default_device()
    torch.manual_seed(0)
    x, y = torch.rand(n, *shape), torch.randint(0, 10, (n,))
    model = build_model(ModelSpec(arch, width), shape, 10).to(device)
    if prefers_channels_last(ModelSpec(arch, width), device):
        model = model.to(memory_format=torch.channels_last)
    cfg = TrainConfig(epochs=1, batch_size=batch, augment=False)
    train_model(model, x[: batch * 4], y[: batch * 4], cfg, seed=0, device=device)  # warm-up
    cfg = TrainConfig(epochs=epochs, batch_size=batch, augment=False)
    t0 = time.perf_counter()
    train_model(model, x, y, cfg, seed=0, device=device)
    return n * epochs / (time.perf_counter() - t0)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--out", type=Path, default=None, help=f"where the markdown goes (default {RESULT})")
    ap.add_argument("--quick", action="store_true",
                    help="smoke test: 1 repeat, a tenth of the throughput samples, the digits recipe at 10 epochs; "
                         "writes to a temporary file unless --out is given")
    args = ap.parse_args()
    spec = PRESETS["digits"]
    shrink = 1
    if args.quick:
        args.repeats, shrink = 1, 10
        spec = replace(spec, train=replace(spec.train, epochs=10))
        if args.out is None:
            args.out = Path(tempfile.mkstemp(prefix="bench_pipeline_", suffix=".md")[1])
    out = args.out or RESULT
    device = default_device()
    lines = ["# Pipeline benchmark", "", f"- date: {time.strftime('%Y-%m-%d %H:%M')}",
             f"- machine: {platform.machine()}, {torch.get_num_threads()} torch threads, device {device}",
             f"- torch {torch.__version__}", ""]
    lines += ["## Training throughput (forward + backward + SGD step, random data)", "",
              "| model | input | batch | img/s |", "|---|---|---|---|"]
    for arch, width, shape, n, batch, epochs in [
        ("mlp", 512, (1, 8, 8), 3000, 32, 5),
        ("cnn", 32, (1, 8, 8), 3000, 32, 2),
        ("cnn", 32, (1, 28, 28), 2000, 128, 1),
        ("cnn", 32, (3, 32, 32), 2000, 128, 1),
    ]:
        ips = throughput(arch, width, shape, max(n // shrink, 2 * batch), batch, epochs)
        lines.append(f"| {arch} (width {width}) | {'x'.join(map(str, shape))} | {batch} | {ips:,.0f} |")
        print(lines[-1], flush=True)
    recipe = "digits preset" + (f", {spec.train.epochs} epochs (--quick)" if args.quick else "")
    lines += ["", f"## Default pipeline ({recipe}: `Runner.baseline` = original + retrain + signals, empty store)",
              ""]
    walls, cached = [], []
    for r in range(args.repeats):
        with tempfile.TemporaryDirectory() as tmp:
            t0 = time.perf_counter()
            Runner(Store(tmp)).baseline(spec)
            walls.append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            again = Runner(Store(tmp)).baseline(spec)
            cached.append(time.perf_counter() - t0)
            assert again.original.artifact.from_cache and again.retrain.artifact.from_cache
        print(f"repeat {r + 1}: cold {walls[-1]:.2f} s, from store {cached[-1]:.3f} s", flush=True)
    lines += [f"- cold (trains both models): median {statistics.median(walls):.2f} s "
              f"(runs: {', '.join(f'{w:.2f}' for w in walls)})",
              f"- second request (served from the store): median {statistics.median(cached):.3f} s",
              f"- ratio cold / cached: {statistics.median(walls) / statistics.median(cached):.0f}x", ""]
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text("\n".join(lines))
    print("\n".join(lines[-5:]))
    print(f"written to {out}")


if __name__ == "__main__":
    main()
