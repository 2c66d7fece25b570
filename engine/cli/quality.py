"""The ``quality`` command: forgetting quality as the NeurIPS 2023 challenge scores it (issue 17)."""

from __future__ import annotations

import argparse

from .common import _add_run_options, _method_sets, _runner, _spec_from_args


def add_quality_parser(sub) -> None:
    p = sub.add_parser("quality", help="forgetting quality as the NeurIPS 2023 challenge scores it: N unlearning runs "
                                       "per method vs N retrains, per forget example (score ± interval, U-LiRA)")
    _add_run_options(p)
    p.add_argument("--methods", default="ft,rl,salun,amun", help="comma-separated method keys")
    p.add_argument("--runs", type=int, default=16, help="N: retrains and unlearning runs per method (default 16)")
    p.add_argument("--bootstrap", type=int, default=200, help="bootstrap replicates of the interval (default 200)")
    p.add_argument("--k", type=int, default=0, help="RMIA reference models beside U-LiRA (default 0: no RMIA)")
    p.add_argument("--no-remain", action="store_true", help="the D_F-only setting")
    p.add_argument("--paper-defaults", action="store_true", help="the papers' hyperparameters, not the tuned ones")
    p.add_argument("--out", default=None, metavar="FILE.csv", help="also write the table as CSV")
    p.add_argument("--ray", action="store_true", help="train the models as Ray tasks first (engine.sweep.run_grid: "
                                                      "a local Ray bound to 127.0.0.1, or --address)")
    p.add_argument("--address", default=None, help="with --ray: a Ray head or cluster (default: a local Ray)")
    p.add_argument("--num-cpus", type=int, default=None, help="with --ray: CPUs of the local Ray (default: all)")
    p.set_defaults(func=cmd_quality)


def cmd_quality(args: argparse.Namespace) -> int:
    from ..quality import QualityRequest, estimate, format_table, run_quality

    args.set, overrides = _method_sets(args.set)
    spec = _spec_from_args(args, memorized=True)  # memorized:0.1 is resolved by the flow
    methods = [m.strip() for m in args.methods.split(",") if m.strip()]
    req = QualityRequest.build(spec, methods, overrides=overrides, tuned=not args.paper_defaults, runs=args.runs,
                               use_remain=not args.no_remain, bootstrap=args.bootstrap, k=args.k)
    runner = _runner(args)
    print(estimate(runner, req).describe(), flush=True)
    if args.ray:  # every model of the plan as a Ray task into this store; the flow below then trains nothing
        from ..quality import resolve_memorized
        from ..sweep import SweepStats, run_grid

        stats = SweepStats()
        run_grid([req.audit_request(resolve_memorized(runner, spec))], runner.store, address=args.address,
                 data_dir=args.data_dir, num_cpus=args.num_cpus, stats=stats, compare=False)
        print(f"Ray: {stats.tasks} tasks, {stats.executed} run, {stats.skipped} already stored; "
              f"{stats.seconds:.1f} s", flush=True)
    result = run_quality(runner, req)
    print(format_table(result))
    print(f"{result.built} models built this call; {result.seconds:.1f} s")
    if args.out:
        result.table().to_csv(args.out, index=False)
        print(f"wrote {args.out}")
    return 0
