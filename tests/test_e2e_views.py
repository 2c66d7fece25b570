"""End to end in headless Chromium (issue 12): the History page comparing two stored audits, the shared view of
the Confidence page, and the finish (the sidebar: every page under its section, the first "Overview"; no Deploy
button). Screenshots go to the
test's folder, and to $UNLEARN_SHOTS when set (for a person to look at)."""

import os
import shutil
from dataclasses import replace
from pathlib import Path

import pytest
from test_e2e import CHROMIUM, CHROMIUM_ARGS, _settle, _start, _stop

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.slow,  # the same views are covered by AppTests in the default suite; `make test-slow` runs this
    pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Debian chromium not installed (apt-get install chromium)"),
]


def _shot(page, tmp_path: Path, name: str) -> Path:
    path = tmp_path / f"{name}.png"
    page.screenshot(path=str(path))
    if os.environ.get("UNLEARN_SHOTS"):
        Path(os.environ["UNLEARN_SHOTS"]).mkdir(parents=True, exist_ok=True)
        shutil.copy(path, Path(os.environ["UNLEARN_SHOTS"]) / path.name)
    return path


@pytest.fixture(scope="module")
def home(tmp_path_factory):
    """Two stored audits of the digits preset: A at 20 epochs (FT, RL, SalUn), B at 10 epochs (FT, SalUn)."""
    from engine.presets import default_spec
    from engine.run import AuditRequest, Runner
    from engine.store import Store

    root = tmp_path_factory.mktemp("home")
    store = Store(root / "store")
    for epochs, methods in ((20, ["ft", "rl", "salun"]), (10, ["ft", "salun"])):
        spec = default_spec("digits")
        spec = replace(spec, train=replace(spec.train, epochs=epochs))
        Runner(store).compare(AuditRequest.build(spec, methods, [0], k=2))
    return root


def test_history_and_shared_views_in_chromium(home, tmp_path):
    from playwright.sync_api import sync_playwright

    proc, url = _start(home)
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            page = browser.new_page(viewport={"width": 1400, "height": 1900})
            page.goto(f"{url}/History")
            page.get_by_role("heading", name="Stored audits").first.wait_for(timeout=60_000)
            _settle(page)
            page.wait_for_selector(".js-plotly-plot .main-svg", timeout=60_000)
            nav = page.locator('[data-testid="stSidebarNav"] a')
            from ui.nav import SECTIONS, all_pages

            titles = [t.strip().splitlines()[-1] for t in nav.all_inner_texts()]  # after the icon's name
            assert titles == [p.title for p in all_pages()]  # every page, no "View more"
            headers = page.locator('[data-testid="stNavSectionHeader"]').all_inner_texts()
            assert [h.strip() for h in headers] == list(SECTIONS), headers
            assert page.get_by_text("Deploy", exact=True).count() == 0
            assert page.get_by_text("ran on different settings").count() == 1
            assert page.get_by_text("train.epochs: 10 → 20").count() + page.get_by_text("train.epochs: 20 → 10").count()
            assert page.locator('[data-testid="stException"], [data-testid="stAlertContentError"]').count() == 0
            assert page.locator('[data-testid="stDataFrame"]').count() >= 4  # list, Avg Gap, the two tables
            _shot(page, tmp_path, "history")

            # a copied Confidence address with a view: loss scale, two methods — restored in a fresh browser
            settings = "ds=digits&epochs=20&methods=ft,rl,salun&seeds=0&k=2"
            fresh = browser.new_context(viewport={"width": 1400, "height": 1600}).new_page()
            fresh.goto(f"{url}/Confidence?{settings}&scale=loss&show=rl,salun")
            fresh.get_by_role("heading", name="Confidence on remain / test / forget").first.wait_for(timeout=60_000)
            _settle(fresh)
            fresh.wait_for_selector(".js-plotly-plot .main-svg", timeout=60_000)
            assert "scale=loss" in fresh.url and "show=rl%2Csalun" in fresh.url.replace(",", "%2C")
            assert fresh.get_by_text("lost confidence (their loss grew)", exact=False).count() == 1
            assert fresh.locator('[data-testid="stException"], [data-testid="stAlertContentError"]').count() == 0
            _shot(fresh, tmp_path, "confidence-shared")
            browser.close()
    finally:
        _stop(proc)
