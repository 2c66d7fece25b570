"""Benchmark: each method's wall time as a ratio of Retrain's, on the default data (one process, side by side).

Prints a table and writes bench/results/methods.md. Target (issue): AMUN ≤ 10 % of Retrain.
Run: .venv/bin/python bench/bench_methods.py [--seeds 0,1,2] [--repeats 3]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from dataclasses import replace
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import torch  # noqa: E402

from engine.pipeline import PRESETS, prepare, train_or_load  # noqa: E402
from engine.store import Store  # noqa: E402
from engine.unlearning import METHODS, get_method  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--dataset", default="digits")
    ap.add_argument("--seeds", default="0")
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    seeds = [int(s) for s in args.seeds.split(",")]
    store = Store(ROOT / ".tune-store")
    times: dict[str, list[float]] = {k: [] for k in METHODS}
    for seed in seeds:
        prep = prepare(replace(PRESETS[args.dataset], seed=seed, forget_seed=seed))
        original = train_or_load("original", prep, store)
        for _ in range(args.repeats):
            for key in METHODS:  # interleaved, so load changes hit every method alike
                method = get_method(key, dataset=args.dataset)
                res = method.unlearn(original.model, prep.data, prep.forget, prep.remain, seed=seed,
                                     run_spec=prep.spec, augment=prep.spec.train.augment)
                times[key].append(res.seconds)
    med = {k: statistics.median(v) for k, v in times.items()}
    lines = [f"# Method wall time vs Retrain ({args.dataset}, seeds {args.seeds}, {args.repeats} repeats, "
             f"{torch.get_num_threads()} torch threads)", "",
             f"Command: `.venv/bin/python bench/bench_methods.py --seeds {args.seeds} --repeats {args.repeats}`", "",
             "| method | median s | ratio to Retrain |", "|---|---|---|"]
    for key, m in med.items():
        lines.append(f"| {METHODS[key].label} (`{key}`) | {m:.3f} | {m / med['retrain']:.3f} |")
    out = ROOT / "bench" / "results" / "methods.md"
    out.write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    print(f"written to {out}")


if __name__ == "__main__":
    main()
