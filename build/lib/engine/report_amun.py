"""Report sections of AMUN's own analyses (no Streamlit): continual requests (§6.3) and Theorem 4.1 per forget sample
with the forget-set-size effect. Each builder returns a :class:`engine.report.ReportSection` — text, tables (HTML,
every cell escaped), figures and the files it adds to the zip — that :func:`engine.report.html_report` renders after
the audit's tables and :func:`engine.report.bundle` writes into the zip. The Report page and ``engine report
--continual / --theorem`` call these."""

from __future__ import annotations

import pandas as pd

from .audit import continual as ca
from .audit.theorem import MEASURES, TheoremView, per_seed_display, size_markdown, spearman_display
from .continual import ContinualResult
from .figures_amun import continual_curves, size_curves, theorem_groups, theorem_scatter
from .report import ReportFigure, ReportSection, frame_html

#: continual metrics drawn and tabulated in the report
CONTINUAL_METRICS = ("auc_gap", "ft_auc", "ua", "ra", "ta", "avg_gap")


def continual_section(result: ContinualResult) -> ReportSection:
    """The continual run ``result``: its protocol, the paper's claim with the verdict, one table per metric (mean ±
    95 % half-width over seeds, per request) and the curves."""
    r = result.request
    size = f"{r.size:.0%} of the training set" if r.size < 1 else f"{int(r.size)} samples"
    text = [f"The forget set in {r.requests} requests of {size} each; every method unlearns request after request on "
            f"its own previous output and is audited on everything forgotten so far against a Retrain on what "
            f"remains (AMUN paper §6.3). Seeds {', '.join(map(str, r.seeds))}; K = {r.k} reference models; "
            f"{'with D_R' if r.use_remain else 'D_F only'}. AMUN keeps the D_A of the original model; AMUN-A "
            "searches it again on the current model at each request."]
    tables = []
    for reading, how in ca.READINGS.items():
        claim = result.claim(reading)
        if claim is None:
            continue
        text.append(f"The paper's claim (AMUN-A > AMUN > every baseline on AUC_FR − AUC_FT at every request), {how}: "
                    + ca.verdict(claim, labels=result.labels))
        show = ca.claim_display(claim, result.labels)
        tables.append((f"The claim per request, {how}: means over seeds and paired advantages (positive = better) "
                       "with 95 % t half-widths",
                       frame_html(show, index=False)))
    for (method, seed), why in result.failures.items():
        text.append(f"{result.labels.get(method, method)}, seed {seed}, stopped: {why}")
    for metric in CONTINUAL_METRICS:
        label, good = ca.METRICS[metric]
        tables.append((f"{label} — {good}", frame_html(result.wide(metric))))
    fig = continual_curves({m: result.summary(m) for m in CONTINUAL_METRICS}, result.labels)
    figs = [ReportFigure("continual-curves", "Continual requests: every metric across requests", fig,
                         "Mean over seeds after each request with 95 % t intervals; dashed: Retrain on what remains "
                         "(the target), dotted: the original model. What good looks like: on Retrain's curve at every "
                         "request; AUC_FR − AUC_FT up to Retrain's, FT AUC down to it.")]
    return ReportSection("continual", "Continual unlearning requests", text, tables, figs,
                         {"continual/continual.csv": result.rows.to_csv(index=False),
                          "continual/continual.md": result.to_markdown() + "\n"})


def theorem_section(view: TheoremView, sizes: pd.DataFrame | None = None,
                    measures: tuple[str, ...] = ("score_after", "excess")) -> ReportSection:
    """AMUN's Theorem 4.1 per forget sample of ``view`` (scatter, groups, correlations, per-seed noise, for each of
    ``measures``) and, when given, the forget-set-size table (:func:`engine.audit.theorem.size_effect`)."""
    text = [f"Per forget sample of {view.label}: the distance ‖δ‖₂ of the original model's nearest adversarial "
            "example, whether it transfers to Retrain (Retrain also predicts y_adv at x_adv), and how forgotten the "
            "sample is. AMUN's Theorem 4.1 predicts that close, transferable examples forget better, and smaller "
            "forget sets too."]
    tables, figs = [], []
    for measure in measures:
        s = view.aggregate(measure)
        label = MEASURES[measure][0]
        text.append(f"{label}: {s.sentence()}")
        tables.append((f"{label}: rank correlation with each factor ({s.n_attacked} attacked samples)",
                       frame_html(spearman_display(s.spearman), index=False)))
        if s.per_seed is not None:
            tables.append((f"{label}: per seed (ρ with ‖δ‖₂; transfer difference = mean if it transfers − if not)",
                           frame_html(per_seed_display(s.per_seed), index=False)))
        figs.append(ReportFigure(f"theorem-scatter-{measure}", f"{view.label}: ‖δ‖₂ vs {label}",
                                 theorem_scatter(view.frame, measure),
                                 "Each forget sample (every seed); blue: its adversarial example transfers to Retrain; "
                                 f"hollow: no attack was needed. {MEASURES[measure][2]}."))
        figs.append(ReportFigure(f"theorem-groups-{measure}", f"{view.label}: {label} by transfer and by ‖δ‖₂",
                                 theorem_groups(s.by_transfer, s.by_distance, measure),
                                 "Means with 95 % t intervals over the attacked samples."))
    files = {f"theorem/{view.method}_per_sample.csv": view.frame.to_csv(index=False)}
    if sizes is not None and len(sizes):
        shown = pd.DataFrame({"forget": [f"{f:.0%}" for f in sizes["fraction"]], "method": sizes["label"],
                              "seeds": sizes["n"],
                              **{name: [f"{v:.2f}" + (f" ± {h:.2f}" if h == h else "") for v, h in
                                        zip(sizes[col], sizes[f"{col}_hw"])]
                                 for col, name in (("avg_gap", "Avg Gap"), ("ft_gap", "|FT AUC − Retrain's|"),
                                                   ("ft_auc", "FT AUC"))}})
        tables.append(("Forget-set size: mean ± 95 % t over seeds (Retrain: its replicas' spread, the noise floor)",
                       frame_html(shown, index=False)))
        figs.append(ReportFigure("forget-sizes", "Forget-set size", size_curves(sizes),
                                 "Avg Gap and |FT AUC − Retrain's| against the forget set's size, mean over seeds with "
                                 "95 % t intervals; dashed: Retrain's noise floor. The theorem predicts both grow."))
        files["theorem/forget_sizes.csv"] = sizes.to_csv(index=False)
        files["theorem/forget_sizes.md"] = size_markdown(sizes) + "\n"
    return ReportSection("theorem", "AMUN's Theorem 4.1 per forget sample", text, tables, figs, files)
