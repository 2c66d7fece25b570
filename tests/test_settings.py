"""Settings said once (issue 16 item 2) and one validation of every setting (issue 18).

The config and request dataclass fields carry their metadata; the checks, the store key, the record, the URL codec,
the CLI options and the Run page's widgets are derived from it. These tests go over every field, so a setting added
later is covered without a new test.
"""

from __future__ import annotations

import dataclasses
import math

import pytest

from engine import config
from engine.config import DataSpec, ModelSpec, RunSpec, TrainConfig
from engine.errors import UnlearnError
from engine.presets import PRESETS
from engine.request import AuditRequest
from engine.settings import Budget, check, check_budget, check_spec, field_kind, parameter_count

SPECS = (DataSpec, ModelSpec, TrainConfig, RunSpec)
SECTION = {DataSpec: "data", ModelSpec: "model", TrainConfig: "train", RunSpec: None}


def _numeric_fields():
    for cls in (*SPECS, AuditRequest):
        for f in dataclasses.fields(cls):
            kind, _ = field_kind(f)
            if kind in (int, float) and ("min" in f.metadata or "gt" in f.metadata):
                yield cls, f


NUMERIC = list(_numeric_fields())


def _with(cls, name, value):
    """A valid object of ``cls`` (the digits preset's parts, or a request) with ``name`` forced to ``value``."""
    if cls is AuditRequest:
        req = AuditRequest.build(PRESETS["digits"], ["ft"], [0])
        return lambda: dataclasses.replace(req, **{name: value})
    base = {DataSpec: PRESETS["digits"].data, ModelSpec: PRESETS["digits"].model, TrainConfig: PRESETS["digits"].train,
            RunSpec: PRESETS["digits"]}[cls]
    obj = dataclasses.replace(base, **{name: value})
    return lambda: check(obj)


def test_every_setting_says_what_it_is():
    """Every field has one-line help; every bounded number says why its bounds are what they are."""
    for cls in (*SPECS, AuditRequest):
        for f in dataclasses.fields(cls):
            if f.name in ("spec", "methods"):
                continue
            assert f.metadata.get("help"), f"{cls.__name__}.{f.name} has no help"
    for cls, f in NUMERIC:
        assert f.metadata.get("why"), f"{cls.__name__}.{f.name}: bounds without a reason"


@pytest.mark.parametrize("cls, f", NUMERIC, ids=[f"{c.__name__}.{f.name}" for c, f in NUMERIC])
def test_every_bound_is_enforced_with_its_reason(cls, f):
    """Below the minimum, above the maximum, NaN, infinity and a wrong type: one UnlearnError naming the field."""
    kind, _ = field_kind(f)
    lo = f.metadata.get("min", f.metadata.get("gt"))
    hi = f.metadata.get("max")
    bad = [lo - 1 if kind is int else (lo - 1.0 if "min" in f.metadata else lo), "3", True]
    if hi is not None:
        bad.append(hi + 1)
    if kind is float:
        bad += [math.nan, math.inf]
    if kind is int:
        bad += [1.5, math.nan]
    for value in bad:
        with pytest.raises(UnlearnError, match=f.name) as info:
            _with(cls, f.name, value)()
        assert "\n" not in str(info.value)
    for value in (lo if "min" in f.metadata else None, hi):  # the bounds themselves are allowed
        if value is not None and f.name not in ("seeds",):
            _with(cls, f.name, value)()


def test_every_preset_passes_and_its_figures_are_within_the_default_budget():
    for name, spec in PRESETS.items():
        figures = check_budget(check_spec(spec))
        assert figures["params"] <= Budget().max_params, name


@pytest.mark.parametrize("arch, width", [("resnet18", 4096), ("cnn", 1024), ("resnet18_amun", 512)])
def test_a_model_over_the_parameter_budget_is_refused_with_the_limit_and_how_to_lift_it(arch, width, monkeypatch):
    spec = dataclasses.replace(PRESETS["cifar10"], model=ModelSpec(arch, width))
    with pytest.raises(UnlearnError, match="UNLEARN_MAX_PARAMS") as info:
        check_spec(spec)
    assert f"{parameter_count(spec.model, (3, 32, 32)):,}" in str(info.value) and "50,000,000" in str(info.value)
    monkeypatch.setenv("UNLEARN_MAX_PARAMS", str(10**12))  # lifted deliberately (and the memory limit with it)
    monkeypatch.setenv("UNLEARN_MAX_MEMORY_GB", "1e9")
    check_spec(spec)


def test_a_recipe_over_the_step_budget_is_refused(monkeypatch):
    spec = dataclasses.replace(PRESETS["cifar10"], train=dataclasses.replace(PRESETS["cifar10"].train, epochs=10_000))
    with pytest.raises(UnlearnError, match="UNLEARN_MAX_STEPS"):
        check_spec(spec)
    monkeypatch.setenv("UNLEARN_MAX_STEPS", "1e9")
    check_spec(spec)


def test_the_parameter_count_is_exact_and_allocates_nothing():
    from engine.models import build_model

    for arch, width in (("mlp", 64), ("cnn", 16), ("resnet18", 8)):
        spec = ModelSpec(arch, width)
        real = sum(p.numel() for p in build_model(spec, (3, 32, 32), 10).parameters())
        assert parameter_count(spec, (3, 32, 32), 10) == real


@pytest.mark.parametrize("forget", ["random:3", "random:0", "nope:1", "random", "indices:", ""])
def test_a_forget_spec_too_small_or_malformed_is_refused_before_data(forget):
    with pytest.raises(UnlearnError):
        check_spec(dataclasses.replace(PRESETS["digits"], forget=forget))


# ------------------------------------------------------------------------------------------ derived from the fields
def _old_key(req: AuditRequest) -> str:
    """The store key as it was written by hand before the fields carried it (a copy of the old AuditRequest.key)."""
    parts = {"kind": "comparison", "spec": req.spec, "seeds": list(req.seeds),
             "methods": [[m.key, m.params()] for m in req.methods], "use_remain": req.use_remain, "k": req.k}
    if req.retrains != 1:
        parts["retrains"] = req.retrains
    if req.heldout:
        parts["heldout"] = True
    if req.bootstrap != 200:
        parts["bootstrap"] = req.bootstrap
    if req.original:
        parts["original"] = req.original
    if req.short_references:
        parts["short_references"] = True
    return config.stable_hash(parts)


@pytest.mark.parametrize("changes", [{}, {"retrains": 3}, {"heldout": True}, {"bootstrap": 0}, {"k": 16},
                                     {"original": "abc123"}, {"short_references": True}, {"use_remain": False},
                                     {"seeds": (1, 2)}])
def test_the_derived_store_key_is_the_key_audits_were_stored_under(changes):
    req = dataclasses.replace(AuditRequest.build(PRESETS["digits"], ["ft", "amun"], [0], retrains=1), **changes)
    assert req.key() == _old_key(req)


def test_the_record_round_trips_through_json():
    import json

    req = AuditRequest.build(PRESETS["digits"], ["ft", "amun"], [0, 3], k=4, retrains=2, short_references=True,
                             overrides={"ft": {"lr": "0.05"}})
    stored = json.loads(json.dumps(config.to_dict(req.record())))
    assert AuditRequest.from_record(stored) == req
    assert set(stored) == {"spec", "methods", *(f.name for f in AuditRequest.settings())}


def _other_value(f):
    """A valid value of setting ``f`` that is not its default (so the address carries it)."""
    kind, _ = field_kind(f)
    if f.name == "seeds":
        return (0, 5, 7)
    if kind is bool:
        return not f.default
    if kind is int:  # neither the field's default nor the preset's (retrains)
        from ui.state import _audit_default

        lo = f.metadata.get("min", 0)
        return next(v for v in (lo + 3, lo + 1, lo + 2) if v not in (f.default, _audit_default(f, "digits")))
    return "abc123"


def test_the_url_codec_round_trips_every_setting_with_a_url_key():
    from ui.state import decode_audit, encode_audit

    url_fields = [f for f in AuditRequest.settings() if "url" in f.metadata]
    req = dataclasses.replace(AuditRequest.build(PRESETS["digits"], ["ft"], [0]),
                              **{f.name: _other_value(f) for f in url_fields})
    query = {k: v for k, v in encode_audit(req).items() if v is not None}
    decoded, notes = decode_audit(query)
    assert not notes
    assert {f.name for f in url_fields} == set(decoded)
    assert dataclasses.replace(req, **decoded) == req


def test_every_setting_with_a_cli_name_is_an_option_of_audit(capsys):
    from engine.__main__ import main

    with pytest.raises(SystemExit):
        main(["audit", "--help"])
    text = capsys.readouterr().out
    for f in AuditRequest.settings():
        if "cli" in f.metadata:
            assert f.metadata["cli"] in text, f.name


def test_a_spec_url_state_is_checked_by_the_same_field_bounds():
    from ui.state import URL_KEYS, decode_spec

    cfg, notes = decode_spec({URL_KEYS["seed"]: "-5", URL_KEYS["epochs"]: "0", URL_KEYS["width"]: "99999"})
    assert cfg["seed"] == 0 and cfg["epochs"] is None and cfg["width"] is None
    assert len(notes) == 3 and all("outside" in n for n in notes)
