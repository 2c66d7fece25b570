"""The Adversarial examples and Report pages under AppTest, after an audit run through the Run page's UI."""

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from apptest import APP, poll

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def audit_home(tmp_path_factory):
    return tmp_path_factory.mktemp("home")


@pytest.fixture(autouse=True)
def _pages_see_the_audit_home(audit_home, monkeypatch):
    """The pages find their store under $UNLEARN_HOME: every test of this module uses the audited one."""
    monkeypatch.setenv("UNLEARN_HOME", str(audit_home))


@pytest.fixture(scope="module")
def audited(audit_home):
    """An AppTest session whose Run page finished an audit of FT and AMUN on seed 0 (2 RMIA reference models), on
    the digits preset trained for 20 epochs (``epochs=20`` in the address; the preset's 200 change nothing here)."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("UNLEARN_HOME", str(audit_home))
        at = AppTest.from_file(APP, default_timeout=120)
        at.query_params["methods"] = "ft,amun"
        at.query_params["seeds"] = "0"
        at.query_params["epochs"] = "20"
        at.run()
        at.switch_page("pages/2_Run.py").run()
        assert not at.exception, at.exception
        at.number_input(key="w_k").set_value(2).run()  # few reference models: the audit takes seconds
        at.button(key="run_audit").click().run()
        poll(at, lambda a: any("ready" in s.value for s in a.success), "the audit result")
        yield at


def _wait_for_page(at: AppTest, page: str, element: str) -> AppTest:
    at.switch_page(page)
    return poll(at, lambda a: len(a.get(element)) > 0, f"{element} on {page}")


def test_adversarial_page(audited):
    at = _wait_for_page(audited, "pages/4_Adversarial.py", "plotly_chart")
    assert at.title[0].value == "Adversarial examples"
    assert at.selectbox(key="w_view_after").value == "amun"
    charts = at.get("plotly_chart")
    assert len(charts) == 2  # ε-to-flip CDFs and the detail's probability bars
    summary = at.dataframe[0].value
    assert list(summary.index) == ["Original", "Retrain", "AMUN"]
    assert (summary["not flipped"] == 0).all()
    assert len(at.get("image")) == 12 + 1 + 5  # a page of the grid, the attribution legend, the detail's five tiles
    # issue 20, defect 6: the strips' columns are captioned and the attribution colours have a legend
    heads = [c.value for c in at.caption]
    assert heads.count("attribution (clean)") == 2 and heads.count("δ amplified") == 2
    assert any("**red** pixels raise the explained class's logit" in c for c in heads)
    # filter the grid to one class: fewer strips, every caption of that class, the detail follows
    cls = at.multiselect(key="adv_classes").options[0]
    at.multiselect(key="adv_classes").set_value([int(cls)]).run()
    assert not at.exception, at.exception
    captions = [c for el in at.get("image") for c in el.captions]
    grid = [c for c in captions if c.startswith("#")]
    assert grid and all(f"y = {cls}" in c for c in grid)
    detail = at.selectbox(key="w_view_detail")
    assert detail.value in [int(c.split(" ")[0][1:]) for c in grid]
    # issue 20, defect 8: the order and the detail sample are in the address (a shared link shows the same)
    at.selectbox(key="w_view_order").set_value("farthest").run()
    last = at.selectbox(key="w_view_detail").options[-1]
    at.selectbox(key="w_view_detail").set_value(int(last.split(" ")[0][1:])).run()
    assert not at.exception, at.exception
    q = {k: (v[0] if isinstance(v, list) else v) for k, v in at.query_params.items()}
    assert q["order"] == "farthest" and q["detail"] == last.split(" ")[0][1:]
    # the FT model as "after": its sets are searched in the background, then the page renders again
    at.selectbox(key="w_view_after").set_value("ft")
    at = poll(at, lambda a: len(a.get("plotly_chart")) == 2, "the FT view")
    assert list(at.dataframe[0].value.index) == ["Original", "Retrain", "Fine-tune"]


def _page_comparison():
    """The comparison the pages of this module show (the digits preset at 20 epochs, FT and AMUN, seed 0, K = 2),
    from the store."""
    from engine.presets import default_spec
    from engine.run import AuditRequest, Runner
    from ui import cached

    spec = default_spec("digits")
    req = AuditRequest.build(replace(spec, train=replace(spec.train, epochs=20)), ["ft", "amun"], [0], k=2)
    return Runner(cached.store(), build=False).compare(req)


def _values(v) -> np.ndarray:
    """A plotly JSON array: a list, or plotly's typed array ``{"dtype": "f4", "bdata": base64}``."""
    import base64

    if isinstance(v, dict):
        return np.frombuffer(base64.b64decode(v["bdata"]), dtype=np.dtype(v["dtype"]))
    return np.asarray(v, dtype=float)


def test_adversarial_detail_draws_each_model_at_its_own_example(audited):
    """Issue 12, item 3: in the detail's probability bars, each model's hatched bars are that model at its own stored
    adversarial example, so the class it predicts there is the y_adv its set stores — for whichever model is the
    attacked one. (The page drew every model at the attacked model's example under a title naming the model's own
    ‖δ‖₂: the Original at SG-Unlearn's example of #0 gave p(7) = 0.50 > p(4) = 0.46.)"""
    import json

    from ui import images

    at = _wait_for_page(audited, "pages/4_Adversarial.py", "plotly_chart")
    cmp = _page_comparison()
    prep = images.seed_prep(cmp.spec, 0)
    rows = images.rows_for(prep, 0)
    forget_rows = rows.groups["forget"][1]
    models = ["original", "retrain", at.selectbox(key="w_view_after").value]
    checked = 0
    for attacked in models:
        at.selectbox(key="w_view_attacked").set_value(attacked).run()
        assert not at.exception, at.exception
        for sample in at.selectbox(key="w_view_detail").options[:4]:
            at.selectbox(key="w_view_detail").set_value(int(sample.split(" ")[0][1:])).run()
            assert not at.exception, at.exception
            i = int(np.flatnonzero(forget_rows == at.selectbox(key="w_view_detail").value)[0])
            fig = json.loads(at.get("plotly_chart")[1].proto.spec)
            adversarial = [t for t in fig["data"] if t["name"] == "adversarial"]
            assert len(adversarial) == len(models)
            for m, trace in zip(models, adversarial):
                y_adv = int(images.stored(cmp.models[(m, 0)], prep, rows, "forget").y_adv[i])
                assert int(np.argmax(_values(trace["y"]))) == y_adv, (f"attacked {attacked}, sample #{forget_rows[i]}: "
                                                             f"{m}'s hatched bars do not predict its y_adv {y_adv}")
                checked += 1
    assert checked == 3 * len(models) * min(4, len(forget_rows))


def test_every_stored_adversarial_example_is_predicted_as_its_y_adv(audited):
    """Every adversarial set the page stored (every model, every group): model(x_adv).argmax() == y_adv."""
    import torch

    from engine.attacks import AdversarialSet
    from engine.config import RunSpec, from_dict
    from engine.data import load_dataset
    from engine.run import load_model
    from ui import cached

    _wait_for_page(audited, "pages/4_Adversarial.py", "plotly_chart")
    store = cached.store()
    models = {a.key: a for kind in ("original", "retrain", "unlearned") for a in store.list(kind)}
    sets = store.list("adversarial")
    assert len(sets) >= 3 * 3  # forget, remain and test of Original, Retrain and AMUN (AMUN's own D_A as well)
    for art in sets:
        model_art = models[art.manifest["model"]]
        spec = from_dict(RunSpec, model_art.manifest["spec"])
        net = load_model(model_art, spec, load_dataset(spec.data), torch.device("cpu"))
        adv = AdversarialSet.from_arrays(art.arrays())
        with torch.no_grad():
            pred = torch.cat([net(adv.x_adv[j:j + 64]) for j in range(0, len(adv), 64)]).argmax(1)
        wrong = (pred != adv.y_adv).nonzero().flatten().tolist()
        assert not wrong, f"{art.manifest['rows']} under {model_art.manifest.get('model_kind', 'unlearned')}: {wrong}"


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
