"""The per-sample drill-down (issue 11, item 5): one forget sample across every model of an audit (engine.audit.sample)
and ``engine sample``; index files read from bytes (the dashboard's upload)."""

import numpy as np
import pytest

from engine.audit.sample import COLUMNS, forget_position, most_exposed, sample_table
from engine.errors import UnlearnError
from engine.forget import MAX_INDEX_FILE_BYTES, indices_from_bytes
from engine.run import AuditRequest, Runner
from engine.store import Store


@pytest.fixture(scope="module")
def cmp(tmp_path_factory):
    from engine.config import DataSpec, ModelSpec, RunSpec, TrainConfig

    spec = RunSpec(data=DataSpec("digits", train_size=200), model=ModelSpec("mlp", 32),
                   train=TrainConfig(epochs=3, batch_size=64, lr=0.1, lr_step=2, augment=False), forget="random:0.1")
    return Runner(Store(tmp_path_factory.mktemp("s"))).compare(AuditRequest.build(spec, ["ft"], k=2, retrains=1))


def test_sample_table_reads_every_model_at_the_samples_position(cmp):
    forget = cmp.signals[("original", 0)].forget
    idx = int(forget[5])
    assert forget_position(cmp, 0, idx) == 5
    t = sample_table(cmp, 0, idx)
    assert list(t.index) == ["Original", "Retrain", "Fine-tune"] and list(t["key"]) == ["original", "retrain", "ft"]
    for m in ("original", "retrain", "ft"):
        row = t[t.key == m].iloc[0]
        f = cmp.signals[(m, 0)]["forget"]
        assert row["p_y"] == pytest.approx(f["p_y"][5]) and row["loss"] == pytest.approx(f["loss"][5])
        assert row["predicted"] == f["pred"][5] and row["correct"] == bool(f["correct"][5])
        ps = cmp.audits[(m, 0)].per_sample
        assert row["rmia_score"] == pytest.approx(ps["forget_rmia_score"][5])
        test = ps["test_rmia_score"]
        lo, hi = 100 * np.mean(test < row["rmia_score"]), 100 * np.mean(test <= row["rmia_score"])
        assert lo <= row["rmia_rank"] <= hi
    assert np.isfinite(t.loc["Original", "loss_minus_retrain"])  # against the retrain
    assert set(COLUMNS) <= set(t.columns)
    named = sample_table(cmp, 0, idx, [f"c{i}" for i in range(10)])
    assert named.loc["Original", "predicted"].startswith("c")


def test_a_sample_outside_the_forget_set_is_one_clear_line(cmp):
    forget = set(cmp.signals[("original", 0)].forget.tolist())
    outside = next(i for i in range(200) if i not in forget)
    with pytest.raises(UnlearnError, match=rf"training sample {outside} is not in the forget set of seed 0 "
                                           r"\(20 samples; the nearest: "):
        forget_position(cmp, 0, outside)


def test_most_exposed_is_by_rmia_score(cmp):
    top = most_exposed(cmp, 0, "original", 3)
    ps = cmp.audits[("original", 0)].per_sample
    scores = dict(zip(ps["forget_index"].tolist(), ps["forget_rmia_score"].tolist()))
    assert [scores[i] for i in top] == sorted(scores.values(), reverse=True)[:3]


def test_index_files_from_bytes():
    assert indices_from_bytes(b"# comment\n3\n\n 7 # seven\n1\n") == [3, 7, 1]
    with pytest.raises(UnlearnError, match=r"^up.txt: line 2 is not an integer index; "):
        indices_from_bytes(b"1\nx\n", "up.txt")
    with pytest.raises(UnlearnError, match="not a text file of indices"):
        indices_from_bytes(b"\xff\xfe1", "up.txt")
    with pytest.raises(UnlearnError, match="index file too large"):
        indices_from_bytes(b"1\n" * (MAX_INDEX_FILE_BYTES // 2 + 1), "up.txt")


def test_cli_sample(tmp_path):
    from test_cli import cli

    base = ("--store", str(tmp_path / "s"), "--set", "train.epochs=3", "--set", "data.train_size=200", "--width",
            "32", "--forget", "indices:0-19", "--methods", "ft", "--seeds", "0", "--k", "2", "--retrains", "1")
    missing = cli("sample", *base, "4")
    assert missing.returncode == 2 and "not in the store yet" in missing.stderr
    out = cli("sample", *base, "4", "--compute")
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert lines[0].startswith("forget sample #4 (seed 0): class ")
    assert any(ln.startswith("Original ") for ln in lines) and any(ln.startswith("Fine-tune ") for ln in lines)
    assert any(ln.startswith("nearest adversarial example under Original: -> class ") for ln in lines)
    bad = cli("sample", *base, "150")
    assert bad.returncode == 2 and "training sample 150 is not in the forget set of seed 0" in bad.stderr


def test_the_shift_scatter_carries_each_points_training_index():
    from engine.figures import forget_shift

    fig = forget_shift(np.array([0.9, 0.8]), {"ft": ("FT", np.array([0.2, 0.7]))}, np.array([3, 5]),
                       indices=np.array([17, 42]))
    assert [list(c) for c in fig.data[0].customdata] == [[3, 17], [5, 42]] and "#%{customdata[1]}" in \
        fig.data[0].hovertemplate
    plain = forget_shift(np.array([0.9]), {"ft": ("FT", np.array([0.2]))}, np.array([3]))
    assert list(plain.data[0].customdata) == [3]


def test_a_clicked_point_opens_once(monkeypatch):
    """ui.drill.picked: the index of a newly clicked point; the same selection handed back again opens nothing."""
    import streamlit as st

    from ui import drill

    monkeypatch.setattr(st, "session_state", {})
    event = {"selection": {"points": [{"curve_number": 0, "point_index": 1, "customdata": [5, 42]}]}}
    assert drill.picked({"selection": {"points": []}}, "k") is None
    assert drill.picked(event, "k") == 42
    assert drill.picked(event, "k") is None  # a rerun, or a return to the page, with the same selection
    other = {"selection": {"points": [{"curve_number": 0, "point_index": 0, "customdata": 7}]}}
    assert drill.picked(other, "k") == 7
