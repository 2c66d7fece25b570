"""End to end: the real server on 127.0.0.1 driven by headless Chromium (Debian's binary, via Playwright)."""

import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = "/usr/bin/chromium"
pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Debian chromium not installed (apt-get install chromium)"),
]
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _start(home: Path) -> tuple[subprocess.Popen, str]:
    """A real server on a free port of 127.0.0.1 with its run store under ``home``; waits until it is healthy."""
    port = _free_port()
    env = {**os.environ, "UNLEARN_HOME": str(home)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", "app.py", "--server.address", "127.0.0.1", "--server.port",
         str(port), "--server.headless", "true", "--browser.gatherUsageStats", "false"],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.time() + 60
    while time.time() < deadline:
        try:
            if urllib.request.urlopen(f"{url}/_stcore/health", timeout=1).read() == b"ok":
                break
        except OSError:
            time.sleep(0.2)
    else:
        proc.kill()
        pytest.fail("the server did not start: " + proc.stderr.read().decode()[-2000:])
    return proc, url


def _stop(proc: subprocess.Popen) -> None:
    """Stop the server; one that has not exited 30 s after SIGTERM (a loaded machine) is killed, never left behind."""
    proc.terminate()
    try:
        proc.wait(30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(10)


@pytest.fixture
def server(tmp_path):
    proc, url = _start(tmp_path / "home")
    yield url
    _stop(proc)


def test_default_flow_in_chromium(server, tmp_path):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.goto(server)
        page.get_by_text("Unlearning audit dashboard").first.wait_for(timeout=60_000)
        # the sidebar: every page under its section title, none folded under "View more"
        from ui.nav import SECTIONS, all_pages

        headers = [h.strip() for h in page.locator('[data-testid="stNavSectionHeader"]').all_inner_texts()]
        assert headers == list(SECTIONS), headers
        links = page.locator('[data-testid="stSidebarNav"] a').all_inner_texts()
        assert [t.strip().splitlines()[-1] for t in links] == [p.title for p in all_pages()], links
        page.screenshot(path=str(tmp_path / "overview.png"))
        page.get_by_role("link", name="Setup and train").first.click()
        page.get_by_role("button", name="Train original and retrain").click(timeout=60_000)
        page.get_by_text("Accuracy and membership signal").wait_for(timeout=180_000)
        page.wait_for_selector(".js-plotly-plot", timeout=60_000)
        assert page.locator(".js-plotly-plot .bars, .js-plotly-plot .trace").count() > 0
        assert "forget" in page.locator(".js-plotly-plot").first.inner_text()
        page.screenshot(path=str(tmp_path / "setup.png"), full_page=True)
        # the URL carries the settings, so the view can be shared
        assert "forget=random" in page.url and "ds=digits" in page.url
        browser.close()


#: page link in the sidebar → its title and whether it draws a plotly chart
AUDIT_PAGES = {
    "Confidence": "Confidence on remain / test / forget",
    "Adversarial": "Adversarial examples",
    "Membership": "Membership inference",
    "Statistics": "Distribution statistics and the SG-Unlearn game",
    "Compare": "Compare methods",
}


def _settle(page, timeout_s: float = 180) -> None:
    """Wait until the page's script has finished (Streamlit's "running" indicator is gone for a moment)."""
    deadline = time.time() + timeout_s
    quiet_since = None
    while time.time() < deadline:
        running = page.locator('[data-testid="stStatusWidget"]').count() > 0
        if running:
            quiet_since = None
        elif quiet_since is None:
            quiet_since = time.time()
        elif time.time() - quiet_since > 1.0:
            return
        page.wait_for_timeout(200)
    raise AssertionError("the page kept running")


def _open(page, link: str, title: str) -> None:
    page.locator('[data-testid="stSidebarNav"] a', has_text=link).first.click()
    page.get_by_role("heading", name=title).first.wait_for(timeout=60_000)
    _settle(page)


def test_audit_flow_in_chromium(server, tmp_path):
    """The default flow: Setup → Run (the default methods FT, RL, GA, SalUn, AMUN, SG-Unlearn, with Retrain as
    the reference, seed 0) → every audit page renders its charts → the report downloads. On the digits preset
    trained for 20 epochs instead of 200 (``epochs=20`` in the address, as a user sets it on the Setup page): the
    same pages and pieces, a tenth of the training."""
    from playwright.sync_api import sync_playwright

    t0 = time.time()
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 1000}, accept_downloads=True)
        page.goto(f"{server}/Setup_and_train?epochs=20")
        page.get_by_role("button", name="Train original and retrain").click(timeout=60_000)
        page.get_by_text("Accuracy and membership signal").wait_for(timeout=180_000)

        page.goto(f"{server}/Run?seeds=0&epochs=20")  # no methods in the URL: the page's default selection
        # 2 RMIA reference models instead of 8: the same flow, a shorter audit on a shared CPU
        page.get_by_text("Hyperparameters (defaults").click(timeout=60_000)
        k = page.get_by_role("spinbutton", name="RMIA reference models (K)")
        k.fill("2")
        k.press("Enter")
        _settle(page)
        page.get_by_role("button", name="Run audit").click(timeout=60_000)
        page.get_by_text("ready").first.wait_for(timeout=240_000)
        _settle(page)
        assert page.locator('[data-testid="stDataFrame"]').count() > 0
        for label in ("Retrain", "Fine-tune", "Random Label", "Gradient Ascent", "SalUn", "AMUN", "SG-Unlearn"):
            assert page.get_by_text(label, exact=True).count() > 0 or label in page.content(), label
        page.screenshot(path=str(tmp_path / "run.png"), full_page=True)

        for link, title in AUDIT_PAGES.items():
            _open(page, link, title)
            if link == "Adversarial":  # the nearest-adversarial search runs as a job first, then the page reruns
                page.get_by_text("Distance to the decision boundary").wait_for(timeout=180_000)
                _settle(page)
                assert page.locator('[data-testid="stImage"]').count() >= 12  # the grid of forget samples
            page.wait_for_selector(".js-plotly-plot .main-svg", timeout=60_000)
            assert page.locator(".js-plotly-plot").count() > 0, link
            assert page.locator('[data-testid="stException"], [data-testid="stAlertContentError"]').count() == 0, link
            page.screenshot(path=str(tmp_path / f"{link.lower()}.png"), full_page=True)

        # the Compare page's address, opened after a server restart in a fresh browser: the same table, from the
        # store, without running anything
        _open(page, "Compare", AUDIT_PAGES["Compare"])
        shared = page.url
        assert "methods=" in shared and "seeds=0" in shared and "k=2" in shared and "epochs=20" in shared
        before = page.locator('[data-testid="stDataFrame"]').first.inner_text()
        proc, url = _start(tmp_path / "home")
        try:
            fresh = browser.new_context(viewport={"width": 1400, "height": 1000}).new_page()
            fresh.goto(url + shared[len(server):])
            fresh.get_by_role("heading", name=AUDIT_PAGES["Compare"]).first.wait_for(timeout=60_000)
            _settle(fresh)
            assert fresh.get_by_text("No audit for the current settings").count() == 0
            assert fresh.get_by_role("button", name="Run audit").count() == 0
            fresh.wait_for_selector(".js-plotly-plot .main-svg", timeout=60_000)
            assert fresh.locator('[data-testid="stDataFrame"]').first.inner_text() == before
            fresh.screenshot(path=str(tmp_path / "shared-compare.png"), full_page=True)
        finally:
            _stop(proc)

        _open(page, "Report", "Report")
        button = page.get_by_role("button", name="Download report.html")
        button.wait_for(timeout=60_000)
        with page.expect_download(timeout=60_000) as info:
            button.click()
        path = info.value.path()
        head = Path(path).read_text(encoding="utf-8")[:200].lstrip().lower()
        assert head.startswith("<!doctype html") or head.startswith("<html")
        assert Path(path).stat().st_size > 1_000_000  # plotly.js is inside: the report opens offline
        page.screenshot(path=str(tmp_path / "report.png"), full_page=True)
        browser.close()
    print(f"audit flow in Chromium: {time.time() - t0:.0f} s")


@pytest.mark.slow  # AppTest covers the shared job and the queue place by default (test_pages)
def test_two_browsers_share_one_training_and_a_third_sees_its_place(server, tmp_path):
    """Issue 12, item 2, in Chromium: a second browser on the same setting joins the running training (no second
    job, no Train button); a third with another setting is queued, sees its place and a time, and trains after."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        pages = [browser.new_context(viewport={"width": 1400, "height": 1000}).new_page() for _ in range(3)]
        a, b, c = pages
        a.goto(f"{server}/Setup_and_train")
        c.goto(f"{server}/Setup_and_train?seed=1")
        for page in (a, c):
            page.get_by_role("button", name="Train original and retrain").wait_for(timeout=60_000)
        a.get_by_role("button", name="Train original and retrain").click()
        a.get_by_text("Training original and retrain —").first.wait_for(timeout=60_000)
        b.goto(f"{server}/Setup_and_train")
        b.get_by_text("Shared: 2 sessions wait for this job").wait_for(timeout=60_000)
        assert b.get_by_role("button", name="Train original and retrain").count() == 0
        c.get_by_role("button", name="Train original and retrain").click()
        waiting = c.get_by_text("in the queue").first
        waiting.wait_for(timeout=60_000)
        text = waiting.inner_text()
        assert "number 2 in the queue, 1 job ahead" in text and ("starts in" in text or "no estimate" in text), text
        c.screenshot(path=str(tmp_path / "queued.png"), full_page=True)
        for page in (a, b, c):
            page.get_by_text("Accuracy and membership signal").wait_for(timeout=240_000)
        browser.close()
