"""The commands over many audits or requests: ``sweep``, ``continual``, ``theorem``."""

from __future__ import annotations

import argparse
import sys
from dataclasses import replace
from pathlib import Path

from ..errors import UnlearnError
from .common import _method_sets, _request, _runner, _seeds, _setting_values, _spec_from_args, refuse_forget_seed


def sweep_requests(args: argparse.Namespace) -> list:
    """The sweep's grid as audit requests: per forget spec, per method, per combination of its ``--grid`` values."""
    import itertools

    from ..audit.rmia import DEFAULT_K
    from ..run import AuditRequest

    if args.weights:
        raise UnlearnError("a sweep trains its original models; audit your own model with `engine audit --weights`")
    methods = [m.strip() for m in args.methods.split(",") if m.strip()]
    seeds = _seeds(args.seeds)
    grid: dict[str, dict[str, list[str]]] = {}
    for item in args.grid:
        key, eq, values = item.partition("=")
        method, dot, name = key.partition(".")
        if not eq or not dot or not values:
            raise UnlearnError(f"--grid {item!r}: expected METHOD.KEY=V1,V2,… (e.g. amun.lr=0.1,0.01)")
        if method not in methods:
            raise UnlearnError(f"--grid {item!r}: {method} is not in --methods")
        grid.setdefault(method, {})[name] = [v.strip() for v in values.split(",") if v.strip()]
    args.set, overrides = _method_sets(args.set)
    forget_seed = args.forget_seed  # None: each seed draws its own forget set
    args.seed, args.forget_seed = 0, 0
    base = _spec_from_args(args)
    forgets = [f.strip() for f in (args.forgets or base.forget).split(";") if f.strip()]
    reqs = []
    for forget in forgets:
        args.forget = forget
        spec = _spec_from_args(args)
        for method in methods:
            axes = grid.get(method, {})
            for combo in itertools.product(*axes.values()):
                params = {**overrides.get(method, {}), **dict(zip(axes, combo))}
                req = AuditRequest.build(spec, [method], seeds, overrides={method: params} if params else None,
                                         tuned=not args.paper_defaults, use_remain=not args.no_remain,
                                         forget_seed=forget_seed, **{"k": DEFAULT_K, **_setting_values(args)})
                if req.methods:
                    reqs.append(req)
    if not reqs:
        raise UnlearnError("the grid is empty (in the D_F-only setting, methods that need D_R are left out)")
    return reqs


def cmd_sweep(args: argparse.Namespace) -> int:
    import pandas as pd

    from ..store import Store
    from ..sweep import SweepStats, run_grid

    reqs = sweep_requests(args)
    stats = SweepStats()
    store = Store(args.store)
    cmps = run_grid(reqs, store, address=args.address, data_dir=args.data_dir, reference_training=args.references,
                    gpus_per_task=args.gpus_per_task, stats=stats, num_cpus=args.num_cpus, on_error="skip")
    for label, why in stats.failed.items():
        print(f"failed: {label}: {why}", file=sys.stderr)
    rows, summary = [], []
    for req, cmp in zip(reqs, cmps):
        if cmp is None:
            continue
        method = req.methods[0]
        setting = ",".join(f"{k}={v}" for k, v in req.overrides(tuned=not args.paper_defaults).get(method.key,
                                                                                                    {}).items())
        frame = cmp.rows.assign(forget=req.spec.forget, params=setting or "default")
        rows.append(frame)
        for name in ("retrain", method.key):
            part = frame[frame["method"] == name]
            summary.append({"forget": req.spec.forget, "method": name, "params": setting or "default",
                            **{c: part[c].mean() for c in ("ua", "ra", "ta", "ft_auc", "avg_gap")}})
    if not rows:
        raise UnlearnError("every setting of the sweep failed (see above)")
    table = pd.DataFrame(summary).drop_duplicates(["forget", "method", "params"])
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    pd.concat(rows).to_csv(out / "metrics.csv", index=False)
    table.to_csv(out / "summary.csv", index=False)
    print(table.to_string(index=False, float_format=lambda v: f"{v:.2f}"))
    print(f"\n{len(reqs)} settings × {len(reqs[0].seeds)} seed(s): {stats.tasks} tasks, {stats.executed} run on Ray, "
          f"{stats.skipped} already in the store, {len(stats.failed)} failed; {stats.seconds:.1f} s. Rows: "
          f"{out / 'metrics.csv'}, means: {out / 'summary.csv'}")
    return 1 if stats.failed else 0


def cmd_continual(args: argparse.Namespace) -> int:
    from ..audit.rmia import DEFAULT_K
    from ..continual import ContinualRequest

    methods = [m.strip() for m in args.methods.split(",") if m.strip()]
    args.set, overrides = _method_sets(args.set)
    refuse_forget_seed(args, "continual")
    args.seed, args.forget_seed = 0, 0
    req = ContinualRequest.build(_spec_from_args(args), methods, _seeds(args.seeds), requests=args.requests,
                                 size=args.size, overrides=overrides, tuned=not args.paper_defaults,
                                 use_remain=not args.no_remain, k=args.k or DEFAULT_K)
    result = _runner(args).continual(req)
    text = result.to_markdown()
    print(text)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    result.rows.to_csv(out / "continual.csv", index=False)
    (out / "continual.md").write_text(text + "\n")
    print(f"\nrows: {out / 'continual.csv'} ({len(result.rows)}), tables: {out / 'continual.md'}; "
          f"{result.seconds:.1f} s")
    return 1 if result.failures else 0


def cmd_theorem(args: argparse.Namespace) -> int:
    from ..audit.theorem import MEASURES, size_effect, size_markdown

    req = _request(args)
    if req.method(args.method) is None:
        raise UnlearnError(f"--method {args.method}: add it to --methods (the per-sample view is of one of them)")
    runner = _runner(args)
    cmp = runner.compare(req)
    view = runner.theorem(cmp, args.method)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    view.frame.to_csv(out / "per_sample.csv", index=False)
    measures = list(MEASURES) if args.measure == "all" else [args.measure]
    print(f"AMUN's Theorem 4.1, per forget sample of {view.label} (seeds {list(cmp.seeds)}; adversarial examples of "
          f"the original model):\n")
    for measure in measures:
        print(view.aggregate(measure).to_markdown() + "\n")
    if args.sizes:
        sizes = [f.strip() for f in args.sizes.split(",") if f.strip()]
        size_methods = [m.strip() for m in args.size_methods.split(",") if m.strip()]
        sreq = replace(req, methods=tuple(m for m in req.methods if m.key in size_methods))
        if not sreq.methods:
            raise UnlearnError("--size-methods: none of them is in --methods")
        cmps = runner.forget_sizes(sreq, sizes)
        table = size_effect({k: c.rows for k, c in cmps.items()}, len(runner.prepare(req.spec).data.y_train))
        table.to_csv(out / "forget_sizes.csv", index=False)
        print("Forget-set size (smaller forget sets should unlearn better):\n\n" + size_markdown(table))
    print(f"\nper-sample rows: {out / 'per_sample.csv'}")
    return 0

