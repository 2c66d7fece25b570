"""The quality flow (engine.quality), the memorized forget spec and `python -m engine quality` on tiny digits runs."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
import torch

from engine import __main__ as cli
from engine.config import TrainConfig
from engine.errors import UnlearnError
from engine.forget import is_memorized_spec, memorization_scores, memorized_forget, select_forget
from engine.quality import ORIGINAL_ROW, RETRAIN_ROW, QualityRequest, estimate, retrains, run_quality
from engine.run import Runner


def test_memorization_scores_and_the_memorized_spec():
    keep = np.array([[1, 1, 0, 0], [1, 0, 1, 0], [0, 1, 1, 1], [0, 0, 0, 1]], bool)
    correct = np.array([[1, 1, 1, 0], [1, 0, 1, 0], [0, 1, 1, 1], [0, 1, 1, 1]], bool)
    # example 0: in-models right, out-models wrong → 1; 1: 1 − ½; 2: right everywhere → 0; 3: 1 − 0 = 1
    np.testing.assert_allclose(memorization_scores(keep, correct), [1.0, 0.5, 0.0, 1.0])
    y = np.array([0, 1, 0, 1])
    assert memorized_forget("memorized:2", keep, correct, y, 2).tolist() == [0, 3]
    assert memorized_forget("memorized:0.25", keep, correct, y, 2).tolist() == [0]
    assert is_memorized_spec(" Memorized:0.1") and not is_memorized_spec("random:0.1")
    for bad in ("memorized:", "memorized:x", "memorized:1.5", "memorized:4", "memorized:nan"):
        with pytest.raises(UnlearnError):
            memorized_forget(bad, keep, correct, y, 2)
    with pytest.raises(UnlearnError):  # select_forget does not read it: the flow resolves it
        select_forget("memorized:0.1", y, 2)


def test_request_needs_enough_models(tiny_spec):
    with pytest.raises(UnlearnError, match="at least 4"):
        QualityRequest.build(tiny_spec, ["ft"], runs=3)


def test_retrains_are_the_runners_replicas(tiny_spec):
    runner = Runner(device=torch.device("cpu"))
    prep = runner.prepare(tiny_spec)
    first, built = retrains(runner, prep, 3)
    assert built == 3 and len({tm.key for tm in first}) == 3
    assert first[0].key == runner.retrain(prep).key  # replica 0 is the audit's Retrain of that seed
    again, built = retrains(runner, prep, 3)
    assert built == 0 and [tm.key for tm in again] == [tm.key for tm in first]


def test_flow_orders_retrain_first_original_last_and_reruns_from_the_store(tiny_spec):
    spec = replace(tiny_spec, train=TrainConfig(epochs=30, batch_size=32, lr=0.1, lr_step=20, augment=False),
                   forget="random:0.1")
    req = QualityRequest.build(spec, ["ft", "rl"], runs=4, bootstrap=20, k=4)
    runner = Runner(device=torch.device("cpu"))
    cost = estimate(runner, req)
    assert cost.retrains == 8 and cost.runs == {"ft": 4, "rl": 4} and cost.seconds > 0
    res = run_quality(runner, req)
    table = res.table()
    assert table["method"].iloc[0] == RETRAIN_ROW and table["method"].iloc[-1] == ORIGINAL_ROW
    assert table.set_index("method").loc[ORIGINAL_ROW, "score"] == 0.0
    assert {"rmia_auc", "retained_rmia_auc", "ulira_auc", "eps_ceiling"} <= set(table.columns)
    assert res.built == 1 + 8 + 8
    assert estimate(runner, req).models == 0
    again = run_quality(runner, req)
    assert again.built == 0
    assert again.table()["score"].tolist() == table["score"].tolist()


def test_memorized_forget_resolves_to_indices(tiny_spec):
    req = QualityRequest.build(replace(tiny_spec, forget="memorized:10"), ["ft"], runs=4, bootstrap=0)
    runner = Runner(device=torch.device("cpu"))
    # before its reference models exist, the cost counts them and every model of the set they will choose (it said
    # "nothing to train" once, when a random set of that size happened to be stored)
    run_quality(runner, replace(req, spec=replace(tiny_spec, forget="random:10")))
    cost = estimate(runner, req)
    assert cost.references == 16 and cost.retrains == 8 and cost.runs == {"ft": 4} and "reference models" in \
        cost.describe()
    res = run_quality(runner, req)
    assert res.spec.forget.startswith("indices:") and len(res.forget) == 10
    assert estimate(runner, req).models == 0


def test_cli_quality_prints_the_estimate_and_the_table(capsys, tmp_path):
    out = tmp_path / "q.csv"
    rc = cli.main(["quality", "--dataset", "digits", "--methods", "ft", "--runs", "4", "--bootstrap", "10",
                   "--set", "data.train_size=200", "--set", "model.width=32", "--set", "train.epochs=5",
                   "--forget", "random:0.1", "--out", str(out)])
    text = capsys.readouterr().out
    assert rc == 0
    assert "to build:" in text and "ln(N−1) = 1.10" in text
    assert text.index("Retrain (N other retrains)") < text.index("Original (no unlearning)")
    assert "Separated beyond their intervals:" in text and "In words: With N = 4 models per side" in text
    assert out.exists()
    assert cli.main(["quality", "--runs", "2"]) == 2


def test_cli_quality_takes_a_memorized_forget_spec_and_other_commands_refuse_it(capsys):
    """The hostile-input check of every command's forget spec once refused memorized:0.1 for `quality` too (found by
    the fashion-mnist run of issue 17); only `quality` resolves it, so only `quality` takes it."""
    import argparse

    from engine.cli.common import _spec_from_args
    from engine.errors import UnlearnError

    args = argparse.Namespace(dataset="digits", model=None, width=None, path=None, seed=0, forget_seed=0,
                              forget="memorized:0.1", set=[], data_dir=None)
    assert _spec_from_args(args, memorized=True).forget == "memorized:0.1"
    with pytest.raises(UnlearnError, match="expected random"):
        _spec_from_args(args)
    assert cli.main(["audit", "--forget", "memorized:0.1"]) == 2


@pytest.mark.slow
def test_digits_preset_retrain_on_top_original_at_the_bottom():
    # the preset's own recipe (200 epochs, MLP 512) with N = 6: about a minute on a free core
    from engine.presets import default_spec

    req = QualityRequest.build(default_spec("digits"), ["ft", "amun"], runs=6, bootstrap=50)
    table = run_quality(Runner(device=torch.device("cpu")), req).table()
    assert table["method"].iloc[0] == RETRAIN_ROW and table["method"].iloc[-1] == ORIGINAL_ROW
    assert table["score"].iloc[0] > table["score"].iloc[1]


def test_the_report_has_a_forgetting_quality_section(tiny_spec):
    """Issue 17 item 7: the report section — the protocol, the headline in words, both tables, the figures, a CSV."""
    from engine.report import html_report
    from engine.report_quality import display_table, quality_section
    from engine.request import AuditRequest

    runner = Runner(device=torch.device("cpu"))
    res = run_quality(runner, QualityRequest.build(tiny_spec, ["ft"], runs=4, bootstrap=10))
    show = display_table(res)
    assert list(show.index) == ["Retrain (N other retrains)", "Fine-tune", "Original (no unlearning)"]
    sec = quality_section(res)
    assert "quality.csv" in sec.files and len(sec.figures) == 2 and len(sec.tables) == 2
    cmp = runner.compare(AuditRequest.build(tiny_spec, ["ft"], [0], k=2, retrains=1, bootstrap=0))
    html = html_report(cmp, sections=[sec])
    assert "Forgetting quality (many models, per example)" in html and "U-LiRA AUC" in html
    assert "N = 4 unlearning runs" in html
    # N = 4: even retrains are told apart completely on > 10 % of examples — no "100 % like Retrain at ε ≤ 50"
    assert "is too small to say which examples" in html and "ε ≤ 50" not in html
