"""Issue 17's three seed axes, separate everywhere: the original's seed (``seeds``), the forget split's
(``forget_seed``: one draw for every model seed, or each seed its own) and the unlearning run's (``runs``: N runs of
each method from the same original, run r unlearning with :func:`engine.artifacts.run_seed`)."""

from __future__ import annotations

import numpy as np
import pytest

from engine.artifacts import run_seed
from engine.errors import UnlearnError
from engine.plan import PieceKind, pieces, seed_spec
from engine.request import AuditRequest
from engine.run import Runner
from engine.store import Store


def test_run_zero_is_the_model_seed_and_other_runs_differ():
    assert run_seed(3, 0) == 3
    seeds = {run_seed(3, r) for r in range(16)}
    assert len(seeds) == 16  # every run its own randomness
    assert run_seed(3, 1) == run_seed(3, 1) != run_seed(4, 1)


def test_defaults_keep_the_old_key_and_pairing(tiny_spec):
    req = AuditRequest.build(tiny_spec, ["ft"], [0, 1], k=2)
    assert req.forget_seed is None and req.runs == 1
    assert "forget_seed" not in str(req.key()) and [seed_spec(req, s).forget_seed for s in (0, 1)] == [0, 1]
    # the key leaves the defaults out: an audit stored before the axes existed keeps its key
    parts = req.record()
    assert parts["forget_seed"] is None and parts["runs"] == 1
    assert req.key() != AuditRequest.build(tiny_spec, ["ft"], [0, 1], k=2, runs=2).key()
    assert req.key() != AuditRequest.build(tiny_spec, ["ft"], [0, 1], k=2, forget_seed=0).key()


def test_one_forget_seed_for_every_model_seed(tiny_spec):
    req = AuditRequest.build(tiny_spec, ["ft"], [0, 1, 2], k=2, forget_seed=7)
    specs = [seed_spec(req, s) for s in req.seeds]
    assert [s.seed for s in specs] == [0, 1, 2] and {s.forget_seed for s in specs} == {7}
    held = AuditRequest.build(tiny_spec, ["ft"], [0], k=2, forget_seed=7, heldout=True)
    assert seed_spec(held, 0).forget_seed == 1007  # tuning's split stays apart from every audit's


@pytest.mark.parametrize("bad", [-1, 1000, 2**40, 1.5, "x"])
def test_bad_forget_seeds_and_runs_are_refused_before_anything_trains(tiny_spec, bad):
    with pytest.raises(UnlearnError):
        AuditRequest.build(tiny_spec, ["ft"], [0], k=2, forget_seed=bad)
    with pytest.raises(UnlearnError):
        AuditRequest.build(tiny_spec, ["ft"], [0], k=2, runs=bad if bad != 1000 else 65)


def test_runs_are_pieces_of_their_own(tiny_spec):
    req = AuditRequest.build(tiny_spec, ["ft", "rl"], [0, 1], k=2, retrains=1, runs=3)
    un = [p for p in pieces(req) if p.kind == PieceKind.UNLEARNED]
    assert len(un) == 2 * 2 * 3 and len({p.id for p in un}) == len(un)
    one = AuditRequest.build(tiny_spec, ["ft", "rl"], [0, 1], k=2, retrains=1)
    # run 0 is the one-run audit's model: the same piece (and store key)
    assert {p.id for p in pieces(one)} <= {p.id for p in pieces(req)}


def test_an_audit_with_runs_and_one_forget_set(tiny_spec, tmp_path):
    store = Store(tmp_path)
    req = AuditRequest.build(tiny_spec, ["ft", "rl"], [0, 1], k=2, retrains=2, runs=3, forget_seed=5, bootstrap=20)
    cmp = Runner(store).compare(req)
    rows = cmp.rows
    assert set(rows["forget_seed"]) == {5}
    for m in ("ft", "rl"):
        per_seed = rows[rows.method == m].groupby("seed")["replica"].apply(sorted).tolist()
        assert per_seed == [[0, 1, 2]] * 2
    assert len(store.list("unlearned")) == 2 * 2 * 3
    # the forget set is one set: every seed's Retrain forgot the same rows
    f0, f1 = (cmp.signals[("retrain", s)].forget for s in (0, 1))
    assert np.array_equal(f0, f1)
    t = cmp.table()
    assert t.loc["ft", "n_runs"] == 3 and t.loc["retrain", "n_replicas"] == 2 and t.loc["original", "n_runs"] == 1
    # the table's mean is over seeds of the mean of each seed's runs
    expect = rows[rows.method == "rl"].groupby("seed")["avg_gap"].mean().mean()
    assert t.loc["rl", "avg_gap_mean"] == pytest.approx(expect)
    assert np.isfinite(t.loc["rl", "avg_gap_runsd"]) and np.isnan(t.loc["retrain", "avg_gap_runsd"])
    spread = cmp.run_spread()
    assert list(spread.index) == ["Fine-tune", "Random Label"] and (spread["runs"] == 3).all()
    assert "3 unlearning runs" in cmp.interval_words()
    from engine.report import table_markdown

    text = table_markdown(cmp)
    assert "one forget set, drawn with seed 5, for every model seed; 3 unlearning runs" in text
    assert "| Fine-tune | 3 | 2 |" in text and "Avg Gap SD: runs / seeds" in text  # the run-spread table
    # a restart reads every run back from the store
    again = Runner(store, build=False).compare(req)
    cols = [c for c in rows.columns if c != "seconds"]
    assert again.rows[cols].equals(rows[cols])


def test_one_seed_with_runs_widens_the_interval_by_the_runs_spread(tiny_spec, tmp_path):
    store = Store(tmp_path)
    one = Runner(store).compare(AuditRequest.build(tiny_spec, ["rl"], [0], k=2, retrains=1, bootstrap=20)).table()
    many = Runner(store).compare(AuditRequest.build(tiny_spec, ["rl"], [0], k=2, retrains=1, bootstrap=20,
                                                    runs=4)).table()
    assert one.loc["rl", "ci_kind"] == "bootstrap" and many.loc["rl", "ci_kind"] == "bootstrap+runs"
    assert many.loc["rl", "ua_ci"] >= one.loc["rl", "ua_ci"] - 1e-9
