"""Command line: ``python -m engine {datasets,train,signals,methods,unlearn,audit,continual,theorem,report,sweep} …``.

Every option has a default, so ``python -m engine train --dataset digits`` just works. Every command goes
through :class:`engine.run.Runner`. Errors a user can cause print one line and exit with status 2. Long work
shows a progress bar with an ETA on a terminal and stays quiet otherwise.
"""

from __future__ import annotations

import argparse
import io
import sys
import time
import zipfile
from dataclasses import replace
from pathlib import Path

import numpy as np

from .errors import DataMissing, UnlearnError
from .progress import stage_label

#: what the command line adds to a missing-data message (the dashboard says what to do there instead)
DOWNLOAD_HINT = "Or pass --download to fetch them (needs a network)."


def _add_run_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--dataset", default="digits", help="data set key (see `datasets`); default: digits")
    p.add_argument("--model", default=None, help="mlp, cnn, resnet18 or resnet18_amun; default: the data set's preset")
    p.add_argument("--width", type=int, default=None, help="hidden width / base channels; default: preset")
    p.add_argument("--forget", default=None,
                   help="random:0.1 | random:500 | class:3,7 | indices:3,7,10-15 | indices:FILE; default: preset")
    p.add_argument("--seed", type=int, default=0, help="training seed (default 0)")
    p.add_argument("--forget-seed", type=int, default=0, help="seed of the forget-set draw (default 0)")
    p.add_argument("--data-dir", default=None,
                   help="where data files live (default $UNLEARN_DATA_DIR or $UNLEARN_HOME/data)")
    p.add_argument("--path", default=None, help="imagefolder: folder of class sub-folders")
    p.add_argument("--download", action="store_true", help="download missing torchvision data (needs a network)")
    p.add_argument("--store", default=None, help="run store root (default $UNLEARN_HOME/store)")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="override a preset setting (train.epochs=50, data.train_size=500) or, with unlearn, a "
                        "method hyperparameter (lr=0.05 or amun.lr=0.05)")
    p.add_argument("--device", default=None, help="cpu or cuda (default: cuda when present)")


def _set_sections(items: list[str]) -> dict[str, dict[str, str]]:
    """``--set SECTION.KEY=VALUE`` options as {section: {key: value}} (one clear error for a malformed one)."""
    sections: dict[str, dict[str, str]] = {}
    for item in items:
        key, eq, value = item.partition("=")
        section, dot, name = key.partition(".")
        if not eq or not dot:
            raise UnlearnError(f"--set {item!r}: expected SECTION.KEY=VALUE, e.g. train.epochs=50")
        sections.setdefault(section, {})[name] = value
    return sections


def _spec_from_args(args: argparse.Namespace):
    from .data import load_dataset
    from .forget import inline_forget
    from .presets import default_spec, with_overrides

    spec = default_spec(args.dataset)
    if args.model:
        from .models import MODELS

        if args.model not in MODELS:
            raise UnlearnError(f"unknown model {args.model!r}; choose one of: {', '.join(MODELS)}")
        spec = replace(spec, model=replace(spec.model, arch=args.model, width=MODELS[args.model].default_width))
    if args.width:
        spec = replace(spec, model=replace(spec.model, width=args.width))
    if args.path:
        spec = replace(spec, data=replace(spec.data, path=args.path))
    spec = replace(spec, seed=args.seed, forget_seed=args.forget_seed, forget=args.forget or spec.forget)
    spec = with_overrides(spec, **_set_sections(args.set))
    if spec.forget.strip().lower().startswith("indices:"):  # a file's indices go into the spec, not its path
        data = load_dataset(spec.data, args.data_dir)
        spec = replace(spec, forget=inline_forget(spec.forget, data.y_train, data.num_classes))
    return spec


def _runner(args: argparse.Namespace):
    from .run import Runner
    from .store import Store

    return Runner(Store(args.store), data_dir=args.data_dir, download=getattr(args, "download", False),
                  device=_device(args), progress=Bar(), reference_training=getattr(args, "references", "auto"))


def _device(args):
    import torch

    from .training import default_device

    if args.device is None:
        return default_device()
    if args.device == "cuda" and not torch.cuda.is_available():
        raise UnlearnError("--device cuda: no CUDA device is available")
    return torch.device(args.device)


class Bar:
    """A progress callback that draws one tqdm bar per stage, with rate and ETA, on stderr.

    Quiet when stderr is not a terminal (tqdm's ``disable=None``), so logs and pipes stay clean.
    """

    def __init__(self) -> None:
        self._bar = None
        self._stage = None

    def __call__(self, stage: str, done: int, total: int, metrics: dict) -> None:
        from tqdm import tqdm

        if stage != self._stage or self._bar is None or total != self._bar.total:
            self.close()
            self._stage = stage
            self._bar = tqdm(total=total or None, desc=stage_label(stage, metrics), unit="step", leave=False,
                             disable=None, file=sys.stderr, dynamic_ncols=True)
        if "model" in metrics and "of" in metrics:
            self._bar.set_description(stage_label(stage, metrics), refresh=False)
        shown = {k: f"{v:.4g}" for k, v in metrics.items() if k in ("loss", "acc", "eps", "auditor_acc")
                 and isinstance(v, float)}
        if metrics.get("pieces"):
            shown["piece"] = f"{metrics['piece']}/{metrics['pieces']}"
        if shown:
            self._bar.set_postfix(shown, refresh=False)
        self._bar.update(max(0, done - self._bar.n))
        if total and done >= total:
            self.close()

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None


def cmd_datasets(args: argparse.Namespace) -> int:
    from .data import DATASETS, availability

    for key, info in DATASETS.items():
        ok, where = availability(key, args.data_dir)
        classes = info.num_classes if info.num_classes else "from folders"
        shape = "x".join(map(str, info.shape)) if info.shape else "resized"
        hint = f" {DOWNLOAD_HINT}" if info.downloadable else ""
        status = f"available ({where})" if ok else f"missing: {where}{hint}"
        print(f"{key}\t{classes} classes\t{shape}\t{status}")
    return 0


def cmd_train(args: argparse.Namespace) -> int:
    spec = _spec_from_args(args)
    runner = _runner(args)
    prep = runner.prepare(spec)
    print(f"data {spec.data.dataset}: train {len(prep.data.y_train)}, test {len(prep.data.y_test)}, "
          f"val {len(prep.data.y_val)}; forget {len(prep.forget)} ({_short(spec.forget)}, seed {spec.forget_seed})")
    kinds = ["original", "retrain"] if args.kind == "both" else [args.kind]
    for kind in kinds:
        t0 = time.perf_counter()
        tm = runner.original(spec) if kind == "original" else runner.retrain(prep)
        sig = runner.signals(tm, prep)
        source = "from store" if tm.artifact.from_cache else f"trained in {tm.seconds:.1f} s"
        print(f"{kind}: {source}; forget acc {sig.accuracy('forget'):.4f}, remain acc {sig.accuracy('remain'):.4f}, "
              f"test acc {sig.accuracy('test'):.4f}; {time.perf_counter() - t0:.1f} s")
        print(f"  artifact: {tm.artifact.path}")
    if args.kind == "both":
        _guard(runner.baseline(spec).membership_check())
    return 0


def _guard(check) -> None:
    """The membership guard's verdict, one line: ``signal: …`` or ``WARNING: …`` when there is nothing to unlearn."""
    print(("signal: " if check.ok else "WARNING: ") + check.message)


def _short(forget: str, limit: int = 60) -> str:
    return forget if len(forget) <= limit else forget[:limit] + "…"


def cmd_signals(args: argparse.Namespace) -> int:
    from .audit.mia import loss_threshold

    res = _runner(args).baseline(_spec_from_args(args))
    out = Path(args.out) if args.out else None
    print("model\tgroup\tn\taccuracy\tmean p_y\tmean loss")
    for model, groups in res.signals.items():
        for group, sig in groups.items():
            print(f"{model}\t{group}\t{len(sig['loss'])}\t{np.mean(sig['correct']):.4f}\t{np.mean(sig['p_y']):.4f}"
                  f"\t{np.mean(sig['loss']):.4f}")
        auc = loss_threshold(groups["forget"]["loss"], groups["test"]["loss"]).auc
        print(f"{model}\tloss-threshold AUC forget vs test\t{auc:.4f}")
        if out:
            out.mkdir(parents=True, exist_ok=True)
            for group, sig in groups.items():
                np.savez(out / f"{model}_{group}.npz", **{k: v for k, v in sig.items()})
    if out:
        print(f"per-sample signals written to {out}")
    return 0


def cmd_methods(args: argparse.Namespace) -> int:
    from .unlearning import METHODS

    for key, cls in METHODS.items():
        needs = "needs D_R" if cls.needs_remain else ("D_F only" if not cls.uses_remain else "D_R optional")
        print(f"{key}\t{cls.label}\t{needs}")
    return 0


def _method_sets(items: list[str], default_method: str | None = None) -> tuple[list[str], dict[str, dict[str, str]]]:
    """``--set`` items split into run settings (data./model./train.) and per-method hyperparameters."""
    run_sets, overrides = [], {}
    for item in items:
        key, eq, value = item.partition("=")
        section, dot, name = key.partition(".")
        if not eq:
            raise UnlearnError(f"--set {item!r}: expected KEY=VALUE")
        if section in ("data", "model", "train"):
            run_sets.append(item)
        elif dot:
            overrides.setdefault(section, {})[name] = value
        elif default_method:
            overrides.setdefault(default_method, {})[key] = value
        else:
            raise UnlearnError(f"--set {item!r}: expected METHOD.KEY=VALUE (or train./data./model. settings)")
    return run_sets, overrides


def cmd_unlearn(args: argparse.Namespace) -> int:
    from .run import AuditRequest

    args.set, overrides = _method_sets(args.set, args.method)
    spec = _spec_from_args(args)
    # validated before anything trains: a bad value is an error here, not after the original model
    req = AuditRequest.build(spec, [args.method], overrides=overrides, tuned=not args.paper_defaults,
                             use_remain=not args.no_remain)
    method = req.method(args.method)
    if method is None:
        raise UnlearnError(f"{args.method} is the reference; `engine train` trains it")
    runner = _runner(args)
    prep = runner.prepare(spec)
    original = runner.original(spec)
    t0 = time.perf_counter()
    run = runner.unlearned(method, prep, original, use_remain=not args.no_remain)
    sig = runner.signals(run, prep)
    source = "from store" if run.artifact.from_cache else "computed"
    setting = "D_F only" if args.no_remain else "with D_R"
    print(f"{method.label} ({setting}, seed {spec.seed}): UA {100 * sig.accuracy('forget'):.2f}  "
          f"RA {100 * sig.accuracy('remain'):.2f}  TA {100 * sig.accuracy('test'):.2f}  "
          f"time {run.seconds:.2f} s ({source}; this call {time.perf_counter() - t0:.2f} s)")
    print(f"  artifact: {run.artifact.path}")
    return 0


def _request(args: argparse.Namespace):
    from .audit.rmia import DEFAULT_K
    from .run import AuditRequest

    methods = [m.strip() for m in args.methods.split(",") if m.strip()]
    try:
        seeds = [int(s) for s in args.seeds.split(",") if s.strip()]
    except ValueError:
        raise UnlearnError(f"--seeds {args.seeds!r}: expected integers such as 0,1,2") from None
    args.set, overrides = _method_sets(args.set)
    args.seed, args.forget_seed = 0, 0
    spec = _spec_from_args(args)
    retrains = 0 if getattr(args, "no_retrain", False) else args.retrains
    original = _uploaded(args, spec) if getattr(args, "weights", None) else None
    return AuditRequest.build(spec, methods, seeds, overrides=overrides, tuned=not args.paper_defaults,
                              use_remain=not args.no_remain, k=args.k or DEFAULT_K, retrains=retrains,
                              original=original, short_references=getattr(args, "short_references", False))


def _uploaded(args: argparse.Namespace, spec) -> str:
    """``--weights FILE``: the file checked against ``spec``'s model and data and stored (``report``: looked up
    only, unless ``--compute``); its key, for the request's ``original``."""
    from .run import Runner
    from .store import Store
    from .upload import read_file

    data = read_file(args.weights)
    build = getattr(args, "compute", True)
    runner = Runner(Store(args.store), data_dir=args.data_dir, device=_device(args), build=build)
    tm = runner.upload(data, spec, name=Path(args.weights).name)
    print(f"your model: {Path(args.weights).name} fits {spec.model.arch} (width {spec.model.width}) on "
          f"{spec.data.dataset}; {tm.artifact.manifest['n_params']:,} parameters, stored as uploaded/{tm.key}",
          file=sys.stderr)
    return tm.key


def cmd_audit(args: argparse.Namespace) -> int:
    t0 = time.perf_counter()
    req = _request(args)
    result = _runner(args).compare(req)
    out = result.write(args.out)
    print(result.to_markdown())
    print()
    _guard(result.membership_check())
    if args.classes:
        _write_classes(result, out)
    print(f"\n{len(result.rows)} rows written to {out / 'metrics.csv'}, table to {out / 'table.md'}, per-sample "
          f"values to {out / 'per_sample'}; {time.perf_counter() - t0:.1f} s")
    return 0


def _write_classes(result, out: Path) -> None:
    """``--classes``: per-class accuracy of every model and seed (classes.csv), prediction matrices (confusion.csv),
    and the test accuracy per class of the first seed printed, forget classes marked."""
    from .audit.classes import class_tables
    from .forget import forget_classes

    acc, conf = class_tables(result)
    acc.to_csv(out / "classes.csv", index=False)
    conf.to_csv(out / "confusion.csv", index=False)
    seed = result.seeds[0]
    marked = forget_classes(result.spec.forget)
    test = acc[(acc["group"] == "test") & (acc["seed"] == seed)]
    wide = test.pivot(index="class", columns="label", values="accuracy")[list(dict.fromkeys(test["label"]))]
    names = test.drop_duplicates("class").set_index("class")["class_name"]
    wide.index = [f"{names[c]} *" if c in marked else str(names[c]) for c in wide.index]
    print(f"\nTest accuracy per class (%), seed {seed}" + (" (* forget class)" if marked else "") + ":")
    print(wide.to_string(float_format=lambda v: f"{v:.1f}"))
    print(f"per-class accuracy of every model, seed and group: {out / 'classes.csv'}; prediction matrices: "
          f"{out / 'confusion.csv'}")


def cmd_tune(args: argparse.Namespace) -> int:
    from .tune import GRIDS, SMALL_GRIDS, tune, write_tuned

    args.set, overrides = _method_sets(args.set)
    if overrides:
        raise UnlearnError("tune takes run settings only (train./data./model.); the grid sets the hyperparameters")
    args.seed, args.forget_seed = 0, 0
    spec = _spec_from_args(args)
    methods = [m.strip() for m in args.methods.split(",") if m.strip()]
    try:
        seeds = [int(s) for s in args.seeds.split(",") if s.strip()]
    except ValueError:
        raise UnlearnError(f"--seeds {args.seeds!r}: expected integers such as 0,1") from None
    grids = SMALL_GRIDS if args.grid == "small" else GRIDS
    command = "python -m engine tune " + " ".join(sys.argv[2:]) if sys.argv[1:2] == ["tune"] else "engine tune"
    runner = _runner(args)
    retrains = args.retrains or 2
    run_requests = None
    if args.ray:  # the grid as Ray tasks; the comparisons are then read from this store
        from .run import Runner
        from .sweep import run_grid

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
    from .presets import PRESETS, with_overrides
    from .reproduce import FORGETS, cpu_spec, reproduce

    if args.scale == "cpu":
        spec = cpu_spec(args.dataset)
    else:
        dataset = args.dataset or "cifar10"
        if dataset not in PRESETS:
            raise UnlearnError(f"unknown data set {dataset!r}; choose one of: {', '.join(PRESETS)}")
        spec = PRESETS[dataset]
    spec = with_overrides(spec, **_set_sections(args.set))
    try:
        seeds = [int(s) for s in args.seeds.split(",") if s.strip()]
    except ValueError:
        raise UnlearnError(f"--seeds {args.seeds!r}: expected integers such as 1,10,100") from None
    wanted = [f.strip() for f in args.forgets.split(",") if f.strip()]
    unknown = [f for f in wanted if f not in FORGETS]
    if unknown:
        raise UnlearnError(f"--forgets: {', '.join(unknown)} not in the paper's tables ({', '.join(FORGETS)})")
    runner = _runner(args)
    print(f"reproducing AMUN's Tables 1-2 at scale {args.scale}: {spec.data.dataset}, {spec.model.arch}, "
          f"seeds {seeds}, forget {', '.join(wanted)}, K = {args.k}", file=sys.stderr)
    run_requests = None
    if args.ray:
        from .run import Runner
        from .sweep import run_grid

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
    """The report's sections of AMUN's own analyses asked for by ``--theorem`` / ``--continual``."""
    from . import report_amun

    sections = []
    if args.continual:
        from .continual import ContinualRequest

        methods = [m.strip() for m in args.continual_methods.split(",") if m.strip()]
        creq = ContinualRequest.build(req.spec, methods, req.seeds, requests=args.requests, size=args.size,
                                      tuned=not args.paper_defaults, use_remain=req.use_remain, k=req.k)
        sections.append(report_amun.continual_section(runner.continual(creq)))
    if args.theorem:
        from .audit.theorem import size_effect

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


def _stored_comparison(args: argparse.Namespace):
    """The audit the options describe, from the store (``--compute``: building what it lacks): (request, runner,
    comparison); a missing audit is one clear error."""
    from .run import NotStored, Runner
    from .store import Store

    req = _request(args)
    runner = Runner(Store(args.store), data_dir=args.data_dir, device=_device(args), build=args.compute,
                    progress=Bar() if args.compute else None, reference_training=args.references)
    try:
        return req, runner, runner.compare(req)
    except NotStored:
        raise UnlearnError("this audit is not in the store yet: run `engine audit` with the same options first, "
                           "or pass --compute") from None


def cmd_report(args: argparse.Namespace) -> int:
    from . import report
    from .run import NotStored

    req, runner, cmp = _stored_comparison(args)
    try:
        sections = _report_sections(args, req, runner, cmp)
    except NotStored:
        raise UnlearnError("a section asked for (--theorem / --continual) is not in the store yet: run `engine "
                           "theorem` / `engine continual` with the same options first, or pass --compute") from None
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
    import numpy as np

    from .audit.sample import COLUMNS, forget_position, sample_table
    from .run import NotStored

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


def sweep_requests(args: argparse.Namespace) -> list:
    """The sweep's grid as audit requests: per forget spec, per method, per combination of its ``--grid`` values."""
    import itertools

    from .audit.rmia import DEFAULT_K
    from .run import AuditRequest

    if args.weights:
        raise UnlearnError("a sweep trains its original models; audit your own model with `engine audit --weights`")
    methods = [m.strip() for m in args.methods.split(",") if m.strip()]
    try:
        seeds = [int(s) for s in args.seeds.split(",") if s.strip()]
    except ValueError:
        raise UnlearnError(f"--seeds {args.seeds!r}: expected integers such as 0,1,2") from None
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
                                         k=args.k or DEFAULT_K)
                if req.methods:
                    reqs.append(req)
    if not reqs:
        raise UnlearnError("the grid is empty (in the D_F-only setting, methods that need D_R are left out)")
    return reqs


def cmd_sweep(args: argparse.Namespace) -> int:
    import pandas as pd

    from .store import Store
    from .sweep import SweepStats, run_grid

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


def _seeds(text: str) -> list[int]:
    try:
        return [int(s) for s in text.split(",") if s.strip()]
    except ValueError:
        raise UnlearnError(f"--seeds {text!r}: expected integers such as 0,1,2") from None


def cmd_continual(args: argparse.Namespace) -> int:
    from .audit.rmia import DEFAULT_K
    from .continual import ContinualRequest

    methods = [m.strip() for m in args.methods.split(",") if m.strip()]
    args.set, overrides = _method_sets(args.set)
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
    from .audit.theorem import MEASURES, size_effect, size_markdown

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


def _add_audit_options(p: argparse.ArgumentParser) -> None:
    _add_run_options(p)
    p.add_argument("--methods", default="ft,rl,ga,bs,l1_sparse,salun,amun,amun_salun",
                   help="comma-separated method keys (retrain and original are always included)")
    p.add_argument("--seeds", default="0,1,2",
                   help="comma-separated seeds: model seed and forget-set seed (default 0,1,2)")
    p.add_argument("--k", type=int, default=None, help="number of RMIA reference models (default: engine default)")
    p.add_argument("--retrains", type=int, default=None,
                   help="retrain replicas per seed: Avg Gap against their mean, their spread the noise floor "
                        "(default: the preset's)")
    p.add_argument("--references", choices=["auto", "ensemble", "single"], default="auto",
                   help="train the reference models as one stacked ensemble or one by one (default auto: the "
                        "ensemble for small models without batch norm)")
    p.add_argument("--short-references", action="store_true",
                   help="train the reference models with a quarter of the target's epochs (StepLR scaled alike): "
                        "cheaper where the recipe is long; FT AUC moves (bench/results/short_references.md)")
    p.add_argument("--no-remain", action="store_true", help="the D_F-only setting")
    p.add_argument("--paper-defaults", action="store_true", help="the papers' hyperparameters, not the tuned ones")
    p.add_argument("--weights", default=None, metavar="FILE.safetensors",
                   help="audit your own model: its weights (safetensors only; pickles are refused) in place of the "
                        "trained original, for --model/--width on --dataset; --forget names its forget set")
    p.add_argument("--no-retrain", action="store_true",
                   help="no retrained model: audit against the reference models alone (no Retrain row, no Avg Gap)")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m engine", description="Unlearning audit engine")
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("datasets", help="list data sets: key, classes, shape, availability")
    p.add_argument("--data-dir", default=None)
    p.set_defaults(func=cmd_datasets)
    p = sub.add_parser("train", help="train (or load from the store) the original and/or retrained model")
    _add_run_options(p)
    p.add_argument("--kind", choices=["original", "retrain", "both"], default="both")
    p.set_defaults(func=cmd_train)
    p = sub.add_parser("signals", help="per-sample signals of original and retrain, grouped remain/forget/test")
    _add_run_options(p)
    p.add_argument("--out", default=None, help="write per-sample .npz files to this folder")
    p.set_defaults(func=cmd_signals)
    p = sub.add_parser("methods", help="list unlearning methods: key, label, whether D_R is needed")
    p.set_defaults(func=cmd_methods)
    p = sub.add_parser("unlearn", help="unlearn the forget set with one method; prints UA/RA/TA and wall time")
    _add_run_options(p)
    p.add_argument("--method", required=True, help="method key (see `methods`)")
    p.add_argument("--no-remain", action="store_true", help="the D_F-only setting: the method never sees D_R")
    p.add_argument("--paper-defaults", action="store_true",
                   help="use the papers' hyperparameters instead of the values tuned for this data set")
    p.set_defaults(func=cmd_unlearn)
    p = sub.add_parser("audit", help="run (or reuse) original, retrain and methods for several seeds; write the table")
    _add_audit_options(p)
    p.add_argument("--out", default="audit-out", help="output folder for metrics.csv, table.md, per_sample/")
    p.add_argument("--classes", action="store_true",
                   help="also per-class accuracy (classes.csv) and prediction matrices (confusion.csv) of every model")
    p.set_defaults(func=cmd_audit)
    p = sub.add_parser("continual", help="continual unlearning: k forget requests, each method on its own previous "
                                          "output (AMUN §6.3); per-request tables")
    _add_run_options(p)
    p.add_argument("--methods", default="ft,rl,ga,bs,l1_sparse,salun,amun,amun_a",
                   help="comma-separated method keys (retrain, the reference, and the original are always included)")
    p.add_argument("--requests", type=int, default=5, help="number of forget requests (default 5, as the paper)")
    p.add_argument("--size", type=float, default=0.02,
                   help="samples per request: a fraction of train (default 0.02, as the paper) or a count")
    p.add_argument("--seeds", default="0,1,2", help="comma-separated seeds: original model and request draw")
    p.add_argument("--k", type=int, default=None, help="RMIA reference models (default: engine default)")
    p.add_argument("--references", choices=["auto", "ensemble", "single"], default="auto",
                   help="how the reference models are trained (default auto)")
    p.add_argument("--no-remain", action="store_true", help="the D_F-only setting")
    p.add_argument("--paper-defaults", action="store_true", help="the papers' hyperparameters, not the tuned ones")
    p.add_argument("--out", default="continual-out", help="folder for continual.csv and continual.md")
    p.set_defaults(func=cmd_continual)
    p = sub.add_parser("theorem", help="AMUN's Theorem 4.1 per forget sample (‖δ‖, transfer to Retrain, how "
                                        "forgotten) and the forget-set-size effect")
    _add_audit_options(p)
    p.add_argument("--method", default="amun", help="the unlearned model to look at (one of --methods)")
    p.add_argument("--measure", default="all", choices=["all", "score_after", "excess", "drop", "phi_gap"],
                   help="how forgotten a sample is (default: every measure)")
    p.add_argument("--sizes", default="",
                   help="forget specs for the size effect, e.g. random:0.05,random:0.1,random:0.2,random:0.4 "
                        "(default: none)")
    p.add_argument("--size-methods", default="amun,ft", help="methods of the size effect (from --methods)")
    p.add_argument("--out", default="theorem-out", help="folder for per_sample.csv and forget_sizes.csv")
    p.set_defaults(func=cmd_theorem)
    p = sub.add_parser("tune", help="tune methods on tuning's own held-out data and seeds (RMIA Avg Gap); write the "
                       "grid table")
    _add_run_options(p)
    p.add_argument("--methods", default="ft,rl,ga,bs,l1_sparse,salun,amun,amun_salun,sg_unlearn",
                   help="comma-separated method keys")
    p.add_argument("--seeds", default="0,1", help="tuning runs seed + 1000 (model and forget draw) on its own part "
                   "of the data, held out from every audit")
    p.add_argument("--no-remain", action="store_true", help="tune the D_F-only setting (stored under its own name)")
    p.add_argument("--k", type=int, default=None, help="RMIA reference models (default 8)")
    p.add_argument("--retrains", type=int, default=None, help="retrain replicas per seed (default 2)")
    p.add_argument("--grid", choices=["paper", "small"], default="paper",
                   help="the papers' grids (default) or two values per hyperparameter")
    p.add_argument("--out", default="tune-out", help="folder for tuning_<dataset>.md / .csv")
    p.add_argument("--write", action="store_true",
                   help="store the winners as the data set's tuned defaults (engine/tuned/<dataset>.json)")
    p.add_argument("--ray", action="store_true", help="run the grid as Ray tasks (engine.sweep.run_grid)")
    p.add_argument("--address", default=None, help="with --ray: a Ray cluster (default: a local Ray)")
    p.set_defaults(func=cmd_tune)
    p = sub.add_parser("reproduce", help="a paper's protocol as one command (amun: its Tables 1-2) beside its numbers")
    p.add_argument("paper", choices=["amun"], help="whose protocol")
    p.add_argument("--scale", choices=["paper", "cpu"], default="paper",
                   help="paper: the data set's own preset (CIFAR-10: ResNet-18, GPU-scale); cpu: a CPU preset "
                        "(the bundled digits unless --dataset names a CPU data set)")
    p.add_argument("--dataset", default=None, help="data set (default: cifar10; with --scale cpu: digits)")
    p.add_argument("--data-dir", default=None, help="where data files live")
    p.add_argument("--store", default=None, help="run store root (default $UNLEARN_HOME/store)")
    p.add_argument("--device", default=None, help="cpu or cuda (default: cuda when present)")
    p.add_argument("--set", action="append", default=[], metavar="SECTION.KEY=VALUE", help="override the preset")
    p.add_argument("--seeds", default="1,10,100", help="original models and forget draws (the paper's: 1,10,100)")
    p.add_argument("--forgets", default="10%,50%", help="forget sizes of the paper's tables: 10%%, 50%%")
    p.add_argument("--k", type=int, default=8, help="RMIA reference models (the paper used 128)")
    p.add_argument("--retrains", type=int, default=None, help="retrain replicas per seed (default: the preset's)")
    p.add_argument("--out", default="reproduce-out", help="folder for reproduce.md / .csv and the metrics")
    p.add_argument("--ray", action="store_true", help="run the grid as Ray tasks (engine.sweep.run_grid)")
    p.add_argument("--address", default=None, help="with --ray: a Ray cluster (default: a local Ray)")
    p.add_argument("--references", choices=["auto", "ensemble", "single"], default="auto",
                   help="how the reference models are trained (default auto)")
    p.set_defaults(func=cmd_reproduce)
    p = sub.add_parser("report", help="the HTML report and zip of an audit (from the store; same options as audit)")
    _add_audit_options(p)
    p.add_argument("--out", default="report-out", help="output folder for report.html and report.zip")
    p.add_argument("--png", action="store_true", help="also PNG figures in the zip (needs kaleido and Chromium)")
    p.add_argument("--compute", action="store_true", help="compute what the store lacks instead of failing")
    p.add_argument("--theorem", default="", metavar="METHOD",
                   help="add AMUN's Theorem 4.1 per-sample section for this method of --methods (e.g. amun)")
    p.add_argument("--sizes", default="", help="with --theorem: forget specs of the size curve, e.g. "
                                               "random:0.1,random:0.2,random:0.4 (the audits of `engine theorem`)")
    p.add_argument("--size-methods", default="amun,ft", help="with --sizes: methods of the size curve")
    p.add_argument("--continual", action="store_true",
                   help="add the continual-requests section (the run of `engine continual` with the audit's seeds "
                        "and K, and --requests / --size / --continual-methods)")
    p.add_argument("--requests", type=int, default=5, help="with --continual: number of requests (default 5)")
    p.add_argument("--size", type=float, default=0.02, help="with --continual: samples per request (default 0.02)")
    p.add_argument("--continual-methods", default="ft,rl,ga,bs,l1_sparse,salun,amun,amun_a",
                   help="with --continual: its methods")
    p.set_defaults(func=cmd_report)
    p = sub.add_parser("sample", help="one forget sample across every model of an audit: signals, membership scores, "
                                      "its nearest adversarial example (from the store; same options as audit)")
    _add_audit_options(p)
    p.add_argument("index", type=int, help="the training index of a forget sample")
    p.add_argument("--of-seed", type=int, default=None, help="the audit seed whose forget set holds it (default: "
                                                              "the first of --seeds)")
    p.add_argument("--compute", action="store_true", help="compute what the store lacks instead of failing")
    p.set_defaults(func=cmd_sample)
    p = sub.add_parser("sweep", help="a grid of methods × hyperparameters × seeds × forget specs as Ray tasks")
    _add_audit_options(p)
    p.add_argument("--grid", action="append", default=[], metavar="METHOD.KEY=V1,V2",
                   help="values to sweep for one method hyperparameter (repeat for more; the product is run)")
    p.add_argument("--forgets", default=None, help="forget specs separated by ';' (default: --forget or the preset)")
    p.add_argument("--address", default=None, help="Ray cluster address (default: a local Ray on this machine)")
    p.add_argument("--num-cpus", type=int, default=None, help="CPUs of the local Ray (default: all)")
    p.add_argument("--gpus-per-task", type=float, default=0.25, help="GPU share per task where GPUs exist")
    p.add_argument("--out", default="sweep-out", help="output folder for metrics.csv and summary.csv")
    p.set_defaults(func=cmd_sweep)
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except UnlearnError as exc:
        hint = f" {DOWNLOAD_HINT}" if isinstance(exc, DataMissing) and exc.downloadable else ""
        print(f"error: {exc}{hint}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted; nothing half-written was stored", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
