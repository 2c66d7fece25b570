"""Report: the audit as one self-contained HTML file (every figure interactive) and a zip of every table."""

import io
import zipfile

import streamlit as st

from engine import report
from engine.errors import UnlearnError
from engine.figures import eps_to_flip
from ui import amun, cached, images, state, tables, verdict

st.set_page_config(page_title="Report · Unlearning audit", page_icon="🧹", layout="wide")
spec = state.sidebar()
st.title("Report")
cmp = state.need_comparison()
key = state.request(spec).key()
st.markdown("One file to keep or share: the run's configuration, the results table with what good looks like per "
            "column, one row per model × seed, and **every figure, interactive** (plotly.js is inside the file, so it "
            "opens offline). The zip adds `metrics.csv`, `table.csv`, `table.md` and per-sample values per model and "
            "seed (`.npz` and `.csv`).")

# ε-to-flip figures of the models whose adversarial sets the Adversarial examples page already stored
extra, extra_key = [], []
try:
    for seed in cmp.seeds:
        panels = images.stored_panels(cmp, seed)
        if panels:
            extra_key.append(f"{seed}:{','.join(panels)}")
            extra.append(report.ReportFigure(
                f"eps-to-flip-seed{seed}", f"Distance to the decision boundary (seed {seed})", eps_to_flip(panels),
                "CDFs of ‖δ‖₂ of the nearest adversarial example for forget, remain and test samples. What good "
                "looks like: the forget curve on the test curve, as under Retrain (the original model's forget "
                "samples sit farther from the boundary)."))
except UnlearnError as exc:
    state.show_error(exc)
    st.stop()

# sections of the Continual requests and AMUN's-theorem pages whose results for these settings are stored
sections, section_keys = amun.stored_sections(spec, state.audit_settings(), cmp, key)
extra_key += section_keys

can_png, why_not = report.png_available()
png = st.toggle("PNG figures in the zip", value=False, disabled=not can_png, key="report_png",
                help="every figure as a PNG (1100 px wide at 2× scale, for slides), rendered by kaleido in this "
                     "machine's Chrome/Chromium; about a second per figure" if can_png else why_not)
if not can_png:
    st.info(f"{why_not} Without them the zip holds the HTML report and every table.")


try:
    figs, html, data, notes = cached.built_report(key, tuple(extra_key), png, cmp, extra, sections)
except (UnlearnError, OSError) as exc:
    st.error(f"The report could not be built: {exc}", icon=":material/error:")
    st.stop()

a, b, c = st.columns([2, 2, 3])
a.download_button("Download report.html", html, "unlearning-report.html", "text/html", type="primary",
                  key="dl_report_html", icon=":material/description:")
b.download_button("Download everything (.zip)", data, "unlearning-report.zip", "application/zip", key="dl_report_zip",
                  icon=":material/folder_zip:")
with zipfile.ZipFile(io.BytesIO(data)) as z:
    n_png = sum(n.startswith("figures/") and n.endswith(".png") for n in z.namelist())
c.caption(f"{len(figs)} figures · report {len(html) / 1e6:.1f} MB · zip {len(data) / 1e6:.1f} MB"
          + (f" with {n_png} PNG figures (figures/)" if n_png else "")
          + ("" if extra else " · visit **Adversarial examples** first to add its ε-to-flip figures")
          + (f" · sections: {', '.join(sec.title for sec in sections)}" if sections else
             " · runs of **Continual requests** and **AMUN's theorem** for these settings add their sections"))
for note in notes:
    st.info(note)

st.subheader("Results judged against Retrain")
verdict.headline(cmp, here="pages/8_Report.py")
tables.comparison_table(cmp)
with st.expander(f"Figures in the report ({len(figs)})"):
    st.markdown("\n".join(f"- **{f.title}** — {f.caption}" for f in [*figs, *(f for sec in sections
                                                                            for f in sec.figures)]))
