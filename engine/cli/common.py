"""What every command shares: the run and audit options (the audit settings derived from
:class:`engine.request.AuditRequest`'s fields), the spec and request they describe — checked by
:mod:`engine.settings` before anything runs —, the paths checked up front, the runner and the progress bar."""

from __future__ import annotations

import argparse
import sys
from dataclasses import replace
from pathlib import Path

from ..errors import UnlearnError
from ..progress import stage_label

#: what the command line adds to a missing-data message (the dashboard says what to do there instead)
DOWNLOAD_HINT = "Or pass --download to fetch them (needs a network)."


def _add_run_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--dataset", default="digits", help="data set key (see `datasets`); default: digits")
    p.add_argument("--model", default=None, help="mlp, cnn, resnet18 or resnet18_amun; default: the data set's preset")
    p.add_argument("--width", type=int, default=None, help="hidden width / base channels; default: preset")
    p.add_argument("--forget", default=None,
                   help="random:0.1 | random:500 | class:3,7 | indices:3,7,10-15 | indices:FILE; default: preset")
    p.add_argument("--seed", type=int, default=0, help="training seed (default 0)")
    p.add_argument("--forget-seed", type=int, default=None,
                   help="seed of the forget-set draw (default 0; an audit: each of --seeds draws its own forget set "
                        "unless this names one draw for all of them)")
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


def _spec_from_args(args: argparse.Namespace, *, memorized: bool = False):
    from ..data import load_dataset
    from ..forget import inline_forget
    from ..presets import default_spec, with_overrides
    from ..settings import check_spec

    spec = default_spec(args.dataset)
    if args.model:
        from ..models import MODELS

        if args.model not in MODELS:
            raise UnlearnError(f"unknown model {args.model!r}; choose one of: {', '.join(MODELS)}")
        spec = replace(spec, model=replace(spec.model, arch=args.model, width=MODELS[args.model].default_width))
    if args.width is not None:
        spec = replace(spec, model=replace(spec.model, width=args.width))
    if args.path:
        spec = replace(spec, data=replace(spec.data, path=args.path))
    fseed = 0 if args.forget_seed is None else args.forget_seed
    spec = replace(spec, seed=args.seed, forget_seed=fseed, forget=args.forget or spec.forget)
    # every setting, before anything runs (``memorized``: the quality command resolves memorized:… itself)
    spec = check_spec(with_overrides(spec, **_set_sections(args.set)), memorized=memorized)
    if spec.forget.strip().lower().startswith("indices:"):  # a file's indices go into the spec, not its path
        data = load_dataset(spec.data, args.data_dir)
        spec = replace(spec, forget=inline_forget(spec.forget, data.y_train, data.num_classes))
    return spec


def _runner(args: argparse.Namespace):
    from ..run import Runner
    from ..store import Store

    return Runner(Store(args.store), data_dir=args.data_dir, download=getattr(args, "download", False),
                  device=_device(args), progress=Bar(), reference_training=getattr(args, "references", "auto"))


def _device(args):
    import torch

    from ..training import default_device

    if args.device is None:
        return default_device()
    try:
        device = torch.device(args.device)
    except RuntimeError:
        device = None
    if device is None or device.type not in ("cpu", "cuda"):
        raise UnlearnError(f"--device {args.device!r}: expected cpu, cuda or cuda:N")
    if device.type == "cuda" and not torch.cuda.is_available():
        raise UnlearnError("--device cuda: no CUDA device is available")
    return device


def refuse_forget_seed(args: argparse.Namespace, command: str) -> None:
    """``--forget-seed`` where the command draws each seed's forget sets itself: one clear line, not ignored."""
    if getattr(args, "forget_seed", None) is not None:
        raise UnlearnError(f"{command} draws every seed's forget sets with that seed (--seeds); --forget-seed is not "
                           "used here — leave it out")


def _seeds(text: str) -> list[int]:
    """``--seeds 0,1,2``: whole numbers within the seed bounds of :class:`AuditRequest` (one line otherwise)."""
    from ..request import AuditRequest
    from ..settings import check_seeds

    try:
        seeds = [int(s) for s in text.split(",") if s.strip()]
    except ValueError:
        raise UnlearnError(f"--seeds {text!r}: expected integers such as 0,1,2") from None
    meta = next(f for f in AuditRequest.settings() if f.name == "seeds").metadata
    return list(check_seeds(seeds, dict(meta), "--seeds"))


def _check_paths(args: argparse.Namespace) -> None:
    """The store and the output folder writable before anything runs (not after a whole audit): one line if not.
    The check creates nothing."""
    from ..paths import unlearn_home

    if hasattr(args, "store"):
        _writable(Path(args.store).expanduser() if args.store else unlearn_home() / "store", "--store")
    if getattr(args, "out", None):
        _writable(Path(args.out), "--out")


def _writable(folder: Path, option: str) -> None:
    """Probe the nearest folder that exists (the run creates the rest): nothing is created, so two processes
    checking the same new store at once cannot trip over each other's folders or probe files."""
    import tempfile

    if folder.exists() and not folder.is_dir():
        raise UnlearnError(f"{option} {folder}: not a folder")
    existing = next(p for p in (folder, *folder.parents) if p.exists())
    if not existing.is_dir():
        raise UnlearnError(f"{option} {folder}: {existing} is not a folder")
    try:
        with tempfile.NamedTemporaryFile(dir=existing, prefix=".unlearn-write-check-"):
            pass
    except OSError as exc:
        raise UnlearnError(f"{option} {folder}: cannot write there ({exc.strerror or exc})") from None


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


def _guard(check) -> None:
    """The membership guard's verdict, one line: ``signal: …`` or ``WARNING: …`` when there is nothing to unlearn."""
    print(("signal: " if check.ok else "WARNING: ") + check.message)


def _short(forget: str, limit: int = 60) -> str:
    return forget if len(forget) <= limit else forget[:limit] + "…"


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


def _request(args: argparse.Namespace):
    from ..audit.rmia import DEFAULT_K
    from ..run import AuditRequest

    methods = [m.strip() for m in args.methods.split(",") if m.strip()]
    seeds = _seeds(args.seeds)
    args.set, overrides = _method_sets(args.set)
    forget_seed = args.forget_seed  # None: each model seed draws its own forget set
    args.seed, args.forget_seed = 0, 0
    spec = _spec_from_args(args)
    retrains = 0 if getattr(args, "no_retrain", False) else getattr(args, "set_retrains", None)
    original = _uploaded(args, spec) if getattr(args, "weights", None) else None
    settings = {**_setting_values(args), "retrains": retrains, "original": original, "forget_seed": forget_seed}
    settings.setdefault("k", DEFAULT_K)
    return AuditRequest.build(spec, methods, seeds, overrides=overrides, tuned=not args.paper_defaults,
                              use_remain=not args.no_remain, **settings)


def _add_setting_options(p: argparse.ArgumentParser) -> None:
    """An option for every :class:`AuditRequest` setting with a ``cli`` name (but ``--seeds``, a comma list): its
    help and bounds from the field's metadata; a flag for a true/false setting."""
    from ..request import AuditRequest
    from ..settings import field_kind

    for f in AuditRequest.settings():
        flag = f.metadata.get("cli")
        if not flag or f.name == "seeds":
            continue
        kind, _ = field_kind(f)
        bounds = f" [{f.metadata['min']}, {f.metadata['max']}]" if "min" in f.metadata else ""
        if kind is bool:
            p.add_argument(flag, dest=f"set_{f.name}", action="store_true", default=None, help=f.metadata["help"])
        else:
            p.add_argument(flag, dest=f"set_{f.name}", type=kind, default=None, metavar=f.name.upper(),
                           help=f"{f.metadata['help']}{bounds} (default: {f.metadata.get('default_text', f.default)})")


def _setting_values(args: argparse.Namespace) -> dict:
    """The :class:`AuditRequest` settings given on the command line (:func:`_add_setting_options`), by field name."""
    return {k[4:]: v for k, v in vars(args).items() if k.startswith("set_") and v is not None}


def _uploaded(args: argparse.Namespace, spec) -> str:
    """``--weights FILE``: the file checked against ``spec``'s model and data and stored (``report``: looked up
    only, unless ``--compute``); its key, for the request's ``original``."""
    from ..run import Runner
    from ..store import Store
    from ..upload import read_file

    data = read_file(args.weights)
    build = getattr(args, "compute", True)
    runner = Runner(Store(args.store), data_dir=args.data_dir, device=_device(args), build=build)
    tm = runner.upload(data, spec, name=Path(args.weights).name)
    print(f"your model: {Path(args.weights).name} fits {spec.model.arch} (width {spec.model.width}) on "
          f"{spec.data.dataset}; {tm.artifact.manifest['n_params']:,} parameters, stored as uploaded/{tm.key}",
          file=sys.stderr)
    return tm.key


def _stored_comparison(args: argparse.Namespace):
    """The audit the options describe, from the store (``--compute``: building what it lacks): (request, runner,
    comparison); a missing audit is one clear error."""
    from ..run import NotStored, Runner
    from ..store import Store

    req = _request(args)
    runner = Runner(Store(args.store), data_dir=args.data_dir, device=_device(args), build=args.compute,
                    progress=Bar() if args.compute else None, reference_training=args.references)
    try:
        return req, runner, runner.compare(req)
    except NotStored:
        raise UnlearnError("this audit is not in the store yet: run `engine audit` with the same options first, "
                           "or pass --compute") from None


def _add_audit_options(p: argparse.ArgumentParser) -> None:
    _add_run_options(p)
    p.add_argument("--methods", default="ft,rl,ga,bs,l1_sparse,salun,amun,amun_salun",
                   help="comma-separated method keys (retrain and original are always included)")
    p.add_argument("--seeds", default="0,1,2",
                   help="comma-separated model seeds, each also its forget-set seed unless --forget-seed names one "
                        "(default 0,1,2)")
    _add_setting_options(p)  # --k, --retrains, --short-references: from AuditRequest's fields
    p.add_argument("--references", choices=["auto", "ensemble", "single"], default="auto",
                   help="train the reference models as one stacked ensemble or one by one (default auto: the "
                        "ensemble for small models without batch norm)")
    p.add_argument("--no-remain", action="store_true", help="the D_F-only setting")
    p.add_argument("--paper-defaults", action="store_true", help="the papers' hyperparameters, not the tuned ones")
    p.add_argument("--weights", default=None, metavar="FILE.safetensors",
                   help="audit your own model: its weights (safetensors only; pickles are refused) in place of the "
                        "trained original, for --model/--width on --dataset; --forget names its forget set")
    p.add_argument("--no-retrain", action="store_true",
                   help="no retrained model: audit against the reference models alone (no Retrain row, no Avg Gap)")

