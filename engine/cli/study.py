"""The commands that study audits: ``tune``, ``reproduce``, ``report``, ``sample``."""

from __future__ import annotations

import argparse
import io
import sys
import zipfile
from dataclasses import replace
from pathlib import Path

import numpy as np

from ..errors import UnlearnError
from .common import (
    _method_sets,
    _runner,
    _seeds,
    _set_sections,
    _spec_from_args,
    _stored_comparison,
    refuse_forget_seed,
)


def cmd_tune(args: argparse.Namespace) -> int:
    from ..tune import GRIDS, SMALL_GRIDS, tune, write_tuned

    args.set, overrides = _method_sets(args.set)
    if overrides:
        raise UnlearnError("tune takes run settings only (train./data./model.); the grid sets the hyperparameters")
    refuse_forget_seed(args, "tune")
    args.seed, args.forget_seed = 0, 0
    spec = _spec_from_args(args)
    methods = [m.strip() for m in args.methods.split(",") if m.strip()]
    seeds = _seeds(args.seeds)
    grids = SMALL_GRIDS if args.grid == "small" else GRIDS
    command = "python -m engine tune " + " ".join(sys.argv[2:]) if sys.argv[1:2] == ["tune"] else "engine tune"
    runner = _runner(args)
    retrains = args.retrains or 2
    run_requests = None
    if args.ray:  # the grid as Ray tasks; the comparisons are then read from this store
        from ..run import Runner
        from ..sweep import run_grid

        def run_requests(reqs):
            run_grid(reqs, runner.store, address=args.address, progress=runner.progress, data_dir=args.data_dir,
                     on_error="raise")
            reader = Runner(runner.store, data_dir=args.data_dir, device=runner.device, build=False)
            return [reader.compare(r) for r in reqs]
    result = tune(spec, methods, runner, seeds=seeds, k=args.k or 8, retrains=retrains, grids=grids,
                  progress=runner.progress, command=command, run_requests=run_requests,
                  use_remain=not getattr(args, "no_remain", False))
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / f"tuning_{result.dataset}.md").write_text(result.table_markdown() + "\n")
    result.grid.to_csv(out / f"tuning_{result.dataset}.csv", index=False)
    for key, w in result.winners.items():
        paper = f"; paper default {w['paper_score']:.2f}" if w["paper_score"] is not None else ""
        print(f"{key}: {w['params']}  Avg Gap {w['score']:.2f}{paper}  ({w['candidates']} candidates)")
    print(f"grid table: {out / f'tuning_{result.dataset}.md'} ({len(result.grid)} candidates, {result.seconds:.0f} s)")
    if args.write:
        print(f"tuned defaults written to {write_tuned(result)}")
    return 0


def cmd_reproduce(args: argparse.Namespace) -> int:
    from ..presets import PRESETS, with_overrides
    from ..reproduce import FORGETS, cpu_spec, reproduce

    if args.scale == "cpu":
        spec = cpu_spec(args.dataset)
    else:
        dataset = args.dataset or "cifar10"
        if dataset not in PRESETS:
            raise UnlearnError(f"unknown data set {dataset!r}; choose one of: {', '.join(PRESETS)}")
        spec = PRESETS[dataset]
    spec = with_overrides(spec, **_set_sections(args.set))
    seeds = _seeds(args.seeds)
    wanted = [f.strip() for f in args.forgets.split(",") if f.strip()]
    unknown = [f for f in wanted if f not in FORGETS]
    if unknown:
        raise UnlearnError(f"--forgets: {', '.join(unknown)} not in the paper's tables ({', '.join(FORGETS)})")
    runner = _runner(args)
    print(f"reproducing AMUN's Tables 1-2 at scale {args.scale}: {spec.data.dataset}, {spec.model.arch}, "
          f"seeds {seeds}, forget {', '.join(wanted)}, K = {args.k}", file=sys.stderr)
    run_requests = None
    if args.ray:
        from ..run import Runner
        from ..sweep import run_grid

        def run_requests(reqs):
            run_grid(reqs, runner.store, address=args.address, progress=runner.progress, data_dir=args.data_dir)
            reader = Runner(runner.store, data_dir=args.data_dir, device=runner.device, build=False)
            return [reader.compare(r) for r in reqs]
    result = reproduce(spec, runner, scale=args.scale, seeds=seeds, k=args.k, retrains=args.retrains,
                       forgets={f: FORGETS[f] for f in wanted}, run_requests=run_requests)
    text = result.to_markdown()
    print(text)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "reproduce.md").write_text(text + "\n")
    result.table().to_csv(out / "reproduce.csv", index=False)
    for (table, forget), cmp in result.comparisons.items():
        cmp.rows.to_csv(out / f"metrics_{table.split(' (')[0].replace(' ', '').lower()}_{forget.rstrip('%')}.csv",
                        index=False)
    print(f"\nwritten to {out / 'reproduce.md'}, {out / 'reproduce.csv'}; {result.seconds:.0f} s", file=sys.stderr)
    return 0


def _report_sections(args: argparse.Namespace, req, runner, cmp) -> list:
    """The report's further sections asked for: forgetting quality (``--quality``), AMUN's own analyses
    (``--theorem`` / ``--continual``)."""
    from .. import report_amun

    sections = []
    if args.continual:
        from ..continual import ContinualRequest

        methods = [m.strip() for m in args.continual_methods.split(",") if m.strip()]
        creq = ContinualRequest.build(req.spec, methods, req.seeds, requests=args.requests, size=args.size,
                                      tuned=not args.paper_defaults, use_remain=req.use_remain, k=req.k)
        sections.append(report_amun.continual_section(runner.continual(creq)))
    if args.quality:
        from ..plan import seed_spec
        from ..quality import QualityRequest, run_quality
        from ..report_quality import quality_section

        methods = [m.strip() for m in args.quality.split(",") if m.strip()]
        qreq = QualityRequest.build(seed_spec(req, req.seeds[0]), methods, tuned=not args.paper_defaults,
                                    runs=args.quality_runs, use_remain=req.use_remain)
        sections.append(quality_section(run_quality(runner, qreq)))
    if args.theorem:
        from ..audit.theorem import size_effect

        if req.method(args.theorem) is None:
            raise UnlearnError(f"--theorem {args.theorem}: add it to --methods")
        sizes = None
        if args.sizes:
            specs = [f.strip() for f in args.sizes.split(",") if f.strip()]
            keep = {m.strip() for m in args.size_methods.split(",") if m.strip()}
            sreq = replace(req, methods=tuple(m for m in req.methods if m.key in keep))
            if not sreq.methods:
                raise UnlearnError("--size-methods: none of them is in --methods")
            cmps = runner.forget_sizes(sreq, specs)
            sizes = size_effect({k: c.rows for k, c in cmps.items()}, len(runner.prepare(req.spec).data.y_train))
        sections.append(report_amun.theorem_section(runner.theorem(cmp, args.theorem), sizes))
    return sections


def cmd_report(args: argparse.Namespace) -> int:
    from .. import report
    from ..run import NotStored

    req, runner, cmp = _stored_comparison(args)
    try:
        sections = _report_sections(args, req, runner, cmp)
    except NotStored:
        raise UnlearnError("a section asked for (--quality / --theorem / --continual) is not in the store yet: run "
                           "`engine quality` / `engine theorem` / `engine continual` with the same options first, or "
                           "pass --compute") from None
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    figs = report.report_figures(cmp)
    html = report.html_report(cmp, figs, sections=sections)
    (out / "report.html").write_text(html, encoding="utf-8")
    data, notes = report.bundle(cmp, html, figs, png=args.png, sections=sections)
    (out / "report.zip").write_bytes(data)
    print(f"report: {out / 'report.html'} ({len(html) / 1e6:.1f} MB, {len(figs)} figures); "
          f"everything: {out / 'report.zip'} ({len(data) / 1e6:.1f} MB)")
    if args.png:  # the PNGs beside the report too, ready for a slide
        with zipfile.ZipFile(io.BytesIO(data)) as z:
            pngs = [n for n in z.namelist() if n.startswith("figures/") and n.endswith(".png")]
            for name in pngs:
                (out / name).parent.mkdir(parents=True, exist_ok=True)
                (out / name).write_bytes(z.read(name))
        if pngs:
            print(f"PNG figures: {out / 'figures'} ({len(pngs)} files)")
    for note in notes:
        print(f"note: {note}", file=sys.stderr)
    return 0


def cmd_sample(args: argparse.Namespace) -> int:
    """One forget sample across every model of an audit (the dashboard's Sample page): signals, membership scores and
    its nearest adversarial example under the original model."""

    from ..audit.sample import COLUMNS, forget_position, sample_table
    from ..run import NotStored

    req, runner, cmp = _stored_comparison(args)
    seed = cmp.seeds[0] if args.of_seed is None else args.of_seed
    if seed not in cmp.seeds:
        raise UnlearnError(f"seed {seed} is not one of the audit's seeds ({', '.join(map(str, cmp.seeds))})")
    forget_position(cmp, seed, args.index)
    original = cmp.models[("original", seed)]
    data = original.data
    y = int(data.y_train[args.index])
    print(f"forget sample #{args.index} (seed {seed}): class {data.classes[y]}")
    table = sample_table(cmp, seed, args.index, [str(c) for c in data.classes]).drop(columns="key")
    print(table.to_string(float_format=lambda v: f"{v:.3f}"))
    try:
        adv = runner.adversarial(original, data, split="train", rows=np.array([args.index]))
        print(f"nearest adversarial example under {cmp.labels['original']}: -> class {data.classes[int(adv.y_adv[0])]}"
              f", eps {float(adv.eps[0]):.3g}, ||delta||_2 {float(adv.delta_norm[0]):.3f}"
              + ("" if bool(adv.flipped[0]) else " (not flipped)"))
    except NotStored:
        print("nearest adversarial example: not in the store (pass --compute)")
    print("\n" + "\n".join(f"{k}: {v}" for k, v in COLUMNS.items()))
    return 0

