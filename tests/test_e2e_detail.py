"""End to end in headless Chromium (issue 11, items 3-5): the Classes page of a class-wise audit, a sample opened from
the Membership page onto the Sample page (its address reopened in a fresh browser) and from a click on the Confidence
page's per-sample scatter, and the Your model page —
a pickle refused in one line, then a safetensors upload audited without a retrain. Screenshots go to the test's
folder, and to $UNLEARN_SHOTS when set (for a person to look at)."""

import io
import os
import shutil
from pathlib import Path

import pytest
from test_e2e import CHROMIUM, CHROMIUM_ARGS, _settle, _start, _stop

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.slow,  # the same views are covered by AppTests in the default suite; `make test-slow` runs this
    pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Debian chromium not installed (apt-get install chromium)"),
]
#: the stored audit: the digits preset with class 3 forgotten, FT, SalUn and AMUN, seed 0, 2 RMIA reference models
SETTINGS = "ds=digits&forget=class:3&methods=ft,salun,amun&seeds=0&k=2"
BAD = '[data-testid="stException"]'


def _shot(page, tmp_path: Path, name: str) -> Path:
    path = tmp_path / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    if os.environ.get("UNLEARN_SHOTS"):
        Path(os.environ["UNLEARN_SHOTS"]).mkdir(parents=True, exist_ok=True)
        shutil.copy(path, Path(os.environ["UNLEARN_SHOTS"]) / path.name)
    return path


@pytest.fixture(scope="module")
def home(tmp_path_factory):
    from dataclasses import replace

    from engine.presets import default_spec
    from engine.run import AuditRequest, Runner
    from engine.store import Store

    root = tmp_path_factory.mktemp("home")
    runner = Runner(Store(root / "store"))
    spec = replace(default_spec("digits"), forget="class:3")
    runner.compare(AuditRequest.build(spec, ["ft", "salun", "amun"], [0], k=2))
    weights = (runner.original(spec).artifact.path / "weights.safetensors").read_bytes()
    return root, weights


def test_classes_sample_and_your_model_in_chromium(home, tmp_path):
    import torch
    from playwright.sync_api import sync_playwright

    root, weights = home
    proc, url = _start(root)
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            page = browser.new_page(viewport={"width": 1400, "height": 1600})
            page.goto(f"{url}/Classes?{SETTINGS}")
            page.get_by_role("heading", name="Forget classes: confidence against Retrain's").first.wait_for(
                timeout=90_000)
            _settle(page)
            page.wait_for_selector(".js-plotly-plot .main-svg", timeout=60_000)
            assert page.locator(".js-plotly-plot").count() == 3 and page.locator(BAD).count() == 0
            _shot(page, tmp_path, "classes")

            # the most exposed sample on the Membership page opens the Sample page; its address reopens it
            page.goto(f"{url}/Membership?{SETTINGS}")
            page.get_by_role("heading", name="Most exposed forget samples").first.wait_for(timeout=60_000)
            _settle(page)
            button = page.locator('[data-testid="stButton"] button', has_text="#").first
            index = button.inner_text().strip().split("#")[-1]
            button.click()
            page.get_by_role("heading", name="One forget sample, every model").first.wait_for(timeout=60_000)
            _settle(page)
            page.wait_for_selector(".js-plotly-plot .main-svg", timeout=60_000)
            assert f"sample={index}" in page.url and page.locator(BAD).count() == 0
            _shot(page, tmp_path, "sample")
            fresh = browser.new_context(viewport={"width": 1400, "height": 1600}).new_page()
            fresh.goto(page.url)
            fresh.get_by_role("heading", name=f"#{index} · class 3").first.wait_for(timeout=60_000)

            # a click on a point of the Confidence page's per-sample scatter opens that sample too
            page.goto(f"{url}/Confidence?{SETTINGS}")
            page.get_by_role("heading", name="Per-sample shift of the forget set").first.wait_for(timeout=60_000)
            _settle(page)
            scatter = page.locator(".js-plotly-plot").nth(1)
            scatter.scroll_into_view_if_needed()
            point = scatter.locator(".scatterlayer .trace").first.locator(".points path").first
            box = point.bounding_box()
            page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
            page.wait_for_timeout(300)
            page.mouse.click(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
            page.get_by_role("heading", name="One forget sample, every model").first.wait_for(timeout=60_000)
            _settle(page)
            assert "sample=" in page.url and page.locator(BAD).count() == 0

            # Your model: a torch.save file is one error line; the safetensors file is checked and audited
            mine = browser.new_context(viewport={"width": 1400, "height": 1800}).new_page()
            mine.goto(f"{url}/Your_model?{SETTINGS}")
            mine.get_by_role("heading", name="3 · The weights").first.wait_for(timeout=60_000)
            _settle(mine)
            inputs = mine.locator('[data-testid="stFileUploader"] input[type=file]')
            buf = io.BytesIO()
            torch.save({"w": torch.zeros(3)}, buf)
            (tmp_path / "model.pt").write_bytes(buf.getvalue())
            inputs.nth(1).set_input_files(str(tmp_path / "model.pt"))
            mine.get_by_text("model.pt is a zip archive").first.wait_for(timeout=60_000)
            _settle(mine)
            _shot(mine, tmp_path, "your-model-refused")
            (tmp_path / "mine.safetensors").write_bytes(weights)
            inputs.nth(1).set_input_files(str(tmp_path / "mine.safetensors"))
            mine.get_by_text("checked and stored").first.wait_for(timeout=60_000)
            _settle(mine)
            mine.get_by_text("Allow a retrain").first.click()
            _settle(mine)
            mine.get_by_role("button", name="Run the audit").click(timeout=60_000)
            mine.get_by_text("Audit of your model ready").first.wait_for(timeout=240_000)
            _settle(mine)
            assert "orig=" in mine.url and "r=0" in mine.url and mine.locator(BAD).count() == 0
            assert mine.get_by_text("No retrain in this audit").count() >= 1
            _shot(mine, tmp_path, "your-model-audited")
            browser.close()
    finally:
        _stop(proc)
