"""Benchmark: training throughput and the default pipeline's wall time (original + retrain + signals).

Prints figures and writes them to bench/results/pipeline.md (cited by the README). Not part of the tests.
Run: .venv/bin/python bench/bench_pipeline.py [--repeats 3]
"""

from __future__ import annotations

import argparse
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from engine.pipeline import PRESETS, run_baseline  # noqa: E402

from engine.config import ModelSpec, TrainConfig  # noqa: E402
from engine.models import build_model, prefers_channels_last  # noqa: E402
from engine.store import Store  # noqa: E402
from engine.training import default_device, train_model  # noqa: E402


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
    args = ap.parse_args()
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
        ips = throughput(arch, width, shape, n, batch, epochs)
        lines.append(f"| {arch} (width {width}) | {'x'.join(map(str, shape))} | {batch} | {ips:,.0f} |")
        print(lines[-1], flush=True)
    lines += ["", "## Default pipeline (digits preset: original + retrain + signals, empty store)", ""]
    walls, cached = [], []
    for r in range(args.repeats):
        with tempfile.TemporaryDirectory() as tmp:
            t0 = time.perf_counter()
            run_baseline(PRESETS["digits"], Store(tmp))
            walls.append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            run_baseline(PRESETS["digits"], Store(tmp))
            cached.append(time.perf_counter() - t0)
        print(f"repeat {r + 1}: cold {walls[-1]:.2f} s, from store {cached[-1]:.3f} s", flush=True)
    lines += [f"- cold (trains both models): median {statistics.median(walls):.2f} s "
              f"(runs: {', '.join(f'{w:.2f}' for w in walls)})",
              f"- second request (served from the store): median {statistics.median(cached):.3f} s",
              f"- ratio cold / cached: {statistics.median(walls) / statistics.median(cached):.0f}x", ""]
    out = ROOT / "bench" / "results" / "pipeline.md"
    out.write_text("\n".join(lines))
    print("\n".join(lines[-5:]))
    print(f"written to {out}")


if __name__ == "__main__":
    main()
