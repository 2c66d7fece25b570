"""engine.report: the self-contained HTML report and the zip of tables, on a tiny comparison."""

import io
import sys
import zipfile
from html import unescape
from html.parser import HTMLParser

import numpy as np
import pandas as pd
import pytest

from engine import report
from engine.run import audit


@pytest.fixture(scope="module")
def cmp(tmp_path_factory):
    from engine.config import DataSpec, ModelSpec, RunSpec, TrainConfig
    from engine.store import Store

    spec = RunSpec(data=DataSpec("digits", train_size=200), model=ModelSpec("mlp", 32),
                   train=TrainConfig(epochs=3, batch_size=64, lr=0.1, lr_step=2, augment=False), forget="random:0.1")
    return audit(spec, ["ft", "sg_unlearn"], [0], Store(tmp_path_factory.mktemp("store")), k=2, retrains=2)


class _Tags(HTMLParser):
    """Collects tag names, ids and the text of <td>/<th> cells; fails on unbalanced tables."""

    def __init__(self):
        super().__init__()
        self.ids, self.cells, self.stack, self.tables = set(), [], [], 0
        self._in_cell = False

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if "id" in attrs:
            self.ids.add(attrs["id"])
        if tag == "table":
            self.tables += 1
            self.stack.append(tag)
        if tag in ("td", "th"):
            self._in_cell = True
            self.cells.append("")

    def handle_endtag(self, tag):
        if tag == "table":
            assert self.stack.pop() == "table"
        if tag in ("td", "th"):
            self._in_cell = False

    def handle_data(self, data):
        if self._in_cell:
            self.cells[-1] += data


def test_html_report_is_self_contained_and_complete(cmp):
    figs = report.report_figures(cmp)
    names = [f.name for f in figs]
    assert len(names) == len(set(names))
    assert {"confidence-original-retrain-seed0", "confidence-ft-sg_unlearn-seed0", "roc-rmia-linear-seed0",
            "roc-rmia-log-seed0", "loss-cdf-seed0", "sg-game-seed0", "avg-gap", "wall-time",
            "classes-test-seed0", "prediction-matrix-seed0"} <= set(names)
    assert "forget-class-confidence-seed0" not in names  # random forgetting: no forget class
    html = report.html_report(cmp, figs, glossary={"UA": "accuracy on D_F — good: close to Retrain's"})
    assert html.startswith("<!DOCTYPE html>") and html.rstrip().endswith("</html>")
    parser = _Tags()
    parser.feed(html)
    parser.close()
    assert not parser.stack and parser.tables >= 3
    assert set(names) <= parser.ids  # every figure is a plotly div with its name as id
    assert html.count('class="plotly-graph-div"') == len(figs)
    # plotly.js inline exactly once (offline), never from a CDN
    assert html.count("* plotly.js v") == 1 and 'src="https://cdn.plot.ly' not in html
    assert len(html) > 3_000_000
    # the judged table's numbers and labels (UA in %, one decimal, with its bootstrap interval)
    t = cmp.table()
    for m in t.index:
        assert any(c.startswith(f"{t.loc[m, 'ua_mean']:.1f} ± ") for c in parser.cells)
        assert t.loc[m, "label"] in parser.cells
    # the headline on top, each sentence linked to its evidence, which is in the document
    from engine.audit.verdict import headline
    head = report.headline_html(cmp)
    assert [h["text"] for h in head] == [s.text for s in headline(cmp)] and len(head) >= 2
    assert html.index('id="headline"') < html.index('id="config"')
    for h in head:
        assert h["anchor"] in parser.ids
    # the time line: what the models took to build, not how long reading them back took
    assert f"Compute time of the audited models {report.compute_seconds(cmp):.1f} s" in " ".join(html.split())
    assert report.compute_seconds(cmp) > cmp.seconds or report.compute_seconds(cmp) > 0
    assert "accuracy on D_F — good: close to Retrain&#39;s" in html  # escaped
    assert '"forget": "random:0.1"' in unescape(html)
    # the drill-down as a table: the original's most exposed forget samples, each model's RMIA rank vs test
    assert 'id="exposed"' in html and "Most exposed forget samples (seed 0)" in html
    top = cmp.audits[("original", 0)].per_sample
    first = int(top["forget_index"][np.argmax(top["forget_rmia_score"])])
    assert f"#{first}" in parser.cells


def test_table_html_is_judged_against_retrain_with_units_and_directions(cmp):
    from markupsafe import escape

    from engine.audit import verdict as V

    out = report.table_html(cmp)
    parser = _Tags()
    parser.feed(out)
    cells = V.cells(cmp)
    for m, row in cells.items():
        assert cmp.labels[m] in parser.cells and all(c.text() in parser.cells for c in row.values())
    assert out.count('class="paper"') == 3  # forgetting; utility and distances; cost
    for header in ("UA (%) ≈ Retrain", "FT AUC (%) ≈ Retrain", "Avg Gap (pts) ↓", "time (s) ↓", "W1 (nats) ↓"):
        assert header in parser.cells
    green = sum(c.colour == "green" for row in cells.values() for c in row.values())
    red = sum(c.colour == "red" for row in cells.values() for c in row.values())
    assert out.count(" good") + out.count('"good') == green and out.count(" bad") + out.count('"bad') == red
    # the glossary comes from the verdict's plain-language help by default; the verdicts are listed
    html = report.html_report(cmp, [], include_plotlyjs="cdn")
    assert "How well an attacker (RMIA) tells forget samples from unseen ones" in html
    for v in V.verdicts(cmp):
        assert str(escape(v.sentence)) in html  # as the template escapes it (', >, <, &)
    assert "closest to Retrain" not in html


def test_bundle_holds_every_table_and_per_sample_value(cmp):
    html = report.html_report(cmp, include_plotlyjs="cdn")
    data, notes = report.bundle(cmp, html, png=False)
    z = zipfile.ZipFile(io.BytesIO(data))
    names = set(z.namelist())
    assert {"report.html", "metrics.csv", "table.csv", "table.md"} <= names
    for m in cmp.methods:
        assert {f"per_sample/{m}_seed0.npz", f"per_sample/{m}_seed0_forget.csv", f"per_sample/{m}_seed0_test.csv",
                f"signals/{m}_seed0.csv"} <= names
    assert z.read("report.html").decode() == html and notes == [] and "NOTES.txt" not in names
    metrics = pd.read_csv(z.open("metrics.csv"))
    assert list(metrics["method"]) == ["original", "retrain", "ft", "sg_unlearn", "retrain"]
    assert list(metrics["replica"]) == [0, 0, 0, 0, 1]
    np.testing.assert_allclose(metrics["ua"], cmp.rows["ua"])
    forget = pd.read_csv(z.open("per_sample/ft_seed0_forget.csv"))
    ps = cmp.audits[("ft", 0)].per_sample
    np.testing.assert_array_equal(forget["index"], ps["forget_index"])
    np.testing.assert_allclose(forget["loss"], ps["forget_loss"], rtol=1e-6)
    signals = pd.read_csv(z.open("signals/ft_seed0.csv"))
    assert set(signals["group"]) == {"remain", "forget", "test", "val"}
    assert (signals["group"] == "forget").sum() == len(ps["forget_index"])


def test_png_figures_without_kaleido_or_a_browser_say_why(cmp, monkeypatch):
    figs = report.report_figures(cmp)[:2]
    monkeypatch.setitem(sys.modules, "kaleido", None)  # as if not installed: import fails
    pngs, why = report.png_figures(figs)
    assert pngs == {} and "kaleido" in why and "Chromium" in why
    data, notes = report.bundle(cmp, "<html></html>", figs)
    assert notes == [why] and zipfile.ZipFile(io.BytesIO(data)).read("NOTES.txt").decode().strip() == why
    monkeypatch.delitem(sys.modules, "kaleido")
    # kaleido installed but no browser anywhere: a clear message, no exception
    monkeypatch.setattr(report, "browser_path", lambda: None)
    pngs, why = report.png_figures(figs)
    assert pngs == {} and why.startswith("No Chrome or Chromium browser found") and "BROWSER_PATH" in why
    assert report.png_available() == (False, why)


def test_png_export_failure_keeps_the_zip(cmp, monkeypatch):
    kaleido = pytest.importorskip("kaleido")
    figs = report.report_figures(cmp)[:2]
    monkeypatch.setattr(report, "browser_path", lambda: "/usr/bin/chromium")

    def broken(*a, **kw):
        raise RuntimeError("the browser closed")

    monkeypatch.setattr(kaleido, "write_fig_from_object_sync", broken)
    pngs, why = report.png_figures(figs)
    assert pngs == {} and "the browser closed" in why and "Chromium" in why


def test_browser_path_honours_browser_path(monkeypatch, tmp_path):
    exe = tmp_path / "my-chrome"
    exe.write_text("#!/bin/sh\n")
    exe.chmod(0o755)
    monkeypatch.setenv("BROWSER_PATH", str(exe))
    assert report.browser_path() == str(exe)
    monkeypatch.setenv("BROWSER_PATH", str(tmp_path / "missing"))
    assert report.browser_path() is None  # set but wrong: no silent fallback to another browser


def test_hostile_strings_are_escaped(cmp):
    import copy

    evil = "<script>alert(1)</script>"
    hostile = copy.copy(cmp)
    hostile.labels = {**cmp.labels, "ft": evil}
    hostile.rows = cmp.rows.assign(label=cmp.rows["label"].replace("Fine-tune", evil))
    html = report.html_report(hostile, [], title=evil, include_plotlyjs="cdn")
    assert evil not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html


def test_cli_table_markdown_is_judged_against_retrain(cmp):
    """Issue 20: the CLI's table (table.md) marks cells as the pages do — ✓ inside Retrain's interval, ✗ outside it
    on the bad side — with the headline and the verdicts, and names no "closest to Retrain" winner."""
    from engine.audit import verdict as V

    text = report.table_markdown(cmp)
    cells = V.cells(cmp)
    green = sum(c.colour == "green" for row in cells.values() for c in row.values())
    red = sum(c.colour == "red" for row in cells.values() for c in row.values())
    assert text.count(" ✓ |") + text.count(" ✓\n") == green and text.count(" ✗ |") + text.count(" ✗\n") == red
    assert text.startswith(V.headline_text(cmp)) and "closest to Retrain" not in text
    assert all(f"- {v.label}: {v.sentence}" in text for v in V.verdicts(cmp))
    assert "Avg Gap (pts) ↓" in text and "FT AUC (%) ≈ Retrain" in text
