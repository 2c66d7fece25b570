"""Walk every page of the dashboard in headless Chromium after a real audit, and say what a person would see wrong.

    .venv/bin/python bench/walk_pages.py [--out /tmp/walk] [--home DIR] [--seeds 0,1]

Starts the real server (its own UNLEARN_HOME unless --home is given), trains and audits the default methods on the
digits preset through the Setup and Run pages, then opens every page under ``pages/`` (and Home) by its shareable
URL, waits until it has finished running, and takes a full-page screenshot. For each page it counts exception
boxes, error messages, charts, and charts that draw nothing (a Plotly figure whose traces hold no points), and
writes the table to ``OUT/walk.md``. The screenshots are for a person to look at; the script fails (exit 1) only
when a page shows an exception or an error box, or draws an empty chart.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).resolve().parent))

from screenshots import ARGS, CHROMIUM, _settle, serve, train_and_audit  # noqa: E402

#: JavaScript: per Plotly chart on the page, the number of traces and of points drawn
CHART_POINTS = """() => {
  // plotly.py sends numpy arrays as {dtype, bdata} (base64); count their elements without decoding them
  const width = {i1: 1, u1: 1, i2: 2, u2: 2, i4: 4, u4: 4, f4: 4, f8: 8};
  const size = v => {
    if (!v) return 0;
    if (Array.isArray(v) || ArrayBuffer.isView(v)) return v.length;
    if (typeof v === 'string') return v.length;  // an image trace's source URI
    if (v.bdata) return Math.floor(atob(v.bdata).length / (width[v.dtype] || 8));
    return 0;
  };
  return Array.from(document.querySelectorAll('.js-plotly-plot')).map(el => {
    const data = el.data || [];
    let points = 0;
    for (const t of data) {
      for (const k of ['x', 'y', 'z', 'values', 'source']) { const n = size(t[k]); if (n) { points += n; break; } }
    }
    const title = (el.layout && el.layout.title && el.layout.title.text) || '';
    return {traces: data.length, points: points, title: title.replace(/<[^>]+>/g, '')};
  });
}"""


#: JavaScript: the height of Streamlit's scrolling main section (the page's content)
MAIN_HEIGHT = ("() => Math.max(...['stMain', 'stAppViewContainer', 'stMainBlockContainer'].map(id => "
               "(document.querySelector(`[data-testid=${id}]`) || {scrollHeight: 0}).scrollHeight))")


def page_paths() -> list[str]:
    """URL paths of every page in the sidebar's order (``ui/nav.py``; the overview is "", ``pages/3_Confidence.py`` →
    ``Confidence``)."""
    sys.path.insert(0, str(ROOT))  # ui/ is not an installed package in a source checkout
    from ui.nav import OVERVIEW, all_pages

    return ["" if p is OVERVIEW else Path(p.path).stem.split("_", 1)[1] for p in all_pages()]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default="/tmp/walk")
    ap.add_argument("--home", default=None)
    ap.add_argument("--methods", default="ft,rl,ga,bs,l1_sparse,salun,amun,amun_salun,sg_unlearn")
    ap.add_argument("--seeds", default="0,1")
    args = ap.parse_args()
    from playwright.sync_api import sync_playwright

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    home = args.home or tempfile.mkdtemp(prefix="unlearn-walk-")
    server, url = serve(home)
    t0, rows, bad = time.time(), [], 0
    try:
        settings = f"ds=digits&methods={args.methods}&seeds={args.seeds}"
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            train_and_audit(page, url, settings, timeout_s=900)
            print(f"audit ready ({time.time() - t0:.0f} s)", flush=True)
            for i, path in enumerate(page_paths()):
                page.goto(f"{url}/{path}?{settings}")
                page.wait_for_timeout(1500)
                _settle(page, timeout_s=900)
                page.wait_for_timeout(1000)  # plotly's transitions
                name = f"{i:02d}_{path or 'Home'}.png"
                # Streamlit scrolls inside its main section: grow the viewport to the content for a whole-page shot
                height = page.evaluate(MAIN_HEIGHT)
                page.set_viewport_size({"width": 1400, "height": min(int(height) + 50, 12000)})
                page.wait_for_timeout(800)
                page.screenshot(path=str(out / name))
                page.set_viewport_size({"width": 1400, "height": 1000})
                exceptions = page.locator('[data-testid="stException"]').count()
                errors = page.locator('[data-testid="stAlertContentError"]').count()
                charts = page.evaluate(CHART_POINTS)
                empty = [c["title"] or f"chart {j + 1}" for j, c in enumerate(charts) if c["points"] == 0]
                bad += exceptions + errors + len(empty)
                rows.append(f"| {path or 'Home'} | {exceptions} | {errors} | {len(charts)} | "
                            f"{', '.join(empty) or '–'} | {name} |")
                print(rows[-1], flush=True)
            browser.close()
    finally:
        server.terminate()
        server.wait(10)
    text = "\n".join([f"# Walk through every page ({time.time() - t0:.0f} s; seeds {args.seeds})", "",
                      "| page | exceptions | error boxes | charts | empty charts | screenshot |",
                      "|---|---|---|---|---|---|", *rows]) + "\n"
    (out / "walk.md").write_text(text)
    print(text)
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
