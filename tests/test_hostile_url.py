"""Issue 18, findings 1, 2, 4 and 5: a shared link cannot inject markup, exhaust the server, break a page for good or
show a traceback. URL state that fails validation is dropped with a visible notice and the defaults are shown.

Pages run under Streamlit's AppTest with the hostile query parameters; every assertion is about what a visitor sees.
"""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

ROOT = Path(__file__).resolve().parents[1]
SETUP = str(ROOT / "pages" / "1_Setup_and_train.py")
RUN = str(ROOT / "pages" / "2_Run.py")
IMAGE = "![i](http://HOST/p.png)"
#: markup that would pull a remote resource or draw HTML if rendered (Markdown image, link, raw HTML, directive)
INJECTIONS = [IMAGE, "[x](http://HOST/)", "<img src=http://HOST/p.png>", ":red[x] $x$ **b**", "`a`` ![i](http://H/p)"]


def _texts(at: AppTest) -> list[str]:
    """The Markdown bodies of every element that renders Markdown."""
    out = []
    for kind in ("markdown", "caption", "info", "warning", "error", "success", "title", "header", "subheader"):
        for el in at.get(kind):
            assert not getattr(getattr(el, "proto", None), "allow_html", False), kind
            out.append(str(getattr(el, "value", "")))
    return out


def _outside_code(text: str) -> str:
    """``text`` without its code spans (whose content Markdown shows literally)."""
    return re.sub(r"(`+)(?!`).*?(?<!`)\1(?!`)", "", text)


def _assert_literal(at: AppTest, raw: str) -> None:
    """``raw`` never reaches a Markdown element as markup: outside code spans it does not occur verbatim."""
    for text in _texts(at):
        assert raw not in _outside_code(text), text
        bare = _outside_code(text)  # markup needs its characters unescaped: "](", "<img", "![" without a backslash
        assert not re.search(r"(?<!\\)\]\(|(?<!\\)<img|(?<!\\)!\[", bare), text


def _page(path: str, **query: str) -> AppTest:
    at = AppTest.from_file(path, default_timeout=90)
    for key, value in query.items():
        at.query_params[key] = value
    return at.run()


def _notices(at: AppTest) -> list[str]:
    """The warning boxes' texts, their Markdown escapes removed."""
    return [re.sub(r"\\(.)", r"\1", w.value) for w in at.warning]


# ------------------------------------------------------------------------------------------ 1: markup injection
@pytest.mark.parametrize("raw", INJECTIONS)
def test_a_forget_value_from_a_link_is_shown_as_text(raw):
    at = _page(SETUP, forget=raw)
    assert not at.exception, at.exception
    _assert_literal(at, raw)


@pytest.mark.parametrize("raw", INJECTIONS)
@pytest.mark.parametrize("form", ["{raw}", "ft.lr={raw}", "ft.{raw}=1", "amun.lr=0.1,{raw}"])
def test_an_hp_value_from_a_link_is_shown_as_text(raw, form):
    at = _page(RUN, methods="ft,amun", hp=form.format(raw=raw))
    assert not at.exception, at.exception
    _assert_literal(at, raw)


def test_an_injected_forget_spec_that_parses_is_shown_in_a_code_span():
    """A forget spec can be valid and still hold markup characters only inside a code span."""
    from ui.state import code

    assert code("a`b") == "``a`b``" and code("`x") == "`` `x ``"
    assert _outside_code(f"forget {code(IMAGE)} · seed 0") == "forget  · seed 0"


# ------------------------------------------------------------------------------------------ 2: budgets
def _record_builds(monkeypatch) -> list:
    """The models the estimate builds to time (their specs), recorded."""
    from engine import estimate

    built = []
    real = estimate.build_model
    monkeypatch.setattr(estimate, "build_model", lambda spec, *a, **kw: built.append(spec) or real(spec, *a, **kw))
    return built


@pytest.mark.parametrize("query", [dict(model="resnet18", width="4096"), dict(model="resnet18_amun", width="2048"),
                                   dict(model="resnet18", width="1024"), dict(ds="cifar10", epochs="10000")])
def test_a_link_to_an_oversized_model_or_recipe_is_refused_at_once_without_building_it(query, monkeypatch):
    built = _record_builds(monkeypatch)
    at = _page(SETUP, **query)
    assert not at.exception, at.exception
    assert any("refused" in n and "UNLEARN_MAX_" in n for n in _notices(at)), _notices(at)
    assert at.session_state["cfg_width"] is None and at.session_state["cfg_epochs"] in (None, 200)  # the preset's
    assert all(s.width <= 512 for s in built), built


def test_a_large_model_within_the_budget_is_estimated_on_a_capped_copy(monkeypatch):
    """?model=cnn&width=1024 on digits fits the budget (it is a model a user may want), but the page's estimate
    times a copy of at most MEASURED_PARAMS parameters and scales it, instead of a minute of CPU per visit."""
    from engine.estimate import MEASURED_PARAMS
    from engine.settings import parameter_count

    built = _record_builds(monkeypatch)
    at = _page(SETUP, model="cnn", width="1024")
    assert not at.exception, at.exception
    assert built and all(parameter_count(s, (1, 8, 8), 10) <= MEASURED_PARAMS for s in built), built


def test_the_estimate_never_times_a_model_larger_than_its_cap():
    from engine.config import ModelSpec
    from engine.data import load_dataset
    from engine.estimate import MEASURED_PARAMS, measured_spec
    from engine.presets import PRESETS
    from engine.settings import parameter_count

    data = load_dataset(PRESETS["digits"].data)
    for arch, width in (("mlp", 4096), ("cnn", 4096), ("resnet18", 128)):
        timed = measured_spec(ModelSpec(arch, width), data)
        assert parameter_count(timed, data.shape, data.num_classes) <= MEASURED_PARAMS


# ------------------------------------------------------------------------------------------ 4: a page broken for good
@pytest.mark.parametrize("query", [dict(seed="-5"), dict(fseed="-1"), dict(seed=str(2**70)), dict(seed="x"),
                                   dict(epochs="0"), dict(epochs="-3"), dict(ntrain="-1"), dict(width="0"),
                                   dict(ds="nope"), dict(model="nope"), dict(forget="random:3")])
def test_a_bad_value_in_a_link_is_dropped_with_a_notice_and_the_page_works(query):
    at = _page(SETUP, **query)
    assert not at.exception, at.exception
    assert _notices(at), "no notice"
    assert at.session_state["cfg_seed"] >= 0 and at.session_state["cfg_forget_seed"] >= 0
    again = at.run()  # the next visit (rerun) is not broken either
    assert not again.exception, again.exception
    assert [b for b in again.button if b.key == "train"], "the train button is missing"


def test_seed_minus_five_no_longer_stores_models_under_a_seed_the_sidebar_does_not_show():
    at = _page(SETUP, seed="-5")
    assert at.number_input(key="w_seed").value == 0 and at.session_state["cfg_seed"] == 0
    assert at.query_params["seed"] == "0"  # the address is corrected to what is shown


# ------------------------------------------------------------------------------------------ 5: tracebacks in pages
@pytest.mark.parametrize("query", [dict(k="1000000"), dict(k="1"), dict(k="x"),
                                   dict(seeds=",".join(map(str, range(1001)))),
                                   dict(seeds="-1"), dict(seeds="12,40"), dict(r="999"), dict(r="-1"),
                                   dict(remain="2"), dict(sref="yes"), dict(orig="../../etc"), dict(methods="nope,ft"),
                                   dict(hp="ft.lr=nan"), dict(hp="ft.momentum=-1"), dict(hp="ft.epochs=1e9"),
                                   dict(fdraw="1000"), dict(fdraw="x"), dict(runs="0"), dict(runs="65")])
def test_the_run_page_shows_no_traceback_for_any_link(query):
    at = _page(RUN, **{"methods": "ft", **query})
    assert not at.exception, at.exception
    assert _notices(at) or at.error or query == dict(seeds="12,40"), "the bad value went unmentioned"


def test_valid_seeds_beyond_the_usual_range_stay_selectable():
    at = _page(RUN, methods="ft", seeds="12,40")
    assert not at.exception and sorted(at.multiselect(key="w_seeds").value) == [12, 40]


def test_no_page_visit_stores_anything():
    """Opening the pages with hostile links trains nothing: the run store stays empty."""
    from engine.store import Store

    for query in (dict(model="resnet18", width="4096"), dict(seed="-5"), dict(k="1000000"), dict(forget=IMAGE)):
        assert not _page(SETUP, **query).exception
        assert not _page(RUN, methods="ft", **query).exception
    root = Store().root
    assert not [p for kind in root.iterdir() if not kind.name.startswith(".") for p in kind.iterdir()]


# ------------------------------------------------------------------------------------------ unexpected errors
def test_an_unexpected_error_is_one_line_without_a_traceback_or_a_server_path(monkeypatch):
    from engine import run

    def broken(self, spec):
        raise RuntimeError("/srv/secret/path/file.py line 3 went wrong")

    monkeypatch.setattr(run.Runner, "prepare", broken)
    at = _page(SETUP)
    assert not at.exception, at.exception
    shown = " ".join(e.value for e in at.error)
    assert "failed unexpectedly" in shown and "server" in shown and "secret" not in shown


def test_a_job_that_failed_unexpectedly_shows_no_traceback():
    from engine.jobs import FAILED, JobManager

    def work(progress, cancel):
        raise KeyError("/srv/secret/path")

    jm = JobManager()
    job = jm.wait(jm.submit("Audit", work), 60)
    for _ in range(500):  # the worker sets the state a moment before the error text
        if job.error:
            break
        time.sleep(0.01)
    assert job.state == FAILED and "Traceback" not in job.error  # one line; the stack went to the server's log

    def page():
        import streamlit as st

        from ui import jobs

        jobs.show_outcome(st.session_state["job"])

    at = AppTest.from_function(page)
    at.session_state["job"] = job
    at.run()
    assert not at.exception
    shown = " ".join(e.value for e in at.error)
    assert "failed" in shown and "unexpected" in shown and "secret" not in shown and "Traceback" not in shown
