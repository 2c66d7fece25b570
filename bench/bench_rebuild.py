"""Is a lost reference model rebuilt with the same bytes? (issue 18, finding 8)

Builds an audit's K RMIA reference models (the preset's mode: a stacked ensemble for the MLP), damages one
reference model's weights in the store (one byte flipped: the checksum catches it and the store removes it), runs
the same audit again and compares the rebuilt model with the lost one: its weights file, its logits on the pool,
and the audit's FT AUC (RMIA) of every method. Prints the figures; writes them to bench/results/rebuild.md.

    UNLEARN_HOME=/tmp/uh-rebuild PYTHONPATH=. python bench/bench_rebuild.py [--epochs 20] [--k 8]
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np

from engine.config import DataSpec, ModelSpec, RunSpec, TrainConfig
from engine.run import AuditRequest, Runner
from engine.store import WEIGHTS, Store


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--epochs", type=int, default=20)
    p.add_argument("--k", type=int, default=8)
    p.add_argument("--index", type=int, default=2, help="the reference model to damage")
    p.add_argument("--out", default=str(Path(__file__).parent / "results" / "rebuild.md"))
    args = p.parse_args()
    spec = RunSpec(data=DataSpec("digits"), model=ModelSpec("mlp", 128),
                   train=TrainConfig(epochs=args.epochs, batch_size=64, lr=0.05, lr_step=max(1, args.epochs // 2),
                                     augment=False),
                   forget="random:0.1")
    root = Path(tempfile.mkdtemp(prefix="rebuild-"))
    try:
        store = Store(root)
        req = AuditRequest.build(spec, ["ft", "ga"], seeds=(0,), k=args.k)
        t0 = time.perf_counter()
        first = Runner(store).compare(req)
        built_s = time.perf_counter() - t0
        refs = sorted(store.list("reference"), key=lambda a: a.manifest["index"])
        lost = refs[args.index]
        mode = lost.manifest.get("training")
        before_sha = lost.manifest["files"][WEIGHTS]
        before_logits = lost.arrays()["logits"]
        w = lost.path / WEIGHTS
        data = bytearray(w.read_bytes())
        data[len(data) // 2] ^= 0xFF
        w.write_bytes(bytes(data))
        t0 = time.perf_counter()
        again = Runner(store).compare(req)
        rebuilt_s = time.perf_counter() - t0
        art = store.load("reference", lost.key)
        after_sha = art.manifest["files"][WEIGHTS]
        after_logits = art.arrays()["logits"]
        t1, t2 = first.table("ft_auc"), again.table("ft_auc")
        auc_moves = {m: float(abs(t1.loc[m, "ft_auc_mean"] - t2.loc[m, "ft_auc_mean"])) for m in t1.index}
    finally:
        shutil.rmtree(root, ignore_errors=True)
    lines = [
        f"reference training mode: {mode}; K = {args.k}; damaged reference index {args.index}",
        f"weights sha256 identical after rebuild: {before_sha == after_sha} "
        f"({before_sha[:12]} vs {after_sha[:12]})",
        f"max |logit difference| on the pool: {float(np.abs(before_logits - after_logits).max()):.3g}",
        "FT AUC change per model: " + ", ".join(f"{m} {d:.4f}" for m, d in auc_moves.items()),
        f"first audit {built_s:.1f} s, audit with the rebuild {rebuilt_s:.1f} s",
    ]
    print("\n".join(lines))
    stamp = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    Path(args.out).write_text(f"# Rebuilding a lost reference model ({stamp})\n\n`python bench/bench_rebuild.py "
                              f"--epochs {args.epochs} --k {args.k}` (digits, MLP width 128, CPU)\n\n"
                              + "\n".join(f"- {line}" for line in lines) + "\n")


if __name__ == "__main__":
    main()
