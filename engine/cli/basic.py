"""The commands of one run: ``datasets``, ``train``, ``signals``, ``methods``, ``unlearn``, ``audit``."""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

from ..errors import UnlearnError
from .common import DOWNLOAD_HINT, _guard, _method_sets, _request, _runner, _short, _spec_from_args


def cmd_datasets(args: argparse.Namespace) -> int:
    from ..data import DATASETS, availability

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


def cmd_signals(args: argparse.Namespace) -> int:
    from ..audit.mia import loss_threshold

    spec = _spec_from_args(args)  # checked before the store is opened
    res = _runner(args).baseline(spec)
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
    from ..unlearning import METHODS

    for key, cls in METHODS.items():
        needs = "needs D_R" if cls.needs_remain else ("D_F only" if not cls.uses_remain else "D_R optional")
        print(f"{key}\t{cls.label}\t{needs}")
    return 0


def cmd_unlearn(args: argparse.Namespace) -> int:
    from ..run import AuditRequest

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


def cmd_audit(args: argparse.Namespace) -> int:
    t0 = time.perf_counter()
    req = _request(args)
    result = _runner(args).compare(req)
    out = result.write(args.out)
    from ..report import table_markdown

    text = table_markdown(result)  # judged against Retrain, as the pages and the report judge it (issue 20)
    (out / "table.md").write_text(text + "\n")
    print(text)
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
    from ..audit.classes import class_tables
    from ..forget import forget_classes

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

