"""Benchmark of the audits: RMIA scoring (sort + searchsorted vs the O(N²) loop) and reference-model cost.

Writes bench/results/audit.md. With ``--k-table`` it instead measures how the FT AUC of the digits preset's
original and retrained models moves with the number of reference models K and writes bench/results/rmia_k.md.
Not part of the tests.

The models come from :class:`engine.run.Runner` (``baseline`` for the original and retrained models,
``references`` for the reference sets); the scoring is :func:`engine.audit.rmia.rmia` on each model's
``Signals.pool_logits()``.

Run: .venv/bin/python bench/bench_audit.py [--repeats 3] [--k 8] [--store DIR] [--out FILE]
     .venv/bin/python bench/bench_audit.py --k-table [--ks 4 8 16 32] [--store DIR] [--out FILE]
``--store`` reuses a store (already trained reference sets are then loaded, and their stored training times
reported); by default a fresh temporary store is used. ``--out`` writes the markdown elsewhere than
bench/results (e.g. for a smoke run with ``--repeats 1 --k 2``).
"""

from __future__ import annotations

import argparse
import functools
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from engine.audit.rmia import DEFAULT_K, _score_naive, rmia, scores_from_lr
from engine.presets import PRESETS
from engine.run import Runner
from engine.store import Store
from engine.training import default_device

RESULTS = ROOT / "bench" / "results"


def header(title: str) -> list[str]:
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    return [f"# {title}", "", f"- date: {time.strftime('%Y-%m-%d %H:%M')}",
            f"- machine: {platform.machine()}, {os.cpu_count()} CPUs, {torch.get_num_threads()} torch threads, "
            f"device {default_device()}",
            f"- load average (1, 5, 15 min) at start: {load} — other processes shared the CPU; wall times of "
            "training are inflated accordingly", f"- torch {torch.__version__}", ""]


#: bench/results/pipeline.md's MLP-512 training throughput (batch 32, 8x8 input) on an idle 2-core machine.
IDLE_MLP_IMG_S = 23_242


def mlp_throughput() -> float:
    """Training images per second of the digits MLP right now (a gauge of how busy the CPU is)."""
    from engine.config import ModelSpec, TrainConfig
    from engine.models import build_model
    from engine.training import train_model

    torch.manual_seed(0)
    x, y = torch.rand(3000, 1, 8, 8), torch.randint(0, 10, (3000,))
    model = build_model(ModelSpec("mlp", 512), (1, 8, 8), 10)
    train_model(model, x[:256], y[:256], TrainConfig(epochs=1, batch_size=32, augment=False), seed=0)
    t0 = time.perf_counter()
    train_model(model, x, y, TrainConfig(epochs=2, batch_size=32, augment=False), seed=0)
    return 6000 / (time.perf_counter() - t0)


def timed(fn, repeats: int) -> tuple[float, object]:
    times, out = [], None
    for _ in range(repeats):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), out


def scoring_section(repeats: int) -> list[str]:
    lines = ["## RMIA scoring: sort + searchsorted vs the O(N²) loop", "",
             "Score(x) = fraction of the population z ≠ x with LR_x / LR_z > 2, for every pool point "
             "(targets = population = all N). LR drawn log-normal with 10 % exact duplicates (ties). "
             f"Median of {repeats} runs; results asserted bit-identical.", "",
             "| N | sort + searchsorted | naive loop | ratio | identical |", "|---|---|---|---|---|"]
    rng = np.random.default_rng(0)
    for n in (1_000, 5_000):
        lr = rng.lognormal(size=n)
        dup = rng.choice(n, n // 10, replace=False)
        lr[dup] = lr[rng.choice(n, n // 10)]
        t_fast, fast = timed(functools.partial(scores_from_lr, lr), repeats)
        t_naive, naive = timed(functools.partial(_score_naive, lr), repeats)
        same = bool(np.array_equal(fast, naive))
        assert same, f"fast and naive RMIA scores differ at N={n}"
        lines.append(f"| {n:,} | {t_fast * 1e3:.2f} ms | {t_naive * 1e3:.1f} ms | {t_naive / t_fast:.0f}x | {same} |")
        print(lines[-1], flush=True)
    return lines + [""]


def reference_section(store_dir: str | None, k: int = DEFAULT_K) -> list[str]:
    spec = PRESETS["digits"]
    ips = mlp_throughput()
    with tempfile.TemporaryDirectory() as tmp:
        runner = Runner(Store(store_dir or tmp))
        base = runner.baseline(spec)
        t0 = time.perf_counter()
        ref = runner.references(spec, k)
        cold = time.perf_counter() - t0
        t0 = time.perf_counter()
        again = runner.references(spec, k)
        warm = time.perf_counter() - t0
        assert again.built == 0
        t0 = time.perf_counter()
        res = {m: rmia(base.signals[m].pool_logits(), ref, base.prep.forget, remain=base.prep.remain)
               for m in ("original", "retrain")}
        score_s = (time.perf_counter() - t0) / 2
    built = (f"trained now: {ref.built} of {k}, wall {cold:.1f} s" if ref.built
             else f"all loaded from the given store (wall of this call: {cold:.2f} s)")
    which = "default K" if k == DEFAULT_K else f"K (default {DEFAULT_K})"
    lines = [f"## Reference models, digits preset, {which} = {k}", "",
             f"- pool = train ∪ test = {ref.n_pool} images; each model trains on about {ref.n_pool // 2} "
             f"({spec.model.arch} {spec.model.width}, {spec.train.epochs} epochs, batch {spec.train.batch_size})",
             f"- {built}; stored training time of the set {ref.seconds:.1f} s "
             f"({ref.seconds / k:.1f} s per model)",
             f"- CPU gauge: the digits MLP trained at {ips:,.0f} img/s during this run, against "
             f"{IDLE_MLP_IMG_S:,} img/s on an idle machine (pipeline.md). One reference model is "
             f"{spec.train.epochs} × ~{ref.n_pool // 2} = {spec.train.epochs * (ref.n_pool // 2):,} training images: "
             f"about {spec.train.epochs * (ref.n_pool // 2) / IDLE_MLP_IMG_S:.1f} s idle, so about "
             f"{k * spec.train.epochs * (ref.n_pool // 2) / IDLE_MLP_IMG_S:.0f} s for this set",
             f"- second request (served from the store): {warm:.3f} s",
             f"- RMIA scoring + AUCs per audited model: {score_s * 1e3:.1f} ms",
             f"- FT AUC (this run): original {res['original'].auc:.3f}, retrain {res['retrain'].auc:.3f}", ""]
    for line in lines:
        print(line, flush=True)
    return lines


def runs(res) -> str:
    """The FT AUC of each subsampling seed, in brackets."""
    return "(" + ", ".join(f"{a:.3f}" for a in res.auc_runs) + ")"


def k_table(ks: list[int], store_dir: str | None) -> list[str]:
    spec = PRESETS["digits"]
    lines = header("RMIA FT AUC vs the number of reference models K (digits preset, seed 0)")
    lines += ["Digits default recipe (300 training images, MLP 512, 200 epochs, forget = random 20 % = 60 images, "
              "test = 449). Keep-matrix seed 0; each K is its own reference set (every point IN for exactly K/2 "
              "models). FT AUC = mean over subsampling seeds 0, 1, 2 of the ROC-AUC of n = min(|D_F|, |D_T|, |D_R|) "
              "= 60 forget vs 60 test scores (the three runs in brackets); 'all' = all 60 forget vs all 449 test. "
              "FR AUC = remain vs forget, same n. Training time = stored time of the K models (CPU, shared).", "",
              "| K | FT AUC original | runs | all | FR AUC original | FT AUC retrain | runs | all | training s |",
              "|---|---|---|---|---|---|---|---|---|"]
    orig, spans = [], []
    with tempfile.TemporaryDirectory() as tmp:
        runner = Runner(Store(store_dir or tmp))
        base = runner.baseline(spec)
        for k in ks:
            ref = runner.references(spec, k)
            o, r = (rmia(base.signals[m].pool_logits(), ref, base.prep.forget, remain=base.prep.remain)
                    for m in ("original", "retrain"))
            lines.append(f"| {k} | {o.auc:.3f} | {runs(o)} | {o.auc_all:.3f} | {o.fr_auc:.3f} | {r.auc:.3f} | "
                         f"{runs(r)} | {r.auc_all:.3f} | {ref.seconds:.0f} |")
            print(lines[-1], flush=True)
            orig.append(o.auc)
            spans.append(max(o.auc_runs) - min(o.auc_runs))
    lines += ["", f"Across K = {', '.join(map(str, ks))} the original model's FT AUC spans "
              f"{min(orig):.3f}–{max(orig):.3f} ({max(orig) - min(orig):.3f}); the three subsampling runs of a "
              f"single K differ by up to {max(spans):.3f}. Training time grows linearly with K."]
    return lines + [""]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--store", default=None, help="reuse this store directory instead of a fresh temporary one")
    ap.add_argument("--k-table", action="store_true", help="measure FT AUC vs K and write rmia_k.md")
    ap.add_argument("--ks", type=int, nargs="+", default=[4, 8, 16, 32])
    ap.add_argument("--k", type=int, default=DEFAULT_K, help="reference models of the audit benchmark's set")
    ap.add_argument("--out", type=Path, default=None,
                    help="where the markdown goes (default bench/results/audit.md, or rmia_k.md with --k-table)")
    args = ap.parse_args()
    if args.k_table:
        lines = k_table(args.ks, args.store)
        out = args.out or RESULTS / "rmia_k.md"
    else:
        lines = header("Audit benchmark") + scoring_section(args.repeats) + reference_section(args.store, args.k)
        out = args.out or RESULTS / "audit.md"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text("\n".join(lines))
    print(f"written to {out}")


if __name__ == "__main__":
    main()
