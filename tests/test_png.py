"""PNG export for slides: kaleido rendering in the machine's Chrome/Chromium, from the engine, the CLI and the Report
page (issue 12, item 10). Skipped, with the reason, where kaleido or a browser is missing; the message a user sees
then is tested in tests/test_report.py."""

import io
import time
import zipfile
from pathlib import Path

import numpy as np
import plotly.graph_objects as go
import pytest

import clirun
from apptest import APP
from engine import report

ROOT = Path(__file__).resolve().parents[1]
ok, why = report.png_available()
pytestmark = pytest.mark.skipif(not ok, reason=f"no PNG export here: {why}")

#: the settings of the audit the CLI stores below, as the command line and as the dashboard's address say them
SETS = ["--set", "data.train_size=200", "--set", "train.epochs=5"]
ADDRESS = {"ntrain": "200", "epochs": "5", "methods": "ft", "seeds": "0", "k": "2"}


def _png_image(data: bytes):
    from PIL import Image

    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    return Image.open(io.BytesIO(data)).convert("RGB")


def test_png_figures_are_real_images_of_the_figures():
    figs = [report.ReportFigure("bars", "Bars", go.Figure(go.Bar(x=["a", "b"], y=[1, 3], marker_color="#D62728"))),
            report.ReportFigure("line", "Line", go.Figure(go.Scatter(x=[0, 1], y=[0, 1])).update_layout(height=300))]
    pngs, why = report.png_figures(figs, width=600, scale=2)
    assert why is None and set(pngs) == {"figures/bars.png", "figures/line.png"}
    bars, line = _png_image(pngs["figures/bars.png"]), _png_image(pngs["figures/line.png"])
    assert line.size == (1200, 600)  # width × the figure's height, at 2× scale
    assert bars.size == (1200, 1000)  # no height in the layout: 500 px
    pixels = np.asarray(bars).reshape(-1, 3)
    red = (pixels[:, 0] > 180) & (pixels[:, 1] < 90) & (pixels[:, 2] < 90)
    assert red.mean() > 0.02  # the bars are drawn, not a blank page


@pytest.fixture(scope="module")
def reported(tmp_path_factory):
    """``python -m engine report --png --compute`` on a tiny audit: its output folder and UNLEARN_HOME."""
    home, out = tmp_path_factory.mktemp("home"), tmp_path_factory.mktemp("report")
    t0 = time.time()
    run = clirun.run("report", "--methods", "ft", "--seeds", "0", "--k", "2", *SETS, "--compute", "--png", "--out",
                     str(out), env={"UNLEARN_HOME": str(home)})
    assert run.returncode == 0, run.stderr[-2000:]
    return out, home, run, time.time() - t0


def test_cli_report_png_writes_the_figures_beside_the_report(reported):
    out, _, run, _ = reported
    files = sorted((out / "figures").glob("*.png"))
    assert files and "PNG figures:" in run.stdout and "note:" not in run.stderr
    with zipfile.ZipFile(out / "report.zip") as z:
        in_zip = sorted(n for n in z.namelist() if n.startswith("figures/"))
    assert in_zip == [f"figures/{f.name}" for f in files]
    for f in files:
        img = _png_image(f.read_bytes())
        assert img.size[0] == 2200 and img.size[1] >= 600  # 1100 px at 2× scale


def test_report_page_png_toggle_puts_pngs_in_the_zip(reported, monkeypatch):
    from streamlit.testing.v1 import AppTest

    _, home, _, _ = reported
    monkeypatch.setenv("UNLEARN_HOME", str(home))
    at = AppTest.from_file(APP, default_timeout=180)
    for key, value in ADDRESS.items():
        at.query_params[key] = value
    at.run()
    at.switch_page("pages/8_Report.py").run()
    assert not at.exception, at.exception
    toggle = at.toggle(key="report_png")
    assert not toggle.disabled
    toggle.set_value(True).run()
    assert not at.exception, at.exception
    assert any("PNG figures" in c.value for c in at.caption), [c.value for c in at.caption]
