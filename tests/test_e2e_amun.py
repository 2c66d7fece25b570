"""End to end in headless Chromium: the Continual requests page (curves from a stored run) and the AMUN's-theorem
page — a click on a scatter point opens that sample below. Screenshots go to the test's folder, and to
$UNLEARN_SHOTS when set (for a person to look at)."""

from dataclasses import replace

import pytest
from test_e2e import CHROMIUM, CHROMIUM_ARGS, _settle, _start, _stop
from test_e2e_views import _shot

pytestmark = [pytest.mark.e2e, pytest.mark.slow, pytest.mark.skipif(not __import__("pathlib").Path(CHROMIUM).exists(),
                                                   reason="Debian chromium not installed (apt-get install chromium)")]
SETTINGS = "ds=digits&epochs=20&methods=ft,amun&seeds=0&k=2&r=1"


@pytest.fixture(scope="module")
def home(tmp_path_factory):
    """The digits preset at 20 epochs: an audit of FT and AMUN, and a continual run of FT, AMUN, AMUN-A (2 × 4 %)."""
    from engine.continual import ContinualRequest
    from engine.presets import default_spec
    from engine.run import AuditRequest, Runner
    from engine.store import Store

    root = tmp_path_factory.mktemp("home")
    store = Store(root / "store")
    spec = default_spec("digits")
    spec = replace(spec, train=replace(spec.train, epochs=20))
    Runner(store).compare(AuditRequest.build(spec, ["ft", "amun"], [0], k=2, retrains=1))
    Runner(store).continual(ContinualRequest.build(spec, ["ft", "amun", "amun_a"], [0], requests=2, size=0.04, k=2))
    return root


def test_continual_and_theorem_pages_in_chromium(home, tmp_path):
    from playwright.sync_api import sync_playwright

    proc, url = _start(home)
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            page = browser.new_page(viewport={"width": 1400, "height": 2000})
            page.goto(f"{url}/Continual?{SETTINGS}&cmethods=ft,amun,amun_a&creq=2&csize=4&cseeds=0")
            page.get_by_role("heading", name="Across requests").first.wait_for(timeout=60_000)
            _settle(page)
            page.wait_for_selector(".js-plotly-plot .main-svg", timeout=60_000)
            assert page.locator('[data-testid="stException"], [data-testid="stAlertContentError"]').count() == 0
            assert page.get_by_text("AMUN paper, Fig. 2", exact=False).count() == 1
            _shot(page, tmp_path, "continual")

            page.goto(f"{url}/Theorem?{SETTINGS}")
            page.get_by_role("heading", name="Do closer, transferable adversarial examples forget better?").first \
                .wait_for(timeout=120_000)
            _settle(page)
            page.wait_for_selector(".js-plotly-plot .scatterlayer .point", timeout=60_000)
            assert page.locator('[data-testid="stException"], [data-testid="stAlertContentError"]').count() == 0
            line = page.locator('[data-testid="stMarkdownContainer"]').filter(has_text="to Retrain · ")
            before = line.first.inner_text()
            point = page.locator(".js-plotly-plot").first.locator(".scatterlayer .point").nth(5)
            point.click(force=True)
            _settle(page)
            assert page.locator('[data-testid="stException"]').count() == 0
            after = line.first.inner_text()
            assert after != before  # the clicked sample is open below
            _shot(page, tmp_path, "theorem")
            browser.close()
    finally:
        _stop(proc)
