"""Issue 11, items 3-5 under AppTest: the Classes page (12), the Your model page (13: good, malformed, mismatched and
oversized uploads; the audit with and without a retrain) and the Sample page (14: the drill-down, opened from an
address and from the Membership and Adversarial pages). One small stored audit (digits, 200 images, 5 epochs, an MLP
of width 32, class 3 forgotten, FT, K = 2, one retrain), built once per module in a few seconds."""

import io
import struct
from dataclasses import replace
from pathlib import Path

import pytest
import torch
from safetensors.torch import save
from streamlit.testing.v1 import AppTest

from apptest import open_page, param, poll
from engine.config import ModelSpec
from engine.models import build_model

ROOT = Path(__file__).resolve().parents[1]
ADDRESS = {"ntrain": "200", "epochs": "5", "width": "32", "forget": "class:3", "methods": "ft", "seeds": "0",
           "k": "2", "r": "1"}


def _spec():
    from ui.state import spec_for

    return spec_for({"dataset": "digits", "model": "mlp", "forget": "class:3", "seed": 0, "forget_seed": 0,
                     "train_size": 200, "epochs": 5, "width": 32})


@pytest.fixture(scope="module")
def home(tmp_path_factory):
    from engine.paths import unlearn_home
    from engine.run import AuditRequest, Runner
    from engine.store import Store

    root = tmp_path_factory.mktemp("home")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("UNLEARN_HOME", str(root))
        runner = Runner(Store(unlearn_home() / "store"))
        runner.compare(AuditRequest.build(_spec(), ["ft"], [0], k=2, retrains=1))
        runner.compare(AuditRequest.build(replace(_spec(), forget="random:20"), ["ft"], [0], k=2, retrains=1))
        weights = (runner.original(_spec()).artifact.path / "weights.safetensors").read_bytes()
    return root, weights


@pytest.fixture(autouse=True)
def _pages_see_the_audit(home, monkeypatch):
    monkeypatch.setenv("UNLEARN_HOME", str(home[0]))


def _open(page: str, **extra: str) -> AppTest:
    return open_page(page, **{**ADDRESS, **extra})


# ------------------------------------------------------------------------------------------ Classes (12)
def test_classes_page_shows_every_model_per_class_and_the_forget_class_histograms():
    at = _open("pages/12_Classes.py")
    assert at.title[0].value == "Class-level detail"
    assert len(at.get("plotly_chart")) == 3  # accuracy bars, prediction matrices, forget-class histograms
    table = at.dataframe[0].value
    assert {"Original", "Retrain", "Fine-tune"} <= set(table.columns) and "3 ★" in list(table.index)
    assert table.loc["3 ★", "Retrain"] == 0  # test accuracy on the forgotten class: Retrain never saw it
    at.segmented_control(key="w_view_group").set_value("forget").run()
    assert not at.exception and param(at, "group") == "forget"
    at.segmented_control(key="w_view_conf").set_value("entropy").run()
    assert not at.exception and param(at, "conf") == "entropy"


def test_classes_page_without_class_forgetting_offers_it():
    at = _open("pages/12_Classes.py", forget="random:20")
    assert len(at.get("plotly_chart")) == 2  # no forget class: no histograms
    assert "This view is for class-wise forgetting" in at.info[0].value
    at.selectbox(key="cls_pick").set_value(7).run()
    at.button(key="cls_use").click().run()
    assert not at.exception and param(at, "forget") == "class:7"
    assert "No audit for the current settings" in at.info[0].value  # not run yet: the Run page is pointed to


# ------------------------------------------------------------------------------------------ Your model (13)
def _upload(at: AppTest, name: str, data: bytes, key: str = "yours_weights") -> AppTest:
    at.file_uploader(key=key).set_value((name, data, "application/octet-stream")).run()
    assert not at.exception, at.exception
    return at


def _errors(at: AppTest) -> list[str]:
    return [e.value for e in at.error]


def test_your_model_page_audits_an_upload_without_a_retrain(home):
    at = _open("pages/13_Your_model.py")
    assert "Upload the weights" in at.info[0].value
    _upload(at, "mine.safetensors", home[1])
    assert not _errors(at)
    assert any("Your model **mine\\.safetensors** fits mlp (width 32) on digits" in s.value for s in at.success)
    key = param(at, "orig")
    assert key and key.isalnum()
    at.toggle(key="yours_retrain").set_value(False).run()
    assert param(at, "r") == "0"
    at.button(key="yours_run").click().run()
    poll(at, lambda a: any("Audit of your model ready" in s.value for s in a.success), "the audit of the upload")
    table = at.dataframe[0].value
    assert list(table.index) == ["Your model", "Fine-tune"] and "Retrain" not in table.index
    # every result page shows it; the Classes page says there is no Retrain to compare the histograms with
    at.switch_page("pages/12_Classes.py").run()
    assert not at.exception and "Your model" in at.dataframe[0].value.columns
    assert any("no Retrain" in i.value for i in at.info)
    at.switch_page("pages/14_Sample.py").run()
    assert not at.exception and list(at.dataframe[0].value.index) == ["Your model", "Fine-tune"]
    for page in ("pages/3_Confidence.py", "pages/5_Membership.py", "pages/6_Statistics.py", "pages/7_Compare.py",
                 "pages/4_Adversarial.py", "pages/8_Report.py", "pages/9_History.py",
                 "pages/11_Theorem.py", "pages/16_Forget_sizes.py"):  # all work without a Retrain
        at.switch_page(page).run()
        assert not at.exception, (page, at.exception)
    assert any("has no retrain" in i.value for i in at.info)  # the Theorem page says why it has nothing to show
    at.switch_page("pages/7_Compare.py").run()
    assert "No retrain in this audit" in at.info[0].value


def test_the_same_upload_with_a_retrain_matches_the_trained_original(home):
    at = _open("pages/13_Your_model.py")
    _upload(at, "mine.safetensors", home[1])
    assert at.toggle(key="yours_retrain").value is True and param(at, "r") == "1"
    if any(b.key == "yours_run" for b in at.button):  # else: every model is in the store already (FT on the upload)
        at.button(key="yours_run").click().run()
    poll(at, lambda a: any("Audit of your model ready" in s.value for s in a.success), "the audit of the upload")
    table = at.dataframe[0].value
    assert list(table.index) == ["Your model", "Retrain", "Fine-tune"]
    at.button(key="yours_stop").click().run()  # back to the trained original: the upload is forgotten, not redone
    assert not at.exception and param(at, "orig") is None and "Upload the weights" in at.info[0].value
    assert not any(u.key == "yours_weights" for u in at.get("file_uploader"))  # a fresh, empty uploader


def _state(width: int = 32) -> dict:
    torch.manual_seed(0)
    return build_model(ModelSpec("mlp", width), (1, 8, 8), 10).state_dict()


@pytest.mark.parametrize(("name", "data", "words"), [
    ("junk.safetensors", b"this is not a weights file at all", "junk.safetensors is not a safetensors file"),
    ("empty.safetensors", b"", "empty.safetensors is empty"),
    ("half.safetensors", None, "half.safetensors is truncated"),
    ("model.pt", "pickle", "model.pt is a zip archive (torch.save's .pt/.pth format holds a pickle"),
    ("narrow.safetensors", "width16", "does not fit mlp (width 32): net.1.weight is 16×64 in the file and 32×64 in "
                                      "the model (and 4 more) — the file is mlp of width 16: choose width 16"),
    ("cnn.safetensors", "cnn", "its tensor names are those of cnn: choose that architecture"),
    ("deep.safetensors", struct.pack("<Q", 100_000) + b"[" * 100_000, "deep.safetensors is not a safetensors file: "
                                                                       "its header nests too deeply"),  # issue 18
])
def test_malformed_and_mismatched_uploads_are_one_clear_line(home, name, data, words):
    if data is None:
        data = home[1][:-50]
    elif data == "pickle":
        buf = io.BytesIO()
        torch.save(_state(), buf)
        data = buf.getvalue()
    elif data == "width16":
        data = save(_state(16))
    elif data == "cnn":
        torch.manual_seed(0)
        data = save(build_model(ModelSpec("cnn", 4), (1, 8, 8), 10).state_dict())
    at = _upload(_open("pages/13_Your_model.py"), name, data)
    errors = _errors(at)
    assert len(errors) == 1 and words in errors[0] and "\n" not in errors[0], errors
    assert param(at, "orig") is None and not at.success  # nothing is audited


def test_an_oversized_upload_is_refused_before_it_is_read(home, monkeypatch):
    from engine import upload

    monkeypatch.setattr(upload, "MAX_UPLOAD_BYTES", 1 << 20)
    at = _upload(_open("pages/13_Your_model.py"), "big.safetensors", b"\0" * (3 << 19))
    assert _errors(at) == ["big.safetensors is 1.5 MB; weights files are limited to 1 MB"]


def test_forget_indices_from_a_file(home):
    at = _open("pages/13_Your_model.py")
    _upload(at, "forget.txt", b"# my forget set\n5\n1\n2\n3\n", key="yours_indices")
    assert not _errors(at) and param(at, "forget") == "indices:1-3,5"
    at = _upload(_open("pages/13_Your_model.py"), "bad.txt", b"1\n2\nthree\n", key="yours_indices")
    assert _errors(at) == ["bad.txt: line 3 is not an integer index; an index file holds one training index per "
                           "line (# starts a comment)"]
    at = _upload(_open("pages/13_Your_model.py"), "far.txt", b"1\n99999\n", key="yours_indices")
    assert "out of range 0..199" in _errors(at)[0]


# ------------------------------------------------------------------------------------------ Sample (14)
def _forget_indices() -> list[int]:
    from engine.data import load_dataset

    y = load_dataset(_spec().data).y_train.numpy()
    return [int(i) for i in (y == 3).nonzero()[0]]


def test_sample_page_from_an_address_shows_every_model():
    idx = _forget_indices()[2]
    at = _open("pages/14_Sample.py", sample=str(idx))
    assert at.selectbox(key="w_view_sample").value == idx and param(at, "sample") == str(idx)
    table = at.dataframe[0].value
    assert list(table.index) == ["Original", "Retrain", "Fine-tune"]
    assert {"p(y|x)", "φ", "loss", "entropy", "RMIA score", "rank vs test %", "MIA member"} <= set(
        table.columns)
    assert len(at.get("image")) == 3 and len(at.get("plotly_chart")) == 1  # clean, adversarial, δ; probabilities
    assert at.subheader[0].value == f"#{idx} · class 3"
    at.selectbox(key="w_view_attacked").set_value("ft").run()
    assert not at.exception and param(at, "attacked") == "ft"


def test_sample_page_says_when_the_address_names_no_forget_sample():
    at = _open("pages/14_Sample.py", sample="0" if 0 not in _forget_indices() else "1")
    assert "is not in the forget set of seed 0" in at.warning[0].value
    assert at.selectbox(key="w_view_sample").value in _forget_indices()


def test_membership_and_adversarial_pages_open_a_sample():
    at = _open("pages/5_Membership.py")
    buttons = [b for b in at.button if b.key and b.key.startswith("mia_open_")]
    assert len(buttons) == 12
    idx = int(buttons[3].key.rsplit("_", 1)[1])
    buttons[3].click().run()
    assert not at.exception, at.exception
    assert at.title[0].value == "One forget sample, every model" and at.selectbox(key="w_view_sample").value == idx
    assert param(at, "sample") == str(idx)
