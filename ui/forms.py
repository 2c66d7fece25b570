"""Widgets built from a method's dataclass fields (defaults, help text and limits from the field metadata).

Each field is shown under a readable label (:func:`field_label`, never the raw field name), with a +/− step of
its default's order of magnitude (:func:`field_step`), and a field named ``<choice>_…`` only when the choice
field it belongs to has that value (SG-Unlearn's ``svm_*`` settings only with ``auditor = svm``).
"""

from __future__ import annotations

import math
from typing import Any

import streamlit as st

from engine.unlearning import METHODS, get_method, hyperparameters

#: readable labels of the hyperparameter fields (units in brackets); (method, field) entries win over field ones
LABELS: dict[str | tuple[str, str], str] = {
    "epochs": "Epochs",
    "lr": "Learning rate",
    "batch_size": "Batch size",
    "momentum": "SGD momentum",
    "weight_decay": "Weight decay (L2)",
    "lr_step": "StepLR step (epochs)",
    "lr_gamma": "StepLR decay factor",
    "bound": "FGSM bound (L∞, pixel units)",
    "refresh_reference": "Refresh the reference model every epoch",
    "alpha": "L1 strength α",
    "schedule": "α schedule",
    "mask_ratio": "Saliency mask ratio (fraction of weights updated)",
    "mask_mode": "Mask mode",
    "eps_init": "Initial radius ε_init (L2, pixel units)",
    "calibrate_eps": "Calibrate ε_init (the paper's rule)",
    "pgd_steps": "PGD steps per radius",
    "max_doublings": "Max. doublings of ε",
    "adv_only": "Adversarial examples only (without D_F)",
    "attacker_lr": "Auditor step learning rate",
    "auditor": "Auditor",
    "features": "Auditor features",
    "cv": "Auditor folds per batch",
    "heldout": "Auditor held-out fraction",
    "auditor_batch": "Auditor batch (samples per side)",
    "logreg_c": "Logistic-regression C (inverse L2 strength)",
    "svm_solver": "SVM solver",
    "svm_reg": "SVM L1 weight λ",
    "checkpoint_every": "Accuracy checkpoint every (rounds)",
    ("sg_unlearn", "epochs"): "Rounds (epochs)",
    ("sg_unlearn", "lr"): "Fine-tuning learning rate",
    ("sg_unlearn", "lr_step"): "StepLR step (rounds)",
    ("sg_unlearn", "alpha"): "Auditor weight α",
}


def field_label(method: str, name: str) -> str:
    """The label shown for hyperparameter ``name`` of ``method`` (the field name, humanised, if none is known)."""
    return LABELS.get((method, name)) or LABELS.get(name) or name.replace("_", " ").capitalize()


def field_step(default: float | int, maximum: float | None = None, minimum: float = 0.0) -> float | int:
    """The +/− step of a number field: the order of magnitude of its default (weight decay 5e-4 → 1e-4, lr 0.01 →
    0.01), at most a fifth of the field's range and not past its limits (momentum 0.9 → 0.01, a factor of 1.0 in
    [0, 1] → 0.1, C = 1 with a minimum of 1e-6 → 0.1), so one click never jumps over the scale of the value;
    integers step by 1 below 100 and by a tenth of the order of magnitude above."""
    if isinstance(default, int) and not isinstance(default, bool):
        return 1 if abs(default) < 100 else 10 ** (int(math.log10(abs(default))) - 1)
    if not default:
        return 0.01
    step = 10.0 ** math.floor(math.log10(abs(default)))
    if maximum is not None:
        while step > (maximum - minimum) / 5:
            step /= 10
        while 0 < maximum - default < step:
            step /= 10
    while default - step < minimum < default:  # not below the minimum in one click either (C = 1 → 0.9)
        step /= 10
    return float(f"{step:.0e}")


def depends_on(key: str) -> dict[str, tuple[str, str]]:
    """Fields shown only for one value of a choice field: ``{field: (choice field, value)}``, e.g. SG-Unlearn's
    ``svm_solver`` → ``("auditor", "svm")`` (a field named ``<choice value>_…``)."""
    fields = hyperparameters(key)
    out = {}
    for f in fields:
        for choice in f.get("choices", ()):
            for g in fields:
                if g["name"].startswith(f"{choice}_"):
                    out[g["name"]] = (f["name"], choice)
    return out


def method_form(key: str, dataset: str, current: dict[str, Any], tuned: bool = True) -> dict[str, Any]:
    """Inputs for every hyperparameter of ``key``; returns the typed values that differ from the defaults.

    ``current`` holds the values chosen so far (typed, or strings from a shared address); the method's dataclass
    converts them, so a value that does not fit its field is an error here, before anything trains. A field that
    belongs to another choice (see :func:`depends_on`) is hidden and keeps its default.
    """
    base = get_method(key, dataset=dataset if tuned else None)
    start = get_method(key, dataset=dataset if tuned else None, **current)
    start.validate()
    needs = depends_on(key)
    overrides: dict[str, Any] = {}
    chosen: dict[str, Any] = {}
    cols = st.columns(3)
    shown = 0
    for f in hyperparameters(key):
        name, default, value = f["name"], getattr(base, f["name"]), getattr(start, f["name"])
        if name in needs:
            parent, wanted = needs[name]
            if chosen.get(parent, getattr(start, parent)) != wanted:
                continue
        wkey = f"hp_{key}_{name}"
        col = cols[shown % 3]
        shown += 1
        label = field_label(key, name)
        if isinstance(default, bool):
            got = col.checkbox(label, value=bool(value), help=f["help"], key=wkey)
        elif "choices" in f:
            got = col.selectbox(label, f["choices"], index=list(f["choices"]).index(value), help=f["help"], key=wkey)
        elif isinstance(default, int):
            got = col.number_input(label, value=int(value), min_value=int(f.get("min", 0)),
                                   max_value=int(f.get("max", 10**6)), step=field_step(default), help=f["help"],
                                   key=wkey)
        else:
            lo, hi = float(f.get("min", 0.0)), float(f.get("max", 1e6))
            got = col.number_input(label, value=float(value), min_value=lo, max_value=hi,
                                   step=field_step(float(default), hi, lo), format="%.6g", help=f["help"], key=wkey)
        chosen[name] = got
        if got != default:
            overrides[name] = got
    return overrides


def reset_forms() -> None:
    """Forget every hyperparameter widget's value and the chosen overrides (the defaults changed under them)."""
    for k in [k for k in st.session_state if str(k).startswith("hp_")]:
        del st.session_state[k]
    st.session_state["audit_overrides"] = {}


def method_label(key: str) -> str:
    cls = METHODS[key]
    return f"{cls.label}" + (" (needs D_R)" if cls.needs_remain else "")


def setting_input(f, value, *, default=None, help_extra: str = ""):
    """The widget of one request setting (a dataclass field made with :func:`engine.config.setting`): its label,
    help and bounds from the field's metadata — a toggle for true/false, a number input otherwise. ``value``: the
    session's (None: ``default``, else the field's default). Returns the chosen value."""
    meta = f.metadata
    value = (f.default if default is None else default) if value is None else value
    label, help_text = meta.get("label", f.name), meta.get("help", "") + help_extra
    key = f"w_{meta.get('widget', f.name)}"  # the widget key tests and sessions know (w_k, w_retrains, …)
    if isinstance(f.default, bool):
        return st.toggle(label, value=bool(value), key=key, help=help_text)
    lo, hi = int(meta.get("min", 0)), int(meta.get("max", 10**6))
    if f.default is None:  # an optional number (the forget seed): a toggle, and the number when it is on
        if not st.toggle(f"{label}: one for every seed", value=value is not None, key=f"{key}_on", help=help_text):
            return None
        return st.number_input(label, lo, hi, min(hi, max(lo, int(value or 0))), step=1, key=key, help=help_text)
    return st.number_input(label, lo, hi, min(hi, max(lo, int(value))), step=field_step(int(f.default)), key=key,
                           help=help_text)


def run_settings(dataset: str, chosen: dict[str, Any]) -> None:
    """The Run page's request settings (the fields with ``form="run"``: K, R, the short recipe), written to the
    session as ``audit_<name>``. R is kept as None while it is the data set's preset, so switching the data set
    takes the new preset's R and the address stays without it; a value the user chose travels with them."""
    from engine.presets import default_retrains
    from engine.request import AuditRequest

    from . import state

    s = st.session_state
    preset_r = default_retrains(dataset)
    if s.get("_retrains_dataset", dataset) != dataset and chosen["retrains"] is None:
        s.pop("w_retrains", None)  # the widget remembers the old preset's value: let it start at the new one
    s["_retrains_dataset"] = dataset
    for f in AuditRequest.settings():
        if f.metadata.get("form") != "run":
            continue
        is_r = f.name == "retrains"
        value = setting_input(f, chosen[f.name], help_extra=f" Preset: {preset_r}." if is_r else "",
                              default=preset_r if is_r else None)
        state.set_audit(**{f.name: None if is_r and value == preset_r else value})
