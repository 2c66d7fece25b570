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


@pytest.fixture
def server(tmp_path):
    port = _free_port()
    env = {**os.environ, "UNLEARN_HOME": str(tmp_path / "home")}
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
    yield url
    proc.terminate()
    proc.wait(10)


def test_default_flow_in_chromium(server, tmp_path):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.goto(server)
        page.get_by_text("Unlearning audit dashboard").first.wait_for(timeout=60_000)
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
