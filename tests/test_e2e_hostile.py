"""Issue 18's Chromium check: the injection links render their text literally and fetch nothing outside
127.0.0.1 (the page's network log), and a link to a ~46-billion-parameter model is answered at once with a refusal.

The real server in headless Chromium (Debian's binary, via Playwright), as tests/test_e2e.py drives it.
"""

from __future__ import annotations

import time
from urllib.parse import quote, urlparse

import pytest
from test_e2e import CHROMIUM, CHROMIUM_ARGS, _settle, server  # noqa: F401 (server: the fixture)

pytestmark = [pytest.mark.e2e, pytest.mark.slow,  # AppTests cover the same by default (tests/test_hostile_url.py)
              pytest.mark.skipif(not __import__("pathlib").Path(CHROMIUM).exists(), reason="no Debian chromium")]

IMAGE = "![i](http://HOST/p.png)"
LINKS = [("Setup_and_train", f"forget={quote(IMAGE)}"), ("Run", f"hp={quote(IMAGE)}"),
         ("Run", f"methods=ft&hp=ft.lr%3D{quote(IMAGE)}"), ("Setup_and_train", "forget=" + quote("<img src=http://HOST/x>"))]


def _outside(requests: list[str]) -> list[str]:
    return [u for u in requests if urlparse(u).scheme in ("http", "https", "ws", "wss")
            and urlparse(u).hostname not in ("127.0.0.1", "localhost")]


def test_injection_links_render_literally_and_fetch_nothing(server, tmp_path):  # noqa: F811
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        requests: list[str] = []
        page.on("request", lambda r: requests.append(r.url))
        for path, query in LINKS:
            page.goto(f"{server}/{path}?{query}")
            page.get_by_role("heading").first.wait_for(timeout=60_000)
            _settle(page)
            if path == "Run":  # a method's bad value is said inside the hyperparameter forms
                page.get_by_text("Hyperparameters (defaults").click(timeout=60_000)
                _settle(page)
            body = page.locator("section.main, [data-testid='stMain']").first.inner_text()
            assert "HOST" in body, (path, query, body[:500])  # the text is there, literally
            assert page.locator("img[src*='HOST']").count() == 0
            page.screenshot(path=str(tmp_path / f"{path}.png"), full_page=True)
        browser.close()
    assert not _outside(requests), _outside(requests)
    print(f"\nChromium: {len(LINKS)} injection links, {len(requests)} requests, "
          f"{len(_outside(requests))} outside 127.0.0.1")


def test_a_link_to_a_huge_model_is_refused_at_once(server):  # noqa: F811
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.goto(f"{server}/Setup_and_train")  # the server warmed up (imports) first
        page.get_by_role("heading", name="Setup and train").first.wait_for(timeout=60_000)
        _settle(page)
        t0 = time.perf_counter()
        page.goto(f"{server}/Setup_and_train?model=resnet18&width=4096")
        page.get_by_text("UNLEARN_MAX_PARAMS").first.wait_for(timeout=60_000)
        seconds = time.perf_counter() - t0
        assert "refused" in page.locator("[data-testid='stMain']").first.inner_text()
        browser.close()
    print(f"\nChromium: ?model=resnet18&width=4096 refused {seconds:.1f} s after the request")
