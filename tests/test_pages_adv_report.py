"""The Adversarial examples and Report pages under AppTest, after an audit run through the Run page's UI."""

import time
from pathlib import Path

import numpy as np
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
def audit_home(tmp_path_factory):
    return tmp_path_factory.mktemp("home")


@pytest.fixture(autouse=True)
def _pages_see_the_audit_home(audit_home, monkeypatch):
    """The pages find their store under $UNLEARN_HOME: every test of this module uses the audited one."""
    monkeypatch.setenv("UNLEARN_HOME", str(audit_home))


@pytest.fixture(scope="module")
def audited(audit_home):
    """An AppTest session whose Run page finished an audit of FT and AMUN on seed 0 (2 RMIA reference models)."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("UNLEARN_HOME", str(audit_home))
        at = AppTest.from_file(str(ROOT / "Home.py"), default_timeout=120)
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
    assert at.selectbox(key="w_view_after").value == "amun"
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
    at.selectbox(key="w_view_after").set_value("ft")
    at = _poll(at, lambda a: len(a.get("plotly_chart")) == 2, "the FT view")
    assert list(at.dataframe[0].value.index) == ["Original", "Retrain", "Fine-tune"]


def test_report_page(audited):
    _wait_for_page(audited, "pages/4_Adversarial.py", "plotly_chart")  # stores the ε-to-flip sets (or finds them)
    at = _wait_for_page(audited, "pages/8_Report.py", "download_button")
    assert at.title[0].value == "Report"
    buttons = {b.label: b for b in at.get("download_button")}
    assert set(buttons) == {"Download report.html", "Download everything (.zip)"}
    from engine import report

    toggle = at.toggle(key="report_png")
    assert not toggle.value  # PNGs are off until asked for (they take a browser and a few seconds)
    if not report.png_available()[0]:  # no kaleido or no browser here: the toggle is off and the page says why
        assert toggle.disabled and any("Chromium" in i.value for i in at.info)
    table = at.dataframe[0].value
    assert list(table.index) == ["Original", "Retrain", "Fine-tune", "AMUN"]
    # the sets the adversarial page stored: the report includes their figure
    expander = at.expander[0]
    assert "Distance to the decision boundary (seed 0)" in expander.markdown[0].value
    buttons["Download report.html"].click().run()
    assert not at.exception, at.exception


# ------------------------------------------------------------------------------ the page's helpers, without a UI
def test_attribution_maps_integrated_gradients_and_saliency():
    import torch

    from engine.errors import UnlearnError
    from engine.explain import attribution_maps

    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(16, 8), torch.nn.Tanh(), torch.nn.Linear(8, 3))
    x, target = torch.rand(5, 1, 4, 4), torch.tensor([0, 1, 2, 0, 1])
    ig = attribution_maps(model, x, target, n_steps=64)
    assert ig.shape == (5, 4, 4)
    with torch.no_grad():  # completeness: attributions sum to f(x) − f(black image) for the explained class
        gap = (model(x) - model(torch.zeros_like(x)))[torch.arange(5), target].numpy()
    np.testing.assert_allclose(ig.reshape(5, -1).sum(1), gap, atol=2e-3)
    xg = x.clone().requires_grad_(True)
    model(xg)[torch.arange(5), target].sum().backward()
    np.testing.assert_allclose(attribution_maps(model, x, target, "saliency"), xg.grad.sum(1).numpy(), atol=1e-6)
    with pytest.raises(UnlearnError, match="unknown attribution"):
        attribution_maps(model, x, target, "lime")


def test_rows_and_stored_sets(tiny_spec, tmp_path):
    from engine.run import Runner
    from ui import cached, images

    runner = Runner(cached.store())
    prep = runner.prepare(tiny_spec)
    rows = images.rows_for(prep, 0)
    again = images.rows_for(prep, 0)
    for g in images.GROUPS:
        np.testing.assert_array_equal(rows.groups[g][1], again.groups[g][1])
    np.testing.assert_array_equal(rows.groups["forget"][1], prep.forget)
    assert len(rows.groups["test"][1]) == min(images.MAX_ROWS["test"], len(prep.data.y_test))
    models = {"original": runner.original(tiny_spec)}
    assert len(images.missing(models, prep, rows)) == 3
    seen = []
    assert images.compute_missing(models, prep, rows, progress=lambda *a: seen.append(a[0])) == 3
    assert images.missing(models, prep, rows) == [] and images.compute_missing(models, prep, rows) == 0
    assert len(images.stored(models["original"], prep, rows, "test")) == len(rows.groups["test"][1])
    assert set(seen) == {images.SEARCH_STAGE}  # one stage over every set: the job's ETA covers all of them
