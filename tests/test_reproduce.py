"""engine reproduce amun: the paper's Tables 1-2 protocol, beside the paper's numbers."""

from pathlib import Path

import numpy as np

import clirun
from engine.reproduce import PAPER, SEEDS, cpu_spec, protocol, reproduce
from engine.run import Runner
from engine.store import Store

ROOT = Path(__file__).resolve().parents[1]


def test_the_protocol_is_the_papers(tiny_spec):
    reqs = protocol(tiny_spec, k=2, retrains=1)
    assert set(reqs) == set(PAPER) and SEEDS == (1, 10, 100)
    t1, t2 = reqs[("Table 1 (with D_R)", "10%")], reqs[("Table 2 (D_F only)", "50%")]
    assert t1.seeds == (1, 10, 100) and t1.use_remain and t1.spec.forget == "random:0.1"
    assert [m.key for m in t1.methods] == ["ft", "rl", "ga", "bs", "l1_sparse", "salun", "amun", "amun_salun"]
    assert not t2.use_remain and t2.spec.forget == "random:0.5"
    assert [m.key for m in t2.methods] == ["rl", "ga", "bs", "salun", "amun", "amun_salun"]  # no D_R: no FT, l1
    assert cpu_spec(None).data.dataset == "digits" and cpu_spec("cifar10").data.dataset == "digits"
    assert cpu_spec("fashion-mnist").data.dataset == "fashion-mnist"


def test_reproduction_table_puts_the_papers_numbers_beside_ours(tiny_spec, tmp_path):
    runner = Runner(Store(tmp_path))
    result = reproduce(tiny_spec, runner, scale="test", seeds=(1,), k=2, retrains=1, forgets={"10%": "random:0.1"})
    t = result.table()
    assert set(t["table"]) == {"Table 1 (with D_R)", "Table 2 (D_F only)"}
    amun = t[(t.method == "amun") & (t.table == "Table 1 (with D_R)")].iloc[0]
    assert amun["ua_paper"] == 95.45 and amun["avg_gap_paper"] == 0.62
    assert amun["ua_diff"] == amun["ua"] - 95.45
    md = result.to_markdown()
    assert "### Table 1 (with D_R), forget 10%" in md and "/ 95.45 (" in md
    # resumable: a second call trains nothing
    before = {k: len(runner.store.list(k)) for k in ("original", "retrain", "unlearned", "reference")}
    again = reproduce(tiny_spec, Runner(runner.store), scale="test", seeds=(1,), k=2, retrains=1,
                      forgets={"10%": "random:0.1"})
    assert {k: len(runner.store.list(k)) for k in before} == before
    assert np.allclose(again.table()["avg_gap"], t["avg_gap"])


def test_cli_reproduce_prints_the_table(tmp_path):
    out = clirun.run("reproduce", "amun", "--scale", "cpu", "--set", "train.epochs=3", "--set", "data.train_size=200",
                     "--seeds", "1", "--forgets", "50%", "--k", "2", "--retrains", "1", "--store", str(tmp_path / "s"),
                     "--out", str(tmp_path / "o"))
    assert out.returncode == 0, out.stderr
    assert "### Table 2 (D_F only), forget 50%" in out.stdout and "/ 93.50 (" in out.stdout
    assert (tmp_path / "o" / "reproduce.md").is_file() and (tmp_path / "o" / "reproduce.csv").is_file()
    bad = clirun.run("reproduce", "amun", "--forgets", "20%")
    assert bad.returncode == 2 and bad.stderr.startswith("error: ")
