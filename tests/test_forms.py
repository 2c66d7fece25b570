"""Issue 12, forms and finish: the Run page's method chooser and hyperparameter forms, the Setup page's recipe
controls, cost estimate, image-folder field and missing-data message, and the home page (AppTest; no audit runs)."""

import re
import tomllib
from pathlib import Path

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

import clirun
from apptest import APP, open_page, param
from engine.unlearning import METHODS, hyperparameters
from ui import forms, state

ROOT = Path(__file__).resolve().parents[1]


# ------------------------------------------------------------------------------------------ Run page
def test_run_page_method_chooser_wraps_and_has_presets():
    at = open_page("pages/2_Run.py")
    chooser = at.multiselect(key="w_methods")
    assert chooser.value == state.DEFAULT_METHODS
    assert chooser.proto.wrap is True  # the chips wrap onto more rows instead of scrolling out of view
    at.button(key="methods_all").click().run()
    assert at.multiselect(key="w_methods").value == [k for k in METHODS if k != "retrain"]
    assert param(at, "methods").count(",") == len(METHODS) - 2
    at.button(key="methods_none").click().run()
    assert at.multiselect(key="w_methods").value == [] and "at least one method" in at.warning[0].value
    at.button(key="methods_default").click().run()
    assert at.multiselect(key="w_methods").value == state.DEFAULT_METHODS and not at.exception


def test_switching_the_data_set_takes_its_preset_retrains_unless_the_user_chose_one():
    """Issue 20 defect 3: digits' 3 retrains per seed stayed when the data set switched to fashion-mnist (preset
    2), and the address gained r=3, so the browser's audit differed from the CLI's default."""
    at = open_page("pages/2_Run.py")
    assert at.number_input(key="w_retrains").value == 3 and param(at, "r") is None
    at.sidebar.selectbox(key="w_dataset").set_value("fashion-mnist").run()
    assert not at.exception, at.exception
    assert at.number_input(key="w_retrains").value == 2 and param(at, "r") is None
    at.sidebar.selectbox(key="w_dataset").set_value("digits").run()
    assert at.number_input(key="w_retrains").value == 3 and param(at, "r") is None
    at.number_input(key="w_retrains").set_value(5).run()  # the user's own choice travels with them
    assert param(at, "r") == "5"
    at.sidebar.selectbox(key="w_dataset").set_value("fashion-mnist").run()
    assert at.number_input(key="w_retrains").value == 5 and param(at, "r") == "5"


def test_every_hyperparameter_has_a_readable_label():
    for key in METHODS:
        for f in hyperparameters(key):
            label = forms.field_label(key, f["name"])
            assert label != f["name"] and not re.fullmatch(r"[a-z0-9_]+", label), (key, f["name"], label)


def test_hyperparameter_form_labels_svm_fields_and_steps():
    at = open_page("pages/2_Run.py", methods="ft,sg_unlearn")
    labels = {w.key: w.label for w in at.number_input if w.key and w.key.startswith("hp_")}
    labels |= {w.key: w.label for w in at.selectbox if w.key and w.key.startswith("hp_")}
    assert labels["hp_ft_lr_step"] == "StepLR step (epochs)"  # was "lr_step"
    assert labels["hp_sg_unlearn_lr_step"] == "StepLR step (rounds)"
    assert all(label != key.split("_", 2)[-1] for key, label in labels.items())
    # the logreg auditor (the default): no SVM fields, its own C
    assert "hp_sg_unlearn_svm_solver" not in labels and "hp_sg_unlearn_svm_reg" not in labels
    assert "hp_sg_unlearn_logreg_c" in labels
    at.selectbox(key="hp_sg_unlearn_auditor").set_value("svm").run()
    assert not at.exception, at.exception
    keys = {w.key for w in [*at.number_input, *at.selectbox]}
    assert {"hp_sg_unlearn_svm_solver", "hp_sg_unlearn_svm_reg"} <= keys and "hp_sg_unlearn_logreg_c" not in keys
    assert "sg_unlearn.auditor=svm" in param(at, "hp")
    # +/− steps of the value's order of magnitude: weight decay 0.0005 → 0.0006, not 0.0105
    wd = at.number_input(key="hp_ft_weight_decay")
    assert wd.step == pytest.approx(1e-4)
    wd.increment().run()
    assert at.number_input(key="hp_ft_weight_decay").value == pytest.approx(6e-4)
    assert at.number_input(key="hp_ft_momentum").step == pytest.approx(0.01)  # 0.9 + 0.1 would pass its max


def test_field_step_follows_the_order_of_magnitude():
    assert forms.field_step(0.0005, 0.1) == pytest.approx(1e-4)
    assert forms.field_step(0.01, 10.0) == pytest.approx(0.01)
    assert forms.field_step(0.9, 0.999) == pytest.approx(0.01)
    assert forms.field_step(1.0, 1.0) == pytest.approx(0.1)
    assert forms.field_step(0.0, 10.0) == pytest.approx(0.01)
    assert forms.field_step(1.0, 1e6, 1e-6) == pytest.approx(0.1)  # one click down stays above the minimum
    assert forms.field_step(10) == 1 and forms.field_step(1000) == 100


# ------------------------------------------------------------------------------------------ Setup page
def test_setup_recipe_controls_override_the_preset_and_travel_in_the_url():
    at = open_page("pages/1_Setup_and_train.py")
    assert at.number_input(key="w_train_size").value == 300 and at.number_input(key="w_epochs").value == 200
    assert param(at, "ntrain") is None and param(at, "epochs") is None  # the preset's: not in the address
    at.number_input(key="w_train_size").set_value(150).run()
    at.number_input(key="w_epochs").set_value(20).run()
    assert not at.exception, at.exception
    assert {m.label: m.value for m in at.metric}["Train"] == "150"
    assert param(at, "ntrain") == "150" and param(at, "epochs") == "20"
    assert "20 epochs" in at.caption[0].value and "150 training images" in at.caption[0].value
    estimate = [c.value for c in at.caption if "Estimated training time" in c.value]
    assert estimate and "an estimate" in estimate[0] and "ms per step" in estimate[0]
    # 20 epochs × (⌈150/32⌉ + ⌈90/32⌉) batches: the original on 150 images, the retrain on the 60 % not forgotten
    assert f"{20 * (5 + 3):,} SGD steps" in estimate[0]

    fresh = open_page("pages/1_Setup_and_train.py", ntrain="150", epochs="20")  # a shared link
    assert fresh.number_input(key="w_train_size").value == 150 and fresh.number_input(key="w_epochs").value == 20
    assert {m.label: m.value for m in fresh.metric}["Train"] == "150"
    fresh.sidebar.selectbox(key="w_dataset").set_value("mnist").run()  # another data set: its own preset
    assert param(fresh, "ntrain") is None and param(fresh, "epochs") is None


def test_spec_for_applies_train_size_and_epochs_as_overrides():
    spec = state.spec_for({"dataset": "digits", "train_size": 0, "epochs": 7})
    assert spec.data.train_size is None and spec.train.epochs == 7
    assert state.spec_for({"dataset": "digits"}).data.train_size == 300


def _images(folder: Path, classes=("cat", "dog"), n=6) -> None:
    from PIL import Image

    rng = np.random.default_rng(0)
    for c in classes:
        (folder / c).mkdir(parents=True)
        for i in range(n):
            Image.fromarray(rng.integers(0, 255, (12, 12, 3), dtype=np.uint8)).save(folder / c / f"{i}.png")


def test_image_folder_has_a_path_field_that_stays_out_of_the_url(tmp_path):
    at = open_page("pages/1_Setup_and_train.py")
    at.sidebar.selectbox(key="w_dataset").set_value("imagefolder").run()
    assert not at.exception, at.exception
    assert "Your own image folder" in at.sidebar.selectbox(key="w_dataset").format_func("imagefolder")
    assert "missing" not in at.sidebar.selectbox(key="w_dataset").format_func("imagefolder")
    assert at.sidebar.text_input(key="w_path").value == ""
    assert "folder" in at.error[0].value
    _images(tmp_path / "pets")
    at.sidebar.text_input(key="w_path").set_value(str(tmp_path / "pets")).run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    assert {m.label: m.value for m in at.metric}["Train"] == "9"  # 12 images, 80 % train; the preset's subset
    assert all(str(tmp_path) not in str(v) for v in at.query_params.values())  # the server path is not shared


def test_missing_data_says_what_to_do_in_the_dashboard(tmp_path, monkeypatch):
    monkeypatch.setenv("UNLEARN_DATA_DIR", str(tmp_path))
    at = open_page("pages/1_Setup_and_train.py", ds="cifar10")
    text = re.sub(r"\\(.)", r"\1", at.error[0].value)  # shown as literal text: its Markdown escapes removed
    assert "cifar-10-python.tar.gz" in text and str(tmp_path) in text and "DATA_DIR" not in text
    assert "--download" not in text and "reload this page" in text


def test_missing_data_is_a_data_error_and_the_cli_offers_download(tmp_path):

    from engine.config import DataSpec
    from engine.data import load_dataset
    from engine.errors import DataMissing

    with pytest.raises(DataMissing) as err:
        load_dataset(DataSpec("mnist"), data_dir=tmp_path)
    assert err.value.downloadable and "--download" not in str(err.value)
    out = clirun.run("train", "--dataset", "mnist", "--data-dir", str(tmp_path))
    assert out.returncode == 2 and "--download" in out.stderr and out.stderr.count("\n") == 1


# ------------------------------------------------------------------------------------------ home and finish
def test_app_registers_every_page_under_a_section_and_the_overview_lists_them():
    """app.py is the entry point (make run); st.navigation lists every file of pages/ under a section title, all
    shown (no "View more"); the first entry is the overview, titled "Overview", not a file name."""
    from ui.nav import SECTIONS, all_pages

    assert "streamlit run app.py" in (ROOT / "Makefile").read_text() and not (ROOT / "Home.py").exists()
    pages = all_pages()
    assert sorted(p.path for p in pages) == sorted(f"pages/{p.name}" for p in (ROOT / "pages").glob("*.py"))
    assert all(SECTIONS) and len({p.title for p in pages}) == len(pages)
    assert pages[0].title == "Overview"
    at = AppTest.from_file(APP, default_timeout=60).run()
    assert not at.exception
    assert at.title[0].value == "Unlearning audit dashboard"  # "/" opens the overview
    links = [el.proto.label for el in at.get("page_link")]
    assert links == [p.title for p in pages[1:]]
    assert [h.value for h in at.subheader][:len(SECTIONS)] == list(SECTIONS)
    for p in pages:  # every registered page is reachable by its file, as the tests and page_link address it
        at.switch_page(p.path)
    # the model dropdown fits the sidebar: short labels, the notes in the help
    models = at.sidebar.selectbox(key="w_model")
    assert max(len(label) for label in models.options) <= 24, models.options


def test_navigation_shows_every_page_under_its_section(monkeypatch):
    """The navigation message app.py sends: sections in order, every page once, expanded (no "View N more")."""
    import streamlit as st

    seen = {}

    def navigation(pages, **kwargs):
        seen.update(pages=pages, **kwargs)
        return type("P", (), {"run": lambda self: None})()

    monkeypatch.setattr(st, "navigation", navigation)
    at = AppTest.from_file(APP, default_timeout=60).run()
    assert not at.exception, at.exception
    from ui.nav import SECTIONS

    assert seen["expanded"] is True
    assert list(seen["pages"]) == list(SECTIONS)
    titles = [[p.title for p in ps] for ps in seen["pages"].values()]
    assert titles == [[p.title for p in ps] for ps in SECTIONS.values()]
    assert [p.url_path for ps in seen["pages"].values() for p in ps][1:] == [
        "Setup_and_train", "Run", "Compare", "Report", "Presentation", "Confidence", "Adversarial", "Membership",
        "Quality", "Statistics", "Classes", "Sample", "Continual", "Theorem", "Forget_sizes", "Your_model",
        "History"]  # the addresses links already carry


def test_streamlit_toolbar_hides_the_deploy_button():
    config = tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text())
    assert config["client"]["toolbarMode"] == "viewer"


def test_the_run_page_sets_the_forget_seed_and_runs_and_a_link_carries_them():
    """Issue 17's seed axes on the Run page: one forget draw for every seed (a toggle, then its seed) and N unlearning
    runs; both travel in the address and come back from it."""
    at = open_page("pages/2_Run.py")
    assert at.toggle(key="w_fdraw_on").value is False and param(at, "fdraw") is None
    assert at.number_input(key="w_runs").value == 1 and param(at, "runs") is None
    at.toggle(key="w_fdraw_on").set_value(True).run()
    at.number_input(key="w_fdraw").set_value(7).run()
    at.number_input(key="w_runs").set_value(3).run()
    assert not at.exception, at.exception
    assert param(at, "fdraw") == "7" and param(at, "runs") == "3"
    again = open_page("pages/2_Run.py", fdraw="7", runs="3")
    assert again.toggle(key="w_fdraw_on").value is True
    assert again.number_input(key="w_fdraw").value == 7 and again.number_input(key="w_runs").value == 3
    bad = open_page("pages/2_Run.py", fdraw="1000", runs="99")  # tuning's seeds, too many runs: said, not used
    assert bad.toggle(key="w_fdraw_on").value is False and bad.number_input(key="w_runs").value == 1
    assert not bad.exception
