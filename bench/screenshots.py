"""Screenshots of the dashboard for the README: starts the real server, runs the default flow, writes assets/*.png.

    .venv/bin/python bench/screenshots.py [--out assets] [--home DIR] [--methods ft,rl,ga,salun,amun,sg_unlearn]
        [--dataset digits] [--seeds 0] [--prefix ""]

Needs Debian's /usr/bin/chromium and playwright (the ``dev`` extra in pyproject.toml). The server gets its own
UNLEARN_HOME (a temporary one unless --home is given, e.g. to reuse a store) and Streamlit's minimal toolbar. Flow:
Setup and train (trains original and retrain) → Run (the methods on seed 0, default RMIA settings) → one
screenshot, 1400 px wide, of Run, Confidence, Adversarial, Membership and Compare, each opened by its shareable
URL; then the Presentation page's five steps at a projector's 1280×720 (presentation_1.png … _5.png), and the
headline sentences of Compare printed, to be read against the screenshots. Not a test: it only fails when a page
never renders.
"""

from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request
from pathlib import Path

from ui.nav import PRESENTATION_STEPS as STEPS

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
        "--disable-component-update", "--disable-sync"]
#: file → (page URL path, heading to wait for, viewport height, text that must appear once the page is complete)
SHOTS = {
    "setup_and_train.png": ("Setup_and_train", "Setup and train", 1250, "Accuracy and membership signal"),
    "confidence.png": ("Confidence", "Confidence on remain / test / forget", 1250, "Per-sample shift"),
    "adversarial.png": ("Adversarial", "Adversarial examples", 1750, "Forget samples and their nearest"),
    "membership.png": ("Membership", "Membership inference", 1150, "Most exposed forget samples"),
    "compare.png": ("Compare", "Compare methods", 1100, "Download metrics.csv"),
}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _settle(page, timeout_s: float = 300) -> None:
    """Until Streamlit's "running" indicator has been gone for a second."""
    deadline, quiet = time.time() + timeout_s, None
    while time.time() < deadline:
        if page.locator('[data-testid="stStatusWidget"]').count():
            quiet = None
        elif quiet is None:
            quiet = time.time()
        elif time.time() - quiet > 1.5:
            return
        page.wait_for_timeout(200)
    raise TimeoutError("the page kept running")


def serve(home: str, *extra: str) -> tuple[subprocess.Popen, str]:
    """The real server on a free port with ``UNLEARN_HOME=home`` (and ``extra`` Streamlit options), once healthy."""
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    server = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", "app.py", "--server.address", "127.0.0.1",
         "--server.port", str(port), "--server.headless", "true", "--browser.gatherUsageStats", "false", *extra],
        cwd=ROOT, env={**os.environ, "UNLEARN_HOME": home}, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(300):
        try:
            if urllib.request.urlopen(f"{url}/_stcore/health", timeout=1).read() == b"ok":
                break
        except OSError:
            time.sleep(0.2)
    return server, url


def train_and_audit(page, url: str, query: str, timeout_s: float = 900) -> None:
    """Setup and train (trains original and retrain unless stored), then Run (runs the audit of ``query``'s
    methods and seeds unless stored), each waited for; ``page`` is left on the Run page with the results."""
    page.goto(f"{url}/Setup_and_train?{query}")
    train = page.get_by_role("button", name="Train original and retrain")
    acc = page.get_by_text("Accuracy and membership signal")
    train.or_(acc).first.wait_for(timeout=120_000)
    if train.count():
        train.click()
    acc.wait_for(timeout=timeout_s * 1000)
    page.goto(f"{url}/Run?{query}")
    run, ready = page.get_by_role("button", name="Run audit"), page.get_by_text("ready")
    run.or_(ready).first.wait_for(timeout=120_000)
    if run.count():
        run.click()
    ready.first.wait_for(timeout=2 * timeout_s * 1000)
    _settle(page)


def quality_shot(page, url: str, query: str, path: Path, timeout_s: float = 1800) -> None:
    """The Forgetting-quality page of ``query``: its cost line printed, computed through its button unless stored,
    then one screenshot and its headline printed."""
    page.set_viewport_size({"width": 1400, "height": 1700})
    page.goto(f"{url}/Quality?{query}")
    page.get_by_role("heading", name="Forgetting quality").first.wait_for(timeout=120_000)
    start = page.get_by_role("button", name="Compute forgetting quality")
    done = page.locator(".st-key-quality_headline")
    start.or_(done).first.wait_for(timeout=300_000)
    if start.count():
        cost = page.get_by_text("Not computed yet").first
        print("  cost:", " ".join(cost.inner_text().split()) if cost.count() else "(none)", flush=True)
        start.click()
    done.first.wait_for(timeout=timeout_s * 1000)
    _settle(page)
    page.wait_for_timeout(800)
    page.screenshot(path=str(path))
    print("  headline:", " ".join(done.first.inner_text().split()), flush=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default=str(ROOT / "assets"))
    ap.add_argument("--home", default=None, help="UNLEARN_HOME for the server (default: a new temporary folder)")
    ap.add_argument("--methods", default="ft,rl,ga,salun,amun,sg_unlearn")
    ap.add_argument("--dataset", default="digits", help="data set key (its preset model and recipe)")
    ap.add_argument("--seeds", default="0", help="audit seeds, e.g. 0,1,2")
    ap.add_argument("--prefix", default="", help="prefix of the file names (e.g. fashion_)")
    ap.add_argument("--quality", default="", metavar="METHODS",
                    help="also the Forgetting-quality page for these methods (e.g. ft,rl,salun,amun): computed "
                         "through the page's button unless stored; quality.png and its headline printed")
    ap.add_argument("--runs", type=int, default=16, help="N of --quality")
    args = ap.parse_args()
    from playwright.sync_api import sync_playwright

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    home = args.home or tempfile.mkdtemp(prefix="unlearn-shots-")
    server, url = serve(home, "--client.toolbarMode", "minimal")
    t0 = time.time()
    try:
        settings = f"ds={args.dataset}&seed=0&fseed=0"
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            audit = f"{settings}&methods={args.methods}&seeds={args.seeds}"
            train_and_audit(page, url, audit)
            page.set_viewport_size({"width": 1400, "height": 1000})
            page.screenshot(path=str(out / f"{args.prefix}run.png"))
            print(f"{args.prefix}run.png ({time.time() - t0:.0f} s)", flush=True)
            for name, (path, title, height, last) in SHOTS.items():
                page.set_viewport_size({"width": 1400, "height": height})
                # each page by its shareable address (a fresh session; the audit is found by its settings)
                page.goto(f"{url}/{path}?{audit}")
                page.get_by_role("heading", name=title).first.wait_for(timeout=60_000)
                page.get_by_text(last).first.wait_for(timeout=600_000)
                _settle(page)
                page.wait_for_timeout(800)  # plotly's transitions
                page.screenshot(path=str(out / f"{args.prefix}{name}"))
                print(f"{args.prefix}{name} ({time.time() - t0:.0f} s)", flush=True)
                if name == "compare.png":  # the headline, as text, to quote beside the screenshot
                    box = page.locator(".st-key-headline").first
                    print("  headline:", " ".join(box.inner_text().split()) if box.count() else "(none)")
            page.set_viewport_size({"width": 1280, "height": 720})
            for i, step in enumerate(STEPS, 1):
                page.goto(f"{url}/Presentation?{audit}&step={urllib.parse.quote(step)}")
                page.get_by_role("button", name="← Back" if i > 1 else "Next →").first.wait_for(timeout=300_000)
                _settle(page)
                page.wait_for_timeout(800)
                nav = page.get_by_role("button", name="Next →" if i < len(STEPS) else "← Back").first.bounding_box()
                fits = nav is not None and nav["y"] + nav["height"] <= 720  # the step's last row on the first screen
                page.screenshot(path=str(out / f"{args.prefix}presentation_{i}.png"))
                print(f"{args.prefix}presentation_{i}.png (fits 1280×720 without scrolling: {fits})", flush=True)
            if args.quality:
                quality_shot(page, url, f"{settings}&qmethods={args.quality}&qn={args.runs}",
                             out / f"{args.prefix}quality.png")
                print(f"{args.prefix}quality.png ({time.time() - t0:.0f} s)", flush=True)
            browser.close()
    finally:
        server.terminate()
        server.wait(10)


if __name__ == "__main__":
    main()
