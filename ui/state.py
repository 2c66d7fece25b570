"""Run settings in the session and in the URL, so a view can be shared by its address."""

from __future__ import annotations

import dataclasses
import re
import sys
from dataclasses import replace

import streamlit as st

from engine.config import DataSpec, ModelSpec, RunSpec, TrainConfig
from engine.data import DATASETS, availability
from engine.errors import DataMissing, UnlearnError
from engine.forget import names_a_file
from engine.models import MODELS
from engine.presets import default_retrains, default_spec
from engine.settings import check_spec, check_value, field_kind

from .text import literal

# canonical settings live under cfg_* (survive page switches); widgets use w_* keys
FIELDS = {"dataset": "digits", "model": "", "forget": "", "seed": 0, "forget_seed": 0}
#: the session's spec settings → the spec field each one sets; the URL key, type and bounds come from that field's
#: metadata (engine.config.setting), so the address carries exactly what the engine would accept
SPEC_FIELDS = {"dataset": (DataSpec, "dataset"), "model": (ModelSpec, "arch"), "forget": (RunSpec, "forget"),
               "seed": (RunSpec, "seed"), "forget_seed": (RunSpec, "forget_seed"),
               "train_size": (DataSpec, "train_size"), "epochs": (TrainConfig, "epochs"), "width": (ModelSpec, "width")}


def _field(cls: type, name: str) -> dataclasses.Field:
    return next(f for f in dataclasses.fields(cls) if f.name == name)


URL_KEYS = {name: _field(*where).metadata["url"] for name, where in SPEC_FIELDS.items()}
#: overrides of the data set's preset recipe (``--set data.train_size=…`` / ``train.epochs=…``): in the URL only
#: when they differ from the preset; None = the preset's value
RECIPE = {"train_size": URL_KEYS["train_size"], "epochs": URL_KEYS["epochs"]}
#: the model's width when it differs from the architecture's (the Your model page: an uploaded model's width); in the
#: URL as ``width`` only then
WIDTH_KEY = URL_KEYS["width"]


def notice(text: str) -> None:
    """Queue a notice about the address (a value dropped, the defaults shown); :func:`show_notices` draws it."""
    notes = st.session_state.setdefault("_url_notices", [])
    if text not in notes:
        notes.append(text)


def show_notices() -> None:
    """The queued address notices, once each, as literal text (the values in them come from a link)."""
    for text in st.session_state.pop("_url_notices", []):
        st.warning(literal(text), icon=":material/link_off:")


def _from_url(name: str, raw: str):
    """The URL text ``raw`` of setting ``name`` as a value its spec field accepts (0 = "all" for the training size),
    or raise UnlearnError saying why not."""
    f = _field(*SPEC_FIELDS[name])
    kind, optional = field_kind(f)
    if kind is str:
        return check_value("", URL_KEYS[name], raw, dict(f.metadata), str)
    try:
        value = int(raw)
    except ValueError:
        raise UnlearnError(f"{URL_KEYS[name]}={raw!r}: expected a whole number") from None
    if name == "train_size" and value == 0:
        return 0
    return check_value("", URL_KEYS[name], value, dict(f.metadata), int, optional)


def decode_spec(params) -> tuple[dict, list[str]]:
    """The sidebar settings in the query ``params`` (a mapping of URL key → text): ``({name: value}, notices)``.
    Each value is checked against its spec field (type, bounds, length), then the whole spec as the engine checks it
    (forget syntax, budgets such as a ResNet-18 of width 4096); a value that fails is dropped and a notice says
    why. The result always makes a valid spec (:func:`spec_for`). Pure: no session, no Streamlit."""
    notes: list[str] = []
    cfg = {**FIELDS, "train_size": None, "epochs": None, "width": None}
    for name in cfg:
        raw = params.get(URL_KEYS[name])
        if raw is None:
            continue
        try:
            cfg[name] = _from_url(name, str(raw))
        except UnlearnError as exc:
            notes.append(f"The address's {exc}; the default is used.")
    if cfg["dataset"] not in DATASETS:
        notes.append(f"The address's data set {cfg['dataset'][:40]!r} is not one of {', '.join(DATASETS)}; digits "
                     "is used.")
        cfg["dataset"] = "digits"
    if cfg["model"] and cfg["model"] not in MODELS:
        notes.append(f"The address's model {cfg['model'][:40]!r} is not one of {', '.join(MODELS)}; the preset's is "
                     "used.")
        cfg["model"] = ""
    try:  # the whole spec as the engine checks it: bounds, forget syntax, budgets
        check_spec(spec_for({**cfg, "path": ""}))
    except UnlearnError as exc:
        notes.append(f"The address's settings were refused: {exc}. The data set's preset is shown instead.")
        cfg = {**FIELDS, "dataset": cfg["dataset"], "train_size": None, "epochs": None, "width": None}
    return cfg, notes


def init() -> None:
    """Session defaults, seeded once per session from the URL's query parameters (:func:`decode_spec`): a value
    the engine would refuse is dropped with a notice and the default is shown — never a broken page."""
    if st.session_state.get("_cfg_init"):
        return
    cfg, notes = decode_spec(st.query_params)
    for text in notes:
        notice(text)
    for name, value in cfg.items():
        st.session_state[f"cfg_{name}"] = value
    st.session_state["cfg_path"] = ""  # imagefolder's folder: typed in this session, never read from an address
    st.session_state["_cfg_init"] = True


def _recipe(preset: RunSpec) -> dict[str, int]:
    """The preset's values of the recipe settings (train size 0 = all of train)."""
    return {"train_size": preset.data.train_size or 0, "epochs": preset.train.epochs}


def current_spec() -> RunSpec:
    """The RunSpec of the session's settings (preset of the data set + the chosen overrides)."""
    init()
    s = st.session_state
    return spec_for({name: s.get(f"cfg_{name}") for name in (*FIELDS, *RECIPE, "path", "width")})


def spec_for(cfg: dict) -> RunSpec:
    """The RunSpec of sidebar settings ``{dataset, model, forget, seed, forget_seed, train_size, epochs, path,
    width}``: the data set's preset with these overrides (a missing or empty value keeps the preset's)."""
    spec = default_spec(cfg["dataset"])
    model = cfg.get("model")
    if model and model != spec.model.arch and model in MODELS:
        spec = replace(spec, model=replace(spec.model, arch=model, width=MODELS[model].default_width))
    if cfg.get("width"):
        spec = replace(spec, model=replace(spec.model, width=int(cfg["width"])))
    forget = cfg.get("forget") or spec.forget
    if names_a_file(forget):  # a spec from an address must not make the server read its files
        forget = spec.forget
    if cfg.get("train_size") is not None:
        spec = replace(spec, data=replace(spec.data, train_size=int(cfg["train_size"]) or None))
    if cfg.get("epochs"):
        spec = replace(spec, train=replace(spec.train, epochs=int(cfg["epochs"])))
    if spec.data.dataset == "imagefolder":
        spec = replace(spec, data=replace(spec.data, path=cfg.get("path") or None))
    return replace(spec, forget=forget, seed=int(cfg.get("seed") or 0), forget_seed=int(cfg.get("forget_seed") or 0))


def sync_url() -> None:
    spec = current_spec()
    values = {"dataset": spec.data.dataset, "model": spec.model.arch, "forget": spec.forget, "seed": spec.seed,
              "forget_seed": spec.forget_seed}
    for name, value in values.items():
        if st.query_params.get(URL_KEYS[name]) != str(value):
            st.query_params[URL_KEYS[name]] = str(value)
    preset = _recipe(default_spec(spec.data.dataset))
    chosen = {"train_size": spec.data.train_size or 0, "epochs": spec.train.epochs}
    for name, url_key in RECIPE.items():
        if chosen[name] != preset[name]:
            if st.query_params.get(url_key) != str(chosen[name]):
                st.query_params[url_key] = str(chosen[name])
        elif url_key in st.query_params:
            del st.query_params[url_key]
    base = spec_for({**{n: st.session_state.get(f"cfg_{n}") for n in (*FIELDS, *RECIPE, "path")}, "width": None})
    if spec.model.width != base.model.width:
        if st.query_params.get(WIDTH_KEY) != str(spec.model.width):
            st.query_params[WIDTH_KEY] = str(spec.model.width)
    elif WIDTH_KEY in st.query_params:
        del st.query_params[WIDTH_KEY]


def _copy(name: str) -> None:
    """on_change: the widget's new value becomes the canonical setting before the rerun."""
    st.session_state[f"cfg_{name}"] = st.session_state[f"w_{name}"]


def _widget(name: str) -> dict:
    """Key and callback of the widget for ``name``, its value set from the canonical setting.

    Streamlit forgets (or mismatches) a keyed widget's state when another page draws the same key, which left
    the sidebar's text box blank on every other page; re-setting the widget value from ``cfg_*`` on every run,
    and copying changes back in ``on_change`` (which runs before the rerun), keeps them in step.
    """
    st.session_state[f"w_{name}"] = st.session_state[f"cfg_{name}"]
    return {"key": f"w_{name}", "on_change": _copy, "args": (name,)}


def _bounds(name: str) -> dict:
    """``min_value`` / ``max_value`` of the widget for setting ``name``: its spec field's bounds."""
    meta = _field(*SPEC_FIELDS[name]).metadata
    return {"min_value": int(meta["min"]), "max_value": int(meta["max"])}


def _through_app() -> None:
    """Make sure the page runs inside ``app.py``'s navigation (its sections, its page configuration).

    Streamlit runs an app with a ``pages/`` folder through its old folder discovery (every file a page, ``app`` the
    first entry, no sections) until some session has called ``st.navigation``: on a fresh server, a page opened by
    its address ran without ``app.py``, and its sidebar listed file names. Within ``app.py``'s navigation the flag
    below is already off; if it is not, turn it off and rerun, so this session runs ``app.py``, which resolves the
    same page by its address. This happens once per server process (the flag stays off); not under ``AppTest``
    (a test process), which turns the flag back on before every run (a rerun there would drop the run's
    button click). (Streamlit 1.67's ``PagesManager.uses_pages_directory``; a Chromium test opens a page by its
    address on a fresh server and checks the sections.)"""
    from streamlit.runtime.pages_manager import PagesManager

    if PagesManager.uses_pages_directory and "streamlit.testing.v1" not in sys.modules:
        PagesManager.uses_pages_directory = False
        st.rerun()


def sidebar() -> RunSpec:
    """The shared sidebar: data set, model, forget set and seeds. Returns the resulting spec. Notices about values
    of the address that were dropped are shown above the page."""
    _through_app()
    init()
    audit_settings()  # decoded once per session here, so its notices show on whichever page a link opens
    show_notices()
    s = st.session_state
    with st.sidebar:
        st.header("Run settings")
        names = list(DATASETS)

        def label(k: str) -> str:
            if k == "imagefolder":  # not "missing": its folder is typed below
                return DATASETS[k].label
            ok, _ = availability(k)
            return DATASETS[k].label + ("" if ok else " — files missing")

        st.selectbox("Data set", names, format_func=label, **_widget("dataset"),
                     help="digits ships with scikit-learn; the others read local files (see README).")
        preset = default_spec(s["cfg_dataset"])
        if s.get("_last_dataset", s["cfg_dataset"]) != s["cfg_dataset"]:  # a new data set: its preset
            s["cfg_model"], s["cfg_forget"] = "", ""
            s["cfg_train_size"] = s["cfg_epochs"] = s["cfg_width"] = None
        s["_last_dataset"] = s["cfg_dataset"]
        if s["cfg_dataset"] == "imagefolder":
            st.text_input("Image folder", **_widget("path"), placeholder="/path/to/folder",
                          help="a folder on this machine with one sub-folder of images per class (optionally "
                               "train/ and test/ inside, each with the class sub-folders); images are resized to "
                               f"{preset.data.image_size}×{preset.data.image_size}. Not put in the address: a "
                               "shared link asks its reader for the folder.")
            s["cfg_path"] = s["cfg_path"].strip()
        if not s["cfg_model"]:
            s["cfg_model"] = preset.model.arch
        models = list(MODELS)
        st.selectbox("Model", models, format_func=lambda k: MODELS[k].label, **_widget("model"),
                     help=" · ".join(f"{MODELS[k].label}: {MODELS[k].note}" for k in models))
        if s.get("_last_model", s["cfg_model"]) != s["cfg_model"]:  # another architecture: its own width
            s["cfg_width"] = None
        s["_last_model"] = s["cfg_model"]
        st.caption(MODELS[s["cfg_model"]].note if s["cfg_model"] in MODELS else "")
        if not s["cfg_forget"]:
            s["cfg_forget"] = preset.forget
        st.text_input("Forget set", **_widget("forget"),
                      help="random:0.2 (fraction of train) · random:50 (count) · class:3 or class:3,7 "
                           "(whole classes) · indices:3,7,10-15 (training indices and inclusive ranges); or pick "
                           "the samples by hand on the Setup page")
        s["cfg_forget"] = s["cfg_forget"].strip()
        if names_a_file(s["cfg_forget"]):
            st.error("Index files are read by the command line only (`--forget indices:FILE`); here, write the "
                     "indices inline (indices:3,7,10-15) or pick them by hand on the Setup page. Using the preset's "
                     "forget set.", icon=":material/error:")
        c1, c2 = st.columns(2)
        c1.number_input("Seed", **_bounds("seed"), step=1, **_widget("seed"),
                        help="seed of model initialisation and training")
        c2.number_input("Forget seed", **_bounds("forget_seed"), step=1, **_widget("forget_seed"),
                        help="seed of the random forget-set draw")
        s["cfg_seed"], s["cfg_forget_seed"] = int(s["cfg_seed"]), int(s["cfg_forget_seed"])
    sync_url()
    return current_spec()


def set_forget(spec: str) -> None:
    """Replace the forget spec (e.g. a hand-picked ``indices:3,7,10-15``); the sidebar shows it on the next run."""
    st.session_state["cfg_forget"] = spec


def recipe_controls(spec: RunSpec) -> None:
    """Training-set size and epochs, overriding the data set's preset (what ``--set data.train_size=…`` and
    ``--set train.epochs=…`` do on the command line); in the URL when they differ from the preset."""
    s = st.session_state
    preset = _recipe(default_spec(spec.data.dataset))
    if s.get("cfg_train_size") is None:
        s["cfg_train_size"] = preset["train_size"]
    if not s.get("cfg_epochs"):
        s["cfg_epochs"] = preset["epochs"]
    c1, c2, _ = st.columns([1, 1, 2])
    c1.number_input("Training images (0 = all)", min_value=0, max_value=10_000_000, step=100,
                    **_widget("train_size"),
                    help=f"a stratified, seeded subset of the training split (preset: "
                         f"{preset['train_size'] or 'all'}); the forget set is drawn from it")
    c2.number_input("Epochs", **_bounds("epochs"), step=10, **_widget("epochs"),
                    help=f"passes over the training set for the original and the retrained model (preset: "
                         f"{preset['epochs']}); the learning-rate schedule (StepLR every {spec.train.lr_step} epochs) "
                         "is the preset's")
    s["cfg_train_size"], s["cfg_epochs"] = int(s["cfg_train_size"]), int(s["cfg_epochs"])
    sync_url()


def width_control(spec: RunSpec, column=None) -> int:
    """The model's width (hidden units or base channels), overriding the architecture's default — the width of an
    uploaded model (the Your model page); in the URL as ``width`` when it differs from the default."""
    s = st.session_state
    if not s.get("cfg_width"):
        s["cfg_width"] = spec.model.width
    (column or st).number_input("Model width", **_bounds("width"), step=1, **_widget("width"),
                                help=f"hidden units ({MODELS['mlp'].label}) or base channels (the CNNs) of "
                                     f"{MODELS[spec.model.arch].label}; its default: "
                                     f"{MODELS[spec.model.arch].default_width}. Your file's tensor shapes must "
                                     "match it (a mismatch names the width the file has).")
    s["cfg_width"] = int(s["cfg_width"])
    sync_url()
    return s["cfg_width"]


def describe(spec: RunSpec) -> str:
    t = spec.train
    size = f"{spec.data.train_size} training images" if spec.data.train_size else "all training images"
    return (f"{DATASETS[spec.data.dataset].label} ({size}) · {MODELS[spec.model.arch].label} (width "
            f"{spec.model.width}) · {t.epochs} epochs, batch {t.batch_size}, lr {t.lr}, wd {t.weight_decay} · forget "
            f"{code(spec.forget)} · seed {spec.seed}")  # the forget spec may come from a link: literal text


def code(text: str) -> str:
    """``text`` as a Markdown code span (shown literally, whatever it holds): fenced by more backticks than its
    longest run of them, as CommonMark defines, and on one line."""
    text = " ".join(str(text).split())
    run = max((len(r) for r in re.findall(r"`+", text)), default=0)
    fence = "`" * (run + 1)
    pad = " " if text.startswith("`") or text.endswith("`") or not text else ""
    return f"{fence}{pad}{text}{pad}{fence}"


def show_error(exc: UnlearnError) -> None:
    """A user-caused error, one line of literal text (it may quote a value from a link or a file); for missing data
    files, what to do here in the dashboard (the engine's message names the files and the folder)."""
    text = literal(exc)
    if isinstance(exc, DataMissing):
        text += (" Put the files there and reload this page (the data set list in the sidebar says when they are "
                 "found), or choose another data set in the sidebar — the bundled digits always works.")
    st.error(text, icon=":material/error:")


def show_failure(what: str, exc: BaseException) -> None:
    """An unexpected error (a bug, not the user's): one line saying what failed, never a traceback or a server
    path; the traceback goes to the server's log."""
    import logging

    logging.getLogger("ui").exception("%s failed", what)
    st.error(literal(f"{what} failed unexpectedly ({type(exc).__name__}). The details are in the server's log."),
             icon=":material/error:")


# ------------------------------------------------------------------------------------------- audit settings
DEFAULT_METHODS = ["ft", "rl", "ga", "salun", "amun", "sg_unlearn"]


def encode_overrides(overrides: dict[str, dict]) -> str:
    """``{"amun": {"lr": 0.05}}`` → ``amun.lr=0.05`` (comma-separated; the URL's ``hp`` parameter)."""
    return ",".join(f"{m}.{k}={v}" for m, values in sorted(overrides.items()) for k, v in sorted(values.items()))


def decode_overrides(text: str) -> dict[str, dict[str, str]]:
    """Inverse of :func:`encode_overrides`; values stay strings (the method's dataclass converts and checks them)."""
    out: dict[str, dict[str, str]] = {}
    for item in filter(None, (t.strip() for t in (text or "").split(","))):
        key, eq, value = item.partition("=")
        method, dot, name = key.partition(".")
        if not eq or not dot or not method or not name:
            raise UnlearnError(f"hyperparameter {item!r} in the address: expected METHOD.NAME=VALUE")
        out.setdefault(method, {})[name] = value
    return out


def _audit_fields() -> list:
    """The audit settings a shared address carries: the :class:`AuditRequest` fields with a ``url`` key."""
    from engine.request import AuditRequest

    return [f for f in AuditRequest.settings() if "url" in f.metadata]


def _audit_default(f, dataset: str):
    """The value a setting takes when the address has none (retrains: the preset's)."""
    return default_retrains(dataset) if f.name == "retrains" else f.default


def decode_audit(q) -> tuple[dict, list[str]]:
    """The audit settings in the query ``q`` (a mapping), each decoded by its field's type and checked against
    its bounds; a value that fails is left out and a notice says why. Returns ``({field name: value}, notices)``.
    Pure: no session, no Streamlit."""
    from engine.settings import check_seeds

    out, notes = {}, []
    for f in _audit_fields():
        raw, key = q.get(f.metadata["url"]), f.metadata["url"]
        raw = None if raw is None else str(raw)
        if raw is None:
            continue
        try:
            kind, optional = field_kind(f)
            if f.name == "seeds":
                try:
                    seeds = [int(x) for x in raw.split(",") if x.strip()]
                except ValueError:
                    raise UnlearnError(f"{key}={raw[:40]!r}: expected whole numbers such as 0,1,2") from None
                out[f.name] = check_seeds(seeds, dict(f.metadata), key)
            elif kind is bool:
                if raw not in ("0", "1"):
                    raise UnlearnError(f"{key}={raw[:40]!r}: expected 0 or 1")
                out[f.name] = raw == "1"
            elif kind is int:
                try:
                    value = int(raw)
                except ValueError:
                    raise UnlearnError(f"{key}={raw[:40]!r}: expected a whole number") from None
                out[f.name] = check_value("", key, value, dict(f.metadata), int)
            else:
                value = check_value("", key, raw, dict(f.metadata), str, optional)
                if f.metadata.get("pattern") == "alnum" and not value.isalnum():
                    raise UnlearnError(f"{key}: expected letters and digits only")
                out[f.name] = value
        except UnlearnError as exc:
            notes.append(f"The address's {exc}; the default is used.")
    return out, notes


def audit_settings() -> dict:
    """Methods, seeds, D_F-only, K and per-method overrides chosen on the Run page (all of them in the URL); the
    request's settings under their field names (``audit_<name>`` in the session)."""
    from engine.unlearning import METHODS

    s = st.session_state
    fields = _audit_fields()
    if "audit_methods" not in s:
        q = st.query_params
        raw = q.get("methods")
        wanted = raw.split(",") if raw else DEFAULT_METHODS
        unknown = [m for m in wanted if m not in METHODS]
        if unknown:
            notice(f"The address's methods {', '.join(m[:30] for m in unknown[:5])} are unknown and left out.")
        s["audit_methods"] = [m for m in wanted if m in METHODS and m != "retrain"]
        s["audit_tuned"] = q.get("paper", "0") != "1"
        decoded, notes = decode_audit(q)
        for text in notes:
            notice(text)
        for f in fields:
            s[f"audit_{f.name}"] = decoded.get(f.name, None if f.name == "retrains" else f.default)
        try:
            hp = decode_overrides(q.get("hp", ""))
        except UnlearnError as exc:
            notice(f"{exc}; the defaults are used instead.")
            hp = {}
        s["audit_overrides"] = {m: v for m, v in hp.items() if m in s["audit_methods"]}
    out = {f.name: s.get(f"audit_{f.name}", f.default) for f in fields}
    out["seeds"] = list(out["seeds"])
    return {"methods": list(s["audit_methods"]), **out, "tuned": bool(s.get("audit_tuned", True)),
            "overrides": {m: dict(v) for m, v in s["audit_overrides"].items()}}


def set_audit(**values) -> None:
    """Set audit settings (``methods``, ``overrides``, ``tuned`` or a request field such as ``seeds``,
    ``retrains``, ``original``): the Run page's widgets and the Your model page write them here."""
    s = st.session_state
    known = {"methods", "overrides", "tuned", *(f.name for f in _audit_fields())}
    for name, value in values.items():
        if name not in known:
            raise KeyError(f"no audit setting {name!r}")
        s[f"audit_{name}"] = value


def allow_retrain(allowed: bool) -> None:
    """Retrains per seed: none when not ``allowed``; when allowed after none, the data set's preset (None)."""
    if not allowed:
        set_audit(retrains=0)
    elif audit_settings()["retrains"] == 0:
        set_audit(retrains=None)


def request(spec: RunSpec | None = None):
    """The session's audit as a validated :class:`engine.run.AuditRequest` (raises UnlearnError on a bad value)."""
    from engine.request import AuditRequest

    a = audit_settings()
    settings = {f.name: a[f.name] for f in _audit_fields()}
    return AuditRequest.build(spec or current_spec(), a["methods"], overrides=a["overrides"], tuned=a["tuned"],
                              **settings)


def encode_audit(req) -> dict[str, str | None]:
    """The query parameters of ``req``'s settings: each one's text, or None where it is the default (left out of
    the address; seeds and the setting are always written, so a link says them)."""
    out: dict[str, str | None] = {}
    for f in _audit_fields():
        value = getattr(req, f.name)
        if f.name not in ("seeds", "use_remain") and value == _audit_default(f, req.spec.data.dataset):
            out[f.metadata["url"]] = None
        elif isinstance(value, bool):
            out[f.metadata["url"]] = "1" if value else "0"
        elif isinstance(value, tuple):
            out[f.metadata["url"]] = ",".join(map(str, value))
        else:
            out[f.metadata["url"]] = None if value is None else str(value)
    return out


def sync_audit_url(req) -> None:
    """Methods, seeds, setting, K and the changed hyperparameters of ``req`` into the address bar."""
    q = st.query_params
    values = {"methods": ",".join(m.key for m in req.methods) or ",".join(audit_settings()["methods"]),
              **encode_audit(req)}
    tuned = audit_settings()["tuned"]
    values["paper"] = None if tuned else "1"
    values["hp"] = encode_overrides(req.overrides(tuned=tuned)) or None
    for key, value in values.items():
        if value is None:
            if key in q:
                del q[key]
        elif q.get(key) != value:
            q[key] = value


def current_comparison():
    """The finished comparison for the current settings, from the store (None while any part is missing)."""
    from . import cached

    try:
        req = request()
    except UnlearnError as exc:
        show_error(exc)
        return None
    sync_audit_url(req)  # a result page's address carries the whole audit, so it can be shared
    try:
        return cached.comparison(req)
    except UnlearnError as exc:  # e.g. an uploaded model checked for another model or data set than the sidebar's
        show_error(exc)
        return None


def need_comparison():
    """The current comparison, or an info box with a link to the Run page and ``st.stop()``."""
    cmp = current_comparison()
    if cmp is None:
        st.info("No audit for the current settings in the store yet. Choose methods and seeds on the **Run** page "
                "and start it; models already in the store are reused, so this is quick after the first time.")
        st.page_link("pages/2_Run.py", label="Open Run", icon=":material/play_arrow:")
        st.stop()
    return cmp


# ------------------------------------------------------------------------------------------- view settings
# A page's view (scale, selected methods, attack, …) is in the URL too, so a copied address shows the same view.
# Canonical values live under view_<name> (the name is the URL key), widgets under w_view_<name>, as the sidebar's.
def _copy_view(name: str) -> None:
    st.session_state[f"view_{name}"] = st.session_state[f"w_view_{name}"]


def view(name: str, options: list, default, *, multi: bool = False) -> dict:
    """Key and callback of the widget showing the view setting ``name`` (also its URL key), its value set from
    the session — seeded once per session from the address — and kept within ``options``.

    ``default``: the value when the address has none (a list when ``multi``). Pass the result to the widget as
    ``**kwargs`` (no ``default``/``index`` of its own), then call :func:`sync_view` with the value it returns.
    """
    s = st.session_state
    key = f"view_{name}"
    if key not in s:
        raw = st.query_params.get(name)
        if raw is None:
            s[key] = list(default) if multi else default
        elif multi:
            wanted = raw.split(",") if raw else []
            s[key] = [o for o in options if str(o) in wanted]
        else:
            s[key] = next((o for o in options if str(o) == raw), default)
    value = s[key]
    if multi:
        kept = [o for o in options if o in (value or [])]
        value = kept if kept or not value else list(default)  # a stale selection (another audit) → the default
    elif value not in options:
        value = default
    s[key] = s[f"w_{key}"] = value
    return {"key": f"w_{key}", "on_change": _copy_view, "args": (name,)}


def sync_view(name: str, value, default) -> None:
    """The view setting into the address (left out when it is the default, so plain links stay short)."""
    q = st.query_params
    text = ",".join(map(str, value)) if isinstance(value, (list, tuple)) else ("" if value is None else str(value))
    default_text = ",".join(map(str, default)) if isinstance(default, (list, tuple)) else str(default)
    if text == default_text:
        if name in q:
            del q[name]
    elif q.get(name) != text:
        q[name] = text


def set_view(name: str, value) -> None:
    """Set the view setting ``name`` from the page's own code (a click in a table or chart, a Back / Next button):
    its widget shows it on the next run."""
    st.session_state[f"view_{name}"] = value


def forget_views(*names: str) -> None:
    """Back to the defaults of the view settings ``names`` (the address's values, if any, seed them again)."""
    for name in names:
        st.session_state.pop(f"view_{name}", None)


def link_params(names) -> dict[str, str]:
    """The view settings ``names`` of the session (else of the address) as query parameters of a link to another
    page that shows them: a shared address of one page opens the other with the same view."""
    s, q = st.session_state, st.query_params
    out = {}
    for name in names:
        if f"view_{name}" in s:
            value = s[f"view_{name}"]
            out[name] = ",".join(map(str, value)) if isinstance(value, (list, tuple)) else str(value)
        elif name in q:
            out[name] = q[name]
    return out


# ------------------------------------------------------------------------------------------- stored audits
def settings_of(req) -> dict | None:
    """The sidebar and Run-page settings that reproduce the audit ``req`` (an :class:`engine.run.AuditRequest`),
    or None when its spec is not one the dashboard's settings can express (e.g. a learning rate set with
    ``--set`` on the command line)."""
    spec = req.spec
    cfg = {"dataset": spec.data.dataset, "model": spec.model.arch, "forget": spec.forget, "seed": spec.seed,
           "forget_seed": spec.forget_seed, "train_size": spec.data.train_size or 0, "epochs": spec.train.epochs,
           "path": spec.data.path or "", "width": spec.model.width}
    try:
        if spec_for(cfg) != spec:
            return None
    except UnlearnError:
        return None
    return {"cfg": cfg, "methods": [m.key for m in req.methods], "overrides": req.overrides(),
            **{f.name: getattr(req, f.name) for f in _audit_fields()}}


def open_audit(settings: dict) -> None:
    """Make a stored audit (:func:`settings_of`) the session's current one: sidebar and Run-page settings."""
    s = st.session_state
    init()
    for name, value in settings["cfg"].items():
        s[f"cfg_{name}"] = value
    s["_last_dataset"] = settings["cfg"]["dataset"]
    s["_last_model"] = settings["cfg"]["model"]
    s["audit_methods"] = list(settings["methods"])
    s["audit_overrides"] = {m: dict(v) for m, v in settings["overrides"].items()}
    for f in _audit_fields():
        if f.name in settings:
            s[f"audit_{f.name}"] = settings[f.name]
