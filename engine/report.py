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

import io
import json
import re
import tempfile
import time
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import jinja2
import numpy as np
import pandas as pd
import plotly.graph_objects as go

from . import config, figures
from .audit import verdict as V
from .audit.compare import SPREAD, Comparison, retrain_replicas
from .audit.continual import markdown
from .kinds import Role

#: the note shown (and written into the zip) when PNG figures cannot be made
PNG_HINT = ("PNG figures need kaleido (installed with this package) and a Chrome or Chromium browser on this machine "
            "(Debian/Ubuntu: `apt-get install chromium`; elsewhere set BROWSER_PATH to the browser's executable).")
#: where a Chrome or Chromium is looked for when BROWSER_PATH is unset and none is on PATH
BROWSER_CANDIDATES = ("/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/bin/google-chrome",
                      "/usr/bin/google-chrome-stable", "/snap/bin/chromium",
                      "/Applications/Google Chrome.app/Contents/MacOS/Google Chrome",
                      "/Applications/Chromium.app/Contents/MacOS/Chromium")


@dataclass
class ReportFigure:
    """One figure of the report: a file-safe ``name`` (also the HTML div id), a title and a caption."""

    name: str
    title: str
    figure: go.Figure
    caption: str = ""


@dataclass
class ReportSection:
    """A section beyond the audit's own (continual requests, Theorem 4.1: :mod:`engine.report_amun`): paragraphs of
    plain ``text`` (escaped), ``tables`` as (caption, escaped HTML), ``figures``, and ``files`` (zip path → text)."""

    name: str
    title: str
    text: list[str]
    tables: list[tuple[str, str]]
    figures: list[ReportFigure]
    files: dict[str, str]


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


_color_names = figures.GROUP_COLOR_NAMES


def report_figures(cmp: Comparison) -> list[ReportFigure]:
    """Every figure of the comparison, per seed where the figure is per seed.

    Returns:
        The figures in report order: per seed, confidence histograms (Original and Retrain, then the methods in
        pairs), ROC curves of every attack (linear and log-log), forget-loss CDFs and SG-Unlearn's game; then the
        Avg Gap and wall-time bars over seeds.
    """
    out: list[ReportFigure] = []
    methods = [m for m in cmp.methods if m not in (Role.ORIGINAL, Role.RETRAIN)]
    for seed in cmp.seeds:
        sfx = f"seed {seed}"
        models = [Role.ORIGINAL, *([Role.RETRAIN] if cmp.has_retrain else []), *methods]
        for i in range(0, len(models), 2):
            pair = models[i:i + 2]
            groups = {m: cmp.signals[(m, seed)] for m in pair}
            out.append(ReportFigure(
                f"confidence-{'-'.join(pair)}-seed{seed}",
                f"Confidence φ: {', '.join(cmp.labels[m] for m in pair)} ({sfx})",
                figures.confidence_histograms(groups, signal="phi", labels={m: cmp.labels[m] for m in pair}),
                f"φ = log(p_y / (1 − p_y)) on remain ({_color_names['remain']}), test ({_color_names['test']}) and "
                f"forget ({_color_names['forget']}). What good looks like: the forget histogram sits on the test "
                "histogram, as under Retrain — not on remain, as under the original."))
        for attack in cmp.audits[(Role.ORIGINAL, seed)].attacks:
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
            figures.loss_cdfs(losses, cmp.signals[(Role.ORIGINAL, seed)]["test"]["loss"]),
            "Cross-entropy loss of the forget samples under every model, and the original model's test loss (dotted). "
            "What good looks like: the unlearned model's curve close to Retrain's (KS and W1 in the tables measure "
            "it)."))
        if "sg_unlearn" in cmp.methods:
            arrays = cmp.models[("sg_unlearn", seed)].artifact.arrays()
            game = {k.removeprefix("game."): v for k, v in arrays.items() if k.startswith("game.")}
            if game:
                out.append(ReportFigure(
                    f"sg-game-seed{seed}", f"SG-Unlearn: the auditor's game ({sfx})", figures.game_plot(game),
                    "Per round: the auditor's held-out accuracy and utility. What good looks like: the accuracy falls "
                    "toward 50 % (forget samples indistinguishable from unseen ones) while utility is kept."))
        out.extend(class_figures(cmp, seed))
    t = cmp.table()
    if not cmp.has_retrain:  # Avg Gap and Δφ are distances to Retrain: not defined without one
        out.append(ReportFigure("wall-time", "Wall time",
                                figures.table_bars(t, "seconds", "Wall time (s)", "seconds", with_reference=True),
                                "Seconds per method. What good looks like: small."))
        return out
    out.append(ReportFigure("avg-gap", "Avg Gap to Retrain",
                            figures.table_bars(t, "avg_gap", "Avg Gap to Retrain (lower is better)", "Avg Gap"),
                            "Mean |Δ| of UA, RA, TA and FT AUC to the mean of the seed's retrains, averaged over "
                            "seeds; 95 % intervals; dashed: Retrain against Retrain (the noise floor). What good looks "
                            "like: small, at the floor."))
    out.append(ReportFigure("phi-shift", "Δφ vs Retrain",
                            figures.table_bars(t, "phi_shift", "Δφ vs Retrain (lower is better)", "W1 of φ"),
                            "How far the model's confidence on test and remain moved from Retrain's (W1 of φ). What "
                            "good looks like: at the floor. A low Avg Gap with a large Δφ is flattening: membership "
                            "hidden by lowering confidence everywhere, unlike Retrain."))
    out.append(ReportFigure("wall-time", "Wall time",
                            figures.table_bars(t, "seconds", "Wall time (s)", "seconds", with_reference=True),
                            "Seconds per method (Retrain and Original: training from scratch). What good looks like: "
                            "far below Retrain's — that is the point of unlearning."))
    return out


def class_figures(cmp: Comparison, seed: int) -> list[ReportFigure]:
    """The class-level detail of one seed (the Classes page): per-class test accuracy of every model, the prediction
    matrix of the method with the lowest Avg Gap on the seed (an example, not a winner; without a retrain, the first
    method) against Retrain's
    (or the original's), and for class-wise forgetting the forget classes' p(y|x) under every model against
    Retrain's."""
    from .audit import classes as cl
    from .forget import forget_classes

    data = cmp.models[(Role.ORIGINAL, seed)].data
    names = [str(c) for c in data.classes]
    marked = forget_classes(cmp.spec.forget)
    y_train, y_test = data.y_train.numpy(), data.y_test.numpy()
    per_model = {m: cl.class_accuracy(cmp.signals[(m, seed)], y_train, y_test, data.num_classes) for m in cmp.methods}
    sfx = f"seed {seed}"
    out = [ReportFigure(
        f"classes-test-seed{seed}", f"Accuracy per class, test samples ({sfx})",
        figures.class_accuracy_bars(cl.accuracy_by_class(per_model, "test"),
                                    {m: cmp.labels[m] for m in cmp.methods}, names, marked),
        "Test accuracy (%) per class of every model" + (
            "; the forgotten classes are marked (yellow band). What good looks like: as Retrain, 0 on a forgotten "
            "class — Retrain never saw it — and the other classes kept." if marked else
            ". What good looks like: every class close to Retrain's."))]
    reference = Role.RETRAIN if cmp.has_retrain else Role.ORIGINAL
    methods = [m for m in cmp.methods if m not in (Role.ORIGINAL, Role.RETRAIN)]
    if methods:
        gap = cmp.rows[cmp.rows.seed == seed].set_index("method")["avg_gap"]
        best = min(methods, key=lambda m: (gap.get(m, np.inf) if np.isfinite(gap.get(m, np.inf)) else np.inf,
                                           methods.index(m)))
        a, b = (cl.row_normalised(cl.prediction_matrix(cmp.signals[(m, seed)], y_train, y_test, data.num_classes))
                for m in (best, reference))
        out.append(ReportFigure(
            f"prediction-matrix-seed{seed}",
            f"Prediction matrix: {cmp.labels[best]} vs {cmp.labels[reference]} ({sfx})",
            figures.confusion_heatmaps(a, b, names, (cmp.labels[best], cmp.labels[reference]), marked),
            f"Test samples; row = true class, column = predicted, % of the row; the third panel is the difference in "
            f"points. {cmp.labels[best]} is the method "
            + ("with the lowest Avg Gap on this seed — a point estimate, not a winner (the verdicts judge every method "
               "against Retrain); the Classes page shows any method. " if cmp.has_retrain else
               "listed first; without a retrain the reference is the original model. ")
            + "What good looks like: a difference near 0 everywhere."))
    if marked and cmp.has_retrain:
        values = {m: cl.class_confidence(cmp.signals[(m, seed)], y_train, y_test, marked, "p_y")["forget"]
                  for m in cmp.methods}
        out.append(ReportFigure(
            f"forget-class-confidence-seed{seed}", f"Forget classes: p(y|x) against Retrain's ({sfx})",
            figures.class_confidence_histograms({m: (cmp.labels[m], values[m]) for m in cmp.methods
                                                 if m != Role.RETRAIN},
                                                (cmp.labels[Role.RETRAIN], values[Role.RETRAIN]), "p_y",
                                                x_title=cl.CONFIDENCE["p_y"]),
            "The forgotten classes' training samples: each model's p(y|x) (filled) against Retrain's (outline). What "
            "good looks like: the filled histogram on the outline, low p(y|x) — a peak near 1 means the class is "
            "still recognised."))
    return out


def exposed_html(cmp: Comparison, seed: int | None = None, n: int = 10) -> str:
    """The ``n`` forget samples the original model exposes most (highest RMIA score) and, per model, each one's RMIA
    rank against the test samples (%; 50: like an unseen sample) — the Sample page's drill-down, as a table."""
    from .audit.sample import most_exposed, sample_table

    seed = cmp.seeds[0] if seed is None else seed
    data = cmp.models[(Role.ORIGINAL, seed)].data
    names = [str(c) for c in data.classes]
    rows = {}
    for idx in most_exposed(cmp, seed, Role.ORIGINAL, n):
        t = sample_table(cmp, seed, int(idx), names)
        rows[(f"#{int(idx)}", names[int(data.y_train[int(idx)])])] = t["rmia_rank"].round(0)
    df = pd.DataFrame(rows).T
    df.index.names = ["sample", "class"]
    # names from the data as character references (a superset of HTML escaping: nothing in them acts as markup)
    styler = df.style.set_table_attributes('class="rows"').format("{:.0f}", na_rep="–")
    return styler.format_index(figures.entities, axis=0).format_index(figures.entities, axis=1).to_html()


# ------------------------------------------------------------------------------------------------- HTML
#: the judged table in parts (as on the pages)
TABLE_GROUPS = V.GROUPS
#: the glossary of the judged columns: header (with unit and direction) → what it measures, in plain words
GLOSSARY = {m.header: m.help for m in V.MEASURES}


def table_html(cmp: Comparison, mia: str = "ft_auc") -> str:
    """The audit's table judged against Retrain, as HTML, in three parts: every header with its unit and direction,
    cells "mean ± 95 % interval", class ``good`` inside Retrain's interval (green), ``bad`` outside it on the bad
    side (red) — the same judgement as the pages (:mod:`engine.audit.verdict`)."""
    cells = V.cells(cmp, mia)
    t = cmp.table(mia)
    labels = [str(t.loc[m, "label"]) for m in t.index]
    parts = []
    for title, keys in TABLE_GROUPS.items():
        ms = [V.BY_KEY[k] for k in keys]
        text = pd.DataFrame([[cells[m][k].text() for k in keys] for m in t.index], index=labels,
                            columns=[x.header for x in ms])
        classes = pd.DataFrame([[{"green": "good", "red": "bad"}.get(cells[m][k].colour, "") for k in keys]
                                for m in t.index], index=labels, columns=text.columns)
        text.index.name = "method"
        parts.append(f"<h3>{title}</h3>" + _escaped(text.style.set_td_classes(classes)
                                                     .set_table_attributes('class="paper"')))
    return "\n".join(parts)


def spread_cells(spread: pd.DataFrame) -> pd.DataFrame:
    """:meth:`Comparison.run_spread` as text cells, one column per measure: "SD between runs / SD between seeds"
    (two decimals; – where there is none)."""
    out = spread[["runs", "seeds"]].astype(str)
    for label in SPREAD.values():
        runs, seeds = spread[f"{label} SD between runs"], spread[f"{label} SD between seeds"]
        out[f"{label} SD: runs / seeds"] = [" / ".join("–" if pd.isna(v) else f"{v:.2f}" for v in pair)
                                            for pair in zip(runs, seeds)]
    return out


def table_markdown(cmp: Comparison, mia: str = "ft_auc") -> str:
    """The audit for a terminal and table.md: the headline, the table judged against Retrain (the same judgement as
    the pages and :func:`table_html`; ✓ inside Retrain's interval, ✗ outside it on the bad side, units and
    directions in the headers) and the verdict per method — no method marked "best" from a point estimate."""
    cells = V.cells(cmp, mia)
    t = cmp.table(mia)
    mark = {"green": " ✓", "red": " ✗"}
    lines = [V.headline_text(cmp, mia), ""]
    for title, keys in TABLE_GROUPS.items():
        ms = [V.BY_KEY[k] for k in keys]
        lines += [f"**{title}**", "", "| method | " + " | ".join(x.header for x in ms) + " |",
                  "|" + "---|" * (len(ms) + 1)]
        for m in t.index:
            row = [cells[m][k].text() + mark.get(cells[m][k].colour, "") for k in keys]
            lines.append(f"| {t.loc[m, 'label']} | " + " | ".join(row) + " |")
        lines.append("")
    lines.append("✓ inside Retrain's interval (indistinguishable from retraining); ✗ outside it on the bad side. "
                 "Retrain's row shows the interval every method is judged by.")
    lines += ["", "Verdicts:"] + [f"- {v.label}: {v.sentence}" for v in V.verdicts(cmp, mia)]
    lines += ["", cmp.axes_words()]
    spread = cmp.run_spread()
    if len(spread):
        lines += ["", "**Unlearning runs: how far one run lands from another (SD) beside the seeds' spread**", "",
                  markdown(spread_cells(spread))]
    from .unlearning.sg_unlearn import blind_note  # SG-Unlearn's auditor blind: its row says nothing of a game

    blind = blind_note(cmp.models)
    if blind:
        lines += ["", blind]
    if cmp.failures:
        lines += ["", cmp.failure_note()]
    return "\n".join(lines)


def headline_html(cmp: Comparison, mia: str = "ft_auc") -> list[dict]:
    """The headline's sentences, each with the anchor of the report section or figure that shows its evidence."""
    seed = cmp.seeds[0]
    anchors = {"membership": f"roc-rmia-linear-seed{seed}", "statistics": f"loss-cdf-seed{seed}",
               "confidence": f"confidence-{Role.ORIGINAL}-{Role.RETRAIN}-seed{seed}" if cmp.has_retrain else "table",
               "table": "table"}
    labels = {"membership": "the membership attack's ROC curves", "statistics": "the forget-set loss CDFs",
              "confidence": "the confidence histograms", "table": "the table judged against Retrain"}
    return [{"text": s.text, "anchor": anchors.get(s.evidence, "table"), "evidence": labels.get(s.evidence, "")}
            for s in V.headline(cmp, mia)]


def compute_seconds(cmp: Comparison) -> float:
    """Seconds the audited models took to build, as stored with them: training of every original and retrain
    replica, each method's own work and its one-time work (counted once per seed) — not the RMIA reference
    models. ``cmp.seconds`` is something else: how long this session's comparison took (audits computed from the
    stored models and signals; the whole training only when nothing was stored)."""
    rows = cmp.rows
    once = rows.groupby("seed")["one_time_seconds"].max().sum() if "one_time_seconds" in rows else 0.0
    return float(np.nansum(rows["seconds"].to_numpy(dtype=float)) + once)


def table_note(cmp: Comparison, mia: str = "ft_auc") -> str:
    """What the judged table's cells and colours mean (the report's version of the pages' legend)."""
    t = cmp.table(mia)
    r, interval = retrain_replicas(t), cmp.interval_words(mia)
    return (f"Cells: {interval}; Retrain's row: the interval every method is judged by. Each method is judged "
            "against Retrain alone, never against the other methods: green "
            f"= inside Retrain's own interval (its interval over seeds and the spread of its {r} retrain(s) per seed "
            "combined); red = outside it on the bad side; plain = outside on the harmless side or not judged. "
            "≈ Retrain: good is Retrain's value; ↓: lower is better. Rates and AUCs in %, loss distances in nats, "
            "confidence in logit units.")


def _rows_html(cmp: Comparison) -> str:
    df = cmp.rows.drop(columns=["method"]).set_index(["label", "seed"])
    return _escaped(df.style.set_table_attributes('class="rows"'))


def frame_html(frame: pd.DataFrame, index: bool = True) -> str:
    """Any table as report HTML, every cell and heading escaped (4 significant decimals, NaN as –)."""
    styler = frame.style.set_table_attributes('class="rows"')
    return _escaped(styler if index else styler.hide(axis="index"))


def _escaped(styler) -> str:
    """``Styler.to_html`` with every cell and heading HTML-escaped (labels can hold user strings)."""
    styler = styler.format(escape="html", precision=4, na_rep="–")
    return styler.format_index(escape="html", axis=0).format_index(escape="html", axis=1).to_html()


_ENV = jinja2.Environment(loader=jinja2.FileSystemLoader(Path(__file__).parent / "templates"),
                          autoescape=jinja2.select_autoescape(["html"]), trim_blocks=True, lstrip_blocks=True)


def html_report(cmp: Comparison, figs: list[ReportFigure] | None = None, *, glossary: dict[str, str] | None = None,
                title: str | None = None, include_plotlyjs: bool | str = True,
                sections: list[ReportSection] | None = None) -> str:
    """The whole report as one HTML document (``engine/templates/report.html``; every user string escaped).

    Args:
        cmp: the comparison to report.
        figs: the figures (default: :func:`report_figures`); extra ones, e.g. ε-to-flip, may be appended.
        glossary: column label → "what good looks like" (default: :data:`GLOSSARY`, the judged columns).
        title: the document title (default: data set, model and forget spec).
        include_plotlyjs: ``True`` inlines plotly.js once, before the first figure (works offline);
            ``"cdn"`` links it instead (a small file that needs the network to render).
        sections: further sections (:class:`ReportSection`), after the audit's tables and before its figures.

    Returns:
        A complete HTML document (``<!DOCTYPE html>`` …); every figure is a ``<div id="NAME">``.
    """
    from .data import DATASETS
    from .paths import shown_spec

    figs = report_figures(cmp) if figs is None else figs
    spec = cmp.spec
    params = []
    for m in cmp.methods:
        tm = cmp.models.get((m, cmp.seeds[0]))
        p = (tm.artifact.manifest.get("params") if tm is not None else None) or {}
        params.append((cmp.labels.get(m, m), json.dumps(p, sort_keys=True) if p else ""))
    data = DATASETS.get(spec.data.dataset)
    check = cmp.membership_check()
    up = cmp.models[(Role.ORIGINAL, cmp.seeds[0])]
    uploaded = up.artifact.manifest.get("name") if up.kind == "uploaded" else None
    return _ENV.get_template("report.html").render(
        title=title or f"Unlearning audit — {spec.data.dataset} · {spec.model.arch} · forget {spec.forget}",
        created=time.strftime("%Y-%m-%d %H:%M"), methods=[cmp.labels.get(m, m) for m in cmp.methods],
        dataset=data.label if data else spec.data.dataset, spec=spec, seeds=cmp.seeds,
        setting=", ".join(sorted(set(cmp.rows["setting"]))) if "setting" in cmp.rows else "",
        seconds=cmp.seconds, compute_seconds=compute_seconds(cmp), engine=config.ENGINE_VERSION,
        hyperparameters=params, headline=headline_html(cmp),
        verdicts=[(v.label, v.sentence, "good" if v.like_retrain else "bad" if v.clauses else "")
                  for v in V.verdicts(cmp)],
        spec_json=json.dumps(shown_spec(spec), indent=2, sort_keys=True),  # no server path
        table=table_html(cmp), rows=_rows_html(cmp), glossary=GLOSSARY if glossary is None else glossary,
        table_note=" ".join(filter(None, [table_note(cmp), cmp.failure_note()])),
        signal=check.message, signal_ok=check.ok, uploaded=uploaded, has_retrain=cmp.has_retrain,
        exposed=exposed_html(cmp), exposed_seed=cmp.seeds[0],
        sections=[{"name": sec.name, "title": sec.title, "text": sec.text, "tables": sec.tables,
                   "figures": [_figure_html(f, include_plotlyjs if first else False)
                               for f, first in zip(sec.figures, _firsts(sections, sec))]}
                  for sec in sections or []],
        figures=[_figure_html(f, include_plotlyjs if i == 0 and not any(s.figures for s in sections or []) else False)
                 for i, f in enumerate(figs)])


def _figure_html(f: ReportFigure, include_plotlyjs: bool | str) -> dict:
    return {"name": f.name, "title": f.title, "caption": f.caption,
            "div": f.figure.to_html(full_html=False, include_plotlyjs=include_plotlyjs, div_id=f.name,
                                    config={"displaylogo": False, "responsive": True})}


def _firsts(sections: list[ReportSection], sec: ReportSection) -> list[bool]:
    """Per figure of ``sec``: whether it is the first figure of the document (plotly.js goes there, once)."""
    before = sum(len(s.figures) for s in sections[:sections.index(sec)])
    return [before + i == 0 for i in range(len(sec.figures))]


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


def browser_path() -> str | None:
    """The Chrome / Chromium kaleido renders with: ``$BROWSER_PATH`` (kaleido's own variable), else the first
    ``chromium`` / ``chrome`` on PATH, else a usual install location; None when there is none."""
    import os
    import shutil

    env = os.environ.get("BROWSER_PATH")
    if env:
        return env if os.access(env, os.X_OK) else None
    for name in ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable", "chrome"):
        found = shutil.which(name)
        if found:
            return found
    return next((p for p in BROWSER_CANDIDATES if os.access(p, os.X_OK)), None)


def png_available() -> tuple[bool, str | None]:
    """Whether :func:`png_figures` can work here, and if not, why (for the page and the CLI)."""
    try:
        import kaleido  # noqa: F401 - only whether it is installed
    except ImportError:
        return False, PNG_HINT
    if browser_path() is None:
        return False, f"No Chrome or Chromium browser found on this machine. {PNG_HINT}"
    return True, None


def png_figures(figs: Iterable[ReportFigure], width: int = 1100,
                scale: float = 2) -> tuple[dict[str, bytes], str | None]:
    """Static PNGs of the figures (``figures/NAME.png``, ``width`` × the figure's height in layout pixels, ×
    ``scale`` for a sharp slide), or ``({}, why not)`` when kaleido or a browser is missing or rendering fails.

    All figures render in one kaleido session (one browser start); MathJax is off, so nothing is fetched from the
    network.
    """
    figs = list(figs)
    ok, why = png_available()
    if not ok:
        return {}, why
    try:
        import kaleido

        with tempfile.TemporaryDirectory() as tmp:
            jobs = [{"fig": f.figure.to_dict(), "path": Path(tmp) / f"{f.name}.png",
                     "opts": {"format": "png", "width": width, "height": f.figure.layout.height or 500,
                              "scale": scale}} for f in figs]
            kaleido.write_fig_from_object_sync(jobs, kopts={"mathjax": False, "path": browser_path()})
            out = {f"figures/{f.name}.png": (Path(tmp) / f"{f.name}.png").read_bytes() for f in figs}
    except Exception as exc:  # noqa: BLE001 - kaleido and the browser fail in many ways; the zip goes on without
        return {}, f"PNG export failed ({type(exc).__name__}: {str(exc)[:200]}). {PNG_HINT}"
    return out, None


def bundle(cmp: Comparison, html_text: str | None = None, figs: list[ReportFigure] | None = None, *,
           png: bool = True, sections: list[ReportSection] | None = None) -> tuple[bytes, list[str]]:
    """The zip of the report and every table.

    Args:
        cmp: the comparison.
        html_text: the report (default: :func:`html_report` of ``figs``).
        figs: the figures (default: :func:`report_figures`).
        png: also try ``figures/*.png`` (needs kaleido and a Chrome/Chromium).
        sections: further sections (their files and, with ``png``, their figures too).

    Returns:
        (zip bytes, notes): the notes say what was left out and why (also written to ``NOTES.txt`` in the zip).
    """
    figs = report_figures(cmp) if figs is None else figs
    html_text = html_report(cmp, figs, sections=sections) if html_text is None else html_text
    notes: list[str] = []
    buf = io.BytesIO()
    with tempfile.TemporaryDirectory() as tmp, zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        root = cmp.write(Path(tmp) / "run")  # metrics.csv, table.csv, table.md, per_sample/*.npz
        for path in sorted(root.rglob("*")):
            if path.is_file():
                z.write(path, path.relative_to(root).as_posix())
        for name, text in per_sample_csvs(cmp).items():
            z.writestr(name, text)
        for sec in sections or []:
            for name, text in sec.files.items():
                z.writestr(name, text)
        z.writestr("report.html", html_text)
        if png:
            images, why = png_figures([*figs, *(f for sec in sections or [] for f in sec.figures)])
            for name, data in images.items():
                z.writestr(name, data)
            if why:
                notes.append(why)
        if notes:
            z.writestr("NOTES.txt", "\n".join(notes) + "\n")
    return buf.getvalue(), notes
