"""Benchmark the dashboard as a user meets it: server start to first page, cold page renders, cached switches.

Starts the real server on 127.0.0.1 with an empty UNLEARN_HOME, drives Debian's Chromium through Playwright,
and writes bench/results/ui.md. Needs /usr/bin/chromium (apt-get install chromium). Not part of the tests.
Run: .venv/bin/python bench/bench_ui.py [--repeats 5]
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
        "--disable-component-update", "--disable-sync"]
CHART_PAGES = ["Confidence", "Membership", "Statistics", "Compare"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main() -> None:
    from playwright.sync_api import sync_playwright

    ap = argparse.ArgumentParser()
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--methods", default="ft,rl,ga,salun,amun,sg_unlearn")
    args = ap.parse_args()
    home = tempfile.mkdtemp()
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    t_start = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "streamlit", "run", "app.py", "--server.port", str(port)],
                            cwd=ROOT, env={**os.environ, "UNLEARN_HOME": home},
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        while True:
            try:
                if urllib.request.urlopen(f"{url}/_stcore/health", timeout=1).read() == b"ok":
                    break
            except OSError:
                time.sleep(0.1)
        t_health = time.perf_counter() - t_start
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=ARGS)
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.goto(url)
            page.get_by_text("Unlearning audit dashboard").first.wait_for(timeout=120_000)
            t_first = time.perf_counter() - t_start
            # train the baseline and run the audit through the UI
            t0 = time.perf_counter()
            page.goto(f"{url}/Setup_and_train")
            page.get_by_role("button", name="Train original and retrain").click(timeout=60_000)
            page.get_by_text("Accuracy and membership signal").wait_for(timeout=300_000)
            t_train = time.perf_counter() - t0
            t0 = time.perf_counter()
            page.goto(f"{url}/Run?methods={args.methods}&seeds=0")
            page.get_by_role("button", name="Run audit").click(timeout=60_000)
            page.get_by_text("ready").first.wait_for(timeout=600_000)
            t_audit = time.perf_counter() - t0
            cold, switch = {}, []
            for name in CHART_PAGES:  # first visit of each page in this session (navigation by the sidebar link)
                t0 = time.perf_counter()
                page.get_by_role("link", name=name).first.click()
                page.wait_for_selector(".js-plotly-plot", timeout=60_000)
                page.wait_for_load_state("networkidle")
                cold[name] = time.perf_counter() - t0
            for _ in range(args.repeats):  # switching between already visited pages
                for name in CHART_PAGES:
                    t0 = time.perf_counter()
                    page.get_by_role("link", name=name).first.click()
                    page.wait_for_selector(".js-plotly-plot", timeout=60_000)
                    switch.append(time.perf_counter() - t0)
            browser.close()
    finally:
        proc.terminate()
        proc.wait(10)
    lines = ["# Dashboard timings (real server, headless Chromium, this 2-core machine)", "",
             f"Command: `.venv/bin/python bench/bench_ui.py --repeats {args.repeats}` (methods {args.methods}, seed 0, "
             "empty store)", "",
             f"- server start to health check: {t_health:.2f} s",
             f"- server start to first page rendered: {t_first:.2f} s",
             f"- train original + retrain from the Setup page (click to results): {t_train:.2f} s",
             f"- audit of {len(args.methods.split(','))} methods from the Run page (click to table): {t_audit:.2f} s",
             "- first visit of each result page (click to chart): "
             + ", ".join(f"{k} {v:.2f} s" for k, v in cold.items()),
             f"  (median {statistics.median(cold.values()):.2f} s)",
             f"- switching between visited pages, click to chart: median {statistics.median(switch):.2f} s "
             f"(n = {len(switch)}, max {max(switch):.2f} s)", ""]
    out = ROOT / "bench" / "results" / "ui.md"
    out.write_text("\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
