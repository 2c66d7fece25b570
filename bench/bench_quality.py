"""`python -m engine quality` from an empty store, measured side by side with 16 single trainings (issue 17).

Three measurements on the digits preset, one after the other on this machine (load averages beside each):

1. the command ``python -m engine quality --dataset digits --methods ft,rl,salun,amun --runs 16`` in a subprocess
   with a fresh store (the original, 2 × 16 retrains, 4 × 16 unlearning runs, their signals, the scores), wall and
   CPU time, and its printed table;
2. 16 single trainings of the preset's recipe on the remain set (``train_model``, 16 seeds): the yardstick;
3. the same 16 trainings as one stacked ensemble (``train_ensemble``): what the flow would save once the runner
   can store stacked retrains (today it trains them one by one through ``Runner.retrain``).

Run: .venv/bin/python bench/bench_quality.py [--runs 16] [--methods ft,rl,salun,amun] [--out FILE]
Writes bench/results/quality.md by default. Not part of the tests.
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from engine.ensemble import train_ensemble
from engine.forget import remain_indices, select_forget
from engine.models import build_model
from engine.presets import PRESETS
from engine.run import Runner
from engine.store import Store
from engine.training import seed_everything, train_model

RESULTS = ROOT / "bench" / "results"


def load() -> str:
    return ", ".join(f"{x:.1f}" for x in os.getloadavg())


def child_cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=16)
    ap.add_argument("--methods", default="ft,rl,salun,amun")
    ap.add_argument("--out", default=str(RESULTS / "quality.md"))
    args = ap.parse_args()
    spec = PRESETS["digits"]
    rows, text = [], ""

    with tempfile.TemporaryDirectory() as home:
        cmd = [sys.executable, "-m", "engine", "quality", "--dataset", "digits", "--methods", args.methods,
               "--runs", str(args.runs)]
        env = {**os.environ, "UNLEARN_HOME": home}
        before, c0, t0 = load(), child_cpu(), time.perf_counter()
        proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, check=False)
        wall, cpu = time.perf_counter() - t0, child_cpu() - c0
        if proc.returncode != 0:
            raise SystemExit(f"quality failed:\n{proc.stderr}")
        text = proc.stdout
        rows.append(("`python -m engine quality` from an empty store", wall, cpu, before))

    runner = Runner(Store(tempfile.mkdtemp()), device=torch.device("cpu"))
    data = runner.data(spec)
    forget = select_forget(spec.forget, data.y_train, data.num_classes, spec.forget_seed)
    remain = remain_indices(forget, len(data.y_train))
    seeds = list(range(100, 100 + args.runs))

    def fresh(seed: int):
        seed_everything(seed)
        return build_model(spec.model, data.shape, data.num_classes)

    before, c0, t0 = load(), time.process_time(), time.perf_counter()
    for s in seeds:
        train_model(fresh(s), data.x_train[remain], data.y_train[remain], spec.train, seed=s,
                    device=torch.device("cpu"))
    rows.append((f"{args.runs} single trainings (train_model, remain set)", time.perf_counter() - t0,
                 time.process_time() - c0, before))

    before, c0, t0 = load(), time.process_time(), time.perf_counter()
    train_ensemble([fresh(s) for s in seeds], data.x_train, data.y_train, [remain] * len(seeds), spec.train, seeds,
                   device=torch.device("cpu"))
    rows.append((f"{args.runs} trainings as one stacked ensemble", time.perf_counter() - t0,
                 time.process_time() - c0, before))

    single, ens, quality = rows[1][1], rows[2][1], rows[0][1]
    lines = [
        "# Forgetting quality: `python -m engine quality` on digits, side by side with 16 single trainings",
        "",
        f"- date: {time.strftime('%Y-%m-%d %H:%M')}",
        f"- machine: {platform.machine()}, {os.cpu_count()} CPUs shared with other processes; "
        f"torch {torch.__version__}",
        f"- recipe: digits preset (train_size 300, mlp 512, 200 epochs, batch 32), forget {spec.forget}; "
        f"N = {args.runs} models per side; methods {args.methods}",
        f"- command: `python -m engine quality --dataset digits --methods {args.methods} --runs {args.runs}`",
        "",
        "| what | wall s | CPU s | load (1, 5, 15 min) before |",
        "|---|---|---|---|",
        *[f"| {name} | {w:.1f} | {c:.1f} | {ld} |" for name, w, c, ld in rows],
        "",
        f"**The whole quality run took {quality:.0f} s ({quality / 60:.1f} min) wall, {quality / single:.2f}× the "
        f"time of {args.runs} single trainings ({single:.0f} s).** Stacked, {args.runs} trainings took "
        f"{ens / single:.2f}× the single ones' wall time.",
        "",
        "## The command's output",
        "",
        "```",
        text.rstrip(),
        "```",
        "",
    ]
    Path(args.out).write_text("\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
