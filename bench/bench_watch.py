"""Does a watching browser slow a job down? The same audit from the CLI and from the Run page, side by side.

Each round runs, on an empty store each time, the audit of the default methods (seed 0, K reference models):

* **CLI**: ``python -m engine audit --methods … --seeds 0 --k K`` in a subprocess; the time from the start of the
  process to its exit (interpreter start and imports included), and the time the command prints for its work;
* **browser**: a real server (started before the clock runs, its Run page already drawn in headless Chromium),
  the time from the click on "Run audit" to the results table, with the page open and its progress bar polled the
  whole time. While it runs, the progress text is read every 0.25 s; the longest gap between two changes says how
  live the progress feels.

Rounds alternate the order (CLI first, then browser first) so that a drift in the machine's load hits both.
The ratio is browser ÷ CLI per round, against the CLI's whole process time and against its printed work time
(the stricter one). ``uptime``'s load average is printed beside every figure. Writes ``bench/results/watch.md``.

Needs /usr/bin/chromium (Debian) and playwright. Not part of the tests.
Run: .venv/bin/python bench/bench_watch.py [--rounds 2] [--k 8] [--root OTHER_CHECKOUT] [--server-opt=--x.y=z]
(``--root`` a checkout of an older commit measures that code; ``--append`` keeps what ``--out`` holds.)
"""

from __future__ import annotations

import argparse
import os
import re
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
DEFAULT_METHODS = "ft,rl,ga,salun,amun,sg_unlearn"


def load() -> str:
    """The 1-minute load average and the machine's core count, e.g. ``load 2.31 (2 cores)``."""
    return f"load {os.getloadavg()[0]:.2f} ({os.cpu_count()} cores)"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run_cli(root: Path, methods: str, k: int) -> dict:
    home = tempfile.mkdtemp(prefix="watch-cli-")
    before = load()
    t0 = time.perf_counter()
    out = subprocess.run([sys.executable, "-m", "engine", "audit", "--methods", methods, "--seeds", "0", "--k", str(k),
                          "--out", os.path.join(home, "out")], cwd=root, env={**os.environ, "UNLEARN_HOME": home},
                         capture_output=True, text=True)
    wall = time.perf_counter() - t0
    if out.returncode:
        raise SystemExit(f"the CLI failed:\n{out.stdout[-2000:]}\n{out.stderr[-2000:]}")
    work = float(re.findall(r"; ([0-9.]+) s\s*$", out.stdout.strip())[-1])
    return {"wall": wall, "work": work, "load": f"{before} → {load()}"}


def run_browser(root: Path, methods: str, k: int, server_opts: list[str]) -> dict:
    from playwright.sync_api import sync_playwright

    home = tempfile.mkdtemp(prefix="watch-ui-")
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    proc = subprocess.Popen([sys.executable, "-m", "streamlit", "run", "app.py", "--server.port", str(port),
                             "--server.address", "127.0.0.1", "--server.headless", "true", *server_opts],
                            cwd=root, env={**os.environ, "UNLEARN_HOME": home},
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        while True:
            try:
                if urllib.request.urlopen(f"{url}/_stcore/health", timeout=1).read() == b"ok":
                    break
            except OSError:
                time.sleep(0.2)
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=ARGS)
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.goto(f"{url}/Run?methods={methods}&seeds=0&k={k}")
            button = page.get_by_role("button", name="Run audit")
            button.wait_for(timeout=120_000)
            time.sleep(2)  # let the page settle
            before = load()
            t0 = time.perf_counter()
            button.click()
            ready = page.get_by_text("ready").first
            bar = page.locator('[data-testid="stProgress"]')
            last_text, last_change, gaps, seen = None, None, [], 0
            while True:
                try:
                    ready.wait_for(timeout=250)
                    break
                except Exception:  # noqa: BLE001 - playwright's TimeoutError: not ready yet
                    pass
                if time.perf_counter() - t0 > 1800:
                    raise SystemExit("the browser audit did not finish in 30 min")
                try:
                    text = bar.first.inner_text(timeout=200) if bar.count() else None
                except Exception:  # noqa: BLE001 - the element was redrawn meanwhile
                    text = None
                now = time.perf_counter()
                if text and text != last_text:
                    seen += 1
                    if last_change is not None:
                        gaps.append(now - last_change)
                    last_text, last_change = text, now
            took = time.perf_counter() - t0
            browser.close()
    finally:
        proc.terminate()
        proc.wait(10)
    return {"wall": took, "load": f"{before} → {load()}", "updates": seen,
            "max_gap": max(gaps) if gaps else float("nan"),
            "median_gap": statistics.median(gaps) if gaps else float("nan")}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rounds", type=int, default=2, help="rounds; odd rounds run the CLI first, even the browser")
    ap.add_argument("--k", type=int, default=8, help="RMIA reference models (the engine's default: 8)")
    ap.add_argument("--methods", default=DEFAULT_METHODS)
    ap.add_argument("--root", type=Path, default=ROOT, help="the checkout whose app and engine run (default: this)")
    ap.add_argument("--server-opt", action="append", default=[], help="extra `streamlit run` option, repeatable")
    ap.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "watch.md")
    ap.add_argument("--label", default="", help="a note for the results file (which code was measured)")
    ap.add_argument("--append", action="store_true", help="add to --out instead of replacing it")
    args = ap.parse_args()

    rows = []
    for r in range(args.rounds):
        order = ("cli", "browser") if r % 2 == 0 else ("browser", "cli")
        got = {}
        for what in order:
            got[what] = (run_cli(args.root, args.methods, args.k) if what == "cli"
                         else run_browser(args.root, args.methods, args.k, args.server_opt))
            print(f"round {r + 1} {what}: {got[what]}", flush=True)
        rows.append(got)

    ratio_wall = [g["browser"]["wall"] / g["cli"]["wall"] for g in rows]
    ratio_work = [g["browser"]["wall"] / g["cli"]["work"] for g in rows]
    lines = ["# A watched job: the same audit from the CLI and from the Run page, side by side", "",
             f"Command: `.venv/bin/python bench/bench_watch.py --rounds {args.rounds} --k {args.k}"
             + "".join(f" --server-opt={o}" for o in args.server_opt) + "`"
             + (f" — {args.label}" if args.label else ""), "",
             f"Audit: methods {args.methods} (+ Original and Retrain), seed 0, K = {args.k} reference models, empty "
             "store each time. CLI: process start to exit (its printed work time in brackets). Browser: click on "
             "\"Run audit\" to the results table, the page open and polled throughout. Machine: "
             f"{os.cpu_count()} cores shared with other work; load = 1-minute load average before → after.", "",
             "| round | order | CLI s (work s) | CLI load | browser s | browser load | browser ÷ CLI (÷ work) "
             "| progress updates | longest gap s |",
             "|---|---|---|---|---|---|---|---|---|"]
    for i, g in enumerate(rows):
        c, b = g["cli"], g["browser"]
        order = "CLI first" if i % 2 == 0 else "browser first"
        lines.append(f"| {i + 1} | {order} | {c['wall']:.1f} ({c['work']:.1f}) "
                     f"| {c['load']} | {b['wall']:.1f} | {b['load']} | {ratio_wall[i]:.2f} ({ratio_work[i]:.2f}) "
                     f"| {b['updates']} | {b['max_gap']:.1f} |")
    lines += ["", f"Browser ÷ CLI: median {statistics.median(ratio_wall):.2f} against the CLI process "
              f"(max {max(ratio_wall):.2f}), median {statistics.median(ratio_work):.2f} against its work time "
              f"(max {max(ratio_work):.2f}).", ""]
    text = "\n".join(lines)
    print(text)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    if args.append and args.out.exists() and args.out.read_text().strip():
        text = args.out.read_text().rstrip() + "\n\n" + "\n".join(lines[2:])  # keep earlier runs (before / after)
    args.out.write_text(text + "\n")


if __name__ == "__main__":
    main()
