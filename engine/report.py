"""Self-contained export of a comparison: one HTML report and a zip of every table and per-sample value.

* :func:`report_figures` — every figure of the dashboard for a :class:`~engine.audit.compare.Comparison`
  (confidence histograms per model, ROC curves linear and log-log per attack, forget-loss CDFs, SG-Unlearn's
  game, Avg Gap and wall-time bars), each with a "what good looks like" caption.
* :func:`html_report` — one HTML file: the run's configuration, the AMUN paper's table, one row per model × seed,
  and every figure, interactive. plotly.js is inlined once, so the file opens offline (about 5 MB).
* :func:`bundle` — a zip: ``report.html``, ``metrics.csv``, ``table.csv``, ``table.md``, per-sample values per model
  and seed (``.npz`` and ``.csv``), per-sample signals (``signals/*.csv``) and, when ``kaleido`` and a Chrome /
  Chromium are available, ``figures/*.png``.

No Streamlit here: the Report page, the CLI and the tests call the same functions.
"""

from __future__ import annotations

import html
import io
import json
import re
import tempfile
import time
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from . import config, figures
from .audit.compare import BASELINE, REFERENCE, Comparison

#: the note shown (and written into the zip) when PNG figures cannot be made
PNG_HINT = "PNG figures need kaleido (`pip install kaleido`) and a Chrome or Chromium browser on this machine."


@dataclass
class ReportFigure:
    """One figure of the report: a file-safe ``name`` (also the HTML div id), a title and a caption."""

    name: str
    title: str
    figure: go.Figure
    caption: str = ""


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


def report_figures(cmp: Comparison) -> list[ReportFigure]:
    """Every figure of the comparison, per seed where the figure is per seed.

    Returns:
        The figures in report order: per seed, confidence histograms (Original and Retrain, then the methods in
        pairs), ROC curves of every attack (linear and log-log), forget-loss CDFs and SG-Unlearn's game; then the
        Avg Gap and wall-time bars over seeds.
    """
    out: list[ReportFigure] = []
    methods = [m for m in cmp.methods if m not in (BASELINE, REFERENCE)]
    for seed in cmp.seeds:
        sfx = f"seed {seed}"
        models = [BASELINE, REFERENCE, *methods]
        for i in range(0, len(models), 2):
            pair = models[i:i + 2]
            groups = {cmp.labels[m]: cmp.signals[(m, seed)] for m in pair}
            out.append(ReportFigure(
                f"confidence-{'-'.join(pair)}-seed{seed}",
                f"Confidence φ: {', '.join(cmp.labels[m] for m in pair)} ({sfx})",
                figures.confidence_histograms(groups, signal="phi"),
                "φ = log(p_y / (1 − p_y)) on remain (blue), test (orange) and forget (red). What good looks like: the "
                "forget histogram sits on the test histogram, as under Retrain — not on remain, as under the original."))
        for attack in cmp.audits[(BASELINE, seed)].attacks:
            curves = {m: (cmp.labels[m], cmp.audits[(m, seed)].attacks[attack]) for m in cmp.methods}
            for log in (False, True):
                scale = "log-log" if log else "linear"
                out.append(ReportFigure(
                    f"roc-{_slug(attack)}-{'log' if log else 'linear'}-seed{seed}", f"ROC of {attack}, {scale} ({sfx})",
                    figures.roc_curves(curves, log=log),
                    "Members = forget samples, non-members = test samples. What good looks like: the unlearned model's "
                    "curve on Retrain's, near the diagonal" + ("; low TPR at 1 % and 0.1 % FPR." if log else ".")))
        losses = {m: (cmp.labels[m], cmp.signals[(m, seed)]["forget"]["loss"]) for m in cmp.methods}
        out.append(ReportFigure(
            f"loss-cdf-seed{seed}", f"Forget-set loss CDFs ({sfx})",
            figures.loss_cdfs(losses, cmp.signals[(BASELINE, seed)]["test"]["loss"]),
            "Cross-entropy loss of the forget samples under every model, and the original model's test loss (dotted). "
            "What good looks like: the unlearned model's curve close to Retrain's (KS and W1 in the tables measure it)."))
        if "sg_unlearn" in cmp.methods:
            arrays = cmp.models[("sg_unlearn", seed)].artifact.arrays()
            game = {k.removeprefix("game."): v for k, v in arrays.items() if k.startswith("game.")}
            if game:
                out.append(ReportFigure(
                    f"sg-game-seed{seed}", f"SG-Unlearn: the auditor's game ({sfx})", figures.game_plot(game),
                    "Per round: the auditor's held-out accuracy and utility. What good looks like: the accuracy falls "
                    "toward 50 % (forget samples indistinguishable from unseen ones) while utility is kept."))
    t = cmp.table()
    gap = {m: (t.loc[m, "label"], t.loc[m, "avg_gap_mean"], t.loc[m, "avg_gap_std"]) for m in t.index if m != REFERENCE}
    out.append(ReportFigure("avg-gap", "Avg Gap to Retrain", figures.bars(gap, "Avg Gap to Retrain (lower is better)",
                                                                          "Avg Gap"),
                            "Mean |Δ| of UA, RA, TA and FT AUC to the retrained model of the same seed, averaged over "
                            "seeds. What good looks like: small (0 = behaves exactly like Retrain)."))
    secs = {m: (t.loc[m, "label"], t.loc[m, "seconds_mean"], t.loc[m, "seconds_std"]) for m in t.index}
    out.append(ReportFigure("wall-time", "Wall time", figures.bars(secs, "Wall time (s)", "seconds"),
                            "Seconds per method (Retrain and Original: training from scratch). What good looks like: "
                            "far below Retrain's — that is the point of unlearning."))
    return out


# ------------------------------------------------------------------------------------------------- HTML
def markdown_table_html(markdown: str) -> str:
    """A pipe table as :meth:`Comparison.to_markdown` writes it (``**bold**`` cells, notes after it) → HTML."""
    rows, notes = [], []
    for line in markdown.splitlines():
        line = line.strip()
        if line.startswith("|"):
            if set(line) <= set("|-: "):
                continue
            rows.append([c.strip() for c in line.strip("|").split("|")])
        elif line:
            notes.append(line)

    def cell(text: str, tag: str) -> str:
        body = html.escape(text)
        if body.startswith("**") and body.endswith("**"):
            return f'<{tag} class="best">{body[2:-2]}</{tag}>'
        return f"<{tag}>{body}</{tag}>"

    if not rows:
        return ""
    head = "".join(cell(c, "th") for c in rows[0])
    body = "".join("<tr>" + cell(r[0], "th") + "".join(cell(c, "td") for c in r[1:]) + "</tr>" for r in rows[1:])
    out = f'<table class="paper"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'
    return out + "".join(f'<p class="note">{html.escape(n).replace("**", "")}</p>' for n in notes)


_CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0 auto;max-width:1200px;padding:24px;
color:#1f2328;line-height:1.45}
h1{font-size:1.7rem;margin-bottom:.2rem} h2{margin-top:2.2rem;border-bottom:1px solid #ddd;padding-bottom:.2rem}
h3{margin-bottom:.2rem} .sub{color:#666;margin-top:0} .note,.caption{color:#555;font-size:.9rem}
table{border-collapse:collapse;font-size:.85rem;margin:.6rem 0} th,td{border:1px solid #ddd;padding:4px 8px;
text-align:right;white-space:nowrap} thead th{background:#f6f8fa;text-align:center} tbody th{text-align:left}
td.best{background:#d8f0d2;font-weight:600} pre{background:#f6f8fa;padding:12px;overflow:auto;font-size:.8rem}
nav ul{columns:2;font-size:.9rem} dl{font-size:.85rem} dt{font-weight:600;float:left;clear:left;width:9rem}
dd{margin-left:10rem} .scroll{overflow-x:auto} figure{margin:1.2rem 0}
table.params td{white-space:normal;text-align:left;font-family:ui-monospace,monospace;font-size:.78rem}
summary{cursor:pointer;font-weight:600}
"""


def _config_html(cmp: Comparison) -> str:
    from .data import DATASETS

    spec = config.to_dict(cmp.spec)
    params = []
    for m in cmp.methods:
        tm = cmp.models.get((m, cmp.seeds[0]))
        p = (tm.artifact.manifest.get("params") if tm is not None else None) or {}
        params.append(f"<tr><th>{html.escape(cmp.labels.get(m, m))}</th><td>"
                      f"{html.escape(json.dumps(p, sort_keys=True)) if p else '–'}</td></tr>")
    setting = ", ".join(sorted(set(cmp.rows["setting"]))) if "setting" in cmp.rows else ""
    data = DATASETS.get(cmp.spec.data.dataset)
    return (f"<p>Data set <b>{html.escape(data.label if data else cmp.spec.data.dataset)}</b>, model "
            f"<b>{html.escape(cmp.spec.model.arch)}</b> (width {cmp.spec.model.width}), forget "
            f"<code>{html.escape(cmp.spec.forget)}</code>, seeds {', '.join(map(str, cmp.seeds))} (each seed: its own "
            f"original model, forget draw and retrained model), setting: {html.escape(setting)}. Audit time "
            f"{cmp.seconds:.1f} s; engine {config.ENGINE_VERSION}.</p>"
            "<h3>Hyperparameters</h3><table class='params'>" + "".join(params) + "</table>"
            f"<details><summary>Run spec (JSON)</summary><pre>{html.escape(json.dumps(spec, indent=2, sort_keys=True))}"
            "</pre></details>")


def _rows_html(cmp: Comparison) -> str:
    df = cmp.rows.drop(columns=["method"]).set_index(["label", "seed"])
    return df.to_html(float_format=lambda v: f"{v:.4g}", na_rep="–", border=0, classes="rows")


def html_report(cmp: Comparison, figs: list[ReportFigure] | None = None, *, explain: dict[str, str] | None = None,
                title: str | None = None, include_plotlyjs: bool | str = True) -> str:
    """The whole report as one HTML document.

    Args:
        cmp: the comparison to report.
        figs: the figures (default: :func:`report_figures`); extra ones, e.g. ε-to-flip, may be appended.
        explain: column label of the paper table → "what good looks like" text, listed under the table.
        title: the document title (default: data set, model and forget spec).
        include_plotlyjs: ``True`` inlines plotly.js once, before the first figure (works offline);
            ``"cdn"`` links it instead (a small file that needs the network to render).

    Returns:
        A complete HTML document (``<!DOCTYPE html>`` …); every figure is a ``<div id="NAME">``.
    """
    figs = report_figures(cmp) if figs is None else figs
    title = title or f"Unlearning audit — {cmp.spec.data.dataset} · {cmp.spec.model.arch} · forget {cmp.spec.forget}"
    toc = ["<li><a href='#config'>Configuration</a></li>", "<li><a href='#table'>Results table</a></li>",
           "<li><a href='#rows'>Every model × seed</a></li>"]
    parts = []
    for i, f in enumerate(figs):
        div = f.figure.to_html(full_html=False, include_plotlyjs=include_plotlyjs if i == 0 else False, div_id=f.name,
                               config={"displaylogo": False, "responsive": True})
        parts.append(f"<figure><h3>{html.escape(f.title)}</h3>{div}"
                     f"<figcaption class='caption'>{html.escape(f.caption)}</figcaption></figure>")
        toc.append(f"<li><a href='#{f.name}'>{html.escape(f.title)}</a></li>")
    glossary = ""
    if explain:
        items = "".join(f"<dt>{html.escape(k)}</dt><dd>{html.escape(v)}</dd>" for k, v in explain.items())
        glossary = f"<dl>{items}</dl>"
    created = time.strftime("%Y-%m-%d %H:%M")
    methods = html.escape(", ".join(cmp.labels.get(m, m) for m in cmp.methods))
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>{html.escape(title)}</title><style>{_CSS}</style></head><body>
<h1>{html.escape(title)}</h1>
<p class="sub">Unlearning Audit Dashboard report · {created} · methods: {methods}</p>
<nav><ul>{''.join(toc)}</ul></nav>
<h2 id="config">Configuration</h2>{_config_html(cmp)}
<h2 id="table">Results table (AMUN paper layout)</h2>
<div class="scroll">{markdown_table_html(cmp.to_markdown())}</div>{glossary}
<h2 id="rows">Every model × seed</h2><div class="scroll">{_rows_html(cmp)}</div>
<h2 id="figures">Figures</h2>
{''.join(parts)}
</body></html>
"""


# ------------------------------------------------------------------------------------------------- files
def per_sample_csvs(cmp: Comparison) -> dict[str, str]:
    """Per model and seed: the audits' per-sample values (forget and test) and the signals per group, as CSV."""
    out = {}
    for (m, seed), audit in cmp.audits.items():
        by_prefix: dict[str, dict[str, np.ndarray]] = {}
        for name, v in audit.per_sample.items():
            group, _, col = name.partition("_")
            if np.ndim(v) == 1:
                by_prefix.setdefault(group, {})[col] = np.asarray(v)
        for group, cols in by_prefix.items():
            out[f"per_sample/{m}_seed{seed}_{group}.csv"] = pd.DataFrame(cols).to_csv(index=False)
        frames = []
        for group, sig in cmp.signals[(m, seed)].items():
            cols = {k: np.asarray(v) for k, v in sig.items() if np.ndim(v) == 1}
            frames.append(pd.DataFrame({"group": group, "position": np.arange(len(next(iter(cols.values())))), **cols}))
        out[f"signals/{m}_seed{seed}.csv"] = pd.concat(frames, ignore_index=True).to_csv(index=False)
    return out


def png_figures(figs: Iterable[ReportFigure], width: int = 1100) -> tuple[dict[str, bytes], str | None]:
    """Static PNGs of the figures via kaleido, or ``({}, why not)`` when kaleido or a browser is missing."""
    try:
        import kaleido  # noqa: F401 - only to know whether plotly's static export can work
    except ImportError:
        return {}, PNG_HINT
    out = {}
    try:
        for f in figs:
            out[f"figures/{f.name}.png"] = f.figure.to_image(format="png", width=width, scale=2)
    except Exception as exc:  # noqa: BLE001 - kaleido fails in many ways without a browser; the zip goes on
        return {}, f"PNG export failed ({type(exc).__name__}: {str(exc)[:200]}). {PNG_HINT}"
    return out, None


def bundle(cmp: Comparison, html_text: str | None = None, figs: list[ReportFigure] | None = None, *,
           png: bool = True) -> tuple[bytes, list[str]]:
    """The zip of the report and every table.

    Args:
        cmp: the comparison.
        html_text: the report (default: :func:`html_report` of ``figs``).
        figs: the figures (default: :func:`report_figures`).
        png: also try ``figures/*.png`` (needs kaleido and a Chrome/Chromium).

    Returns:
        (zip bytes, notes): the notes say what was left out and why (also written to ``NOTES.txt`` in the zip).
    """
    figs = report_figures(cmp) if figs is None else figs
    html_text = html_report(cmp, figs) if html_text is None else html_text
    notes: list[str] = []
    buf = io.BytesIO()
    with tempfile.TemporaryDirectory() as tmp, zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        root = cmp.write(Path(tmp) / "run")  # metrics.csv, table.csv, table.md, per_sample/*.npz
        for path in sorted(root.rglob("*")):
            if path.is_file():
                z.write(path, path.relative_to(root).as_posix())
        for name, text in per_sample_csvs(cmp).items():
            z.writestr(name, text)
        z.writestr("report.html", html_text)
        if png:
            images, why = png_figures(figs)
            for name, data in images.items():
                z.writestr(name, data)
            if why:
                notes.append(why)
        if notes:
            z.writestr("NOTES.txt", "\n".join(notes) + "\n")
    return buf.getvalue(), notes
