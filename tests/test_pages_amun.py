"""The pages of AMUN's own analyses under AppTest: Continual requests (10), Theorem 4.1 (11) and Forget-set sizes
(16). A short digits
recipe (20 epochs), two reference models, one seed: each test runs in seconds."""

import json
import time
from dataclasses import replace
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from apptest import array, figure, open_page, param

ROOT = Path(__file__).resolve().parents[1]
AUDIT = {"epochs": "20", "methods": "ft,amun", "seeds": "0", "k": "2", "r": "1"}


@pytest.fixture(scope="module")
def home(tmp_path_factory):
    """A store with the audit of :data:`AUDIT` (the pages' current comparison)."""
    from engine.paths import unlearn_home
    from engine.presets import default_spec
    from engine.run import AuditRequest, Runner
    from engine.store import Store

    root = tmp_path_factory.mktemp("home")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("UNLEARN_HOME", str(root))
        spec = default_spec("digits")
        spec = replace(spec, train=replace(spec.train, epochs=20))
        Runner(Store(unlearn_home() / "store")).compare(AuditRequest.build(spec, ["ft", "amun"], [0], k=2,
                                                                            retrains=1))
    return root


@pytest.fixture(autouse=True)
def _pages_see_the_store(home, monkeypatch):
    monkeypatch.setenv("UNLEARN_HOME", str(home))


def _open(page: str, **extra: str) -> AppTest:
    return open_page(page, **{**AUDIT, **extra})


def _wait(at: AppTest, done, seconds: float = 240) -> AppTest:
    deadline = time.time() + seconds
    while time.time() < deadline:
        if done(at):
            return at
        time.sleep(0.5)
        at.run()
        assert not at.exception, at.exception
    raise AssertionError("the page never finished its job")


# ------------------------------------------------------------------------------------------ Continual
CONTINUAL = {"cmethods": "ft,amun,amun_a", "creq": "2", "csize": "4", "cseeds": "0"}


def test_continual_runs_in_the_background_then_shows_curves_and_the_claim():
    at = _open("pages/10_Continual.py", **CONTINUAL)
    assert "2 requests × 12 samples" in at.caption[1].value
    assert [b for b in at.button if b.key == "run_continual"]
    at.button(key="run_continual").click().run()
    at = _wait(at, lambda a: a.get("plotly_chart"))
    fig = json.loads(at.get("plotly_chart")[0].proto.spec)
    names = {t["name"] for t in fig["data"]}
    assert {"Retrain", "Original (no unlearning)", "Fine-tune", "AMUN", "AMUN-A"} <= names
    assert len({t["xaxis"] for t in fig["data"]}) == 4  # AUC gap, FT AUC, UA, TA
    assert any("Holds" in m.value or "Does not hold" in m.value for m in at.markdown)
    # the other reading of the claim: distance to Retrain, in the address
    at.segmented_control(key="w_view_creading").set_value("retrain").run()
    assert any("closer to Retrain" in m.value for m in at.markdown) and param(at, "creading") == "retrain"
    assert param(at, "creq") == "2" and param(at, "cmethods") == "ft,amun,amun_a"
    # one more metric: a fifth panel; the view is in the address
    at.multiselect(key="w_view_ccurves").select("avg_gap").run()
    fig = json.loads(at.get("plotly_chart")[0].proto.spec)
    assert len({t["xaxis"] for t in fig["data"]}) == 5 and "avg_gap" in param(at, "ccurves")
    # a fresh session with the same address loads it from the store: no button, the curves at once
    fresh = _open("pages/10_Continual.py", **CONTINUAL)
    assert fresh.get("plotly_chart") and not [b for b in fresh.button if b.key == "run_continual"]
    # issue 20: the models' own compute time, not the seconds it took to read them back; one seed: said in words
    assert any("s to train and unlearn" in c.value for c in fresh.caption)
    claim = fresh.dataframe[0].value
    assert not claim.isna().any().any() and (claim["± (95 %)"] == "one seed — no interval").all()


def test_continual_without_amun_says_what_the_claim_needs():
    """Fine-tune alone, after the run above: its chain, the retrains and the signals are stored — shown at once."""
    at = _open("pages/10_Continual.py", cmethods="ft", creq="2", csize="4", cseeds="0")
    assert at.get("plotly_chart") and not [b for b in at.button if b.key == "run_continual"]
    assert any("AMUN-A, AMUN and at least one baseline" in i.value for i in at.info)


def test_continual_with_too_many_samples_is_an_error_not_a_crash():
    at = _open("pages/10_Continual.py", cmethods="ft", creq="10", csize="10", cseeds="0")
    assert at.error and "forget all" in at.error[0].value


# ------------------------------------------------------------------------------------------ Theorem
def test_theorem_view_scatter_aggregate_and_sample():
    at = _open("pages/11_Theorem.py", tsizes="random:0.2,random:0.4", tsmethods="ft")
    at = _wait(at, lambda a: a.get("plotly_chart"))
    scatter = figure(at, 0)
    names = {t["name"] for t in scatter["data"]}
    assert names & {"transfers to Retrain", "does not transfer"}
    n = sum(len(array(t["x"])) for t in scatter["data"] if t["name"] != "selected")
    assert n == 120  # every forget sample of the digits preset (40 % of 300)
    assert any("closer adversarial examples" in m.value for m in at.markdown)
    # the sample panel: three images and the probability bars of original, Retrain and AMUN
    assert len(at.get("imgs")) >= 1 or at.get("image")
    # another measure and x axis: in the address
    at.selectbox(key="w_view_tmeasure").set_value("excess").run()
    at.selectbox(key="w_view_tx").set_value("eps").run()
    assert not at.exception and param(at, "tmeasure") == "excess" and param(at, "tx") == "eps"
    # pick another sample from the list: the panel follows
    options = at.selectbox(key="thm_pick").options
    at.selectbox(key="thm_pick").select_index(len(options) - 1).run()
    assert not at.exception
    assert at.selectbox(key="thm_pick").index == len(options) - 1
    assert [b for b in at.button if b.key == "thm_open"]  # the sample opens on the Sample page too
    assert not [b for b in at.button if b.key == "run_sizes"]  # the size curve is its own page now, linked
    link = next(el.proto for el in at.get("page_link") if "Forget_sizes" in el.proto.page)
    assert "tsizes=random%3A0.2%2Crandom%3A0.4" in link.query_string


def test_forget_size_curve_page():
    """The theorem's last factor, split off the theorem page: its own page and address (tsizes, tsmethods)."""
    at = _open("pages/16_Forget_sizes.py", tsizes="random:0.2,random:0.4", tsmethods="ft")
    assert at.title[0].value == "Forget-set size"
    assert any(el.proto.page.endswith("Theorem") for el in at.get("page_link"))
    # the size curve: one more audit (20 %); the 40 % one is the stored audit
    at.button(key="run_sizes").click().run()
    at = _wait(at, lambda a: len(a.get("plotly_chart")) >= 1)
    size = figure(at, -1)
    fine = [t for t in size["data"] if t["name"] == "Fine-tune"]
    assert fine and list(array(fine[0]["x"])) == pytest.approx([20, 40])
    assert param(at, "tsizes") == "random:0.2,random:0.4" and param(at, "tsmethods") == "ft"
    # a fresh session with the same address: from the store, no button
    fresh = _open("pages/16_Forget_sizes.py", tsizes="random:0.2,random:0.4", tsmethods="ft")
    assert fresh.get("plotly_chart") and not [b for b in fresh.button if b.key == "run_sizes"]


def test_theorem_view_of_another_method_uses_the_same_adversarial_examples():
    at = _open("pages/11_Theorem.py", tmethod="ft", tsizes="random:0.4")
    at = _wait(at, lambda a: a.get("plotly_chart"))
    assert at.selectbox(key="w_view_tmethod").value == "ft"
    # the size page starts from the theorem page's method and asks for two sizes
    at.switch_page("pages/16_Forget_sizes.py").run()
    assert not at.exception, at.exception
    assert at.multiselect(key="w_view_tsmethods").value == ["ft", "amun"]  # its method first
    assert any("at least two sizes" in i.value for i in at.info)


# ------------------------------------------------------------------------------------------ Report
def test_report_page_adds_the_sections_that_are_stored():
    """After the runs above: the continual run of the address and the theorem view of AMUN are in the store."""
    at = _open("pages/8_Report.py", **CONTINUAL)
    caption = " ".join(c.value for c in at.caption)
    assert "sections: Continual unlearning requests, AMUN's Theorem 4.1 per forget sample" in caption
    listed = " ".join(e.value for e in at.markdown)
    assert "Continual requests: every metric across requests" in listed and "‖δ‖₂ vs" in listed
    # other continual settings, not run: only the theorem's section
    other = _open("pages/8_Report.py", cmethods="ft", creq="3", csize="4", cseeds="0")
    caption = " ".join(c.value for c in other.caption)
    assert "sections: AMUN's Theorem 4.1 per forget sample" in caption
