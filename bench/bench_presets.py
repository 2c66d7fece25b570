"""Benchmark: does each preset's original model memorise and leak membership, and what does a model cost?

Per preset (whose data is on this machine) and seed: the original and R retrained models and RMIA's K reference
models (the audit with no method: ``Runner.compare`` of an empty method list), then per preset: train and test
accuracy of the original, FT AUC of the original vs Retrain (mean ± std over seeds, and Retrain's own spread),
the guard's verdict, and seconds per model. Writes bench/results/presets.md (cited by the README).

Run: .venv/bin/python bench/bench_presets.py [--datasets digits fashion-mnist] [--seeds 0 1 2]
     .venv/bin/python bench/bench_presets.py --datasets digits --set data.train_size=600 --set forget=random:0.3
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from engine.data import availability  # noqa: E402
from engine.presets import DEVICES, PRESETS, default_retrains, with_overrides  # noqa: E402
from engine.run import AuditRequest, Runner  # noqa: E402
from engine.store import Store  # noqa: E402


def measure(dataset: str, seeds: list[int], k: int, retrains: int | None, sets: list[str], store: Store) -> dict:
    spec = PRESETS[dataset]
    sections: dict[str, dict[str, str]] = {}
    for item in sets:
        key, _, value = item.partition("=")
        if key == "forget":
            spec = replace(spec, forget=value)
            continue
        section, _, name = key.partition(".")
        sections.setdefault(section, {})[name] = value
    spec = with_overrides(spec, **sections)
    req = AuditRequest.build(spec, [], seeds, k=k, retrains=retrains)
    t0 = time.perf_counter()
    cmp = Runner(store).compare(req)
    wall = time.perf_counter() - t0
    rows, t = cmp.rows, cmp.table()
    o, r = rows[rows.method == "original"], rows[rows.method == "retrain"]
    check = cmp.membership_check()
    prep = Runner(store).prepare(replace(spec, seed=seeds[0], forget_seed=seeds[0]))
    return {"dataset": dataset, "spec": spec, "n_train": len(prep.data.y_train), "n_forget": len(prep.forget),
            "train_acc": (o["train_acc"].mean(), o["train_acc"].std(ddof=0)),
            "test_acc": (o["ta"].mean(), o["ta"].std(ddof=0)),
            "auc_o": (o["ft_auc"].mean(), o["ft_auc"].std(ddof=0)),
            "auc_r": (r["ft_auc"].mean(), r["ft_auc"].std(ddof=0)),
            "noise": t.loc["retrain", "ft_auc_noise"], "seconds": o["seconds"].mean(), "seconds_r": r["seconds"].mean(),
            "check": check, "wall": wall, "seeds": seeds, "k": k, "retrains": req.retrains}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--datasets", nargs="+", default=list(PRESETS))
    ap.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    ap.add_argument("--k", type=int, default=8)
    ap.add_argument("--retrains", type=int, default=None)
    ap.add_argument("--set", action="append", default=[], help="preset override, e.g. data.train_size=600, forget=…")
    ap.add_argument("--store", default=None, help="run store (default: a fresh temporary one: every model trained)")
    ap.add_argument("--out", default=str(ROOT / "bench" / "results" / "presets.md"))
    args = ap.parse_args()
    store = Store(args.store or tempfile.mkdtemp(prefix="bench-presets-"))
    load = os.getloadavg()
    lines = ["# Presets: do they memorise and leak membership?", "",
             f"`bench/bench_presets.py` on this machine ({os.cpu_count()} cores, load average "
             f"{load[0]:.1f} / {load[1]:.1f} / {load[2]:.1f} at the start), seeds {args.seeds}, K = {args.k} RMIA "
             "reference models, an empty store (every model trained). FT AUC is RMIA forget vs test ×100 (ideal 50); "
             "mean ± std over seeds; 'noise' is Retrain's own leave-one-out spread over its replicas.", "",
             "| preset | device | train / forget | train acc % | test acc % | FT AUC original | FT AUC retrain | "
             "noise | guard | s / model |", "|---|---|---|---|---|---|---|---|---|---|"]
    for ds in args.datasets:
        ok, where = availability(ds)
        if not ok:
            print(f"{ds}: data not on this machine ({where}); skipped", flush=True)
            lines.append(f"| {ds} | {DEVICES.get(ds, '?')} | – | not measured here: no data files | | | | | | |")
            continue
        print(f"{ds}: measuring (seeds {args.seeds}, K={args.k}) …", flush=True)
        m = measure(ds, args.seeds, args.k, args.retrains or default_retrains(ds), args.set, store)
        pm = lambda v, d=2: f"{v[0]:.{d}f} ± {v[1]:.{d}f}"  # noqa: E731
        row = (f"| {ds}{' (' + ', '.join(args.set) + ')' if args.set else ''} | {DEVICES.get(ds, '?')} | "
               f"{m['n_train']} / {m['n_forget']} | {pm(m['train_acc'])} | {pm(m['test_acc'])} | {pm(m['auc_o'])} | "
               f"{pm(m['auc_r'])} | {m['noise']:.2f} | {'signal' if m['check'].ok else 'NO SIGNAL'} | "
               f"{m['seconds']:.1f} |")
        lines.append(row)
        print(row, flush=True)
        print(f"  {m['check'].message}", flush=True)
        print(f"  wall {m['wall']:.0f} s (R = {m['retrains']} retrains per seed, K = {m['k']})", flush=True)
    load = os.getloadavg()
    lines += ["", f"Load average at the end: {load[0]:.1f} / {load[1]:.1f} / {load[2]:.1f}. Presets marked 'not "
              "measured here' need data files this machine does not have (or a GPU); their recipes are in "
              "engine/presets.py."]
    Path(args.out).write_text("\n".join(lines) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
