"""Issue 18, "What to build" 6: property-based fuzz of the URL codec, the forget-spec parser and the CLI's settings.

The property is the same everywhere: a clean error (:class:`UnlearnError`) or a valid state — never another
exception — and never a stored artifact from an invalid request. The default runs are modest (a few hundred
examples, seconds); ``UNLEARN_FUZZ_EXAMPLES=10000`` raises every fuzz to that many examples (the CLI fuzz trains a
tiny model for each valid draw, so it is capped at a tenth of that), and ``pytest -s`` prints the tallies.
"""

from __future__ import annotations

import os
from collections import Counter

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from engine.errors import UnlearnError

EXAMPLES = int(os.environ.get("UNLEARN_FUZZ_EXAMPLES", "300"))
FUZZ = settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck), database=None)

HOSTILE = ["![i](http://HOST/p.png)", "<img src=x>", "-5", "-1", "0", "1", "2", "4096", "1000000", str(2**70), "nan",
           "inf", "-inf", "1e9", "1.5", "", " ", "x", "0,1,2", ",".join(map(str, range(1001))), "\x00", "../../etc",
           "random:0.1", "random:3", "class:3", "indices:3,7", "indices:/etc/passwd", "ft.lr=0.05", "ft.lr=nan",
           "amun.lr=-1", "ft,amun", "nope", "resnet18", "cnn", "mlp", "digits", "cifar10", "true", "yes"]
VALUES = st.one_of(st.sampled_from(HOSTILE), st.integers(-2**80, 2**80).map(str), st.floats().map(str),
                   st.text(max_size=40))
URL_KEYS = ["ds", "model", "forget", "seed", "fseed", "ntrain", "epochs", "width", "seeds", "remain", "k", "r",
            "orig", "sref", "methods", "hp", "paper"]


# ------------------------------------------------------------------------------------------ the URL codec
def _url_state(query: dict, tally: Counter) -> None:
    """One URL state through the codec as the pages use it: the sidebar's spec and the Run page's request."""
    from engine import config
    from engine.request import AuditRequest
    from engine.settings import check_spec
    from engine.unlearning import METHODS
    from ui.state import DEFAULT_METHODS, decode_audit, decode_overrides, decode_spec, spec_for

    cfg, notes = decode_spec(query)
    spec = check_spec(spec_for({**cfg, "path": ""}))  # the decoded state is always valid
    values, audit_notes = decode_audit(query)
    wanted = query["methods"].split(",") if query.get("methods") else DEFAULT_METHODS
    methods = [m for m in wanted if m in METHODS and m != "retrain"] or ["ft"]
    try:
        hp = decode_overrides(query.get("hp", ""))
        req = AuditRequest.build(spec, methods, overrides={m: v for m, v in hp.items() if m in methods},
                                 tuned=query.get("paper") != "1", **values)
    except UnlearnError as exc:
        assert "\n" not in str(exc)
        tally["clean error"] += 1
    else:
        assert AuditRequest.from_record(config.to_dict(req.record())) == req  # the record says it all
        tally["valid request"] += 1
    tally["notices"] += len(notes) + len(audit_notes)
    tally["states"] += 1


def test_fuzz_url_states_decode_to_a_valid_state_or_a_clean_error(capsys):
    tally: Counter = Counter()

    @FUZZ
    @given(st.dictionaries(st.sampled_from(URL_KEYS), VALUES, max_size=len(URL_KEYS)))
    def run(query):
        _url_state(query, tally)

    run()
    with capsys.disabled():
        print(f"\nURL fuzz: {dict(tally)}")
    assert tally["states"] >= min(EXAMPLES, 100)


# ------------------------------------------------------------------------------------------ the forget-spec parser
SPEC_CHARS = "0123456789,-. e:xnaif"
FORGET_SPECS = st.one_of(
    st.text(max_size=30),
    st.builds(lambda kind, arg: f"{kind}:{arg}", st.sampled_from(["random", "class", "indices", "RANDOM", " indices",
                                                                  "hardest", ""]),
              st.one_of(st.text(SPEC_CHARS, max_size=30), st.integers(-10**30, 10**30).map(str),
                        st.floats().map(str), st.sampled_from(HOSTILE))),
    # near the valid forms, so the valid side is exercised too (fractions, counts, class and index lists, ranges)
    st.floats(0, 1).map(lambda v: f"random:{v}"), st.integers(-3, 260).map(lambda v: f"random:{v}"),
    st.lists(st.integers(-1, 12), min_size=1, max_size=4).map(lambda v: "class:" + ",".join(map(str, v))),
    st.lists(st.one_of(st.integers(-1, 210).map(str),
                       st.tuples(st.integers(0, 210), st.integers(0, 210)).map(lambda ab: f"{ab[0]}-{ab[1]}")),
             min_size=1, max_size=8).map(lambda v: "indices:" + ",".join(v)),
)


def test_fuzz_forget_specs_select_a_valid_set_or_fail_cleanly(capsys):
    from engine.forget import names_a_file, select_forget
    from engine.settings import check_forget_syntax

    rng = np.random.default_rng(0)
    y = rng.integers(0, 10, size=200)
    y[:10] = np.arange(10)
    tally: Counter = Counter()

    @FUZZ
    @given(FORGET_SPECS, st.integers(0, 2**32 - 1))
    def run(spec, seed):
        assume(not names_a_file(spec))  # file specs are read by the CLI only; the pages refuse them unread
        try:
            check_forget_syntax(spec)
            idx = select_forget(spec, y, 10, seed)
        except UnlearnError as exc:
            assert "\n" not in str(exc)
            tally["clean error"] += 1
            return
        assert idx.ndim == 1 and len(idx) >= 1 and len(np.unique(idx)) == len(idx)
        assert idx.min() >= 0 and idx.max() < len(y) and len(idx) < len(y)
        tally["valid forget set"] += 1

    run()
    with capsys.disabled():
        print(f"\nforget-spec fuzz: {dict(tally)}")
    assert sum(tally.values()) >= min(EXAMPLES, 100) // 2


# ------------------------------------------------------------------------------------------ the CLI: nothing stored
SET_KEYS = ["train.epochs", "train.batch_size", "train.lr", "train.momentum", "train.weight_decay", "train.lr_step",
            "train.lr_gamma", "data.split_seed", "data.val_fraction", "data.train_size", "model.width"]
CLI_VALUES = st.one_of(st.sampled_from(["-1", "0", "1", "2", "0.5", "nan", "inf", "-inf", "1e9", "x", "", "64"]),
                       st.integers(-5, 300).map(str), st.floats(-2, 2).map(str))


@pytest.mark.timeout(3600)
def test_fuzz_cli_settings_never_store_an_artifact_from_an_invalid_request(tmp_path, capsys):
    from engine.__main__ import main

    tally: Counter = Counter()
    n = max(20, min(EXAMPLES // 10, 1000)) if "UNLEARN_FUZZ_EXAMPLES" in os.environ else 20

    @settings(max_examples=n, deadline=None, suppress_health_check=list(HealthCheck), database=None)
    @given(st.dictionaries(st.sampled_from(SET_KEYS), CLI_VALUES, max_size=3), st.sampled_from(["0", "-1", "7"]))
    def run(sets, seed):
        store = tmp_path / f"store{tally['runs']}"
        tally["runs"] += 1
        base = {"data.train_size": "120", "train.epochs": "1", "model.width": "16"}
        argv = ["train", "--dataset", "digits", "--kind", "original", "--store", str(store), "--seed", seed]
        for key, value in {**base, **sets}.items():
            argv += ["--set", f"{key}={value}"]
        rc = main(argv)
        err = capsys.readouterr().err
        assert "Traceback (most recent" not in err and rc in (0, 2), (argv, rc, err)
        stored = [p for kind in store.iterdir() if not kind.name.startswith(".") for p in kind.iterdir()] \
            if store.exists() else []
        if rc == 2:
            assert not stored, (argv, stored)
            tally["refused, nothing stored"] += 1
        else:
            assert stored
            tally["valid, trained and stored"] += 1

    run()
    with capsys.disabled():
        print(f"\nCLI fuzz: {dict(tally)}")
