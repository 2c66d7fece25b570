"""Short reference recipe vs the target's own: how far FT AUC and Avg Gap move, and what it saves.

    python bench/bench_short_references.py [--dataset digits] [--seeds 0 1 2] [--store DIR]

Runs the same audit twice on one store — RMIA's K reference models trained with the target's recipe, then with
:func:`engine.run.short_recipe` (a quarter of the epochs) — and writes, per model, the mean FT AUC and Avg Gap over
seeds under both with their difference, whether the best-Avg-Gap set changes, and the reference models' training
seconds (bench/results/short_references.md). The originals, retrains and methods are shared (same keys).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from engine.presets import default_spec  # noqa: E402
from engine.run import AuditRequest, Runner, short_recipe  # noqa: E402
from engine.store import Store  # noqa: E402

METHODS = ["ft", "rl", "ga", "bs", "l1_sparse", "salun", "amun", "amun_salun", "sg_unlearn"]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dataset", default="digits")
    ap.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    ap.add_argument("--store", default=None)
    ap.add_argument("--out", default=str(ROOT / "bench" / "results" / "short_references.md"))
    args = ap.parse_args()
    store = Store(args.store or tempfile.mkdtemp(prefix="bench-short-refs-"))
    spec = default_spec(args.dataset)
    load = os.getloadavg()
    tables, ref_seconds = {}, {}
    for short in (False, True):
        req = AuditRequest.build(spec, METHODS, args.seeds, short_references=short)
        cmp = Runner(store).compare(req)
        tables[short] = cmp.table()
        ref = Runner(store, build=False).references(req.reference_spec(cmp.spec), req.k)
        ref_seconds[short] = ref.seconds
    full, fast = tables[False], tables[True]
    methods = [m for m in full.index if m not in ("original", "retrain")]
    best = {s: {m for m in methods if t.loc[m, "avg_gap_mean"] <= t.loc[methods, "avg_gap_mean"].min() + 1e-9}
            for s, t in tables.items()}
    sr = short_recipe(spec.train)
    lines = ["# Short reference recipe vs the target's own", "",
             f"`bench/bench_short_references.py`: {args.dataset}, seeds {args.seeds}, K = 8; references trained for "
             f"{spec.train.epochs} epochs (StepLR {spec.train.lr_step}) vs {sr.epochs} (StepLR {sr.lr_step}); "
             f"{os.cpu_count()} cores, load average {load[0]:.1f} at the start. Mean over seeds.", "",
             f"Reference models' training: {ref_seconds[False]:.1f} s (full) vs {ref_seconds[True]:.1f} s (short), "
             f"ratio {ref_seconds[True] / ref_seconds[False]:.2f}.", "",
             "| model | FT AUC full | FT AUC short | Δ | Avg Gap full | Avg Gap short | Δ |",
             "|---|---|---|---|---|---|---|"]
    for m in full.index:
        a, b = full.loc[m], fast.loc[m]
        lines.append(f"| {a['label']} | {a['ft_auc_mean']:.2f} ± {a['ft_auc_ci']:.2f} | {b['ft_auc_mean']:.2f} ± "
                     f"{b['ft_auc_ci']:.2f} | {b['ft_auc_mean'] - a['ft_auc_mean']:+.2f} | {a['avg_gap_mean']:.2f} | "
                     f"{b['avg_gap_mean']:.2f} | {b['avg_gap_mean'] - a['avg_gap_mean']:+.2f} |")
    lines += ["", f"Lowest Avg Gap among the methods: {', '.join(sorted(best[False]))} (full) vs "
              f"{', '.join(sorted(best[True]))} (short)."]
    text = "\n".join(lines) + "\n"
    print(text)
    Path(args.out).write_text(text)


if __name__ == "__main__":
    main()
