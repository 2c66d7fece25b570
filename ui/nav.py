"""The dashboard's pages and the sections they are listed under: one list, read by ``app.py`` (``st.navigation``)
and by the overview page (its table of contents). No Streamlit import here, so tests and the CLI can read it."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class PageInfo:
    path: str  # relative to app.py; URL path: the file name without its number (pages/3_Confidence.py → Confidence)
    title: str  # the sidebar's label and the browser tab's title
    icon: str  # a Material Symbols icon (":material/name:")
    what: str  # one line for the overview page


OVERVIEW = PageInfo("pages/0_Overview.py", "Overview", ":material/home:", "what the dashboard does; current settings")

#: section title → its pages, in the sidebar's order (the first page of the first section is the one "/" opens)
SECTIONS: dict[str, list[PageInfo]] = {
    "Audit": [
        OVERVIEW,
        PageInfo("pages/1_Setup_and_train.py", "Setup and train", ":material/model_training:",
                 "pick data, model, forget set and seed; train the original and the retrained model; compare their "
                 "confidence on remain / test / forget samples"),
        PageInfo("pages/2_Run.py", "Run", ":material/play_arrow:",
                 "choose unlearning methods and seeds, edit hyperparameters, run the audit in the background"),
        PageInfo("pages/7_Compare.py", "Compare", ":material/leaderboard:",
                 "the AMUN paper's table, mean ± 95 % interval over seeds; Avg Gap and wall-time charts"),
        PageInfo("pages/8_Report.py", "Report", ":material/description:",
                 "the audit as one self-contained HTML file (every figure interactive) and a zip of every table, "
                 "per-sample value and, where a browser is installed, PNG figures"),
        PageInfo("pages/15_Presentation.py", "Presentation", ":material/slideshow:",
                 "the audit told in five steps for a projector (1280×720): the forget set, the evidence that the "
                 "original remembers it, each method against Retrain, what is still remembered, the cost"),
    ],
    "Evidence": [
        PageInfo("pages/3_Confidence.py", "Confidence", ":material/bar_chart:",
                 "remain / test / forget histograms for every model; per-sample shift"),
        PageInfo("pages/4_Adversarial.py", "Adversarial examples", ":material/blur_on:",
                 "clean / adversarial / perturbation / attribution per forget sample; ε-to-flip for forget, remain "
                 "and test, before and after unlearning"),
        PageInfo("pages/5_Membership.py", "Membership inference", ":material/policy:",
                 "ROC curves (linear and log-log), TPR at low FPR, most exposed samples"),
        PageInfo("pages/17_Quality.py", "Forgetting quality", ":material/verified:",
                 "N unlearning runs of each method against N retrains, per forget example: the NeurIPS 2023 "
                 "challenge's ε and score with intervals, U-LiRA's ROC, the examples each method fails to forget"),
        PageInfo("pages/6_Statistics.py", "Statistics & game", ":material/functions:",
                 "KS / Wasserstein and loss CDFs; SG-Unlearn's auditor per round"),
        PageInfo("pages/12_Classes.py", "Classes", ":material/category:",
                 "per-class accuracy of every model (forget classes marked), prediction matrices against Retrain's, "
                 "the forgotten class's confidence against Retrain's"),
        PageInfo("pages/14_Sample.py", "Sample", ":material/image_search:",
                 "one forget sample across every model: image, adversarial example, signals and membership scores, "
                 "with a shareable address"),
    ],
    "AMUN's views": [
        PageInfo("pages/10_Continual.py", "Continual requests", ":material/repeat:",
                 "the forget set in k requests, each method on its own previous output (AMUN §6.3): UA / RA / TA, "
                 "FT AUC and AUC_FR − AUC_FT per request; AMUN vs AMUN-A vs the baselines"),
        PageInfo("pages/11_Theorem.py", "AMUN's theorem", ":material/query_stats:",
                 "per forget sample: ‖δ‖₂ of its adversarial example, transfer to Retrain, how forgotten it is; do "
                 "close, transferable examples forget better?"),
        PageInfo("pages/16_Forget_sizes.py", "Forget-set sizes", ":material/stacked_line_chart:",
                 "the theorem's last factor: the audit again at several forget sizes, Avg Gap and the "
                 "Retrain-vs-Retrain noise floor per size"),
    ],
    "Your data": [
        PageInfo("pages/13_Your_model.py", "Your model", ":material/upload_file:",
                 "upload your model's weights (safetensors) and its forget set; every audit runs against it, with a "
                 "retrain or against the reference models alone"),
        PageInfo("pages/9_History.py", "History", ":material/history:",
                 "every audit in the run store; open one, or compare two side by side"),
    ],
}


def all_pages() -> list[PageInfo]:
    """Every page, in the sidebar's order."""
    return [p for pages in SECTIONS.values() for p in pages]


#: the Presentation page's five steps (its URL key ``step``), one name each, read by the page, its browser test and
#: bench/screenshots.py
PRESENTATION_STEPS = ["1 · The forget set", "2 · The original remembers it", "3 · Each method against Retrain",
                      "4 · Still remembered", "5 · The cost"]
