"""Class-level detail (issue 11, item 4): per-class accuracy, prediction matrices and forget-class confidence as pure
functions of signals; the figures; ``engine audit --classes``."""

from dataclasses import replace

import numpy as np
import pytest
import torch

from engine.audit import classes as cl
from engine.figures import class_accuracy_bars, class_confidence_histograms, confusion_heatmaps
from engine.forget import forget_classes
from engine.run import AuditRequest, Runner
from engine.signals import Signals
from engine.store import Store


def _signals(y_train, pred_train, y_test, pred_test, forget) -> Signals:
    """Signals whose argmax is ``pred`` (logit 5 on the predicted class, 0 elsewhere)."""
    def logits(pred):
        z = torch.zeros(len(pred), 3)
        z[torch.arange(len(pred)), torch.as_tensor(pred)] = 5.0
        return z

    lg = {"train": logits(pred_train), "test": logits(pred_test), "val": logits(pred_test)}
    ys = {"train": torch.as_tensor(y_train), "test": torch.as_tensor(y_test), "val": torch.as_tensor(y_test)}
    forget = np.asarray(forget)
    return Signals.from_flat(Signals.compute(lg, ys), forget, np.setdiff1d(np.arange(len(y_train)), forget))


Y_TRAIN, P_TRAIN = np.array([0, 0, 1, 1, 2, 2]), np.array([0, 1, 1, 1, 2, 0])
Y_TEST, P_TEST = np.array([0, 1, 2, 2]), np.array([0, 2, 2, 1])


def test_class_accuracy_by_hand():
    sig = _signals(Y_TRAIN, P_TRAIN, Y_TEST, P_TEST, forget=[1, 5])  # forget: a 0 called 1, a 2 called 0
    t = cl.class_accuracy(sig, Y_TRAIN, Y_TEST, 3).set_index(["group", "class"])
    assert t.loc[("forget", 0), "accuracy"] == 0 and t.loc[("forget", 2), "n"] == 1
    assert np.isnan(t.loc[("forget", 1), "accuracy"]) and t.loc[("forget", 1), "n"] == 0
    assert t.loc[("remain", 1), "accuracy"] == 100 and t.loc[("remain", 1), "n"] == 2
    assert t.loc[("test", 2), "accuracy"] == 50 and t.loc[("test", 1), "accuracy"] == 0
    wide = cl.accuracy_by_class({"a": cl.class_accuracy(sig, Y_TRAIN, Y_TEST, 3)}, "test")
    assert list(wide.columns) == ["n", "a"] and wide.loc[0, "a"] == 100


def test_prediction_matrix_and_row_normalisation():
    sig = _signals(Y_TRAIN, P_TRAIN, Y_TEST, P_TEST, forget=[1, 5])
    m = cl.prediction_matrix(sig, Y_TRAIN, Y_TEST, 3, "test")
    np.testing.assert_array_equal(m, [[1, 0, 0], [0, 0, 1], [0, 1, 1]])
    f = cl.row_normalised(cl.prediction_matrix(sig, Y_TRAIN, Y_TEST, 3, "forget"))
    np.testing.assert_array_equal(f[0], [0, 1, 0]) and np.testing.assert_array_equal(f[2], [1, 0, 0])
    assert np.isnan(f[1]).all()  # no forget sample of class 1


def test_class_confidence_and_forget_classes():
    sig = _signals(Y_TRAIN, P_TRAIN, Y_TEST, P_TEST, forget=[4, 5])  # class:2 forgotten
    v = cl.class_confidence(sig, Y_TRAIN, Y_TEST, [2], "p_y")
    assert len(v["forget"]) == 2 and len(v["test"]) == 2
    assert v["forget"][0] > 0.9 and v["forget"][1] < 0.1  # #4 called 2 (confident), #5 called 0
    assert forget_classes("class:3") == [3] and forget_classes(" class: 7,3 ") == [3, 7]
    assert forget_classes("random:0.1") == [] and forget_classes("class:x") == [] and forget_classes("indices:3") == []


def test_figures():
    import pandas as pd

    wide = pd.DataFrame({"n": [5, 5, 5], "original": [90.0, 80, 70], "retrain": [88.0, 0, 71]})
    fig = class_accuracy_bars(wide, {"original": "Original", "retrain": "Retrain"}, ["a", "b", "c"], [1])
    assert len(fig.data) == 2 and len(fig.layout.shapes) == 1 and "<b>b</b>" in fig.layout.xaxis.ticktext
    a = np.eye(3)
    b = np.array([[1, 0, 0], [0.5, 0, 0.5], [0, 0, 1]])
    fig = confusion_heatmaps(a, b, ["a", "b", "c"], ("FT", "Retrain"), [1])
    assert len(fig.data) == 3 and fig.data[2].z[1][1] == pytest.approx(100) and fig.data[2].zmin == -100
    fig = class_confidence_histograms({"ft": ("FT", np.array([0.9, 0.95])), "amun": ("AMUN", np.array([0.1]))},
                                      ("Retrain", np.array([0.05, 0.1])), "p_y")
    assert len(fig.data) == 4 and sum(t.showlegend is not False for t in fig.data if "Retrain" in t.name) == 1


def test_class_wise_audit_retrain_never_predicts_the_forgotten_class(tiny_spec, tmp_path):
    spec = replace(tiny_spec, forget="class:3")
    cmp = Runner(Store(tmp_path)).compare(AuditRequest.build(spec, ["ft"], k=2, retrains=1))
    acc, conf = cl.class_tables(cmp)
    rt = acc[(acc.method == "retrain") & (acc.group == "test")].set_index("class")
    assert rt.loc[3, "accuracy"] == 0 and rt.loc[3, "n"] > 0  # Retrain never saw class 3
    assert set(acc["group"]) == {"forget", "remain", "test"} and set(acc["method"]) == {"original", "retrain", "ft"}
    forget = acc[(acc.group == "forget") & (acc.n > 0)]
    assert set(forget["class"]) == {3}
    rt_conf = conf[(conf.method == "retrain") & (conf.group == "test")]
    assert (rt_conf[rt_conf.true == 3]["predicted"] != 3).all()
    assert conf.groupby(["method", "group"])["count"].sum().loc[("ft", "test")] == len(cmp.models[("ft", 0)]
                                                                                          .data.y_test)
    from engine.report import class_figures

    figs = {f.name: f for f in class_figures(cmp, 0)}
    assert set(figs) == {"classes-test-seed0", "prediction-matrix-seed0", "forget-class-confidence-seed0"}
    assert "Fine-tune vs Retrain" in figs["prediction-matrix-seed0"].title
    assert "<b>3</b>" in figs["classes-test-seed0"].figure.layout.xaxis.ticktext


def test_cli_writes_per_class_tables(tmp_path):
    from test_cli import cli

    out = cli("audit", "--store", str(tmp_path / "s"), "--set", "train.epochs=3", "--set", "data.train_size=200",
              "--width", "32", "--forget", "class:3", "--methods", "ft", "--seeds", "0", "--k", "2", "--retrains",
              "1", "--classes", "--out", str(tmp_path / "o"))
    assert out.returncode == 0, out.stderr
    assert "Test accuracy per class (%), seed 0 (* forget class):" in out.stdout
    line = next(ln for ln in out.stdout.splitlines() if ln.startswith("3 *"))
    assert line.split()[3] == "0.0"  # the Retrain column: 0 % on the forgotten class
    import pandas as pd

    acc = pd.read_csv(tmp_path / "o" / "classes.csv")
    assert {"seed", "method", "label", "group", "class", "class_name", "n", "accuracy"} <= set(acc.columns)
    assert (tmp_path / "o" / "confusion.csv").is_file()
