"""Benchmark: each method's wall time as a ratio of Retrain's, on the default data (one process, side by side).

The original model comes from ``Runner.original`` (stored in ``--store``, default .tune-store/); every method
then runs through ``Unlearner.unlearn`` directly (not ``Runner.unlearned``, which would serve repeats from the
store) with the resources the runner hands it: the run's recipe, and for the ``+cache`` rows AMUN's D_A from
``Runner.adversarial`` (computed once for all of train, then indexed by the forget set).

Prints a table and writes bench/results/methods.md (``--out`` elsewhere). Target (issue): AMUN ≤ 10 % of Retrain.
Run: .venv/bin/python bench/bench_methods.py [--seeds 0,1,2] [--repeats 3] [--methods ft,amun] [--store DIR]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import torch

from engine.attacks import AdversarialSet, NearestAdversarial
from engine.presets import PRESETS
from engine.run import Prepared, Runner, TrainedModel
from engine.store import Store
from engine.unlearning import METHODS, Resources, get_method

RESULT = ROOT / "bench" / "results" / "methods.md"


def adversarial_cache(runner: Runner, prep: Prepared, original: TrainedModel) -> Callable[[NearestAdversarial],
                                                                                          AdversarialSet]:
    """What ``Runner.unlearned`` hands AMUN: the stored whole-train D_A of ``original``, indexed by the forget set."""
    def cache(attack: NearestAdversarial) -> AdversarialSet:
        return runner.adversarial(original, prep.data, attack=attack).subset(prep.forget)
    return cache


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--dataset", default="digits")
    ap.add_argument("--seeds", default="0")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--methods", default=",".join(METHODS),
                    help="comma-separated method keys (retrain is always timed: it is the denominator)")
    ap.add_argument("--store", default=str(ROOT / ".tune-store"), help="run store of the original models and D_A")
    ap.add_argument("--out", type=Path, default=RESULT, help=f"where the markdown goes (default {RESULT})")
    args = ap.parse_args()
    seeds = [int(s) for s in args.seeds.split(",")]
    keys = list(dict.fromkeys(["retrain", *args.methods.split(",")]))
    unknown = [k for k in keys if k not in METHODS]
    if unknown:
        ap.error(f"unknown method(s) {', '.join(unknown)}; choose from {', '.join(METHODS)}")
    runner = Runner(Store(args.store))
    amun_like = [k for k in keys if k.startswith("amun")]
    names = keys + [f"{k}+cache" for k in amun_like]
    times: dict[str, list[float]] = {k: [] for k in names}
    precompute = []
    for seed in seeds:
        prep = runner.prepare(replace(PRESETS[args.dataset], seed=seed, forget_seed=seed))
        original = runner.original(prep.spec)
        cache = adversarial_cache(runner, prep, original)
        if amun_like:
            amun = get_method(amun_like[0], dataset=args.dataset)
            attack = amun.attack(amun.eps_init)
            stored = runner.has_adversarial(original, prep.data, attack=attack)
            t0 = time.perf_counter()
            cache(attack)
            precompute.append((time.perf_counter() - t0, stored))
        for _ in range(args.repeats):
            for name in names:  # interleaved, so load changes hit every method alike
                key, cached = name.removesuffix("+cache"), name.endswith("+cache")
                method = get_method(key, dataset=args.dataset)
                res = method.unlearn(original.model, prep.data, prep.forget, prep.remain, seed=seed,
                                     device=runner.device, augment=prep.spec.train.augment,
                                     resources=Resources(recipe=prep.spec, adversarial=cache if cached else None))
                times[name].append(res.seconds)
    med = {k: statistics.median(v) for k, v in times.items()}
    options = f"--dataset {args.dataset} " if args.dataset != "digits" else ""
    options += f"--seeds {args.seeds} --repeats {args.repeats}"
    if keys != list(METHODS):
        options += f" --methods {','.join(keys)}"
    lines = [f"# Method wall time vs Retrain ({args.dataset}, seeds {args.seeds}, {args.repeats} repeats, "
             f"{torch.get_num_threads()} torch threads)", "",
             f"Command: `.venv/bin/python bench/bench_methods.py {options}`", "",
             "| method | median s | ratio to Retrain |", "|---|---|---|"]
    for name, m in med.items():
        key = name.removesuffix("+cache")
        label = METHODS[key].label + (", D_A precomputed for all of train" if name.endswith("+cache") else "")
        lines.append(f"| {label} (`{key}`) | {m:.3f} | {m / med['retrain']:.3f} |")
    searched = [t for t, stored in precompute if not stored]
    if searched:
        pre = statistics.median(searched)
        lines += ["", f"AMUN's search over the whole training set (`Runner.adversarial`, precomputed once per original "
                      f"model, then reused by every forget set, seed of unlearning and AMUN variant): median "
                      f"{pre:.3f} s ({pre / med['retrain']:.3f} of Retrain)."]
    if len(searched) < len(precompute):
        lines += ["", f"The store already held D_A for {len(precompute) - len(searched)} of {len(precompute)} "
                      "original model(s): loaded, not searched (no search time for those)."]
    if precompute:
        lines += ["Without the cache, AMUN searches the forget set at request time (first rows)."]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    print(f"written to {args.out}")


if __name__ == "__main__":
    main()
