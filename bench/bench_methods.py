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

from engine.attacks import cached_nearest_adversarial  # noqa: E402
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
    amun_like = [k for k in METHODS if k.startswith("amun")]
    names = list(METHODS) + [f"{k}+cache" for k in amun_like]
    times: dict[str, list[float]] = {k: [] for k in names}
    precompute = []
    for seed in seeds:
        prep = prepare(replace(PRESETS[args.dataset], seed=seed, forget_seed=seed))
        original = train_or_load("original", prep, store)

        def cache(prep=prep, original=original, **params):
            adv = cached_nearest_adversarial(store, original.key, prep.data.fingerprint, "train", original.model,
                                             prep.data.x_train, prep.data.y_train, **params)
            return adv.subset(prep.forget)

        t0 = time.perf_counter()
        cache(**{k: getattr(get_method("amun", dataset=args.dataset), a) for k, a in
                 (("eps_init", "eps_init"), ("steps", "pgd_steps"), ("max_doublings", "max_doublings"))})
        precompute.append(time.perf_counter() - t0)
        for _ in range(args.repeats):
            for name in names:  # interleaved, so load changes hit every method alike
                key, cached = name.removesuffix("+cache"), name.endswith("+cache")
                method = get_method(key, dataset=args.dataset)
                res = method.unlearn(original.model, prep.data, prep.forget, prep.remain, seed=seed,
                                     run_spec=prep.spec, augment=prep.spec.train.augment,
                                     adversarial_cache=cache if cached else None)
                times[name].append(res.seconds)
    med = {k: statistics.median(v) for k, v in times.items()}
    lines = [f"# Method wall time vs Retrain ({args.dataset}, seeds {args.seeds}, {args.repeats} repeats, "
             f"{torch.get_num_threads()} torch threads)", "",
             f"Command: `.venv/bin/python bench/bench_methods.py --seeds {args.seeds} --repeats {args.repeats}`", "",
             "| method | median s | ratio to Retrain |", "|---|---|---|"]
    for name, m in med.items():
        key = name.removesuffix("+cache")
        label = METHODS[key].label + (", D_A precomputed for all of train" if name.endswith("+cache") else "")
        lines.append(f"| {label} (`{key}`) | {m:.3f} | {m / med['retrain']:.3f} |")
    lines += ["", f"AMUN's search over the whole training set (precomputed once per original model, then reused "
                  f"by every forget set, seed of unlearning and AMUN variant): median {statistics.median(precompute):.3f} s "
                  f"({statistics.median(precompute) / med['retrain']:.3f} of Retrain).",
              "Without the cache, AMUN searches the forget set at request time (first rows)."]
    out = ROOT / "bench" / "results" / "methods.md"
    out.write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    print(f"written to {out}")


if __name__ == "__main__":
    main()
