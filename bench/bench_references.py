"""K reference models as one stacked ensemble vs K single trainings, side by side (issue 10 item 2).

Trains the digits preset's K = 8 RMIA reference models twice per round through the runner —
``Runner(reference_training="single").references`` and ``Runner(reference_training="ensemble").references``,
each into a fresh store — alternating which goes first, and reports wall and CPU time (this process) with their
ratio. Then it audits the preset's original and retrained models (``Runner.baseline``) against both reference
sets of the first round: how far the FT AUC moves when the references are ensemble-trained, and how close the
two sets' logits are.

Run: .venv/bin/python bench/bench_references.py [--k 8] [--rounds 2] [--epochs N] [--width W] [--out FILE]
``--epochs`` / ``--width`` shorten or resize the recipe for a smoke run (then write with ``--out`` elsewhere).
Writes bench/results/references.md by default. Not part of the tests.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from engine.audit.rmia import rmia
from engine.presets import PRESETS
from engine.run import Runner
from engine.store import Store

RESULTS = ROOT / "bench" / "results"


def load() -> str:
    return ", ".join(f"{x:.1f}" for x in os.getloadavg())


def train_set(spec, k: int, mode: str, root: Path):
    t0, c0 = time.perf_counter(), time.process_time()
    ref = Runner(Store(root), device=torch.device("cpu"), reference_training=mode).references(spec, k)
    assert ref.built == k
    return time.perf_counter() - t0, time.process_time() - c0, ref


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--k", type=int, default=8)
    ap.add_argument("--rounds", type=int, default=2, help="single/ensemble pairs, alternating which runs first")
    ap.add_argument("--epochs", type=int, default=None, help="override the preset's 200 epochs (smoke runs)")
    ap.add_argument("--width", type=int, default=None, help="override the preset's MLP width 512")
    ap.add_argument("--out", default=str(RESULTS / "references.md"))
    args = ap.parse_args()

    spec = PRESETS["digits"]
    if args.epochs:
        spec = replace(spec, train=replace(spec.train, epochs=args.epochs))
    if args.width:
        spec = replace(spec, model=replace(spec.model, width=args.width))
    lines = ["# K reference models: stacked ensemble vs single trainings (digits preset)", "",
             f"- date: {time.strftime('%Y-%m-%d %H:%M')}",
             f"- machine: {platform.machine()}, {os.cpu_count()} CPUs shared with other users; torch "
             f"{torch.__version__}; both modes run on one intra-op thread (the engine's rule for small models)",
             f"- recipe: {spec.data.dataset} train_size {spec.data.train_size}, {spec.model.arch} width "
             f"{spec.model.width}, {spec.train.epochs} epochs, batch {spec.train.batch_size}, lr {spec.train.lr}, "
             f"StepLR {spec.train.lr_step}; K = {args.k} models on halves of the pool (train ∪ test)", "",
             "Each round trains the same K models twice into fresh stores (keep matrix seed 0, the same seeds), "
             "once one after the other and once as one ensemble; the order alternates between rounds. CPU = "
             "this process's CPU time (the fairer cost on a shared machine); `uptime` load average beside each.",
             "", "| round | mode | wall s | CPU s | load (1, 5, 15 min) before |", "|---|---|---|---|---|"]
    walls: dict[str, list[float]] = {"single": [], "ensemble": []}
    cpus: dict[str, list[float]] = {"single": [], "ensemble": []}
    first_sets = {}
    with tempfile.TemporaryDirectory() as tmp:
        warm = replace(spec, train=replace(spec.train, epochs=1))  # imports, data, first kernels: not measured
        for mode in ("single", "ensemble"):
            train_set(warm, 2, mode, Path(tmp) / f"warm-{mode}")
        for rnd in range(args.rounds):
            order = ["single", "ensemble"] if rnd % 2 == 0 else ["ensemble", "single"]
            for mode in order:
                before = load()
                wall, cpu, ref = train_set(spec, args.k, mode, Path(tmp) / f"{mode}-{rnd}")
                walls[mode].append(wall)
                cpus[mode].append(cpu)
                first_sets.setdefault(mode, ref)
                lines.append(f"| {rnd + 1} | {mode} | {wall:.1f} | {cpu:.1f} | {before} |")
                print(lines[-1], flush=True)
        ws, we = statistics.median(walls["single"]), statistics.median(walls["ensemble"])
        cs, ce = statistics.median(cpus["single"]), statistics.median(cpus["ensemble"])
        lines += ["", f"**Median over {args.rounds} rounds: ensemble / single = {we / ws:.2f} in wall time "
                      f"({we:.1f} s vs {ws:.1f} s), {ce / cs:.2f} in CPU time ({ce:.1f} s vs {cs:.1f} s).** "
                      f"Per-round ratios (wall): "
                      + ", ".join(f"{e / s:.2f}" for s, e in zip(walls["single"], walls["ensemble"])), ""]

        base = Runner(Store(Path(tmp) / "baseline"), device=torch.device("cpu")).baseline(spec)
        single, ens = first_sets["single"], first_sets["ensemble"]
        dlog = np.abs(single.logits - ens.logits)
        same_pred = float((single.logits.argmax(-1) == ens.logits.argmax(-1)).mean())
        lines += ["## FT AUC of the original and retrained models with either reference set", "",
                  f"Forget = {spec.forget} (seed 0), the original and its retrain trained once; the same K models "
                  "trained singly and as an ensemble (round 1).", "",
                  "| model | FT AUC, single refs | FT AUC, ensemble refs | Δ | FR AUC single | FR AUC ensemble |",
                  "|---|---|---|---|---|---|"]
        for name in ("original", "retrain"):
            sig = base.signals[name]
            a = rmia(sig.pool_logits(), single, sig.forget, remain=sig.remain)
            b = rmia(sig.pool_logits(), ens, sig.forget, remain=sig.remain)
            lines.append(f"| {name} | {a.auc:.4f} | {b.auc:.4f} | {b.auc - a.auc:+.4f} | {a.fr_auc:.4f} | "
                         f"{b.fr_auc:.4f} |")
        lines += ["", f"Reference logits, ensemble vs single (same seeds, rows, init): max |Δ| {dlog.max():.3g}, "
                      f"mean |Δ| {dlog.mean():.3g}; same argmax on {100 * same_pred:.2f} % of the K × "
                      f"{single.n_pool} pool predictions.", ""]
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text("\n".join(lines) + "\n")
    print("\n".join(lines[-14:]))
    print(f"written to {out}")


if __name__ == "__main__":
    main()
