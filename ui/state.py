"""Run settings in the session and in the URL, so a view can be shared by its address."""

from __future__ import annotations

from dataclasses import replace

import streamlit as st

from engine.config import RunSpec
from engine.data import DATASETS, availability
from engine.errors import DataMissing, UnlearnError
from engine.forget import names_a_file
from engine.models import MODELS
from engine.presets import default_retrains, default_spec

# canonical settings live under cfg_* (survive page switches); widgets use w_* keys
FIELDS = {"dataset": "digits", "model": "", "forget": "", "seed": 0, "forget_seed": 0}
URL_KEYS = {"dataset": "ds", "model": "model", "forget": "forget", "seed": "seed", "forget_seed": "fseed"}
#: overrides of the data set's preset recipe (``--set data.train_size=…`` / ``train.epochs=…``): in the URL only
#: when they differ from the preset; None = the preset's value
RECIPE = {"train_size": "ntrain", "epochs": "epochs"}
#: the model's width when it differs from the architecture's (the Your model page: an uploaded model's width); in the
#: URL as ``width`` only then
WIDTH_KEY = "width"


def init() -> None:
    """Session defaults, seeded once per session from the URL's query parameters."""
    if st.session_state.get("_cfg_init"):
        return
    params = st.query_params
    for name, default in FIELDS.items():
        raw = params.get(URL_KEYS[name])
        value = default
        if raw is not None:
            try:
                value = type(default)(raw) if not isinstance(default, str) else raw
            except ValueError:
                value = default
        st.session_state[f"cfg_{name}"] = value
    if st.session_state["cfg_dataset"] not in DATASETS:
        st.session_state["cfg_dataset"] = "digits"
    for name, url_key in RECIPE.items():
        try:
            value = int(params[url_key]) if url_key in params else None
        except ValueError:
            value = None
        st.session_state[f"cfg_{name}"] = value if value is None or value >= 0 else None
    try:
        width = int(params[WIDTH_KEY]) if WIDTH_KEY in params else None
    except ValueError:
        width = None
    st.session_state["cfg_width"] = width if width is None or 1 <= width <= 4096 else None
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


def sidebar() -> RunSpec:
    """The shared sidebar: data set, model, forget set and seeds. Returns the resulting spec."""
    init()
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
        c1.number_input("Seed", min_value=0, max_value=10_000, step=1, **_widget("seed"),
                        help="seed of model initialisation and training")
        c2.number_input("Forget seed", min_value=0, max_value=10_000, step=1, **_widget("forget_seed"),
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
    c2.number_input("Epochs", min_value=1, max_value=10_000, step=10, **_widget("epochs"),
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
    (column or st).number_input("Model width", min_value=1, max_value=4096, step=1, **_widget("width"),
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
            f"`{spec.forget}` · seed {spec.seed}")


def show_error(exc: UnlearnError) -> None:
    """A user-caused error; for missing data files, what to do here in the dashboard (the engine's message names
    the files and the folder)."""
    text = str(exc)
    if isinstance(exc, DataMissing):
        text += (" Put the files there and reload this page (the data set list in the sidebar says when they are "
                 "found), or choose another data set in the sidebar — the bundled digits always works.")
    st.error(text, icon=":material/error:")


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


def audit_settings() -> dict:
    """Methods, seeds, D_F-only, K and per-method overrides chosen on the Run page (all of them in the URL)."""
    from engine.audit.rmia import DEFAULT_K
    from engine.unlearning import METHODS

    s = st.session_state
    if "audit_methods" not in s:
        q = st.query_params
        raw = q.get("methods")
        wanted = raw.split(",") if raw else DEFAULT_METHODS
        s["audit_methods"] = [m for m in wanted if m in METHODS and m != "retrain"]
        try:
            s["audit_seeds"] = sorted({int(x) for x in q.get("seeds", "0").split(",") if x.strip()}) or [0]
        except ValueError:
            s["audit_seeds"] = [0]
        s["audit_use_remain"] = q.get("remain", "1") != "0"
        s["audit_tuned"] = q.get("paper", "0") != "1"
        try:
            s["audit_k"] = max(2, int(q.get("k", DEFAULT_K)))
        except ValueError:
            s["audit_k"] = DEFAULT_K
        try:
            s["audit_retrains"] = min(20, max(0, int(q["r"]))) if "r" in q else None
        except ValueError:
            s["audit_retrains"] = None
        s["audit_short_refs"] = q.get("sref", "0") == "1"
        orig = q.get("orig", "")
        s["audit_original"] = orig if orig.isalnum() and len(orig) <= 128 else None
        try:
            hp = decode_overrides(q.get("hp", ""))
        except UnlearnError as exc:
            s["audit_url_error"] = str(exc)
            hp = {}
        s["audit_overrides"] = {m: v for m, v in hp.items() if m in s["audit_methods"]}
    return {"methods": list(s["audit_methods"]), "seeds": list(s["audit_seeds"]),
            "use_remain": bool(s["audit_use_remain"]),
            "overrides": {m: dict(v) for m, v in s["audit_overrides"].items()},
            "k": int(s["audit_k"]), "retrains": s.get("audit_retrains"), "tuned": bool(s.get("audit_tuned", True)),
            "original": s.get("audit_original"), "short_references": bool(s.get("audit_short_refs", False))}


def request(spec: RunSpec | None = None):
    """The session's audit as a validated :class:`engine.run.AuditRequest` (raises UnlearnError on a bad value)."""
    from engine.run import AuditRequest

    a = audit_settings()
    return AuditRequest.build(spec or current_spec(), a["methods"], a["seeds"], overrides=a["overrides"],
                              use_remain=a["use_remain"], k=a["k"], retrains=a["retrains"], tuned=a["tuned"],
                              original=a["original"], short_references=a["short_references"])


def sync_audit_url(req) -> None:
    """Methods, seeds, setting, K and the changed hyperparameters of ``req`` into the address bar."""
    from engine.audit.rmia import DEFAULT_K

    q = st.query_params
    values = {"methods": ",".join(m.key for m in req.methods) or ",".join(audit_settings()["methods"]),
              "seeds": ",".join(map(str, req.seeds)), "remain": "1" if req.use_remain else "0"}
    values["k"] = str(req.k) if req.k != DEFAULT_K else None
    values["r"] = str(req.retrains) if req.retrains != default_retrains(req.spec.data.dataset) else None
    tuned = audit_settings()["tuned"]
    values["paper"] = None if tuned else "1"
    values["hp"] = encode_overrides(req.overrides(tuned=tuned)) or None
    values["orig"] = req.original or None
    values["sref"] = "1" if req.short_references else None
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
    return {"cfg": cfg, "methods": [m.key for m in req.methods], "seeds": list(req.seeds),
            "use_remain": req.use_remain, "k": req.k, "overrides": req.overrides(), "retrains": req.retrains,
            "original": req.original, "short_references": req.short_references}


def open_audit(settings: dict) -> None:
    """Make a stored audit (:func:`settings_of`) the session's current one: sidebar and Run-page settings."""
    s = st.session_state
    init()
    for name, value in settings["cfg"].items():
        s[f"cfg_{name}"] = value
    s["_last_dataset"] = settings["cfg"]["dataset"]
    s["_last_model"] = settings["cfg"]["model"]
    s["audit_methods"] = list(settings["methods"])
    s["audit_seeds"] = list(settings["seeds"])
    s["audit_use_remain"] = bool(settings["use_remain"])
    s["audit_k"] = int(settings["k"])
    s["audit_overrides"] = {m: dict(v) for m, v in settings["overrides"].items()}
    if "retrains" in settings:
        s["audit_retrains"] = settings["retrains"]
    s["audit_original"] = settings.get("original")
    s["audit_short_refs"] = bool(settings.get("short_references", False))
