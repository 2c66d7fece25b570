"""Command line: ``python -m engine {datasets,train,signals} …``.

Every option has a default, so ``python -m engine train --dataset digits`` just works. Errors a user can
cause print one line and exit with status 2.
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

from .errors import UnlearnError


def _add_run_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--dataset", default="digits", help="data set key (see `datasets`); default: digits")
    p.add_argument("--model", default=None, help="mlp, cnn or resnet18; default: the data set's preset")
    p.add_argument("--width", type=int, default=None, help="hidden width / base channels; default: preset")
    p.add_argument("--forget", default=None,
                   help="random:0.1 | random:500 | class:3,7 | indices:3,7,10-15 | indices:FILE; default: preset")
    p.add_argument("--seed", type=int, default=0, help="training seed (default 0)")
    p.add_argument("--forget-seed", type=int, default=0, help="seed of the forget-set draw (default 0)")
    p.add_argument("--data-dir", default=None, help="where data files live (default $UNLEARN_DATA_DIR or $UNLEARN_HOME/data)")
    p.add_argument("--path", default=None, help="imagefolder: folder of class sub-folders")
    p.add_argument("--download", action="store_true", help="download missing torchvision data (needs a network)")
    p.add_argument("--store", default=None, help="run store root (default $UNLEARN_HOME/store)")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="override a preset setting (train.epochs=50, data.train_size=500) or, with unlearn, a "
                        "method hyperparameter (lr=0.05 or amun.lr=0.05)")
    p.add_argument("--device", default=None, help="cpu or cuda (default: cuda when present)")


def _spec_from_args(args: argparse.Namespace):
    from .pipeline import default_spec, with_overrides

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
    sections: dict[str, dict[str, str]] = {}
    for item in args.set:
        key, eq, value = item.partition("=")
        section, dot, name = key.partition(".")
        if not eq or not dot:
            raise UnlearnError(f"--set {item!r}: expected SECTION.KEY=VALUE, e.g. train.epochs=50")
        sections.setdefault(section, {})[name] = value
    return with_overrides(spec, **sections)


def _device(args):
    import torch

    from .training import default_device

    if args.device is None:
        return default_device()
    if args.device == "cuda" and not torch.cuda.is_available():
        raise UnlearnError("--device cuda: no CUDA device is available")
    return torch.device(args.device)


def _progress(stage: str, done: int, total: int, metrics: dict) -> None:
    """Epoch progress on stderr: one rewritten line on a terminal, else a line per 10 %."""
    if not metrics.get("epoch"):
        return
    shown = " ".join(f"{k} {v:.4g}" for k, v in metrics.items() if k not in ("epoch", "lr") and isinstance(v, float))
    line = f"  {stage}: epoch {metrics['epoch']} {shown} [{done}/{total}]"
    if sys.stderr.isatty():
        print("\r" + line, end="\n" if done == total else "", file=sys.stderr, flush=True)
    elif done == total or (done * 10 // total) != ((done - 1) * 10 // total):
        print(line, file=sys.stderr, flush=True)


def cmd_datasets(args: argparse.Namespace) -> int:
    from .data import DATASETS, availability

    for key, info in DATASETS.items():
        ok, where = availability(key, args.data_dir)
        classes = info.num_classes if info.num_classes else "from folders"
        shape = "x".join(map(str, info.shape)) if info.shape else "resized"
        status = f"available ({where})" if ok else f"missing: {where}"
        print(f"{key}\t{classes} classes\t{shape}\t{status}")
    return 0


def cmd_train(args: argparse.Namespace) -> int:
    from .pipeline import prepare, train_or_load
    from .store import Store
    from .training import predict

    spec = _spec_from_args(args)
    store = Store(args.store)
    prep = prepare(spec, args.data_dir, args.download)
    kinds = ["original", "retrain"] if args.kind == "both" else [args.kind]
    print(f"data {spec.data.dataset}: train {len(prep.data.y_train)}, test {len(prep.data.y_test)}, "
          f"val {len(prep.data.y_val)}; forget {len(prep.forget)} ({spec.forget}, seed {spec.forget_seed})")
    for kind in kinds:
        t0 = time.perf_counter()
        tm = train_or_load(kind, prep, store, device=_device(args), progress=_progress)
        accs = {}
        for name, idx in (("forget", prep.forget), ("remain", prep.remain)):
            logits = predict(tm.model, prep.data.x_train[idx])
            accs[name] = float((logits.argmax(1) == prep.data.y_train[idx]).float().mean())
        logits = predict(tm.model, prep.data.x_test)
        accs["test"] = float((logits.argmax(1) == prep.data.y_test).float().mean())
        source = "from store" if tm.artifact.from_cache else f"trained in {tm.seconds:.1f} s"
        print(f"{kind}: {source}; forget acc {accs['forget']:.4f}, remain acc {accs['remain']:.4f}, "
              f"test acc {accs['test']:.4f}; {time.perf_counter() - t0:.1f} s")
        print(f"  artifact: {tm.artifact.path}")
    return 0


def cmd_signals(args: argparse.Namespace) -> int:
    from .audit.mia import loss_threshold
    from .pipeline import run_baseline
    from .store import Store

    spec = _spec_from_args(args)
    res = run_baseline(spec, Store(args.store), data_dir=args.data_dir, device=_device(args), progress=_progress)
    out = Path(args.out) if args.out else None
    print("model\tgroup\tn\taccuracy\tmean p_y\tmean loss")
    for model, groups in res.groups.items():
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


def cmd_unlearn(args: argparse.Namespace) -> int:
    from .pipeline import prepare, run_method, train_or_load
    from .store import Store
    from .training import accuracy, predict
    from .unlearning import get_method

    overrides: dict[str, str] = {}
    run_sets: list[str] = []
    for item in args.set:
        key, eq, value = item.partition("=")
        if not eq:
            raise UnlearnError(f"--set {item!r}: expected KEY=VALUE")
        if key.startswith(("data.", "model.", "train.")):
            run_sets.append(item)
        else:
            overrides[key.removeprefix(f"{args.method}.")] = value
    args.set = run_sets
    spec = _spec_from_args(args)
    method = get_method(args.method, dataset=None if args.paper_defaults else spec.data.dataset, **overrides)
    store, device = Store(args.store), _device(args)
    prep = prepare(spec, args.data_dir, args.download)
    original = train_or_load("original", prep, store, device=device, progress=_progress)
    t0 = time.perf_counter()
    run = run_method(method, prep, original, store, use_remain=not args.no_remain, device=device,
                     progress=_progress)
    d = prep.data
    ua = accuracy(predict(run.model, d.x_train[prep.forget]), d.y_train[prep.forget])
    ra = accuracy(predict(run.model, d.x_train[prep.remain]), d.y_train[prep.remain])
    ta = accuracy(predict(run.model, d.x_test), d.y_test)
    source = "from store" if run.artifact.from_cache else "computed"
    setting = "D_F only" if args.no_remain else "with D_R"
    print(f"{method.label} ({setting}, seed {spec.seed}): UA {100 * ua:.2f}  RA {100 * ra:.2f}  TA {100 * ta:.2f}  "
          f"time {run.seconds:.2f} s ({source}; this call {time.perf_counter() - t0:.2f} s)")
    print(f"  artifact: {run.artifact.path}")
    return 0


def cmd_audit(args: argparse.Namespace) -> int:
    from .audit.compare import compare
    from .audit.rmia import DEFAULT_K
    from .store import Store

    methods = [m.strip() for m in args.methods.split(",") if m.strip()]
    try:
        seeds = [int(s) for s in args.seeds.split(",") if s.strip()]
    except ValueError:
        raise UnlearnError(f"--seeds {args.seeds!r}: expected integers such as 0,1,2") from None
    overrides: dict[str, dict[str, str]] = {}
    run_sets = []
    for item in args.set:
        key, eq, value = item.partition("=")
        section, dot, name = key.partition(".")
        if not eq or not dot:
            raise UnlearnError(f"--set {item!r}: expected METHOD.KEY=VALUE (or train./data./model. settings)")
        if section in ("data", "model", "train"):
            run_sets.append(item)
        else:
            overrides.setdefault(section, {})[name] = value
    args.set = run_sets
    args.seed, args.forget_seed = 0, 0
    spec = _spec_from_args(args)
    t0 = time.perf_counter()
    result = compare(spec, methods, seeds, Store(args.store), overrides=overrides, use_remain=not args.no_remain,
                     tuned=not args.paper_defaults, k=args.k or DEFAULT_K, data_dir=args.data_dir, device=_device(args),
                     progress=_progress)
    out = result.write(args.out)
    print(result.to_markdown())
    print(f"\n{len(result.rows)} rows written to {out / 'metrics.csv'}, table to {out / 'table.md'}, per-sample "
          f"values to {out / 'per_sample'}; {time.perf_counter() - t0:.1f} s")
    return 0


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
    _add_run_options(p)
    p.add_argument("--methods", default="ft,rl,ga,bs,l1_sparse,salun,amun,amun_salun",
                   help="comma-separated method keys (retrain and original are always included)")
    p.add_argument("--seeds", default="0,1,2", help="comma-separated seeds: model seed and forget-set seed (default 0,1,2)")
    p.add_argument("--out", default="audit-out", help="output folder for metrics.csv, table.md, per_sample/")
    p.add_argument("--k", type=int, default=None, help="number of RMIA reference models (default: engine default)")
    p.add_argument("--no-remain", action="store_true", help="the D_F-only setting")
    p.add_argument("--paper-defaults", action="store_true", help="the papers' hyperparameters, not the tuned ones")
    p.set_defaults(func=cmd_audit)
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except UnlearnError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted; nothing half-written was stored", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
