"""The Adversarial examples and Report pages under AppTest, after an audit run through the Run page's UI."""

import time
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

ROOT = Path(__file__).resolve().parents[1]


def _poll(at: AppTest, done, what: str, seconds: float = 180) -> AppTest:
    deadline = time.time() + seconds
    while time.time() < deadline:
        at.run()
        assert not at.exception, at.exception
        if done(at):
            return at
        time.sleep(0.3)
    raise AssertionError(f"{what} never appeared")


@pytest.fixture(scope="module")
def audited(tmp_path_factory):
    """An AppTest session whose Run page finished an audit of FT and AMUN on seed 0 (2 RMIA reference models)."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("UNLEARN_HOME", str(tmp_path_factory.mktemp("home")))
        at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)
        at.query_params["methods"] = "ft,amun"
        at.query_params["seeds"] = "0"
        at.run()
        at.switch_page("pages/2_Run.py").run()
        assert not at.exception, at.exception
        at.number_input(key="w_k").set_value(2).run()  # few reference models: the audit takes seconds
        at.button(key="run_audit").click().run()
        _poll(at, lambda a: any("ready" in s.value for s in a.success), "the audit result")
        yield at


def _wait_for_page(at: AppTest, page: str, element: str) -> AppTest:
    at.switch_page(page)
    return _poll(at, lambda a: len(a.get(element)) > 0, f"{element} on {page}")


def test_adversarial_page(audited):
    at = _wait_for_page(audited, "pages/4_Adversarial.py", "plotly_chart")
    assert at.title[0].value == "Adversarial examples"
    assert at.selectbox(key="adv_method").value == "amun"
    charts = at.get("plotly_chart")
    assert len(charts) == 2  # ε-to-flip CDFs and the detail's probability bars
    summary = at.dataframe[0].value
    assert list(summary.index) == ["Original", "Retrain", "AMUN"]
    assert (summary["not flipped"] == 0).all()
    assert len(at.get("image")) == 12 + 5  # a page of the grid, and the detail's five tiles
    # filter the grid to one class: fewer strips, every caption of that class, the detail follows
    cls = at.multiselect(key="adv_classes").options[0]
    at.multiselect(key="adv_classes").set_value([int(cls)]).run()
    assert not at.exception, at.exception
    captions = [c for el in at.get("image") for c in el.captions]
    grid = [c for c in captions if c.startswith("#")]
    assert grid and all(f"y = {cls}" in c for c in grid)
    detail = at.selectbox(key="adv_detail")
    assert detail.value in [int(c.split(" ")[0][1:]) for c in grid]
    # the FT model as "after": its sets are searched in the background, then the page renders again
    at.selectbox(key="adv_method").set_value("ft")
    at = _poll(at, lambda a: len(a.get("plotly_chart")) == 2, "the FT view")
    assert list(at.dataframe[0].value.index) == ["Original", "Retrain", "Fine-tune"]


def test_report_page(audited):
    _wait_for_page(audited, "pages/4_Adversarial.py", "plotly_chart")  # stores the ε-to-flip sets (or finds them)
    at = _wait_for_page(audited, "pages/8_Report.py", "download_button")
    assert at.title[0].value == "Report"
    buttons = {b.label: b for b in at.get("download_button")}
    assert set(buttons) == {"Download report.html", "Download everything (.zip)"}
    assert not at.toggle(key="report_png").value  # kaleido is not installed here: PNGs off, and said why
    assert any("kaleido" in i.value for i in at.info) or any("kaleido" in c.value for c in at.caption)
    table = at.dataframe[0].value
    assert list(table.index) == ["Original", "Retrain", "Fine-tune", "AMUN"]
    # the sets the adversarial page stored: the report includes their figure
    expander = at.expander[0]
    assert "Distance to the decision boundary (seed 0)" in expander.markdown[0].value
    buttons["Download report.html"].click().run()
    assert not at.exception, at.exception
