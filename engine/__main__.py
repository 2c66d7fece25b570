"""Command line: ``python -m engine {datasets,train,signals,methods,unlearn,audit,continual,theorem,report,sweep} …``.

Every option has a default, so ``python -m engine train --dataset digits`` just works. Every command goes
through :class:`engine.run.Runner`. Errors a user can cause print one line and exit with status 2. Long work
shows a progress bar with an ETA on a terminal and stays quiet otherwise.
"""

from __future__ import annotations

import argparse
import os
import sys

from .cli.basic import cmd_audit, cmd_datasets, cmd_methods, cmd_signals, cmd_train, cmd_unlearn
from .cli.common import DOWNLOAD_HINT, _add_audit_options, _add_run_options, _check_paths
from .cli.grid import cmd_continual, cmd_sweep, cmd_theorem, sweep_requests
from .cli.quality import add_quality_parser
from .cli.study import cmd_report, cmd_reproduce, cmd_sample, cmd_tune
from .errors import DataMissing, UnlearnError


def cmd_serve(args: argparse.Namespace) -> int:
    """The dashboard (app.py) on host:port, from a source checkout or an installed package (engine/serve.py)."""
    from .serve import serve

    extra = args.streamlit_args[1:] if args.streamlit_args[:1] == ["--"] else args.streamlit_args
    return serve(args.host, args.port, extra)


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
    p.add_argument("--quality", default="", metavar="METHODS",
                   help="add the forgetting-quality section for these methods (e.g. ft,rl,salun,amun): the run of "
                        "`engine quality` on the first of --seeds with --quality-runs")
    p.add_argument("--quality-runs", type=int, default=16, help="with --quality: N (default 16)")
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
    add_quality_parser(sub)
    p = sub.add_parser("serve", help="start the dashboard (Streamlit) on http://HOST:PORT")
    p.add_argument("--host", default="127.0.0.1", help="address to bind (default: this machine only)")
    p.add_argument("--port", type=int, default=8501)
    p.add_argument("streamlit_args", nargs=argparse.REMAINDER, help="more Streamlit options after --")
    p.set_defaults(func=cmd_serve)
    args = parser.parse_args(argv)
    try:
        _check_paths(args)
        return args.func(args)
    except UnlearnError as exc:
        hint = f" {DOWNLOAD_HINT}" if isinstance(exc, DataMissing) and exc.downloadable else ""
        print(f"error: {exc}{hint}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted; nothing half-written was stored", file=sys.stderr)
        return 130
    except OSError as exc:  # a file or folder the system refused: one line, no traceback
        where = f" ({exc.filename})" if exc.filename else ""
        print(f"error: {exc.strerror or exc}{where}", file=sys.stderr)
        return 2
    except Exception as exc:  # a bug, not a user error: one line; UNLEARN_DEBUG=1 shows the traceback
        if os.environ.get("UNLEARN_DEBUG"):
            raise
        print(f"internal error: {type(exc).__name__}: {exc} (rerun with UNLEARN_DEBUG=1 for the traceback)",
              file=sys.stderr)
        return 1


__all__ = ["DOWNLOAD_HINT", "cmd_audit", "cmd_continual", "cmd_datasets", "cmd_methods", "cmd_report", "cmd_reproduce",
           "cmd_sample", "cmd_signals", "cmd_sweep", "cmd_theorem", "cmd_train", "cmd_tune", "cmd_unlearn", "main",
           "sweep_requests", "_add_audit_options", "_add_run_options", "_check_paths"]


if __name__ == "__main__":
    sys.exit(main())
