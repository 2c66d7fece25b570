"""How right is a job's overall ETA? Predicted vs actual time left during one audit from an empty store.

Runs ``Runner.compare`` on a preset (default: digits, the default methods, seeds 0-2) with a progress callback
that records, at every report, the ETA a job would show (:func:`engine.progress.overall_eta` over the time since
the start) and, after the run, the time that was really left. Prints and writes the prediction against the truth
at 10 %, 25 %, 50 %, 75 % and 90 % of the run, and the same for the current stage's ETA (what the job line showed
before the plan existed).

    python bench/bench_eta.py [--dataset digits] [--seeds 0 1 2]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from engine.presets import default_spec  # noqa: E402
from engine.progress import overall_eta  # noqa: E402
from engine.run import AuditRequest, Runner  # noqa: E402
from engine.store import Store  # noqa: E402

METHODS = ["ft", "rl", "ga", "bs", "l1_sparse", "salun", "amun", "amun_salun", "sg_unlearn"]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dataset", default="digits")
    ap.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    ap.add_argument("--out", default=str(ROOT / "bench" / "results" / "eta.md"))
    args = ap.parse_args()
    load = os.getloadavg()
    req = AuditRequest.build(default_spec(args.dataset), METHODS, args.seeds)
    records = []  # (t, overall ETA, stage ETA)
    stage = {"name": None, "t0": 0.0}
    t_start = time.perf_counter()

    def progress(name: str, done: int, total: int, metrics: dict) -> None:
        now = time.perf_counter()
        if name != stage["name"]:
            stage["name"], stage["t0"] = name, now
        stage_eta = (now - stage["t0"]) / done * (total - done) if done and total else None
        records.append((now - t_start, overall_eta(metrics, now - t_start), stage_eta))

    with tempfile.TemporaryDirectory() as tmp:
        runner = Runner(Store(tmp), progress=progress)
        pieces = runner.plan(req)
        runner.compare(req)
    wall = time.perf_counter() - t_start
    lines = ["# Overall ETA vs the time really left", "",
             f"`bench/bench_eta.py`: {args.dataset}, {len(METHODS)} methods, seeds {args.seeds}, an empty store, "
             f"{len(pieces)} pieces in the plan; {wall:.0f} s in all; {os.cpu_count()} cores, load average "
             f"{load[0]:.1f} at the start.", "",
             "| at | time left | overall ETA shown | ratio | current-stage ETA shown |", "|---|---|---|---|---|"]
    for frac in (0.1, 0.25, 0.5, 0.75, 0.9):
        t = frac * wall
        rec = min((r for r in records if r[1] is not None), key=lambda r: abs(r[0] - t), default=None)
        if rec is None:
            continue
        left = wall - rec[0]
        stage_txt = f"{rec[2]:.0f} s" if rec[2] is not None else "–"
        lines.append(f"| {100 * rec[0] / wall:.0f} % ({rec[0]:.0f} s) | {left:.0f} s | {rec[1]:.0f} s | "
                     f"{rec[1] / left:.2f} | {stage_txt} |")
    lines += ["", "The plan counts the training work (models, reference models, methods, the adversarial search); the "
              "last seed's signals and audits come after it, and there the job line says \"models done, auditing\" "
              "instead of an ETA. The current-stage ETA is what the job line showed before: the time left of "
              "whatever stage was running."]
    text = "\n".join(lines) + "\n"
    print(text)
    Path(args.out).write_text(text)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
