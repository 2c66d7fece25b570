"""Every page under Streamlit's AppTest: renders without exception, key elements, one interaction."""

import time
from pathlib import Path

from streamlit.testing.v1 import AppTest

ROOT = Path(__file__).resolve().parents[1]
APP = str(ROOT / "app.py")
PAGE = str(ROOT / "pages" / "1_Setup_and_train.py")


def _wait_for_chart(at: AppTest, seconds: float = 120) -> AppTest:
    deadline = time.time() + seconds
    while time.time() < deadline:
        at.run()
        assert not at.exception, at.exception
        if at.get("plotly_chart"):
            return at
        time.sleep(0.5)
    raise AssertionError("the chart never appeared")


def test_home_page():
    at = AppTest.from_file(APP, default_timeout=60).run()
    assert not at.exception
    assert at.title[0].value == "Unlearning audit dashboard"
    assert at.sidebar.selectbox[0].value == "digits"


def test_setup_page_trains_and_shows_histograms():
    at = AppTest.from_file(PAGE, default_timeout=60).run()
    assert not at.exception
    labels = {m.label: m.value for m in at.metric}
    assert labels["Train"] == "300" and labels["Forget"] == "60"
    at.button(key="train").click().run()
    at = _wait_for_chart(at)
    table = at.dataframe[0].value
    assert list(table.index) == ["original", "retrain"]
    assert table.loc["original", "forget acc %"] == 100.0
    # toggle the confidence scale: the figure re-renders on p(y|x)
    at.segmented_control(key="conf_scale").set_value("p(y|x)").run()
    assert not at.exception and at.get("plotly_chart")
    # a second session is served from the store: no button, results at once
    again = AppTest.from_file(PAGE, default_timeout=60).run()
    assert not again.exception and again.get("plotly_chart")
    assert not [b for b in again.button if b.key == "train"]


def test_bad_forget_spec_shows_error():
    at = AppTest.from_file(PAGE, default_timeout=60).run()
    at.sidebar.text_input(key="w_forget").set_value("class:99").run()
    assert not at.exception
    assert "unknown class" in at.error[0].value


def test_settings_roundtrip_through_url():
    at = AppTest.from_file(PAGE, default_timeout=60)
    at.query_params["forget"] = "class:3"
    at.query_params["seed"] = "2"
    at.run()
    assert not at.exception
    assert at.sidebar.text_input(key="w_forget").value == "class:3"
    assert at.sidebar.number_input(key="w_seed").value == 2
    labels = {m.label: m.value for m in at.metric}
    assert labels["Forget"] == "30"  # class 3 in the stratified 300-sample train subset
